"""JSON shapes of GitLab REST v4 objects (user, project, merge request, note, commit status).

Each shape starts from a payload recorded from GitLab's API documentation
(`recorded/gitlab/`, see SOURCES.md), so field names and defaults are GitLab's own, then has its
identity, state and every URL set for the stand-in. Fields GitLab sends only on request
(`statistics`, `license`) are dropped, and fields GitLab fills in asynchronously after creation
(pipelines, `changes_count`) are empty, as they are on a new merge request.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from integrations.standins.base import recorded
from integrations.standins.gitlab.state import (
    MergeRequestRecord,
    NoteRecord,
    ProjectRecord,
    StatusRecord,
    UserRecord,
)

_FILES = {
    "user": ("gitlab/users.list.json", 0),
    "current_user": ("gitlab/user.current.json", None),
    "project": ("gitlab/project.get.json", None),
    "merge_request": ("gitlab/merge-request.get.json", None),
    "note": ("gitlab/merge-request-note.get.json", None),
    "status": ("gitlab/commit-status.create.json", None),
    "full_user": ("gitlab/user.get.json", None),
    "member": ("gitlab/project-member-all.get.json", None),
}
_ON_REQUEST_ONLY = ("statistics", "license", "license_url")
_TERMINAL = {"success", "failed", "canceled", "skipped"}


@cache
def _template(kind: str) -> Any:
    path, index = _FILES[kind]
    payload = recorded(path)
    return payload if index is None else payload[index]


def template(kind: str) -> dict[str, Any]:
    """A fresh copy of the recorded object of `kind`."""
    return copy.deepcopy(_template(kind))


def user(base: str, record: UserRecord) -> dict[str, Any]:
    """The basic user object GitLab embeds (authors, reviewers) and lists in `GET /users`."""
    shape = template("user")
    shape.update(id=record.id, username=record.username, name=record.name,
                 state=record.state, avatar_url=None, web_url=f"{base}/{record.username}")
    return shape


def full_user(base: str, record: UserRecord) -> dict[str, Any]:
    """`GET /users/:id` as another user sees it: the basic fields, the profile and `bot`."""
    shape = template("full_user")
    shape.update(id=record.id, username=record.username, name=record.name, state=record.state,
                 avatar_url=None, web_url=f"{base}/{record.username}", public_email=None,
                 job_title="", pronouns=None, bot=record.bot, followers=0, following=0)
    return shape


def member(base: str, record: UserRecord, access_level: int) -> dict[str, Any]:
    """A project member (`GET /projects/:id/members/all/:user_id`) with its role."""
    shape = template("member")
    shape.update(id=record.id, username=record.username, name=record.name, state=record.state,
                 avatar_url=None, web_url=f"{base}/{record.username}",
                 access_level=access_level, created_by=None, email=None)
    return shape


def current_user(base: str, record: UserRecord, *, bot: bool) -> dict[str, Any]:
    """`GET /user` for the token's own account."""
    shape = template("current_user")
    email = f"{record.username}@noreply.example.com"
    shape.update(id=record.id, username=record.username, name=record.name, state=record.state,
                 email=email, public_email=None, commit_email=email, avatar_url=None,
                 web_url=f"{base}/{record.username}", bot=bot, identities=[])
    return shape


