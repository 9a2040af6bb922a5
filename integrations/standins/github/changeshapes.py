"""JSON shapes of what a proposed change touches on GitHub: pull request, issue comment, branch,
check run, commit status, and a GitHub App with its installation and installation token.

The pull request, check run, commit status and App start from recorded payloads (the
`pull_request` of `webhook-pull_request.opened.json`, the `check_run` and its `app` of
`webhook-check_run.created.json`, the first response of `rest-interactions.create-status.json`)
with identity, URLs and state overridden. The REST check run carries only the id of its check
suite (the webhook carries the whole suite). No recording holds an issue comment, a branch, an
installation or an installation token, so those follow GitHub's documented REST schemas field for
field, with recorded users, repositories and commits inside.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any
from urllib.parse import quote

from integrations.standins.base import recorded
from integrations.standins.github.shapes import node_id, rewrite, template, user

_PULL = "github/webhook-pull_request.opened.json"
_CHECK = "github/webhook-check_run.created.json"
_STATUS = "github/rest-interactions.create-status.json"

# What suture's App asks for; GitHub echoes an installation's permissions in these words.
APP_PERMISSIONS = {"checks": "write", "contents": "write", "issues": "write",
                   "metadata": "read", "pull_requests": "write", "statuses": "write"}


@cache
def _recorded() -> dict[str, Any]:
    check = recorded(_CHECK)["check_run"]
    return {"pull": recorded(_PULL)["pull_request"], "check_run": check, "app": check["app"],
            "status": recorded(_STATUS)[0]["response"]}


def _fresh(kind: str) -> dict[str, Any]:
    return copy.deepcopy(_recorded()[kind])


def actor(base: str, login: str, user_id: int) -> dict[str, Any]:
    """A `simple-user` for `login`; an App's `<slug>[bot]` account is of type `Bot`."""
    shape = user(base, login, user_id)
    if login.endswith("[bot]"):
        shape["type"] = "Bot"
    return shape


