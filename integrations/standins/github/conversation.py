"""What people say and may do on a pull request in the GitHub stand-in: its reviews and each
account's permission on the repository.

Routes: `GET /repos/{o}/{r}/pulls/{n}/reviews` (oldest first, paginated; a `PENDING` review is
listed to its author only, as on GitHub) and `GET /repos/{o}/{r}/collaborators/{login}/permission`.
The permission answer carries GitHub's legacy `permission` (`admin`, `write`, `read`, `none`:
`maintain` shows as `write`, `triage` as `read`) beside the real `role_name`. The repository's
owner and the personal token's account are admins, a collaborator without a role set has
GitHub's default `write`, any other known account `read` (the repositories are public), and an
unknown login is a 404. No recording holds a review or a permission answer, so both follow
GitHub's documented schemas (`pull-request-review`, `repository-collaborator-permission`) field
for field, with the stand-in's users inside.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from integrations.standins.base import Call, Reply
from integrations.standins.github import apps, wire
from integrations.standins.github.hosting import REPO_PATH, ChangeHosting
from integrations.standins.github.shapes import node_id
from integrations.standins.github.state import IssueRecord, RepoState, ReviewRecord

ROLES = ("none", "read", "triage", "write", "maintain", "admin")
LEGACY = {"none": "none", "read": "read", "triage": "read", "write": "write",
          "maintain": "write", "admin": "admin"}
_DOC_REVIEWS = "https://docs.github.com/rest/pulls/reviews#list-reviews-for-a-pull-request"
_DOC_PERMISSION = ("https://docs.github.com/rest/collaborators/collaborators"
                   "#get-repository-permissions-for-a-user")


def register(host: ChangeHosting) -> None:
    """Serve the review and permission routes on `host`."""
    routes = _Routes(host)
    host._route("GET", REPO_PATH + r"/pulls/(?P<number>\d+)/reviews",
                host._in_repo(routes.list_reviews))
    host._route("GET", REPO_PATH + r"/collaborators/(?P<login>[^/]+)/permission",
                host._in_repo(routes.permission))


def role_of(host: ChangeHosting, repo: RepoState, login: str) -> str | None:
    """The role `login` holds on `repo`, or None when GitHub knows no such account."""
    key = login.lower()
    if key in repo.roles:
        return repo.roles[key]
    if key in (repo.owner.lower(), host.login.lower()):
        return "admin"
    if key in repo.collaborators:
        return "write"
    bots = {app.bot.lower() for app in host.apps.apps.values()}
    return "read" if key in host.state.accounts or key in bots else None


def review_json(host: ChangeHosting, repo: RepoState, record: IssueRecord,
                review: ReviewRecord) -> dict[str, Any]:
    """A `pull-request-review` of pull request `record`."""
    api = f"{host.url}/repos/{repo.full_name}/pulls/{record.number}"
    page = f"{host.url}/{repo.full_name}/pull/{record.number}#pullrequestreview-{review.id}"
    shape: dict[str, Any] = {
        "id": review.id,
        "node_id": node_id("PullRequestReview", review.id),
        "user": host.user_json(review.author),
        "body": review.body,
        "state": review.state,
        "html_url": page,
        "pull_request_url": api,
        "author_association": _association(host, repo, review.author),
        "_links": {"html": {"href": page}, "pull_request": {"href": api}},
        "commit_id": review.commit_id,
    }
    if review.submitted_at is not None:  # a pending review has not been submitted
        shape["submitted_at"] = review.submitted_at
    return shape


def permission_json(host: ChangeHosting, login: str, role: str) -> dict[str, Any]:
    """A `repository-collaborator-permission` answer for `login` holding `role`."""
    rank = ROLES.index(role)
    user = host.user_json(login)
    user["permissions"] = {"pull": rank >= 1, "triage": rank >= 2, "push": rank >= 3,
                           "maintain": rank >= 4, "admin": rank >= 5}
    user["role_name"] = role
    return {"permission": LEGACY[role], "role_name": role, "user": user}


def _association(host: ChangeHosting, repo: RepoState, login: str) -> str:
    if login.lower() == repo.owner.lower():
        return "OWNER"
    return "COLLABORATOR" if login.lower() in repo.collaborators else "NONE"


class _Routes:
    def __init__(self, host: ChangeHosting) -> None:
        self.host = host

    def list_reviews(self, call: Call, repo: RepoState) -> Reply:
        record = repo.issues.get(int(call.params["number"]))
        if record is None or record.pull is None:
            return wire.not_found(_DOC_REVIEWS)
        login, _ = apps.caller(self.host, call)
        with self.host.state.lock:
            reviews = [review for review in record.pull.reviews
                       if review.state != "PENDING" or review.author.lower() == login.lower()]
            page, links = wire.paginate(call, self.host.url, reviews)
            body = [review_json(self.host, repo, record, review) for review in page]
        return Reply(200, body, headers=links)

    def permission(self, call: Call, repo: RepoState) -> Reply:
        login = unquote(call.params["login"])
        with self.host.state.lock:
            role = role_of(self.host, repo, login)
            if role is None:
                return wire.not_found(_DOC_PERMISSION)
            return Reply(200, permission_json(self.host, login, role))
