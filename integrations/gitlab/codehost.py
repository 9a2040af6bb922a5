"""`GitLabMergeRequests`: the `CodeHost` port on GitLab merge requests, through python-gitlab.

A change is a draft merge request: GitLab has no draft flag on creation, a `Draft: ` title
prefix makes one. Publishing stays idempotent: `find_change` looks for a merge request from
the branch (any state), then for one whose description carries the marker (GitLab's `search`
over descriptions, checked exactly here); `open_change` adopts the open merge request GitLab
names in its 409 "Another open merge request already exists for this source branch". GitLab
has no check runs, so verification evidence is a commit status whose `target_url` is the
report's details. Reviewers are resolved from usernames to ids, and every one left out is
reported with its reason (the bot itself, the author, unknown or blocked accounts, and those
GitLab drops because they cannot read the merge request). Reading a change back, its notes and
who may push, and closing it, are `following`'s (`MergeRequestFollowing`); a commit's CI
result is `pipelines`' (`PipelineChecks`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gitlab import exceptions as gl_exc
from gitlab.v4.objects import Project, ProjectMergeRequest
from pydantic import SecretStr

from integrations.gitlab.client import WorkerGitlab, translate_gitlab_error
from integrations.gitlab.following import MergeRequestFollowing, change_record
from integrations.gitlab.pipelines import PipelineChecks
from worker.codehost import Change, ChangeDraft, CheckPosted, CheckReport, PushAccess, ReviewRequest
from worker.ports import PermanentError, TransientError
from worker.settings import GitLabSettings
from worker.titles import shorten

log = logging.getLogger(__name__)

MAX_TITLE = 255  # GitLab's limit on merge request titles
MAX_DESCRIPTION = 1_048_576  # and on descriptions
MAX_NOTE = 1_000_000  # and on notes
MAX_STATUS_TEXT = 255  # and on a commit status's description, name and target_url
DEVELOPER = 30  # the least role that may push branches
PUSH_USER = "oauth2"  # GitLab's user name for token authentication over HTTPS
DRAFT_PREFIX = "Draft: "
SEARCH_SCAN_LIMIT = 100  # one page of search results
_STATUS = {"success": "success", "failure": "failed", "neutral": "skipped"}


class GitLabMergeRequests(PipelineChecks, MergeRequestFollowing):
    """Proposes changes as draft GitLab merge requests carrying `settings.labels`.

    Recommended credential: a project access token on the one project (role Developer, scopes
    `api` and `write_repository`). It can push only there, its bot account is the author of
    every merge request (and is never asked to review), and revoking it touches nothing else.
    The same token pushes over HTTPS as user `oauth2`. A personal or group token works too,
    with a wider reach than suture needs.
    """

    name = "gitlab"

    def __init__(self, settings: GitLabSettings, *, timeout: float = 15) -> None:
        if settings.token is None:
            raise ValueError("gitlab.token is not configured")
        self._token = settings.token
        self._labels = list(settings.labels)
        self._gl = WorkerGitlab(settings.base_url, settings.token.get_secret_value(),
                                timeout=timeout)
        self._me: str | None = None
        self._bots: dict[int, bool] = {}

    def push_access(self, repo: str) -> PushAccess:
        """The project's HTTPS clone URL, user `oauth2` and the token; PermanentError when the
        token's role on the project cannot push."""
        with self._errors(f"reading project {repo}"):
            project = self._gl.projects.get(_project_id(repo))
        level = _access_level(getattr(project, "permissions", None))
        if level is not None and level < DEVELOPER:
            raise PermanentError(f"the GitLab token has access level {level} on {repo}; "
                                 f"pushing branches needs Developer ({DEVELOPER}) or more")
        return PushAccess(url=project.http_url_to_repo, username=PUSH_USER,
                          token=SecretStr(self._token.get_secret_value()))

    def default_branch(self, repo: str) -> str:
        """The project's default branch."""
        with self._errors(f"reading project {repo}"):
            branch = self._gl.projects.get(_project_id(repo)).default_branch
        if not branch:
            raise PermanentError(f"GitLab project {repo} has no default branch (empty?)")
        return str(branch)

    def find_change(self, repo: str, branch: str, marker: str) -> Change | None:
        """The merge request from `branch` (open first, else the newest), else the one whose
        description carries `marker`, in any state."""
        with self._errors(f"looking for a merge request in {repo}"):
            project = self._project(repo)
            found = self._from_branch(project, branch, state="all")
            if found is None and marker.strip():
                found = self._with_marker(project, marker)
        return None if found is None else change_record(found, repo, adopted=True)

    def open_change(self, draft: ChangeDraft) -> Change:
        """Open `draft` as a merge request, or adopt the open one GitLab says exists."""
        data = {"source_branch": draft.branch, "target_branch": draft.base_branch,
                "title": _title(draft.title, draft.draft),
                "description": _description(draft.body, draft.marker),
                "labels": ",".join(_merge(self._labels, draft.labels)),
                "remove_source_branch": True}
        with self._errors(f"opening a merge request in {draft.repo}"):
            project = self._project(draft.repo)
            try:
                created = project.mergerequests.create(data)
            except gl_exc.GitlabCreateError as exc:
                if exc.response_code != 409 or "already exists" not in str(exc.error_message):
                    raise
                existing = self._from_branch(project, draft.branch, state="opened",
                                             target=draft.base_branch)
                if existing is None:  # closed between the refusal and the lookup
                    raise TransientError(f"GitLab refused a second merge request from "
                                         f"{draft.branch} but lists none open") from exc
                log.info("merge request from %s already open in %s as !%s", draft.branch,
                         draft.repo, existing.iid)
                return change_record(existing, draft.repo, adopted=True)
        log.info("opened !%s in %s from %s", created.iid, draft.repo, draft.branch)
        return change_record(created, draft.repo, adopted=False)

    def comment(self, repo: str, number: int, body: str) -> str:
        """Add a note to merge request `number`; its URL."""
        with self._errors(f"commenting on !{number} in {repo}"):
            merge_request = self._project(repo).mergerequests.get(number)
            note = merge_request.notes.create({"body": _fit(body, MAX_NOTE)})
        return f"{merge_request.web_url}#note_{note.id}"

    def request_reviewers(self, repo: str, number: int, logins: list[str]) -> ReviewRequest:
        """Ask `logins` (GitLab usernames) to review `number`, keeping its other reviewers."""
        result = ReviewRequest()
        with self._errors(f"requesting reviewers on !{number} in {repo}"):
            project = self._project(repo)
            merge_request = project.mergerequests.get(number)
            author = str(merge_request.author["username"]).lower()
            current = {str(user["username"]).lower(): int(user["id"])
                       for user in merge_request.reviewers}
            wanted = self._resolve(logins, author, current, result)
            if not wanted:
                return result
            ids = sorted({*current.values(), *wanted.values()})
            updated = project.mergerequests.update(number, {"reviewer_ids": ids})
        kept = {int(user["id"]) for user in updated.get("reviewers") or []}
        for login, user_id in wanted.items():
            if user_id in kept:
                result.requested.append(login)
            else:
                result.skipped[login] = "cannot review: not a member of the project"
        return result

    def report_check(self, repo: str, report: CheckReport) -> CheckPosted:
        """Post the verification as a commit status on `report.head_sha` (GitLab has no check
        runs); its `target_url` is `report.details_url`."""
        text = " ".join(f"{report.title} — {report.summary}".split()) if report.summary \
            else report.title
        data = {"state": _STATUS[report.conclusion], "name": _fit(report.name, 255),
                "description": _fit(text, MAX_STATUS_TEXT)}
        if report.details_url and len(report.details_url) <= MAX_STATUS_TEXT:
            data["target_url"] = report.details_url
        with self._errors(f"posting a commit status in {repo}"):
            project = self._gl.projects.get(_project_id(repo))
            project.commits.get(report.head_sha, lazy=True).statuses.create(data)
        url = report.details_url or f"{project.web_url}/-/commit/{report.head_sha}"
        return CheckPosted(kind="status", url=url)

    def close(self) -> None:
        """Release the HTTP connections of the client."""
        self._gl.session.close()

    # -- helpers ------------------------------------------------------------------------------

    def _project(self, repo: str) -> Project:
        return self._gl.projects.get(_project_id(repo), lazy=True)

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except (gl_exc.GitlabError, OSError) as exc:
            raise translate_gitlab_error(exc, action, self._gl.failure_headers()) from exc

    def _from_branch(self, project: Project, branch: str, *, state: str,
                     target: str | None = None) -> ProjectMergeRequest | None:
        filters: dict[str, Any] = {"source_branch": branch, "state": state}
        if target is not None:
            filters["target_branch"] = target
        found = project.mergerequests.list(get_all=False, order_by="created_at", sort="desc",
                                           **filters)
        found = [mr for mr in found if mr.source_branch == branch]
        opened = [mr for mr in found if mr.state == "opened"]
        return (opened or found or [None])[0]

    def _with_marker(self, project: Project, marker: str) -> ProjectMergeRequest | None:
        query: dict[str, Any] = {"search": marker, "in": "description", "state": "all",
                                 "per_page": SEARCH_SCAN_LIMIT}
        found = project.mergerequests.list(get_all=False, **query)
        return next((mr for mr in found if marker in (mr.description or "")), None)

    def _whoami(self) -> str:
        return self._own_username().lower()

    def _resolve(self, logins: list[str], author: str, current: dict[str, int],
                 result: ReviewRequest) -> dict[str, int]:
        """Usernames worth asking, with their ids; the others go to `result.skipped`."""
        wanted: dict[str, int] = {}
        seen: set[str] = set()
        for login in logins:
            key = login.strip().lower()
            if not key or key in seen:
                continue
            seen.add(key)
            if key == self._whoami():
                result.skipped[login] = "is suture's own account"
            elif key == author:
                result.skipped[login] = "is the author of the merge request"
            elif key in current:
                result.requested.append(login)
            else:
                users = [user for user in self._gl.users.list(username=login, get_all=False)
                         if str(user.username).lower() == key]
                if not users:
                    result.skipped[login] = "no GitLab account has this username"
                elif users[0].state != "active":
                    result.skipped[login] = f"the GitLab account is {users[0].state}"
                else:
                    wanted[login] = int(users[0].id)
        return wanted


