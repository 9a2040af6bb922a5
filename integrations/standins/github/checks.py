"""Check runs and commit statuses in the GitHub stand-in.

`POST /repos/{o}/{r}/check-runs` is for GitHub Apps only: with a personal token GitHub answers
403 "Resource not accessible by personal access token", and so does the stand-in. A completed
run needs a conclusion; an output needs a title and a summary, and its summary and text may hold
at most 65535 characters each (the documented limits). `POST /repos/{o}/{r}/statuses/{sha}` is
open to any token; its state is one of GitHub's four and its description at most 140 characters.
Both refuse a sha the repository does not have (422 "No commit found for SHA: ..."). What was
posted is kept, as GitHub answered it, for `check_runs()` and `statuses()`.
"""

from __future__ import annotations

from typing import Any

from integrations.standins.base import Call, Reply
from integrations.standins.github import apps, changeshapes, shapes, wire
from integrations.standins.github.hosting import REPO_PATH, ChangeHosting
from integrations.standins.github.state import RepoState, now_iso

MAX_OUTPUT = 65_535
MAX_DESCRIPTION = 140
STATUS_STATES = ("error", "failure", "pending", "success")
CONCLUSIONS = ("action_required", "cancelled", "failure", "neutral", "success", "skipped",
               "stale", "timed_out")
_DOC_RUNS = "https://docs.github.com/rest/checks/runs#create-a-check-run"
_DOC_STATUS = "https://docs.github.com/rest/commits/statuses#create-a-commit-status"


def register(host: ChangeHosting) -> None:
    """Serve the check run and commit status routes on `host`."""
    routes = _CheckRoutes(host)
    host._route("POST", REPO_PATH + r"/check-runs", host._in_repo(routes.create_check_run))
    host._route("POST", REPO_PATH + r"/statuses/(?P<sha>[^/]+)",
                host._in_repo(routes.create_status))


def _problem(resource: str, field: str, code: str, message: str | None = None
             ) -> dict[str, str]:
    problem = {"resource": resource, "field": field, "code": code}
    return problem if message is None else {**problem, "message": message}


def _run_problem(payload: dict[str, Any]) -> dict[str, str] | None:
    """The `errors[]` entry GitHub gives for a bad check run body, or None."""
    for name in ("name", "head_sha"):
        if not isinstance(payload.get(name), str) or not payload[name]:
            return _problem("CheckRun", name, "missing_field")
    status, conclusion = payload.get("status", "queued"), payload.get("conclusion")
    if status not in ("queued", "in_progress", "completed"):
        return _problem("CheckRun", "status", "invalid")
    if conclusion is not None and conclusion not in CONCLUSIONS:
        return _problem("CheckRun", "conclusion", "invalid")
    if status == "completed" and conclusion is None:
        return _problem("CheckRun", "conclusion", "missing_field")
    output = payload.get("output")
    if output is None:
        return None
    if not isinstance(output, dict):
        return _problem("CheckRun", "output", "invalid")
    for name in ("title", "summary"):
        if not isinstance(output.get(name), str) or not output[name]:
            return _problem("CheckRun", f"output.{name}", "missing_field")
    for name in ("summary", "text"):
        if len(output.get(name) or "") > MAX_OUTPUT:
            return _problem("CheckRun", f"output.{name}", "custom",
                            f"{name} is too long (maximum is {MAX_OUTPUT} characters)")
    return None


def _status_problem(payload: dict[str, Any]) -> dict[str, str] | None:
    """The `errors[]` entry GitHub gives for a bad commit status body, or None."""
    if payload.get("state") not in STATUS_STATES:
        return _problem("Status", "state", "custom", "state is not included in the list")
    description = payload.get("description")
    if description is not None and (not isinstance(description, str)
                                    or len(description) > MAX_DESCRIPTION):
        return _problem("Status", "description", "custom",
                        f"description is too long (maximum is {MAX_DESCRIPTION} characters)")
    return None


class _CheckRoutes:
    def __init__(self, host: ChangeHosting) -> None:
        self.host = host

    def _body(self, call: Call) -> dict[str, Any] | Reply:
        try:
            payload = call.json()
        except ValueError:
            return wire.error(400, "Problems parsing JSON")
        return payload if isinstance(payload, dict) else wire.error(400, "Problems parsing JSON")

    def create_check_run(self, call: Call, repo: RepoState) -> Reply:
        _, issued = apps.caller(self.host, call)
        if issued is None:
            return wire.error(403, "Resource not accessible by personal access token", _DOC_RUNS)
        payload = self._body(call)
        if isinstance(payload, Reply):
            return payload
        problem = _run_problem(payload)
        if problem is not None:
            return wire.validation_failed([problem], _DOC_RUNS)
        sha = payload["head_sha"].lower()
        if not self.host.has_commit(repo, sha):
            return wire.error(422, f"No commit found for SHA: {payload['head_sha']}", _DOC_RUNS)
        status = payload.get("status", "completed" if payload.get("conclusion") else "queued")
        now = now_iso()
        posted = ("name", "details_url", "external_id", "output", "conclusion", "started_at",
                  "completed_at")
        fields: dict[str, Any] = {key: payload[key] for key in posted if key in payload}
        fields.update(head_sha=sha, status=status, started_at=fields.get("started_at", now))
        if status == "completed":
            fields.setdefault("completed_at", now)
        state = self.host.state
        app = issued.app
        app_json = changeshapes.app(self.host.url, app.app_id, app.slug,
                                    self.host.user_json(app.account))
        body = changeshapes.check_run(self.host.url, repo.full_name, state.next_id(),
                                      state.next_id(), fields, app_json, self._pulls_at(repo, sha))
        with state.lock:
            repo.check_runs.append(body)
        return Reply(201, body, headers={"Location": body["url"]})

    def _pulls_at(self, repo: RepoState, sha: str) -> list[dict[str, Any]]:
        """The open pull requests whose head is `sha`, as a check run lists them."""
        repository = shapes.repository(self.host.url, repo.owner, repo.name, repo.id)
        with self.host.state.lock:
            pulls = [(record.number, record.pull) for record in repo.issues.values()
                     if record.pull is not None and record.state == "open"]
        found = []
        for number, pull in pulls:
            if self.host.head_of(repo, pull.head) == sha:
                base_sha = self.host.head_of(repo, pull.base) or sha
                found.append(changeshapes.run_pull(self.host.url, repository, number, pull.id,
                                                   (pull.head, sha), (pull.base, base_sha)))
        return found

    def create_status(self, call: Call, repo: RepoState) -> Reply:
        payload = self._body(call)
        if isinstance(payload, Reply):
            return payload
        problem = _status_problem(payload)
        if problem is not None:
            return wire.validation_failed([problem], _DOC_STATUS)
        sha = call.params["sha"].lower()
        if not self.host.has_commit(repo, sha):
            return wire.error(422, f"No commit found for SHA: {call.params['sha']}", _DOC_STATUS)
        login, _ = apps.caller(self.host, call)
        fields = {"state": payload["state"], "description": payload.get("description"),
                  "target_url": payload.get("target_url"),
                  "context": payload.get("context") or "default", "created_at": now_iso()}
        body = changeshapes.status(self.host.url, repo.full_name, sha,
                                   self.host.state.next_id(), fields,
                                   self.host.user_json(login))
        with self.host.state.lock:
            repo.statuses.append(body)
        return Reply(201, body)
