"""In-memory state of the GitLab stand-in: users, projects, their merge requests (with notes),
commit statuses and pipelines.

`GitLabState` owns every record and hands out ids; a project is found by its numeric id or its
`group/project` path, as GitLab's `:id` parameter allows. Merge requests are numbered per
project (`iid`), notes and statuses globally (`id`). Two GitLab rules live here because every
route needs them: a title starting with `Draft:`, `[Draft]` or `(Draft)` makes a merge request
a draft, and only one open merge request may join a given source branch to a given target
branch. All mutation goes through `lock`, since the HTTP server serves requests on several
threads.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

# GitLab's `MergeRequest::DRAFT_REGEX` (case-insensitive, at the start of the title).
DRAFT_PREFIX = re.compile(r"^\s*(\[draft\]|\(draft\)|draft:)\s*", re.IGNORECASE)


def now_iso() -> str:
    """The current time as GitLab writes timestamps (milliseconds, `Z`)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def is_draft(title: str) -> bool:
    """True when GitLab treats a merge request with `title` as a draft."""
    return DRAFT_PREFIX.match(title) is not None


@dataclass
class UserRecord:
    """One account. `member` accounts belong to every project and may review its changes."""

    id: int
    username: str
    name: str
    state: str = "active"
    member: bool = True
    bot: bool = False  # a bot account (project or group access token, service account)


@dataclass
class NoteRecord:
    """One comment on a merge request; a `system` note is GitLab's own record of an event
    ("merged", "closed")."""

    id: int
    body: str
    author: str
    created_at: str = field(default_factory=now_iso)
    system: bool = False


@dataclass
class StatusRecord:
    """One commit status (GitLab's external CI job on a commit)."""

    id: int
    sha: str
    status: str
    name: str
    author: str
    target_url: str | None = None
    description: str | None = None
    ref: str | None = None
    created_at: str = field(default_factory=now_iso)


@dataclass
class PipelineRecord:
    """One CI pipeline of a commit; `jobs` are (job id, name, status, failure reason)."""

    id: int
    iid: int
    sha: str
    ref: str
    status: str
    name: str | None = None
    source: str = "push"
    jobs: list[tuple[int, str, str, str | None]] = field(default_factory=list)
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)


@dataclass
class MergeRequestRecord:
    """One merge request; `reviewers` holds usernames."""

    id: int
    iid: int
    title: str
    description: str
    source_branch: str
    target_branch: str
    author: str
    sha: str = ""
    labels: list[str] = field(default_factory=list)
    reviewers: list[str] = field(default_factory=list)
    notes: list[NoteRecord] = field(default_factory=list)
    state: str = "opened"
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    closed_at: str | None = None
    merged_at: str | None = None
    closed_by: str | None = None  # usernames
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    squash_commit_sha: str | None = None

    @property
    def draft(self) -> bool:
        """GitLab derives draft status from the title."""
        return is_draft(self.title)


@dataclass
class ProjectRecord:
    """One project: merge requests by iid, statuses in the order they were posted. A project
    that is not `visible` to the token answers 404, as GitLab does."""

    id: int
    path: str
    default_branch: str = "main"
    visible: bool = True
    merge_requests: dict[int, MergeRequestRecord] = field(default_factory=dict)
    access: dict[str, int] = field(default_factory=dict)  # lower-cased username → role
    statuses: list[StatusRecord] = field(default_factory=list)
    pipelines: list[PipelineRecord] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The last part of the path."""
        return self.path.rsplit("/", 1)[-1]

    def open_conflict(self, source: str, target: str) -> MergeRequestRecord | None:
        """The open merge request that already joins `source` to `target`, if any."""
        for record in self.merge_requests.values():
            if (record.state == "opened" and record.source_branch == source
                    and record.target_branch == target):
                return record
        return None


class GitLabState:
    """Every user and project of the stand-in."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.users: dict[str, UserRecord] = {}
        self.projects: dict[str, ProjectRecord] = {}
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        """A fresh id, unique across every kind of record."""
        with self.lock:
            return next(self._ids)

    def add_user(self, username: str, *, name: str | None = None, state: str = "active",
                 member: bool = True, bot: bool = False) -> UserRecord:
        """Make account `username` exist (again: its settings replaced, its id kept)."""
        with self.lock:
            old = self.users.get(username.lower())
            record = UserRecord(id=old.id if old else self.next_id(), username=username,
                                name=name or username.replace(".", " ").title(), state=state,
                                member=member, bot=bot)
            self.users[username.lower()] = record
            return record

    def user(self, username: str) -> UserRecord | None:
        """The account called `username` (GitLab compares usernames case-insensitively)."""
        with self.lock:
            return self.users.get(username.lower())

    def user_by_id(self, user_id: int) -> UserRecord | None:
        """The account with id `user_id`."""
        with self.lock:
            return next((user for user in self.users.values() if user.id == user_id), None)

    def add_project(self, path: str, *, visible: bool = True) -> ProjectRecord:
        """Make project `path` exist (once)."""
        with self.lock:
            if path not in self.projects:
                self.projects[path] = ProjectRecord(id=self.next_id(), path=path,
                                                    visible=visible)
            return self.projects[path]

    def project(self, ref: str) -> ProjectRecord | None:
        """The project a decoded `:id` names: its number or its path."""
        with self.lock:
            if ref.isdigit():
                return next((p for p in self.projects.values() if p.id == int(ref)), None)
            return self.projects.get(ref)

    def create_merge_request(self, project: ProjectRecord, *, title: str, description: str,
                             source: str, target: str, author: str, sha: str,
                             labels: list[str]) -> MergeRequestRecord:
        """A new open merge request in `project` (the caller checked for conflicts)."""
        with self.lock:
            iid = max(project.merge_requests, default=0) + 1
            record = MergeRequestRecord(id=self.next_id(), iid=iid, title=title,
                                        description=description, source_branch=source,
                                        target_branch=target, author=author, sha=sha,
                                        labels=labels)
            project.merge_requests[iid] = record
            return record

    def add_note(self, record: MergeRequestRecord, body: str, author: str, *,
                 system: bool = False) -> NoteRecord:
        """Comment on a merge request (or, `system`, record an event on it)."""
        with self.lock:
            note = NoteRecord(id=self.next_id(), body=body, author=author, system=system)
            record.notes.append(note)
            record.updated_at = note.created_at
            return note

    def add_status(self, project: ProjectRecord, **values: str | None) -> StatusRecord:
        """Record a commit status; `values` are `StatusRecord` fields other than `id`."""
        with self.lock:
            status = StatusRecord(id=self.next_id(), **values)  # type: ignore[arg-type]
            project.statuses.append(status)
            return status