def project(base: str, record: ProjectRecord, access_level: int, *, empty: bool
            ) -> dict[str, Any]:
    """`GET /projects/:id`; `access_level` is the token user's role (30 Developer, 40
    Maintainer); an `empty` repository still reports the instance default branch."""
    shape = template("project")
    for key in _ON_REQUEST_ONLY:
        shape.pop(key, None)
    namespace, _, name = record.path.rpartition("/")
    api = f"{base}/api/v4/projects/{record.id}"
    shape.update(
        id=record.id, name=name, path=name, path_with_namespace=record.path,
        name_with_namespace=f"{namespace} / {name}", description="", description_html="",
        default_branch=record.default_branch, web_url=f"{base}/{record.path}",
        http_url_to_repo=f"{base}/{record.path}.git",
        ssh_url_to_repo=f"git@{base.split('://', 1)[-1]}:{record.path}.git",
        readme_url=None, avatar_url=None, tag_list=[], topics=[], shared_with_groups=[],
        empty_repo=empty, open_issues_count=0, forks_count=0,
        permissions={"project_access": {"access_level": access_level,
                                        "notification_level": 3},
                     "group_access": None},
    )
    shape["namespace"].update(name=namespace, path=namespace.rsplit("/", 1)[-1],
                              full_path=namespace, avatar_url=None,
                              web_url=f"{base}/groups/{namespace}")
    shape["_links"] = {key: (f"{base}/api/v4/projects" if key == "self" else
                             f"{api}/{link.rsplit('/', 1)[-1]}")
                       for key, link in shape["_links"].items()}
    return shape


def merge_request(base: str, project_record: ProjectRecord, record: MergeRequestRecord,
                  users: dict[str, dict[str, Any]], target_sha: str | None) -> dict[str, Any]:
    """A merge request; `users` maps usernames to their basic user objects."""
    shape = template("merge_request")
    reference = f"!{record.iid}"
    shape.update(
        id=record.id, iid=record.iid, project_id=project_record.id, title=record.title,
        description=record.description, state=record.state, created_at=record.created_at,
        updated_at=record.updated_at, closed_at=record.closed_at, merged_at=record.merged_at,
        merge_after=None, prepared_at=record.created_at, target_branch=record.target_branch,
        source_branch=record.source_branch, user_notes_count=len(record.notes),
        author=users[record.author], assignees=[], assignee=None,
        reviewers=[users[name] for name in record.reviewers],
        source_project_id=project_record.id, target_project_id=project_record.id,
        labels=list(record.labels), draft=record.draft, work_in_progress=record.draft,
        merge_status="can_be_merged",
        detailed_merge_status=_detailed_status(record),
        sha=record.sha or None, reference=reference,
        merged_by=users.get(record.merged_by or ""), merge_user=users.get(record.merged_by or ""),
        closed_by=users.get(record.closed_by or ""), merge_commit_sha=record.merge_commit_sha,
        squash_commit_sha=record.squash_commit_sha,
        references={"short": reference, "relative": reference,
                    "full": f"{project_record.path}{reference}"},
        web_url=f"{base}/{project_record.path}/-/merge_requests/{record.iid}",
        changes_count=None, latest_build_started_at=None, latest_build_finished_at=None,
        pipeline=None, head_pipeline=None, first_contribution=False,
        diff_refs={"base_sha": target_sha, "head_sha": record.sha or None,
                   "start_sha": target_sha},
    )
    return shape


def _detailed_status(record: MergeRequestRecord) -> str:
    if record.state != "opened":
        return "not_open"
    return "draft_status" if record.draft else "mergeable"


def note(record: NoteRecord, merge_request_record: MergeRequestRecord, project_id: int,
         author: dict[str, Any]) -> dict[str, Any]:
    """A merge request note (comment)."""
    shape = template("note")
    shape.update(id=record.id, body=record.body, author=author, created_at=record.created_at,
                 updated_at=record.created_at, system=record.system,
                 noteable_id=merge_request_record.id, noteable_iid=merge_request_record.iid,
                 noteable_type="MergeRequest", project_id=project_id)
    return shape


def status(record: StatusRecord, author: dict[str, Any]) -> dict[str, Any]:
    """A commit status as `POST /projects/:id/statuses/:sha` answers it."""
    shape = template("status")
    shape.update(id=record.id, sha=record.sha, status=record.status, name=record.name,
                 target_url=record.target_url, description=record.description,
                 ref=record.ref, coverage=None, author=author, created_at=record.created_at,
                 started_at=None,
                 finished_at=record.created_at if record.status in _TERMINAL else None)
    return shape
