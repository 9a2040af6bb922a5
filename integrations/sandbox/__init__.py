"""The bubblewrap sandbox: commands run where they can do no harm (see `bwrap.py`), with egress
limited to an allowlist by a host-side proxy (`egress.py`) and test services reached through
host-side forwarders (`portforward.py`), both through an in-sandbox relay (`forwarder.py`), and a
served command's one port reached from the host through the same relay (`serving.py`)."""

from __future__ import annotations

from integrations.sandbox.bwrap import BubblewrapSandbox
from integrations.sandbox.egress import EgressProxy, EgressRefusal

__all__ = ["BubblewrapSandbox", "EgressProxy", "EgressRefusal"]
