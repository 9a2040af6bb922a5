"""Reading a commit's CI results in the GitHub stand-in, and CI that reports them.

Routes: `GET /repos/{o}/{r}/commits/{ref}/check-runs` (`check_name` and `status` filters,
`{"total_count", "check_runs"}` paginated; oldest first, since GitHub documents no order, and
every run of the name is listed whatever `filter` says: GitHub too has been seen listing a
superseded run beside its re-run) and `GET /repos/{o}/{r}/commits/{ref}/status` (the combined
status: the latest status of each context, `failure` when one is `error` or `failure`, `pending`
when one is pending or there are none, else `success`; its shape is the last response of
`rest-interactions.create-status.json`, its statuses without `creator`, as recorded there). The
ref is a full sha or a branch; anything else is 422 "No commit found for SHA: ...".

`CheckRunActions.add_check_run` is CI (another App, `github-actions`) reporting a check run on a
commit, in the shape `POST /check-runs` answers with; runs suture's App posts are listed too.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from typing import Any

from integrations.standins.base import Call, Reply, recorded
from integrations.standins.github import changeshapes, checks, shapes, wire
from integrations.standins.github.hosting import REPO_PATH, ChangeHosting
from integrations.standins.github.state import RepoState, now_iso

RUN_STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
_ACTIONS = (15368, "github-actions", 9919)  # GitHub Actions' App id, slug and owner's id
_DOC_LIST = "https://docs.github.com/rest/checks/runs#list-check-runs-for-a-git-reference"
_COMMIT = r"/commits/(?P<ref>[^/]+)"


@cache
def _combined() -> dict[str, Any]:
    return dict(recorded("github/rest-interactions.create-status.json")[-1]["response"])


def register(host: ChangeHosting) -> None:
    """Serve the check run listing and the combined status on `host`."""
    host._route("GET", REPO_PATH + _COMMIT + "/check-runs", host._in_repo(
        lambda call, repo: _list_runs(host, call, repo)))
    host._route("GET", REPO_PATH + _COMMIT + "/status", host._in_repo(
        lambda call, repo: _combined_status(host, call, repo)))


class CheckRunActions(ChangeHosting):
    """Test-facing: CI reporting on commits; a base of `GitHubStandIn`."""

    def _serve_ci_results(self) -> None:
        """Serve the routes that read CI results (`register`)."""
        register(self)

    def add_check_run(self, owner: str, repo: str, sha: str, name: str, *,
                      conclusion: str | None, status: str = "completed", title: str = "",
                      summary: str = "") -> dict[str, Any]:
        """Report check run `name` on commit `sha` as GitHub Actions would: `conclusion` is
        GitHub's (success, failure, neutral, cancelled, skipped, timed_out, action_required,
        stale) when `status` is completed, else None; the run as GitHub lists it."""
        state = self._known(owner, repo)
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown check run status {status!r}")
        if (status == "completed") != (conclusion is not None):
            raise ValueError("a conclusion goes with status completed, and only with it")
        if conclusion is not None and conclusion not in checks.CONCLUSIONS:
            raise ValueError(f"unknown conclusion {conclusion!r}")
        if not self.has_commit(state, sha):
            raise ValueError(f"{owner}/{repo} has no commit {sha}")
        now = now_iso()
        fields: dict[str, Any] = {
            "name": name, "head_sha": sha.lower(), "status": status, "conclusion": conclusion,
            "started_at": now, "completed_at": now if status == "completed" else None,
            "output": {"title": title or None, "summary": summary or None}}
        app_id, slug, owner_id = _ACTIONS
        app_json = changeshapes.app(self.url, app_id, slug,
                                    changeshapes.actor(self.url, "github", owner_id))
        pulls = checks._CheckRoutes(self)._pulls_at(state, sha.lower())
        body = changeshapes.check_run(self.url, state.full_name, self.state.next_id(),
                                      self.state.next_id(), fields, app_json, pulls)
        with self.state.lock:
            state.check_runs.append(body)
        return copy.deepcopy(body)


def _resolve(host: ChangeHosting, repo: RepoState, ref: str) -> str | None:
    """The sha `ref` names: itself when the repository has it, else a branch's head."""
    if re.fullmatch(r"[0-9a-fA-F]{40}", ref):
        return ref.lower() if host.has_commit(repo, ref) else None
    return host.head_of(repo, ref)


def _list_runs(host: ChangeHosting, call: Call, repo: RepoState) -> Reply:
    sha = _resolve(host, repo, call.params["ref"])
    if sha is None:
        return wire.error(422, f"No commit found for SHA: {call.params['ref']}", _DOC_LIST)
    name, status = call.arg("check_name"), call.arg("status")
    with host.state.lock:
        runs = [copy.deepcopy(run) for run in repo.check_runs if run["head_sha"] == sha
                and name in (None, run["name"]) and status in (None, run["status"])]
    runs.sort(key=lambda run: run["id"])
    page, links = wire.paginate(call, host.url, runs)
    return Reply(200, {"total_count": len(runs), "check_runs": page}, headers=links)


def _combined_status(host: ChangeHosting, call: Call, repo: RepoState) -> Reply:
    sha = _resolve(host, repo, call.params["ref"])
    if sha is None:
        return wire.error(422, f"No commit found for SHA: {call.params['ref']}")
    latest: dict[str, dict[str, Any]] = {}
    with host.state.lock:
        for posted in repo.statuses:
            if posted["url"].rsplit("/", 1)[1] == sha:
                latest[posted["context"]] = {k: v for k, v in posted.items() if k != "creator"}
    statuses = sorted(latest.values(), key=lambda status: status["id"])
    states = {status["state"] for status in statuses}
    combined = ("failure" if states & {"error", "failure"}
                else "pending" if not statuses or "pending" in states else "success")
    api = f"{host.url}/repos/{repo.full_name}/commits/{sha}"
    body = _combined()
    body.update(state=combined, statuses=statuses, sha=sha, total_count=len(statuses),
                repository=shapes.repository(host.url, repo.owner, repo.name, repo.id),
                commit_url=api, url=f"{api}/status")
    return Reply(200, body)
