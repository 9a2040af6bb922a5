"""`suture doctor` and the start-up checks: one check per concern of a setup (git, the sandbox,
the environment cache, the package indexes, each repository, each service's test services, the
forge, the database, the broker, the playbooks, the error sources), each a pure function over
injected probes with a typed result (`Check`); `plan` says which checks each command runs before
it starts."""

from __future__ import annotations

from worker.doctor.model import (
    Check,
    DatabaseProbe,
    Probes,
    RepositoryProbe,
    SandboxProbe,
    Status,
)
from worker.doctor.plan import ALL, needs, remote_timeout, run_checks
from worker.doctor.probes import HostProbes, SystemProbes

__all__ = ["ALL", "Check", "DatabaseProbe", "HostProbes", "Probes", "RepositoryProbe",
           "SandboxProbe", "Status", "SystemProbes", "needs", "remote_timeout", "run_checks"]
