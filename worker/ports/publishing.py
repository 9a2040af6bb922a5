"""Where verified fixes are proposed (`CodeHost`) and where their evidence files are kept
(`ArtifactStore`)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from worker.codehost import (
    Change,
    ChangeComment,
    ChangeDraft,
    CheckPosted,
    CheckReport,
    CheckResult,
    PushAccess,
    ReviewRequest,
)


@runtime_checkable
class CodeHost(Protocol):
    """Where suture proposes a verified fix as a draft pull (or merge) request. `repo` is the
    host's name for the repository (`owner/name`, or GitLab's `group/project` path).

    Idempotent by construction: `open_change` adopts an open change that already has the
    draft's branch (the host's "already exists" answer included) instead of failing, and
    `close_change` leaves a closed change alone.

    The read side (`change`, `comments`, `can_write`, `own_login`) lets a follow-up see what
    became of a change: merged or closed, what people said on it, and whether the one who
    said it may push. A change `number` the host does not have is a PermanentError."""

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

    def check_result(self, repo: str, sha: str, name: str) -> CheckResult | None:
        """The latest CI result named `name` on commit `sha` (GitHub: a check run, else a
        commit status of that context; GitLab: the latest pipeline with that `name`, or the
        latest of all for "pipeline"); None when there is none yet."""
        ...

    def change(self, repo: str, number: int) -> Change:
        """Change `number` as it is now: open, closed or merged (with `merge_sha`, the commit
        that merged it), its author, head, draft flag, branch and URL."""
        ...

    def comments(self, repo: str, number: int) -> list[ChangeComment]:
        """What people said on change `number`, oldest first: conversation comments and
        reviews that carry text, without the host's own event notes. Bodies are raw."""
        ...

    def can_write(self, repo: str, login: str) -> bool:
        """True when account `login` may push to `repo`; False for an account the host does
        not know or that is not a member with write access."""
        ...

    def own_login(self, repo: str) -> str:
        """The account suture acts as on `repo` (so its own comments can be told apart)."""
        ...

    def close_change(self, repo: str, number: int, comment: str | None = None) -> None:
        """Say `comment` on change `number` (once: not again when suture already said it),
        then close it; a change that is closed or merged already is left as it is."""
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
