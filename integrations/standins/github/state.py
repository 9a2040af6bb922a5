"""In-memory state of the GitHub stand-in: repositories, their labels, issues and commits, and
the accounts commits are attributed to.

`ForgeState` owns every repository and account and hands out ids; `RepoState` holds one
repository's labels, numbered items and commits. Issues and pull requests share one number
sequence on GitHub, so the counter lives on the repository and a pull request is an issue record
with a `pull` part (labels and comments then work on it unchanged). GitHub attributes a commit to
the account that has the commit's email among its verified emails, so accounts carry emails and a
commit's login is looked up when it is read. All mutation goes through `ForgeState.lock`, since
the HTTP server serves requests on several threads.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

NEW_LABEL_COLOR = "ededed"  # what GitHub gives labels it creates on the fly


def now_iso() -> str:
    """The current time as GitHub writes timestamps (second precision, `Z`)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class LabelRecord:
    """One repository label."""

    id: int
    name: str
    color: str = NEW_LABEL_COLOR


@dataclass
class IssueRecord:
    """One issue. `indexed` is False while the search index has not caught up with it."""

    id: int
    number: int
    title: str
    body: str | None
    author: str
    labels: list[str] = field(default_factory=list)
    state: str = "open"
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    indexed: bool = True
    pull: PullRecord | None = None  # set when this number is a pull request
    comments: list[CommentRecord] = field(default_factory=list)
    closed_at: str | None = None


@dataclass
class PullRecord:
    """The pull-request side of a number: its branches, draft flag and requested reviewers."""

    id: int
    head: str
    base: str
    head_sha: str  # the branch's sha when last seen; GitHub keeps it once the branch is deleted
    draft: bool = False
    reviewers: list[str] = field(default_factory=list)
    reviews: list[ReviewRecord] = field(default_factory=list)
    merged_at: str | None = None  # set with `merged_by` and `merge_sha` once merged
    merged_by: str = ""
    merge_sha: str = ""


@dataclass
class ReviewRecord:
    """One review of a pull request: its verdict (`APPROVED`, `CHANGES_REQUESTED`,
    `COMMENTED`, or `PENDING` while unsubmitted) and its text, which may be empty."""

    id: int
    author: str
    body: str
    state: str
    commit_id: str
    submitted_at: str | None = field(default_factory=now_iso)


@dataclass
class CommentRecord:
    """One comment on an issue or pull request."""

    id: int
    author: str
    body: str
    created_at: str = field(default_factory=now_iso)


@dataclass
class CommitRecord:
    """One commit as git records it: who wrote it (name, email, date) and what it says."""

    sha: str
    author_name: str
    author_email: str
    date: str
    message: str = ""
    committer_name: str = ""
    committer_email: str = ""
    parents: list[str] = field(default_factory=list)


@dataclass
class AccountRecord:
    """One user account and the (verified) emails GitHub links commits to it by."""

    login: str
    id: int
    emails: set[str] = field(default_factory=set)
    bot: bool = False  # GitHub gives such accounts `type: "Bot"`


@dataclass
class RepoState:
    """One repository: labels by lower-cased name, issues by number, commits by sha."""

    owner: str
    name: str
    id: int
    labels: dict[str, LabelRecord] = field(default_factory=dict)
    issues: dict[int, IssueRecord] = field(default_factory=dict)
    commits: dict[str, CommitRecord] = field(default_factory=dict)
    next_number: int = 1
    collaborators: set[str] = field(default_factory=set)  # lower-cased logins
    roles: dict[str, str] = field(default_factory=dict)  # lower-cased login → role name
    check_runs: list[dict[str, Any]] = field(default_factory=list)  # as GitHub answered them
    statuses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        """`owner/name`."""
        return f"{self.owner}/{self.name}"


