"""Issues in the GitHub stand-in: the routes suture files and finds tickets through.

Routes: `GET`/`POST /repos/{o}/{r}/issues` (listing filtered by `state` and `labels`, sorted by
number in `direction`, paginated), `GET .../issues/{n}`, `POST .../issues/{n}/labels` and
`GET /search/issues` (the `q` language of `search`, spending the `search` rate-limit bucket; only
issues the index has caught up with are found). A create-issue or add-labels body GitHub would
refuse gets its 422 `errors[]` entry; a search naming a repository the stand-in does not know
gets GitHub's "cannot be searched" refusal.
"""

from __future__ import annotations

from typing import Any

from integrations.standins.base import Call, Reply
from integrations.standins.github import search, wire
from integrations.standins.github.hosting import REPO_PATH, ChangeHosting
from integrations.standins.github.state import RepoState

_DOC_ISSUES = "https://docs.github.com/rest/issues/issues"
_DOC_LABELS = "https://docs.github.com/rest/issues/labels#add-labels-to-an-issue"
_DOC_SEARCH = "https://docs.github.com/rest/search/search#search-issues-and-pull-requests"
_UNSEARCHABLE = (
    "The listed users and repositories cannot be searched either because the resources do not "
    "exist or you do not have permission to view them."
)
_ISSUE = REPO_PATH + r"/issues/(?P<number>\d+)"


def register(host: ChangeHosting) -> None:
    """Serve the issue and issue-search routes on `host`."""
    routes = _IssueRoutes(host)
    in_repo = host._in_repo
    host._route("GET", r"/search/issues", routes.search_issues, resource="search")
    host._route("GET", REPO_PATH + r"/issues", in_repo(routes.list_issues))
    host._route("POST", REPO_PATH + r"/issues", in_repo(routes.create_issue))
    host._route("GET", _ISSUE, in_repo(routes.get_issue))
    host._route("POST", _ISSUE + r"/labels", in_repo(routes.add_labels))


class _IssueRoutes:
    def __init__(self, host: ChangeHosting) -> None:
        self.host = host

    def list_issues(self, call: Call, repo: RepoState) -> Reply:
        state = call.arg("state", "open")
        wanted = [name.lower() for name in (call.arg("labels") or "").split(",") if name]
        direction = call.arg("direction", "desc")
        with self.host.state.lock:
            records = [
                record for record in repo.issues.values()
                if state in ("all", record.state)
                and all(name in {label.lower() for label in record.labels} for name in wanted)
            ]
            records.sort(key=lambda record: record.number, reverse=direction != "asc")
            page, links = wire.paginate(call, self.host.url, records)
            body = [self.host._issue_json(repo, record) for record in page]
        return Reply(200, body, headers=links)

    def create_issue(self, call: Call, repo: RepoState) -> Reply:
        try:
            payload = call.json()
        except ValueError:
            return wire.error(400, "Problems parsing JSON")
        problem = _issue_payload_problem(payload)
        if problem is not None:
            return wire.validation_failed([problem], f"{_DOC_ISSUES}#create-an-issue")
        record = self.host.state.create_issue(
            repo, title=str(payload["title"]), body=payload.get("body"),
            labels=payload.get("labels") or [], author=self.host.login,
        )
        with self.host.state.lock:
            body = self.host._issue_json(repo, record)
        return Reply(201, body, headers={"Location": body["url"]})

    def get_issue(self, call: Call, repo: RepoState) -> Reply:
        record = repo.issues.get(int(call.params["number"]))
        if record is None:
            return wire.not_found(f"{_DOC_ISSUES}#get-an-issue")
        with self.host.state.lock:
            return Reply(200, self.host._issue_json(repo, record))

    def add_labels(self, call: Call, repo: RepoState) -> Reply:
        record = repo.issues.get(int(call.params["number"]))
        if record is None:
            return wire.not_found()
        try:
            names = _label_names(call.json())
        except ValueError:
            names = None
        if names is None:
            return wire.validation_failed(
                [{"resource": "Label", "code": "invalid", "field": "labels"}], _DOC_LABELS)
        self.host.state.add_labels(repo, record, names)
        with self.host.state.lock:
            body = self.host._issue_json(repo, record)["labels"]
        return Reply(200, body)

    def search_issues(self, call: Call) -> Reply:
        q = (call.arg("q") or "").strip()
        if not q:
            return wire.validation_failed(
                [{"resource": "Search", "field": "q", "code": "missing"}], _DOC_SEARCH)
        query = search.parse(q)
        refusal = search.validate(query)
        if refusal is not None:
            return wire.error(422, refusal, _DOC_SEARCH)
        forge = self.host.state
        repos = [forge.repos.get(name) for name in query.repos] or list(forge.repos.values())
        if any(repo is None for repo in repos):
            return wire.validation_failed([{"message": _UNSEARCHABLE, "resource": "Search",
                                            "field": "q", "code": "invalid"}], _DOC_SEARCH)
        with forge.lock:
            found = [(repo, record) for repo in repos if repo is not None
                     for record in repo.issues.values()
                     if record.indexed and search.matches(query, record)]
            found.sort(key=lambda pair: pair[1].id, reverse=True)
            page, links = wire.paginate(call, self.host.url, found)
            items = [{**self.host._issue_json(repo, record), "score": 1.0}
                     for repo, record in page]
        body = {"total_count": len(found), "incomplete_results": False, "items": items}
        return Reply(200, body, headers=links)


def _issue_payload_problem(payload: Any) -> dict[str, str] | None:
    """The `errors[]` entry GitHub would return for a bad create-issue body, or None."""
    if not isinstance(payload, dict) or not isinstance(payload.get("title"), str | int):
        return {"resource": "Issue", "code": "missing_field", "field": "title"}
    if not str(payload["title"]).strip():
        return {"resource": "Issue", "code": "missing_field", "field": "title"}
    labels = payload.get("labels") or []
    if not isinstance(labels, list) or not all(isinstance(name, str) for name in labels):
        return {"resource": "Issue", "code": "invalid", "field": "labels"}
    if payload.get("body") is not None and not isinstance(payload["body"], str):
        return {"resource": "Issue", "code": "invalid", "field": "body"}
    return None


def _label_names(payload: Any) -> list[str] | None:
    """Label names from `["a"]`, `{"labels": ["a"]}` or `[{"name": "a"}]`; None if malformed."""
    if isinstance(payload, dict):
        payload = payload.get("labels")
    if not isinstance(payload, list):
        return None
    names = [item.get("name") if isinstance(item, dict) else item for item in payload]
    valid = [name for name in names if isinstance(name, str) and name]
    return valid if len(valid) == len(names) else None