def pull(base: str, repository: dict[str, Any], issue: dict[str, Any], *, pull_id: int,
         head: tuple[str, str], target: tuple[str, str], draft: bool,
         reviewers: list[dict[str, Any]], stats: tuple[int, int, int, int],
         merged: tuple[str, str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """A `pull-request` object. `issue` is the same number rendered as an issue (title, body,
    state, author, labels, comments count); `head` and `target` are (branch, sha); `stats` is
    (commits, additions, deletions, changed files); `merged` is (merged_at, merge commit sha,
    the merger's user) once it is merged."""
    full, number = repository["full_name"], issue["number"]
    api, page = f"{base}/repos/{full}", f"{base}/{full}/pull/{number}"
    head_ref, head_sha = head
    shape = _fresh("pull")
    shape.update(
        url=f"{api}/pulls/{number}", id=pull_id, node_id=node_id("PullRequest", pull_id),
        html_url=page, diff_url=f"{page}.diff", patch_url=f"{page}.patch",
        issue_url=f"{api}/issues/{number}", commits_url=f"{api}/pulls/{number}/commits",
        review_comments_url=f"{api}/pulls/{number}/comments",
        review_comment_url=f"{api}/pulls/comments{{/number}}",
        comments_url=f"{api}/issues/{number}/comments", statuses_url=f"{api}/statuses/{head_sha}",
        assignee=None, assignees=[], requested_reviewers=reviewers, requested_teams=[],
        milestone=None, draft=draft, merged=False, merged_at=None, merge_commit_sha=None,
        merged_by=None, mergeable=None, rebaseable=None,
        mergeable_state="draft" if draft else "unknown", review_comments=0,
        commits=stats[0], additions=stats[1], deletions=stats[2], changed_files=stats[3],
    )
    if merged is not None:
        shape.update(merged=True, merged_at=merged[0], merge_commit_sha=merged[1],
                     merged_by=merged[2], mergeable_state="unknown")
    for key in ("number", "state", "locked", "title", "user", "body", "labels", "created_at",
                "updated_at", "closed_at", "comments", "author_association"):
        shape[key] = issue[key]
    shape["head"] = _ref(repository, head_ref, head_sha)
    shape["base"] = _ref(repository, *target)
    shape["_links"] = {
        "self": {"href": shape["url"]}, "html": {"href": page},
        "issue": {"href": shape["issue_url"]}, "comments": {"href": shape["comments_url"]},
        "review_comments": {"href": shape["review_comments_url"]},
        "review_comment": {"href": shape["review_comment_url"]},
        "commits": {"href": shape["commits_url"]}, "statuses": {"href": shape["statuses_url"]},
    }
    return shape


def _ref(repository: dict[str, Any], ref: str, sha: str) -> dict[str, Any]:
    owner = repository["owner"]
    return {"label": f"{owner['login']}:{ref}", "ref": ref, "sha": sha, "user": owner,
            "repo": repository}


def comment(base: str, full_name: str, number: int, fields: dict[str, Any], *,
            pull: bool) -> dict[str, Any]:
    """An `issue-comment`; `fields` holds id, body, user, created_at."""
    api, comment_id = f"{base}/repos/{full_name}", fields["id"]
    page = f"{base}/{full_name}/{'pull' if pull else 'issues'}/{number}"
    reactions = template("issue")["reactions"]
    reactions["url"] = f"{api}/issues/comments/{comment_id}/reactions"
    return {
        "url": f"{api}/issues/comments/{comment_id}",
        "html_url": f"{page}#issuecomment-{comment_id}",
        "issue_url": f"{api}/issues/{number}",
        "id": comment_id,
        "node_id": node_id("IssueComment", comment_id),
        "user": fields["user"],
        "created_at": fields["created_at"],
        "updated_at": fields["created_at"],
        "author_association": "OWNER",
        "body": fields["body"],
        "reactions": reactions,
        "performed_via_github_app": None,
    }


def branch(base: str, full_name: str, name: str, commit: dict[str, Any]) -> dict[str, Any]:
    """A `branch-with-protection` (unprotected) whose head is the `commit` object."""
    api = f"{base}/repos/{full_name}/branches/{quote(name)}"
    return {
        "name": name,
        "commit": commit,
        "_links": {"self": api, "html": f"{base}/{full_name}/tree/{name}"},
        "protected": False,
        "protection": {"enabled": False, "required_status_checks": {
            "enforcement_level": "off", "contexts": [], "checks": []}},
        "protection_url": f"{api}/protection",
    }


def check_run(base: str, full_name: str, run_id: int, suite_id: int, fields: dict[str, Any],
              app_json: dict[str, Any], pulls: list[dict[str, Any]]) -> dict[str, Any]:
    """A `check-run`; `fields` holds what was posted (name, head_sha, status, conclusion,
    started_at, completed_at, details_url, external_id, output title/summary/text)."""
    api = f"{base}/repos/{full_name}"
    shape = _fresh("check_run")
    output = fields.pop("output", None) or {}
    shape.update(id=run_id, node_id=node_id("CheckRun", run_id), url=f"{api}/check-runs/{run_id}",
                 html_url=f"{base}/{full_name}/runs/{run_id}", details_url=None, external_id="",
                 check_suite={"id": suite_id}, app=app_json, pull_requests=pulls)
    shape.update(fields)
    shape["output"] = {"title": output.get("title"), "summary": output.get("summary"),
                       "text": output.get("text"), "annotations_count": 0,
                       "annotations_url": f"{api}/check-runs/{run_id}/annotations"}
    return shape


def run_pull(base: str, repository: dict[str, Any], number: int, pull_id: int,
             head: tuple[str, str], target: tuple[str, str]) -> dict[str, Any]:
    """The short pull request a check run lists in `pull_requests`."""
    api = f"{base}/repos/{repository['full_name']}"
    repo = {"id": repository["id"], "url": api, "name": repository["name"]}
    return {"url": f"{api}/pulls/{number}", "id": pull_id, "number": number,
            "head": {"ref": head[0], "sha": head[1], "repo": repo},
            "base": {"ref": target[0], "sha": target[1], "repo": repo}}


def status(base: str, full_name: str, sha: str, status_id: int, fields: dict[str, Any],
           creator: dict[str, Any]) -> dict[str, Any]:
    """A commit `status`; `fields` holds state, description, target_url, context, created_at."""
    shape = _fresh("status")
    shape.update(url=f"{base}/repos/{full_name}/statuses/{sha}", id=status_id,
                 node_id=node_id("StatusContext", status_id), avatar_url=creator["avatar_url"],
                 creator=creator, updated_at=fields["created_at"])
    shape.update(fields)
    return shape


def app(base: str, app_id: int, slug: str, owner: dict[str, Any]) -> dict[str, Any]:
    """An `integration` (GitHub App) as `GET /app` returns it."""
    shape = rewrite(_fresh("app"), {"https://api.github.com": base, "https://github.com": base,
                                    "https://octocoders.io": base, "octocoders-linter": slug})
    shape.update(id=app_id, slug=slug, node_id=node_id("App", app_id), name=slug, owner=owner,
                 permissions=dict(APP_PERMISSIONS))
    return shape


def installation(base: str, installation_id: int, app_id: int, slug: str,
                 account: dict[str, Any]) -> dict[str, Any]:
    """An `installation` on the repositories of `account` that were selected."""
    return {
        "id": installation_id,
        "account": account,
        "repository_selection": "selected",
        "access_tokens_url": f"{base}/app/installations/{installation_id}/access_tokens",
        "repositories_url": f"{base}/installation/repositories",
        "html_url": f"{base}/organizations/{account['login']}/settings/installations/"
                    f"{installation_id}",
        "app_id": app_id,
        "app_slug": slug,
        "target_id": account["id"],
        "target_type": account["type"],
        "permissions": dict(APP_PERMISSIONS),
        "events": ["check_run", "pull_request"],
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": None,
        "suspended_at": None,
    }


def access_token(token: str, expires_at: str,
                 repositories: list[dict[str, Any]]) -> dict[str, Any]:
    """An `installation-token` as `POST /app/installations/{id}/access_tokens` returns it."""
    return {"token": token, "expires_at": expires_at, "permissions": dict(APP_PERMISSIONS),
            "repository_selection": "selected", "repositories": repositories}