class ForgeState:
    """Every repository the stand-in knows, plus the id sequence and the lock."""

    def __init__(self, *, search_lag: bool = False) -> None:
        self.repos: dict[str, RepoState] = {}
        self.accounts: dict[str, AccountRecord] = {}
        self.lock = threading.RLock()
        self.search_lag = search_lag
        self._ids = itertools.count(1000)

    def next_id(self) -> int:
        """A fresh object id (unique across kinds, like GitHub's database ids)."""
        return next(self._ids)

    def add_repo(self, owner: str, name: str) -> RepoState:
        """Create (or return) repository `owner/name`."""
        with self.lock:
            key = f"{owner}/{name}".lower()
            if key not in self.repos:
                self.repos[key] = RepoState(owner=owner, name=name, id=self.next_id())
            return self.repos[key]

    def repo(self, owner: str, name: str) -> RepoState | None:
        """Repository `owner/name` (case-insensitive, as on GitHub), or None."""
        return self.repos.get(f"{owner}/{name}".lower())

    def add_account(self, login: str, emails: Iterable[str] = ()) -> AccountRecord:
        """Create (or extend) account `login` with `emails`."""
        with self.lock:
            record = self.accounts.get(login.lower())
            if record is None:
                record = AccountRecord(login=login, id=self.next_id())
                self.accounts[login.lower()] = record
            record.emails.update(email.strip().lower() for email in emails)
            return record

    def account_for(self, email: str) -> AccountRecord | None:
        """The account `email` is a verified email of, as GitHub matches it (case-insensitive)."""
        wanted = email.strip().lower()
        with self.lock:
            return next((a for a in self.accounts.values() if wanted in a.emails), None)

    def add_commit(self, repo: RepoState, record: CommitRecord) -> None:
        """Record a commit of `repo` (its sha and parents lower-cased, as GitHub writes them)."""
        if len(record.sha) != 40 or any(c not in "0123456789abcdefABCDEF" for c in record.sha):
            raise ValueError(f"a commit sha is 40 hex digits, got {record.sha!r}")
        record.sha = record.sha.lower()
        record.parents = [sha.lower() for sha in record.parents]
        with self.lock:
            repo.commits[record.sha] = record

    def find_commit(self, repo: RepoState, ref: str) -> CommitRecord | None:
        """The commit `ref` names: its full sha or an unambiguous prefix of at least 7 digits."""
        ref = ref.lower()
        with self.lock:
            if ref in repo.commits:
                return repo.commits[ref]
            found = [c for sha, c in repo.commits.items() if len(ref) >= 7 and sha.startswith(ref)]
            return found[0] if len(found) == 1 else None

    def ensure_labels(self, repo: RepoState, names: Iterable[str]) -> list[str]:
        """Canonical names of `names`, creating unknown labels; duplicates dropped, order kept."""
        result: list[str] = []
        with self.lock:
            for name in names:
                record = repo.labels.get(name.lower())
                if record is None:
                    record = LabelRecord(id=self.next_id(), name=name)
                    repo.labels[name.lower()] = record
                if record.name not in result:
                    result.append(record.name)
        return result

    def create_issue(
        self, repo: RepoState, *, title: str, body: str | None, labels: Iterable[str], author: str
    ) -> IssueRecord:
        """File a new issue with the next number."""
        with self.lock:
            record = IssueRecord(
                id=self.next_id(),
                number=repo.next_number,
                title=title,
                body=body,
                author=author,
                labels=self.ensure_labels(repo, labels),
                indexed=not self.search_lag,
            )
            repo.issues[record.number] = record
            repo.next_number += 1
            return record

    def add_labels(self, repo: RepoState, issue: IssueRecord, names: Iterable[str]) -> None:
        """Add labels to an issue (existing ones are kept, no duplicates)."""
        with self.lock:
            for name in self.ensure_labels(repo, names):
                if name not in issue.labels:
                    issue.labels.append(name)
            issue.updated_at = now_iso()

    def reindex(self) -> None:
        """Let search see every issue, as GitHub's index does once it catches up."""
        with self.lock:
            for repo in self.repos.values():
                for issue in repo.issues.values():
                    issue.indexed = True
