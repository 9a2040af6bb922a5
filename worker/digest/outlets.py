"""Where a digest goes (`DigestOutlet`): a notifier's channel (Slack, email) or an issue on a
ticket forge (GitHub). Both wrap the existing ports; `worker.app` builds them from the `digest`
settings section.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from worker.digest.models import Digest
from worker.notify import Notice
from worker.ports import Notifier, TicketDraft, TicketForge

MARKER_PREFIX = "suture-digest:"


@runtime_checkable
class DigestOutlet(Protocol):
    """One place a week's digest is sent to; `name` says which ("slack-webhook", "github")."""

    name: str

    def send(self, digest: Digest) -> str:
        """Send `digest`; an identifier of what was sent. Raises `TransientError` or
        `PermanentError` as the underlying port does."""
        ...


class NoticeOutlet:
    """A digest as a notice on one notifier: the plain text for chat, plus the HTML for email."""

    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier
        self.name = notifier.name

    def send(self, digest: Digest) -> str:
        """Send the digest as a `digest` notice keyed by its week."""
        # The notice's label already says "Weekly digest": the week is the title.
        return self._notifier.send(Notice(key=f"digest:{digest.week}", kind="digest",
                                          title=digest.week, text=digest.text,
                                          html=digest.html))


class IssueOutlet:
    """A digest as an issue of one repository, found again by its week's marker, so a second
    send of the same week adopts the issue instead of filing another."""

    name = "github"

    def __init__(self, forge: TicketForge, repo: str, labels: list[str] | None = None) -> None:
        self._forge = forge
        self._repo = repo
        self._labels = list(labels or [])

    def send(self, digest: Digest) -> str:
        """File the Markdown digest; the issue's URL."""
        marker = f"{MARKER_PREFIX} {digest.week}"
        ticket = self._forge.open_ticket(TicketDraft(
            repo=self._repo, title=digest.title, labels=self._labels, marker=marker,
            body=f"{digest.markdown.rstrip()}\n\n<!-- {marker} -->\n"))
        return ticket.url

    def close(self) -> None:
        """Release the forge's connections, if it holds any."""
        close = getattr(self._forge, "close", None)
        if callable(close):
            close()
