"""What people do to merge requests in the GitLab stand-in, for tests to drive, and the routes
that read it back: a user's profile, a project member's role, and a merge request's notes.

Actions: `merge` (a real merge commit in the bare repository, or a squashed commit when
`squash`, as a fast-forward project with squashing leaves it; the target branch moves),
`close`, `add_note` (by any account, a bot or not) and `set_access` (a user's role on one
project). Merging and closing add the system notes ("merged", "closed") GitLab's
`SystemNotes::IssuablesService#change_status` writes.

Routes: `GET /users/:id` (with `bot`, which the basic user inside a note lacks),
`GET /projects/:id/members/all/:user_id` (404 for a non-member, as `find_by!` answers) and
`GET /projects/:id/merge_requests/:iid/notes` (`sort` asc or desc, newest first by default, by
`created_at` or `updated_at`; system notes included). A member's role is the one `set_access`
gave, else Developer (30) for a `member` account; the token's own user has the stand-in's
`access_level`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from integrations.standins.base import Call, Reply, StandIn
from integrations.standins.gitlab import shapes, wire
from integrations.standins.gitlab.state import (
    GitLabState,
    MergeRequestRecord,
    ProjectRecord,
    UserRecord,
    now_iso,
)
from integrations.standins.merging import merge_commit, squash_commit

if TYPE_CHECKING:
    from integrations.standins.githttp import GitHttp

DEVELOPER = 30  # the role of a `member` account without one of its own


class MergeRequestActions(StandIn, ABC):
    """Test-facing actions of people on merge requests; the base of `GitLabStandIn`."""

    state: GitLabState  # these are set by `GitLabStandIn`
    git: GitHttp
    login: str
    access_level: int

    @abstractmethod
    def _project_or_raise(self, path: str) -> ProjectRecord:
        ...

    @abstractmethod
    def note_json(self, project: ProjectRecord, record: Any, note: Any) -> dict[str, Any]:
        """A note in GitLab's shape (`GitLabStandIn.note_json`)."""
        ...

    def merge(self, path: str, iid: int, *, by: str, squash: bool = False) -> str:
        """Merge open merge request `iid` of `path` as `by`; the commit now on the target
        branch (the merge commit, or the squashed commit when `squash`). ValueError when it is
        not open or conflicts."""
        project, record = self._open(path, iid)
        user = self._user(by)
        bare = self.git.repo_path(project.path)
        head = self.git.branches(project.path).get(record.source_branch) or record.sha
        email = f"{user.username}@noreply.example.com"
        if squash:
            sha = squash_commit(bare, record.target_branch, head, record.title, name=user.name,
                                email=email)
        else:
            message = (f"Merge branch '{record.source_branch}' into '{record.target_branch}'"
                       f"\n\n{record.title}\n\nSee merge request {project.path}!{record.iid}")
            sha = merge_commit(bare, record.target_branch, head, message, name=user.name,
                               email=email)
        with self.state.lock:
            record.sha, record.state, record.merged_by = head, "merged", user.username
            record.merged_at = record.updated_at = now_iso()
            if squash:
                record.squash_commit_sha = sha
            else:
                record.merge_commit_sha = sha
        self.state.add_note(record, "merged", user.username, system=True)
        return sha

    def close(self, path: str, iid: int, *, by: str) -> None:
        """Close open merge request `iid` of `path` as `by`."""
        _, record = self._open(path, iid)
        close_record(self.state, record, self._user(by).username)

    def add_note(self, path: str, iid: int, body: str, *, as_user: str, bot: bool = False,
                 system: bool = False) -> dict[str, Any]:
        """Comment on merge request `iid` of `path` as `as_user` (a bot account when `bot`;
        a system note when `system`); the note as GitLab answers it."""
        project = self._project_or_raise(path)
        record = project.merge_requests[iid]
        user = self._user(as_user)
        user.bot = user.bot or bot
        note = self.state.add_note(record, body, user.username, system=system)
        return self.note_json(project, record, note)

    def set_access(self, path: str, username: str, level: int) -> None:
        """Give `username` the role `level` on project `path` (10 Guest, 20 Reporter,
        30 Developer, 40 Maintainer, 50 Owner; 0 takes the membership away)."""
        project = self._project_or_raise(path)
        user = self._user(username)
        with self.state.lock:
            project.access[user.username.lower()] = level

    def access_of(self, project: ProjectRecord, user: UserRecord) -> int | None:
        """The role `user` holds on `project`, or None when not a member."""
        if user.username.lower() == self.login.lower():
            return self.access_level
        level = project.access.get(user.username.lower())
        if level is not None:
            return level or None
        return DEVELOPER if user.member else None

    def _user(self, username: str) -> UserRecord:
        return self.state.user(username) or self.state.add_user(username)

    def _open(self, path: str, iid: int) -> tuple[ProjectRecord, MergeRequestRecord]:
        project = self._project_or_raise(path)
        record = project.merge_requests[iid]
        if record.state != "opened":
            raise ValueError(f"merge request !{iid} of {path} is {record.state}, not open")
        return project, record


def close_record(state: GitLabState, record: MergeRequestRecord, by: str) -> None:
    """Close an open merge request as `by`, with GitLab's "closed" system note."""
    with state.lock:
        if record.state != "opened":
            return
        record.state, record.closed_by = "closed", by
        record.closed_at = record.updated_at = now_iso()
    state.add_note(record, "closed", by, system=True)


def register(standin: Any) -> None:
    """Serve the user, member and notes routes on `standin` (a `GitLabStandIn`)."""
    routes = _Routes(standin)
    route: Any = standin._route
    in_project: Any = standin._in_project
    project = r"/api/v4/projects/(?P<project>[^/]+)"
    route("GET", r"/api/v4/users/(?P<user_id>\d+)", routes.get_user)
    route("GET", project + r"/members/all/(?P<user_id>\d+)", in_project(routes.get_member))
    route("GET", project + r"/merge_requests/(?P<iid>\d+)/notes", in_project(routes.list_notes))


class _Routes:
    def __init__(self, standin: Any) -> None:
        self.standin = standin
        self.state: GitLabState = standin.state

    def get_user(self, call: Call) -> Reply:
        user = self.state.user_by_id(int(call.params["user_id"]))
        if user is None:
            return wire.not_found("User")
        return Reply(200, shapes.full_user(self.standin.url, user))

    def get_member(self, call: Call, project: ProjectRecord) -> Reply:
        user = self.state.user_by_id(int(call.params["user_id"]))
        level = None if user is None else self.standin.access_of(project, user)
        if user is None or level is None:
            return wire.not_found()
        return Reply(200, shapes.member(self.standin.url, user, level))

    def list_notes(self, call: Call, project: ProjectRecord) -> Reply:
        record = project.merge_requests.get(int(call.params["iid"]))
        if record is None:
            return wire.not_found("Merge Request")
        order_by, sort = call.arg("order_by", "created_at"), call.arg("sort", "desc")
        if order_by not in ("created_at", "updated_at"):
            return wire.bad_request("order_by does not have a valid value")
        if sort not in ("asc", "desc"):
            return wire.bad_request("sort does not have a valid value")
        with self.state.lock:
            notes = sorted(record.notes, key=lambda note: (note.created_at, note.id),
                           reverse=sort == "desc")
        page, headers = wire.paginate(call, self.standin.url, notes)
        body = [self.standin.note_json(project, record, note) for note in page]
        return Reply(200, body, headers=headers)

