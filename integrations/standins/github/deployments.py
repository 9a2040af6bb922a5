"""Deployments and deployment statuses in the GitHub stand-in (API-CONTRACTS §4.4).

- `GET /repos/{o}/{r}/deployments`: filtered by `sha`, `ref`, `task` and `environment`, newest
  first, paginated.
- `POST /repos/{o}/{r}/deployments`: `ref` is a branch of the bare repository or a commit the
  stand-in knows (422 "No ref found for: ..." otherwise); `environment` defaults to
  `production`, `task` to `deploy`.
- `GET /repos/{o}/{r}/deployments/{id}` and `GET .../deployments/{id}/statuses` (newest first).
- `POST .../deployments/{id}/statuses`: `state` is one of GitHub's seven; a `log_url` or
  `target_url` fills both, as GitHub does; `environment` moves the deployment; unless
  `auto_inactive` is false, a `success` marks the earlier successful deployments of the same
  environment (not transient, not production) `inactive`.

Shapes start from the recorded documentation examples (`recorded/github/rest-deployments.list.json`
and `rest-deployment-statuses.list.json`) with every URL, id and field rewritten. Records live
here, in memory, for the stand-in's lifetime.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from integrations.standins.base import Call, Reply, recorded
from integrations.standins.github import apps, shapes, wire
from integrations.standins.github.hosting import REPO_PATH
from integrations.standins.github.state import RepoState, now_iso

if TYPE_CHECKING:
    from integrations.standins.github.hosting import ChangeHosting

STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")
_DOCS = "https://docs.github.com/rest/deployments"


@dataclass
class StatusRecord:
    """One deployment status as posted."""

    id: int
    state: str
    creator: str
    description: str = ""
    environment: str = ""
    target_url: str = ""
    environment_url: str = ""
    created_at: str = field(default_factory=now_iso)


@dataclass
class DeploymentRecord:
    """One deployment and its statuses, oldest first."""

    id: int
    sha: str
    ref: str
    environment: str
    creator: str
    task: str = "deploy"
    description: str = ""
    payload: Any = field(default_factory=dict)
    transient_environment: bool = False
    production_environment: bool = False
    created_at: str = field(default_factory=now_iso)
    statuses: list[StatusRecord] = field(default_factory=list)


@cache
def _templates() -> tuple[dict[str, Any], dict[str, Any]]:
    deployment = recorded("github/rest-deployments.list.json")[0]
    status = recorded("github/rest-deployment-statuses.list.json")[0]
    return deployment, status


def register(host: ChangeHosting) -> None:
    """Serve the deployment routes on `host`."""
    routes = _DeploymentRoutes(host)
    one = REPO_PATH + r"/deployments/(?P<id>\d+)"
    host._route("GET", REPO_PATH + r"/deployments", host._in_repo(routes.list_deployments))
    host._route("POST", REPO_PATH + r"/deployments", host._in_repo(routes.create_deployment))
    host._route("GET", one, host._in_repo(routes.get_deployment))
    host._route("GET", one + r"/statuses", host._in_repo(routes.list_statuses))
    host._route("POST", one + r"/statuses", host._in_repo(routes.create_status))


class _DeploymentRoutes:
    def __init__(self, host: ChangeHosting) -> None:
        self.host = host
        self._lock = threading.Lock()
        self._by_repo: dict[str, list[DeploymentRecord]] = {}

    # -- routes -------------------------------------------------------------------------------

    def list_deployments(self, call: Call, repo: RepoState) -> Reply:
        wanted = {name: call.arg(name) for name in ("sha", "ref", "task", "environment")}
        with self._lock:
            found = [record for record in reversed(self._records(repo))
                     if _matches(record, wanted)]
            page, links = wire.paginate(call, self.host.url, found)
            body = [self._deployment_json(repo, record) for record in page]
        return Reply(200, body, headers=links)

    def create_deployment(self, call: Call, repo: RepoState) -> Reply:
        payload = _body(call)
        if isinstance(payload, Reply):
            return payload
        ref = payload.get("ref")
        if not isinstance(ref, str) or not ref:
            return wire.validation_failed([{"resource": "Deployment", "field": "ref",
                                            "code": "missing_field"}], _DOCS)
        sha = self._resolve(repo, ref)
        if sha is None:
            return wire.error(422, f"No ref found for: {ref}", _DOCS)
        environment = payload.get("environment") or "production"
        record = DeploymentRecord(
            id=self.host.state.next_id(), sha=sha, ref=ref, environment=str(environment),
            creator=apps.caller(self.host, call)[0], task=str(payload.get("task") or "deploy"),
            description=str(payload.get("description") or ""),
            payload=payload.get("payload") or {},
            transient_environment=bool(payload.get("transient_environment", False)),
            production_environment=bool(payload.get("production_environment",
                                                    environment == "production")))
        with self._lock:
            self._records(repo).append(record)
            body = self._deployment_json(repo, record)
        return Reply(201, body, headers={"Location": body["url"]})

    def get_deployment(self, call: Call, repo: RepoState) -> Reply:
        with self._lock:
            record = self._find(repo, call)
            return wire.not_found(_DOCS) if record is None \
                else Reply(200, self._deployment_json(repo, record))

    def list_statuses(self, call: Call, repo: RepoState) -> Reply:
        with self._lock:
            record = self._find(repo, call)
            if record is None:
                return wire.not_found(_DOCS)
            page, links = wire.paginate(call, self.host.url, list(reversed(record.statuses)))
            body = [self._status_json(repo, record, status) for status in page]
        return Reply(200, body, headers=links)

    def create_status(self, call: Call, repo: RepoState) -> Reply:
        payload = _body(call)
        if isinstance(payload, Reply):
            return payload
        if payload.get("state") not in STATES:
            return wire.validation_failed([{"resource": "DeploymentStatus", "field": "state",
                                            "code": "invalid"}], _DOCS)
        with self._lock:
            record = self._find(repo, call)
            if record is None:
                return wire.not_found(_DOCS)
            if payload.get("environment"):
                record.environment = str(payload["environment"])
            link = str(payload.get("log_url") or payload.get("target_url") or "")
            status = StatusRecord(
                id=self.host.state.next_id(), state=payload["state"],
                creator=apps.caller(self.host, call)[0],
                description=str(payload.get("description") or ""),
                environment=record.environment, target_url=link,
                environment_url=str(payload.get("environment_url") or ""))
            if status.state == "success" and payload.get("auto_inactive", True) is not False:
                self._retire(repo, record)
            record.statuses.append(status)
            body = self._status_json(repo, record, status)
        return Reply(201, body, headers={"Location": body["url"]})

    # -- plumbing -----------------------------------------------------------------------------

    def _records(self, repo: RepoState) -> list[DeploymentRecord]:
        return self._by_repo.setdefault(repo.full_name.lower(), [])

    def _find(self, repo: RepoState, call: Call) -> DeploymentRecord | None:
        wanted = int(call.params["id"])
        return next((r for r in self._records(repo) if r.id == wanted), None)

    def _resolve(self, repo: RepoState, ref: str) -> str | None:
        """The commit `ref` names: a commit the stand-in knows, or a branch of the bare repo."""
        record = self.host.state.find_commit(repo, ref)
        if record is not None:
            return record.sha
        if self.host.has_commit(repo, ref):
            return ref.lower()
        return self.host.head_of(repo, ref)

    def _retire(self, repo: RepoState, current: DeploymentRecord) -> None:
        """GitHub's `auto_inactive`: earlier successes of the environment become inactive."""
        for record in self._records(repo):
            latest = record.statuses[-1] if record.statuses else None
            if (record is current or latest is None or latest.state != "success"
                    or record.environment != current.environment
                    or record.transient_environment or record.production_environment):
                continue
            record.statuses.append(StatusRecord(
                id=self.host.state.next_id(), state="inactive", creator=latest.creator,
                environment=record.environment, target_url=latest.target_url,
                environment_url=latest.environment_url))

    def _deployment_json(self, repo: RepoState, record: DeploymentRecord) -> dict[str, Any]:
        api = f"{self.host.url}/repos/{repo.full_name}"
        shape = copy.deepcopy(_templates()[0])
        updated = record.statuses[-1].created_at if record.statuses else record.created_at
        shape.update(
            url=f"{api}/deployments/{record.id}", id=record.id,
            node_id=shapes.node_id("Deployment", record.id), sha=record.sha, ref=record.ref,
            task=record.task, payload=record.payload, original_environment=record.environment,
            environment=record.environment, description=record.description,
            creator=self.host.user_json(record.creator), created_at=record.created_at,
            updated_at=updated, statuses_url=f"{api}/deployments/{record.id}/statuses",
            repository_url=api, transient_environment=record.transient_environment,
            production_environment=record.production_environment)
        return shape

    def _status_json(self, repo: RepoState, record: DeploymentRecord,
                     status: StatusRecord) -> dict[str, Any]:
        api = f"{self.host.url}/repos/{repo.full_name}"
        deployment_url = f"{api}/deployments/{record.id}"
        shape = copy.deepcopy(_templates()[1])
        shape.update(
            url=f"{deployment_url}/statuses/{status.id}", id=status.id,
            node_id=shapes.node_id("DeploymentStatus", status.id), state=status.state,
            creator=self.host.user_json(status.creator), description=status.description,
            environment=status.environment, target_url=status.target_url,
            created_at=status.created_at, updated_at=status.created_at,
            deployment_url=deployment_url, repository_url=api,
            environment_url=status.environment_url, log_url=status.target_url)
        return shape


def _matches(record: DeploymentRecord, wanted: dict[str, str | None]) -> bool:
    """Whether `record` passes the list's filters (environment compared case-insensitively)."""
    checks = {"sha": record.sha, "ref": record.ref, "task": record.task}
    if any(wanted[name] is not None and wanted[name] != value for name, value in checks.items()):
        return False
    environment = wanted["environment"]
    return environment is None or environment.casefold() == record.environment.casefold()


def _body(call: Call) -> dict[str, Any] | Reply:
    try:
        payload = call.json()
    except ValueError:
        return wire.error(400, "Problems parsing JSON")
    return payload if isinstance(payload, dict) else wire.error(400, "Problems parsing JSON")
