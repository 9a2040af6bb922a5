"""Where errors come from and where tickets go: error sources, the upstream issue's links,
ticket forges, and who commits belong to on the code host."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import BaseModel, Field

from worker.models import ErrorEvent, Ticket


class PollBatch(BaseModel):
    """What one poll of a source returned: events in order, and the cursor to resume from."""

    events: list[ErrorEvent] = Field(default_factory=list)
    cursor: str | None = None


@runtime_checkable
class ErrorSource(Protocol):
    """A place errors come from (Sentry, Datadog)."""

    name: str

    def poll(self, cursor: str | None) -> PollBatch:
        """Events seen since `cursor` (None: the default look-back) and the next cursor."""
        ...

    def latest_event(self, issue_id: str) -> ErrorEvent | None:
        """The newest full event (with stack trace) of an upstream issue, or None if it has none."""
        ...


@runtime_checkable
class UpstreamLinks(Protocol):
    """An error source that can point its own issue at the change fixing it (Sentry, by a note).

    Best effort: the caller logs what this raises and never fails a run because of it. Not part
    of `ErrorSource`, because Datadog's Error Tracking API can only search and read issues and set
    their state or assignee, with no way to attach a comment or link to an issue (comments live
    on Case Management cases instead).
    """

    def link_change(self, issue_id: str, url: str, text: str) -> str | None:
        """Leave `text`, which carries `url`, on the upstream issue exactly once (a second call
        finds the first); the id of the note, or None when this source cannot comment."""
        ...

    def resolve_in_next_release(self, issue_id: str) -> bool:
        """Mark the upstream issue resolved in the next release (its fix was merged); False
        when this source cannot. Repeating it changes nothing."""
        ...


class TicketDraft(BaseModel):
    """A ticket to file. `marker` is a unique string placed in the body for idempotency."""

    repo: str
    title: str
    body: str
    labels: list[str] = Field(default_factory=list)
    marker: str


@runtime_checkable
class TicketForge(Protocol):
    """Somewhere tickets are filed (GitHub issues, a folder of Markdown files)."""

    def find_ticket(self, repo: str, marker: str) -> Ticket | None:
        """The ticket whose body carries `marker`, if one was filed already."""
        ...

    def open_ticket(self, draft: TicketDraft) -> Ticket:
        """File the ticket and return where it is."""
        ...


@runtime_checkable
class AccountDirectory(Protocol):
    """Who a commit belongs to on the code host (GitHub links commits to accounts by email)."""

    def login_of(self, sha: str, email: str) -> str | None:
        """The login of the account that authored commit `sha` (written as `email`), or None.

        Best effort: never raises. A commit or email that matches no account is None, and so is
        any failure to ask (rate limit, outage), so correlation never fails because of it.
        """
        ...


class FakeAccountDirectory:
    """An `AccountDirectory` over fixed answers, for tests and offline runs: by sha first, then by
    email (case-insensitive). Every question asked is kept in `asked`."""

    def __init__(self, by_email: dict[str, str] | None = None,
                 by_sha: dict[str, str] | None = None) -> None:
        self.by_email = {email.lower(): login for email, login in (by_email or {}).items()}
        self.by_sha = dict(by_sha or {})
        self.asked: list[tuple[str, str]] = []

    def login_of(self, sha: str, email: str) -> str | None:
        """The seeded login for `sha` or `email`, else None."""
        self.asked.append((sha, email))
        return self.by_sha.get(sha) or self.by_email.get(email.strip().lower())
