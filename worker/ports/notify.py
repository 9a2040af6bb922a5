"""Where people are told what suture did (`Notifier`): a Slack channel, an email list.

A notifier renders a `worker.notify.Notice` with the renderers in `worker.notify` (which scrub
and escape it) and sends it once. Idempotency is the caller's: it records `Notice.key` once a
send returned and does not send that key again.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from worker.notify import Notice


@runtime_checkable
class Notifier(Protocol):
    """One channel people are told through. `name` says which ("slack-webhook", "email")."""

    name: str

    def send(self, notice: Notice) -> str:
        """Send `notice`; return an identifier of what was sent (a Slack `channel:ts`, an email's
        Message-ID). Raises `TransientError` (retry, maybe after `retry_after`) or
        `PermanentError` (the channel refused it; retrying will not help)."""
        ...
