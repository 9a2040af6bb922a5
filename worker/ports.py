"""The narrow ports through which the worker reaches the outside world.

Each port speaks suture's own models, never URLs or vendor objects. Adapters live in
`integrations/` and raise `TransientError` (the caller retries with backoff) or `PermanentError`
(the caller records the reason and gives up); any other exception is a bug.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, Field

from worker.codehost import (
    Change,
    ChangeDraft,
    CheckPosted,
    CheckReport,
    PushAccess,
    ReviewRequest,
    Signature,
)
from worker.env.models import Environment, EnvironmentFailure
from worker.fix.models import Attempt, CommandResult, FixTask, SandboxPolicy, Served
from worker.models import ErrorEvent, Ticket
from worker.preview.models import Deployment, PreviewFailure, PreviewTarget
from worker.vcs import BlameLine, Commit, Hunk


class SutureError(Exception):
    """Base of the errors adapters are allowed to raise."""


class TransientError(SutureError):
    """A failure that may go away: timeouts, 5xx, 429. `retry_after` is a hint in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


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


@runtime_checkable
class Repository(Protocol):
    """A repository's history, read at fixed revisions (every answer is for a resolved commit);
    the writable side is the `Workspace`."""

    def resolve(self, rev: str) -> str:
        """The full sha `rev` names; PermanentError if it names nothing."""
        ...

    def files(self, rev: str) -> list[str]:
        """Every tracked path at `rev`."""
        ...

    def read(self, rev: str, path: str) -> str | None:
        """A file's text at `rev`, or None when absent or binary."""
        ...

    def read_many(self, rev: str, paths: list[str]) -> dict[str, str | None]:
        """Several files' text at `rev` (None for absent or binary ones)."""
        ...

    def grep(self, rev: str, texts: list[str]) -> list[tuple[str, int, str]]:
        """(path, line number, line) of every text line at `rev` that contains one of `texts`
        (fixed strings: fast enough for a whole tree)."""
        ...

    def versions(self, changes: list[tuple[str, str]]
                 ) -> dict[tuple[str, str], tuple[str | None, str | None]]:
        """For each (commit, path): the file's text before and after that commit (None where
        absent or binary)."""
        ...

    def history(self, rev: str, paths: list[str], window: HistoryWindow) -> list[Commit]:
        """Commits reachable from `rev` inside `window` that touch `paths` (their `changes`
        may cover only those paths: see `Commit.complete`)."""
        ...

    def touching(self, rev: str, paths: list[str], window: HistoryWindow) -> list[Commit]:
        """Like `history`, names only (no patches): cheap over whole folders."""
        ...

    def hunks(self, rev: str, paths: list[str], window: HistoryWindow) -> list[Hunk]:
        """Zero-context hunks in `paths` of the commits `history` returns."""
        ...

    def blame(self, rev: str, path: str, ranges: list[tuple[int, int]],
              since: datetime | None = None) -> dict[int, BlameLine]:
        """Line number → who last changed it, for inclusive line ranges at `rev`; lines last
        changed before `since` are left out."""
        ...

    def describe(self, shas: list[str]) -> list[Commit]:
        """The named commits, each with every file it changed."""
        ...

    def removed(self, shas: list[str]) -> dict[str, list[str]]:
        """Every line each commit removed, in any file: what a commit only moved is not new."""
        ...

    def ignored_revisions(self, rev: str) -> set[str]:
        """Commits the project declares as not changing behaviour (reformatting and the like)."""
        ...



class HistoryWindow(BaseModel):
    """Which history may explain a crash: after `exclude` (the previous release) and `since`."""

    exclude: str | None = None
    since: datetime | None = None
    max_commits: int = 2000


