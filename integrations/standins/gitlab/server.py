"""`GitLabStandIn`: a local HTTP server speaking enough of GitLab's REST API v4 (and git's
smart HTTP) for python-gitlab and `git push` to propose merge requests against it.

Routes under `/api/v4`: the token's user, users by username, a project (by id or URL-encoded
path), listing/creating/reading/updating merge requests, adding notes and posting commit
statuses. The token goes in `PRIVATE-TOKEN` or `Authorization: Bearer`; anything else is
GitLab's 401. Git is served at `/<group>/<project>.git/...` by `GitHttp`, with HTTP basic auth
whose password is the token (GitLab's convention is the user `oauth2`; any user is accepted).
GitLab's refusals are reproduced where the adapter meets them: 409 for a second open merge
request on the same branches, 422 for a source branch that was never pushed, 404 for unknown
projects. Faults are queued with `fail_rate_limit` and `fail_server_error`. What people do to
merge requests (merge, close, notes, roles) and the routes that read it back are `following`'s;
CI pipelines on commits (`add_pipeline`, listing pipelines and their jobs) are `pipelines`'.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from integrations.git.command import call_git, run_git
from integrations.standins.base import Call, Handler, Reply
from integrations.standins.githttp import GitHttp
from integrations.standins.gitlab import following, pipelines, shapes, wire
from integrations.standins.gitlab.following import MergeRequestActions
from integrations.standins.gitlab.merge_requests import MergeRequestRoutes, params
from integrations.standins.gitlab.pipelines import PipelineActions
from integrations.standins.gitlab.state import GitLabState, ProjectRecord, StatusRecord

API = "/api/v4"
PROJECT = API + r"/projects/(?P<project>[^/]+)"
_GIT = r"/(?P<repo>[\w.-]+(?:/[\w.-]+)+?)\.git/(?:info/refs|git-upload-pack|git-receive-pack)"

ProjectHandler = Callable[[Call, ProjectRecord], Reply]
_EVENTS = {"pending": "enqueue", "running": "run"}  # the state machine event into each state


class GitLabStandIn(PipelineActions, MergeRequestActions):
    """GitLab on 127.0.0.1 for one token; bare repositories live under `root` (a temporary
    folder removed at `stop` when not given)."""

    def __init__(self, *, token: str = "glpat-test-token", login: str = "suture-bot",
                 projects: Iterable[str] = (), root: Path | None = None,
                 access_level: int = 40, port: int = 0) -> None:
        super().__init__(port)
        self.token = token
        self.login = login
        self.access_level = access_level
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="gitlab-standin-")) if root is None else root
        self.git = GitHttp(self.root, self._git_allowed)
        self.state = GitLabState()
        self.state.add_user(login, name="suture bot", bot=True)
        for path in projects:
            self.add_project(path)
        self.merge_request_routes = MergeRequestRoutes(self)
        self._routes()

    # -- test-facing API ----------------------------------------------------------------------

    def add_project(self, path: str, *, visible: bool = True) -> None:
        """Make project `path` (`group/project`) exist, its repository empty; one that is not
        `visible` is out of the token's reach (404 to the API, refused to git), as every other
        project is for a project access token."""
        self.state.add_project(path, visible=visible)
        self.git.repo_path(path)

    def seed_repo(self, path: str, source: Path, branch: str = "main") -> str:
        """Push the checked-out commit of repository `source` to `branch` of project `path`,
        which becomes its default branch; returns the commit's sha."""
        self.add_project(path)
        bare = self.git.repo_path(path)
        run_git(source, "push", "--quiet", str(bare), f"+HEAD:refs/heads/{branch}")
        run_git(bare, "symbolic-ref", "HEAD", f"refs/heads/{branch}")
        project = self._project_or_raise(path)
        with self.state.lock:
            project.default_branch = branch
        return self.git.branches(path)[branch]

    def add_user(self, username: str, *, name: str | None = None, member: bool = True,
                 state: str = "active") -> dict[str, Any]:
        """Make account `username` exist; `member` accounts may review every project's merge
        requests (GitLab drops reviewers who cannot read the merge request)."""
        record = self.state.add_user(username, name=name, member=member, state=state)
        return shapes.user(self.url, record)

    def add_merge_request(self, path: str, *, source_branch: str, title: str,
                          description: str = "", author: str = "someone-else",
                          target_branch: str | None = None, labels: Iterable[str] = (),
                          state: str = "opened") -> dict[str, Any]:
        """File a merge request directly, as another user would have (no branch checks)."""
        project = self._project_or_raise(path)
        if self.state.user(author) is None:
            self.state.add_user(author)
        record = self.state.create_merge_request(
            project, title=title, description=description, source=source_branch,
            target=target_branch or project.default_branch, author=author,
            sha=self.git.branches(path).get(source_branch, ""), labels=list(labels))
        record.state = state
        return self.merge_request_json(project, record)

    def set_state(self, path: str, iid: int, state: str) -> None:
        """Move merge request `iid` to `state` (opened, closed, merged), as a person would."""
        record = self._project_or_raise(path).merge_requests[iid]
        with self.state.lock:
            record.state = state

    def merge_requests(self, path: str) -> list[dict[str, Any]]:
        """Every merge request of `path` in GitLab's shape, lowest iid first, each with its
        `notes` in GitLab's note shape."""
        project = self._project_or_raise(path)
        with self.state.lock:
            records = list(project.merge_requests.values())
        result = []
        for record in records:
            shape = self.merge_request_json(project, record)
            shape["notes"] = [self.note_json(project, record, note) for note in record.notes]
            result.append(shape)
        return result

    def statuses(self, path: str) -> list[dict[str, Any]]:
        """Every commit status posted to `path`, oldest first, in GitLab's shape."""
        project = self._project_or_raise(path)
        with self.state.lock:
            return [shapes.status(status, self.user_json(status.author))
                    for status in project.statuses]

    def fail_rate_limit(self, retry_after: int = 60, times: int = 1) -> None:
        """Answer the next requests as GitLab's throttle does (429, `Retry-After`)."""
        self.fail_next(wire.rate_limited(retry_after), times)

    def fail_server_error(self, status: int = 502, times: int = 1) -> None:
        """Answer the next requests with a 5xx."""
        self.fail_next(wire.server_error(status), times)

    def __enter__(self) -> GitLabStandIn:
        self.start()
        return self

    def stop(self) -> None:
        """Stop serving; remove the repositories when the stand-in made their folder."""
        super().stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- shapes and lookups shared with the merge request routes ------------------------------

    def user_json(self, username: str) -> dict[str, Any]:
        """The basic user object of `username` (an unknown name becomes a new account)."""
        record = self.state.user(username) or self.state.add_user(username)
        return shapes.user(self.url, record)

    def merge_request_json(self, project: ProjectRecord, record: Any) -> dict[str, Any]:
        """A merge request in GitLab's shape, its head read from the repository."""
        branches = self.git.branches(project.path)
        record.sha = branches.get(record.source_branch, record.sha)
        with self.state.lock:
            names = {name for name in (record.author, *record.reviewers, record.merged_by,
                                       record.closed_by) if name}
            users = {name: self.user_json(name) for name in names}
            return shapes.merge_request(self.url, project, record, users,
                                        branches.get(record.target_branch))

    def note_json(self, project: ProjectRecord, record: Any, note: Any) -> dict[str, Any]:
        """A note in GitLab's shape."""
        return shapes.note(note, record, project.id, self.user_json(note.author))

    def _project_or_raise(self, path: str) -> ProjectRecord:
        project = self.state.project(path)
        if project is None:
            raise KeyError(f"no project {path} in the stand-in")
        return project

    # -- plumbing -----------------------------------------------------------------------------

    def _routes(self) -> None:
        for method in ("GET", "POST"):
            self.route(method, _GIT, self.git.handle)
        self._route("GET", API + "/user", self._get_user)
        self._route("GET", API + "/users", self._list_users)
        self._route("GET", PROJECT, self._in_project(self._get_project))
        self._route("POST", PROJECT + r"/statuses/(?P<sha>[0-9a-fA-F]{4,40})",
                    self._in_project(self._post_status))
        mrs = self.merge_request_routes
        self._route("GET", PROJECT + "/merge_requests", self._in_project(mrs.listing))
        self._route("POST", PROJECT + "/merge_requests", self._in_project(mrs.create))
        one = PROJECT + r"/merge_requests/(?P<iid>\d+)"
        self._route("GET", one, self._in_project(mrs.get))
        self._route("PUT", one, self._in_project(mrs.update))
        self._route("POST", one + "/notes", self._in_project(mrs.add_note))
        following.register(self)  # users, members, listing notes
        pipelines.register(self)  # a commit's pipelines and their jobs

    def _route(self, method: str, pattern: str, handler: Handler) -> None:
        def guarded(call: Call) -> Reply:
            token = call.headers.get("private-token", "")
            scheme, _, bearer = call.headers.get("authorization", "").partition(" ")
            if token != self.token and not (scheme.lower() == "bearer"
                                            and bearer.strip() == self.token):
                return wire.unauthorized()
            return handler(call)

        self.route(method, pattern, guarded)

    def _in_project(self, handler: ProjectHandler) -> Handler:
        def resolved(call: Call) -> Reply:
            project = self.state.project(unquote(call.params["project"]))
            if project is None or not project.visible:
                return wire.not_found("Project")
            return handler(call, project)

        return resolved

    def _git_allowed(self, user: str, password: str, repo: str, service: str) -> bool:
        project = self.state.project(repo)
        return password == self.token and project is not None and project.visible

    # -- routes -------------------------------------------------------------------------------

    def _get_user(self, call: Call) -> Reply:
        record = self.state.user(self.login)
        assert record is not None
        return Reply(200, shapes.current_user(self.url, record, bot=True))

    def _list_users(self, call: Call) -> Reply:
        wanted = (call.arg("username") or "").lower()
        with self.state.lock:
            records = [user for user in self.state.users.values()
                       if not wanted or user.username.lower() == wanted]
        page, headers = wire.paginate(call, self.url, records)
        return Reply(200, [shapes.user(self.url, user) for user in page], headers=headers)

    def _get_project(self, call: Call, project: ProjectRecord) -> Reply:
        empty = not self.git.branches(project.path)
        return Reply(200, shapes.project(self.url, project, self.access_level, empty=empty))

    def _post_status(self, call: Call, project: ProjectRecord) -> Reply:
        values = params(call)
        state = str(values.get("state") or "")
        if state not in {"pending", "running", "success", "failed", "canceled", "skipped"}:
            return wire.bad_request("state does not have a valid value")
        bare = self.git.repo_path(project.path)
        sha = call.params["sha"]
        if call_git(bare, "cat-file", "-e", f"{sha}^{{commit}}").returncode != 0:
            return wire.not_found("Commit")
        sha = run_git(bare, "rev-parse", f"{sha}^{{commit}}").strip()
        too_long = {key: ["is too long (maximum is 255 characters)"]
                    for key in ("target_url", "description", "name")
                    if len(str(values.get(key) or "")) > 255}
        if too_long:
            return wire.error(400, too_long)
        name = str(values.get("name") or values.get("context") or "default")
        ref = values.get("ref") or next(iter(run_git(
            bare, "for-each-ref", "--contains", sha, "--format=%(refname:short)",
            "refs/heads/").split()), None)
        fields = {"status": state, "target_url": values.get("target_url"),
                  "description": values.get("description"), "ref": ref}
        existing = _open_status(project, sha, name)
        if existing is None:
            status = self.state.add_status(project, sha=sha, name=name, author=self.login,
                                           **fields)
        elif state == existing.status and state in _EVENTS:
            return wire.error(400, f"Cannot transition status via :{_EVENTS[state]} from "
                                   f':{state} (Reason(s): Status cannot transition via '
                                   f'"{_EVENTS[state]}")')
        else:
            with self.state.lock:
                for key, value in fields.items():
                    setattr(existing, key, value)
            status = existing
        return Reply(201, shapes.status(status, self.user_json(self.login)))


def _open_status(project: ProjectRecord, sha: str, name: str) -> StatusRecord | None:
    """The pending or running status of that name on `sha`: GitLab moves it to the new state
    instead of adding a status (and its state machine refuses pending → pending and running
    → running with a 400); finished statuses are kept and a new one is added."""
    for status in reversed(project.statuses):
        if status.sha == sha and status.name == name:
            return status if status.status in _EVENTS else None
    return None
