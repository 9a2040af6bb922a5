"""In-memory state of the GitHub stand-in: repositories, their labels and issues.

`ForgeState` owns every repository and hands out ids; `RepoState` holds one repository's labels
and numbered items. Issues and pull requests share one number sequence on GitHub, so the counter
lives on the repository and pull requests can be added beside `issues` later. All mutation goes
through `ForgeState.lock`, since the HTTP server serves requests on several threads.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

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


@dataclass
class RepoState:
    """One repository: labels by lower-cased name, issues by number."""

    owner: str
    name: str
    id: int
    labels: dict[str, LabelRecord] = field(default_factory=dict)
    issues: dict[int, IssueRecord] = field(default_factory=dict)
    next_number: int = 1

    @property
    def full_name(self) -> str:
        """`owner/name`."""
        return f"{self.owner}/{self.name}"


class ForgeState:
    """Every repository the stand-in knows, plus the id sequence and the lock."""

    def __init__(self, *, search_lag: bool = False) -> None:
        self.repos: dict[str, RepoState] = {}
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