@runtime_checkable
class Workspace(Protocol):
    """The writable side of a repository: throwaway detached worktrees ("trees") and the git
    steps on them, plus the few history reads bisection needs. Raises only WorkspaceError."""

    def worktrees(self, base: str, names: tuple[str, ...] = ("base", "fix")
                  ) -> AbstractContextManager[dict[str, Path]]:
        """Detached worktrees at `base` in a temporary folder, one per name, removed on exit."""
        ...

    def worktree(self, base: str, folder: Path) -> AbstractContextManager[Path]:
        """A fresh detached worktree at `base` in `folder`, removed when the block ends."""
        ...

    def resolve(self, rev: str) -> str:
        """The full sha of the commit `rev` names."""
        ...

    def apply(self, tree: Path, patch: bytes, *, reverse: bool = False) -> str | None:
        """Apply `patch` (or undo it) to the tree and its index; git's complaint, or None."""
        ...

    def staged_diff(self, tree: Path, paths: list[str] | None = None, *,
                    binary: bool = False) -> bytes:
        """The diff from the tree's HEAD to its index, optionally for `paths` only."""
        ...

    def staged_text(self, tree: Path, path: str) -> str | None:
        """A file's text as staged in the tree's index, or None when it is not there."""
        ...

    def tracked(self, tree: Path) -> list[str]:
        """Every path the tree's HEAD tracks."""
        ...

    def reset_to_index(self, tree: Path) -> None:
        """Make the tree exactly its index: tracked files rewritten, everything else removed."""
        ...

    def checkout(self, tree: Path, sha: str) -> None:
        """Move the tree (detached, forced) to commit `sha`."""
        ...

    def stage(self, tree: Path, paths: list[str]) -> None:
        """Add `paths` of the tree to its index."""
        ...

    def patch(self, tree: Path) -> str:
        """Every change in the tree since HEAD, new files included, as a unified diff, leaving
        its index alone and suture's private area and test caches out."""
        ...

    def first_parents(self, rev: str, limit: int) -> list[str]:
        """Up to `limit` commits of `rev`'s first-parent history, newest (`rev`) first."""
        ...

    def parents(self, sha: str) -> list[str]:
        """The commit's parents, the first parent first."""
        ...

    def merged_branch(self, merge: str) -> list[str]:
        """The first-parent commits a merge brought in from its second parent, newest first."""
        ...

    def author_and_subject(self, sha: str) -> tuple[str, str]:
        """The commit's author name and subject line."""
        ...

    def commit_patch(self, base: str, patch: bytes, message: str, signature: Signature) -> str:
        """A commit on `base` whose change is `patch`, made without a worktree; the same
        inputs always make the same commit."""
        ...

    def carry_onto(self, commit: str, onto: str, signature: Signature) -> str | None:
        """`commit` replayed on top of `onto`, or None when they conflict."""
        ...

    def remote_branch(self, access: PushAccess, branch: str) -> str | None:
        """The sha of `branch` on the remote `access` names, or None when it has none."""
        ...

    def fetch_branch(self, access: PushAccess, branch: str) -> str | None:
        """Fetch `branch` from the remote; its sha here, or None when the remote has none."""
        ...

    def push_branch(self, access: PushAccess, sha: str, branch: str) -> None:
        """Create `branch` on the remote at `sha`; never forced."""
        ...


@runtime_checkable
class Sandbox(Protocol):
    """Runs commands in a worktree where they can do no harm: the worktree is the only writable
    place, the environment is empty but for what the policy allows, the network is off but for
    the policy's hosts, and limits stop runaway processes. Every command is audited."""

    def run(self, worktree: Path, argv: list[str], policy: SandboxPolicy,
            stdin: str | None = None) -> CommandResult:
        """Run `argv` with `worktree` as the working directory; never raises for the command's
        own failure (that is in the result), only for a broken sandbox (PermanentError)."""
        ...

    def serve(self, worktree: Path, argv: list[str], policy: SandboxPolicy,
              port: int) -> AbstractContextManager[Served]:
        """Start `argv` in `worktree` in the background, its sandbox port `port` (and nothing
        else inside) reachable from the host at `Served.url`; leaving the block stops its whole
        process tree, and the command is audited then. PermanentError for a broken sandbox or
        a port that cannot be served; a command that dies is only an exit code."""
        ...

    @property
    def audit(self) -> list[CommandResult]:
        """Every command run so far, in order."""
        ...


@runtime_checkable
class Environments(Protocol):
    """Repository environments: a repository's dependencies installed once, in the sandbox with
    network to the package indexes only, cached by what they depend on (commands, dependency
    files, runtime), and reused by every run on the same base. Raises only PermanentError (a
    broken sandbox, a workspace that cannot make a tree); a setup that fails is a result."""

    def prepare(self, workspace: Workspace, base: str, setup: list[str] | None = None, *,
                tree: Path | None = None) -> Environment | EnvironmentFailure:
        """The environment for `base` of the workspace's repository: built (in a fresh
        worktree) or reused. `setup` is the service's configured commands (the repository's
        `.suture.yml` wins; neither: detected). `tree`, a clean worktree at `base` the caller
        already has, saves making one just to read the dependency files. Runs use the result
        through `Environment.apply(policy)`."""
        ...


@runtime_checkable
class Preview(Protocol):
    """Somewhere a commit of a service runs so a request can be replayed on it: started locally
    in the sandbox, deployed by the operator's command, or deployed by the code host (GitHub
    deployments). Raises PreviewError when the preview does not become ready."""

    name: str

    def deploy(self, target: PreviewTarget) -> AbstractContextManager[Deployment]:
        """Deploy `target` and wait until it answers; the deployment (its URL) is good until
        the block ends, when whatever the provider started is stopped."""
        ...


@runtime_checkable
class CodingAgent(Protocol):
    """Something that proposes a patch for a task inside a sandboxed worktree."""

    name: str

    def attempt(self, task: FixTask, worktree: Path, sandbox: Sandbox) -> Attempt:
        """Edit `worktree` (through `sandbox` for anything that runs code) and return the
        attempt; the caller reads the patch from the worktree, not from the agent's word."""
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
