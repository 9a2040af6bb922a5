"""The narrow ports through which the worker reaches the outside world.

Each port speaks suture's own models, never URLs or vendor objects. Adapters live in
`integrations/` and raise `TransientError` (the caller retries with backoff) or `PermanentError`
(the caller records the reason and gives up); any other exception is a bug.
"""


from __future__ import annotations

from worker.ports.errors import (
    PermanentError,
    PreviewError,
    SutureError,
    TransientError,
    WorkspaceError,
)
from worker.ports.notify import Notifier
from worker.ports.publishing import Artifact, ArtifactStore, CodeHost
from worker.ports.repository import HistoryWindow, Repository, Workspace
from worker.ports.running import CodingAgent, Environments, Preview, Sandbox
from worker.ports.sources import (
    AccountDirectory,
    ErrorSource,
    FakeAccountDirectory,
    PollBatch,
    TicketDraft,
    TicketForge,
    UpstreamLinks,
)

__all__ = [
    "AccountDirectory",
    "Artifact",
    "ArtifactStore",
    "CodeHost",
    "CodingAgent",
    "Environments",
    "ErrorSource",
    "FakeAccountDirectory",
    "HistoryWindow",
    "Notifier",
    "PermanentError",
    "PollBatch",
    "Preview",
    "PreviewError",
    "Repository",
    "Sandbox",
    "SutureError",
    "TicketDraft",
    "TicketForge",
    "TransientError",
    "UpstreamLinks",
    "Workspace",
    "WorkspaceError",
]
