"""Where verified fixes are proposed (`CodeHost`) and where their evidence files are kept
(`ArtifactStore`)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from worker.codehost import (
    Change,
    ChangeDraft,
    CheckPosted,
    CheckReport,
    PushAccess,
    ReviewRequest,
)


@runtime_checkable
class CodeHost(Protocol):
    """Where suture proposes a verified fix as a draft pull (or merge) request. `repo` is the
    host's name for the repository (`owner/name`, or GitLab's `group/project` path).

    Idempotent by construction: `open_change` adopts an open change that already has the
    draft's branch (the host's "already exists" answer included) instead of failing."""

    name: str

    def push_access(self, repo: str) -> PushAccess:
        """A URL and short-lived credential to push branches of `repo` (PermanentError when the
        credential cannot reach it)."""
        ...

    def default_branch(self, repo: str) -> str:
        """The branch changes are proposed into."""
        ...

    def find_change(self, repo: str, branch: str, marker: str) -> Change | None:
        """The change from `branch`, or else one whose body carries `marker`, in any state."""
        ...

    def open_change(self, draft: ChangeDraft) -> Change:
        """Open the draft change (labels included), or adopt the one that already exists."""
        ...

    def comment(self, repo: str, number: int, body: str) -> str:
        """Add a comment to change `number`; its URL."""
        ...

    def request_reviewers(self, repo: str, number: int, logins: list[str]) -> ReviewRequest:
        """Ask `logins` to review change `number`; never the bot itself or the author."""
        ...

    def report_check(self, repo: str, report: CheckReport) -> CheckPosted:
        """Attach the verification evidence to the head commit."""
        ...


class Artifact(BaseModel):
    """One kept evidence file (a screenshot, a full log) and the URL a reviewer opens it at."""

    url: str
    path: str
    sha256: str
    size: int
    content_type: str


@runtime_checkable
class ArtifactStore(Protocol):
    """Keeps a run's evidence files. Names are plain file names (`base.png`); anything that
    could leave the run's folder is refused with PermanentError, as is a type other than PNG or
    plain text."""

    def put(self, run_id: int, name: str, data: bytes, content_type: str) -> Artifact:
        """Keep `data` as `name` of run `run_id` (replacing it) and say where it is."""
        ...

    def get(self, run_id: int, name: str) -> tuple[Artifact, bytes] | None:
        """The artifact and its bytes, or None when there is none by that name."""
        ...