def _project_id(repo: str) -> str:
    """GitLab's `:id` for `repo`: a numeric id or a `group/project` path."""
    parts = repo.strip("/").split("/")
    if repo.isdigit() or (len(parts) >= 2 and all(parts)):
        return repo.strip("/")
    raise PermanentError(f"a GitLab project must look like group/project, got {repo!r}")


def _access_level(permissions: Any) -> int | None:
    """The token user's role on the project (project or inherited group access)."""
    levels = [int(entry["access_level"]) for entry in (permissions or {}).values()
              if isinstance(entry, dict) and entry.get("access_level") is not None]
    return max(levels) if levels else None


def _merge(first: list[str], second: list[str]) -> list[str]:
    """Both label lists, duplicates (case-insensitive) and commas dropped."""
    seen: set[str] = set()
    merged = []
    for name in [*first, *second]:
        name = name.replace(",", " ").strip()
        if name and name.lower() not in seen:
            seen.add(name.lower())
            merged.append(name)
    return merged


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _title(title: str, draft: bool) -> str:
    flat = " ".join(title.split()) or "suture fix"
    if draft and not flat.lower().startswith(("draft:", "[draft]", "(draft)")):
        flat = DRAFT_PREFIX + flat
    return shorten(flat, MAX_TITLE)


def _description(body: str, marker: str) -> str:
    """The body within GitLab's limit, always carrying the marker."""
    tail = "" if marker in body else f"\n\n{marker}\n"
    if len(body) + len(tail) <= MAX_DESCRIPTION:
        return body + tail
    note = "\n\n[truncated]\n"
    return body[: MAX_DESCRIPTION - len(note) - len(marker) - 2] + note + marker + "\n"
