"""The errors adapters may raise: `TransientError` (retry later) and `PermanentError` (record
the reason and give up), with the workspace's and the preview's kinds of the latter."""

from __future__ import annotations

from worker.preview.models import PreviewFailure


class SutureError(Exception):
    """Base of the errors adapters are allowed to raise."""


class TransientError(SutureError):
    """A failure that may go away: timeouts, 5xx, 429. `retry_after` is a hint in seconds.
    `answered` when the service answered the request with an error: unlike a timeout, nothing
    is left in flight that might still be carried out."""

    def __init__(self, message: str, retry_after: float | None = None, *,
                 answered: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.answered = answered


class PermanentError(SutureError):
    """A failure that retrying will not fix: bad credentials, 4xx, malformed data."""


class WorkspaceError(PermanentError):
    """A workspace could not do what was asked (an unknown base, a git step that failed or
    could not run); verification reports it as a reason rather than a verdict."""


class PreviewError(PermanentError):
    """A preview that could not be had: it never became healthy, its command died, or its
    deployment failed or never came. `failure` holds the reason and the scrubbed log tail."""

    def __init__(self, failure: PreviewFailure) -> None:
        super().__init__(failure.describe())
        self.failure = failure
