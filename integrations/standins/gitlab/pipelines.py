"""CI pipelines in the GitLab stand-in: CI reporting on commits (`add_pipeline`), and the routes
that read it back.

Routes: `GET /projects/:id/pipelines` (filters `sha`, `ref`, `status`, `name`, `source`;
`order_by` id, status, ref or updated_at, `sort` desc by default; paginated) and
`GET /projects/:id/pipelines/:pipeline_id/jobs` (`scope` or `scope[]`, newest first, as GitLab
13.5 and later list them). Shapes start from the examples of GitLab's API documentation
(`recorded/gitlab/pipelines.list.json`, `pipeline-jobs.list.json`) with identity, state and URLs
set for the stand-in; a job's `commit` is read from the bare repository.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from integrations.git.command import call_git, run_git
from integrations.standins.base import Call, Reply, StandIn, recorded
from integrations.standins.gitlab import wire
from integrations.standins.gitlab.state import GitLabState, PipelineRecord, ProjectRecord

if TYPE_CHECKING:
    from integrations.standins.githttp import GitHttp

STATUSES = ("created", "waiting_for_resource", "preparing", "pending", "running", "success",
            "failed", "canceled", "canceling", "skipped", "manual", "scheduled")
UNNAMED = "pipeline"  # `add_pipeline`'s name for a pipeline without `workflow:name`
_ORDERS = {"id": lambda p: p.id, "status": lambda p: (p.status, p.id),
           "ref": lambda p: (p.ref, p.id), "updated_at": lambda p: (p.updated_at, p.id)}
_COMMIT_FORMAT = "%H%x00%an%x00%ae%x00%aI%x00%B"


@cache
def _recorded(kind: str) -> dict[str, Any]:
    return dict(recorded(f"gitlab/{kind}.list.json")[0])


class PipelineActions(StandIn, ABC):
    """Test-facing: CI reporting pipelines on commits; a base of `GitLabStandIn`."""

    state: GitLabState  # these are set by `GitLabStandIn`
    git: GitHttp
    login: str

    @abstractmethod
    def _project_or_raise(self, path: str) -> ProjectRecord:
        ...

    @abstractmethod
    def user_json(self, username: str) -> dict[str, Any]:
        """The basic user of `username` (`GitLabStandIn.user_json`)."""
        ...

    def add_pipeline(self, path: str, sha: str, *, status: str, name: str = UNNAMED,
                     failed_jobs: Iterable[str] = (), ref: str | None = None) -> dict[str, Any]:
        """Run a pipeline on commit `sha` of project `path`, now in `status` (GitLab's);
        `name` is its `workflow:name` ("pipeline": none), `failed_jobs` the names of its jobs
        that failed, `ref` its branch (by default one whose head is `sha`). The pipeline as
        GitLab lists it."""
        if status not in STATUSES:
            raise ValueError(f"unknown pipeline status {status!r}")
        project = self._project_or_raise(path)
        bare = self.git.repo_path(project.path)
        if call_git(bare, "cat-file", "-e", f"{sha}^{{commit}}").returncode != 0:
            raise ValueError(f"{path} has no commit {sha}")
        sha = run_git(bare, "rev-parse", f"{sha}^{{commit}}").strip()
        ref = ref or _branch_of(bare, sha) or project.default_branch
        with self.state.lock:
            record = PipelineRecord(
                id=self.state.next_id(), iid=len(project.pipelines) + 1, sha=sha, ref=ref,
                status=status, name=None if name == UNNAMED else name,
                jobs=[(self.state.next_id(), job, "failed", "script_failure")
                      for job in failed_jobs])
            project.pipelines.append(record)
        return pipeline_json(self.url, project, record)


def pipeline_json(base: str, project: ProjectRecord, record: PipelineRecord) -> dict[str, Any]:
    """A pipeline as `GET /projects/:id/pipelines` lists it."""
    shape = copy.deepcopy(_recorded("pipelines"))
    shape.update(id=record.id, iid=record.iid, project_id=project.id, status=record.status,
                 source=record.source, ref=record.ref, sha=record.sha, name=record.name,
                 web_url=f"{base}/{project.path}/-/pipelines/{record.id}",
                 created_at=record.created_at, updated_at=record.updated_at)
    return shape


def register(standin: Any) -> None:
    """Serve the pipeline routes on `standin` (a `GitLabStandIn`)."""
    routes = _Routes(standin)
    project = r"/api/v4/projects/(?P<project>[^/]+)"
    standin._route("GET", project + "/pipelines", standin._in_project(routes.list_pipelines))
    standin._route("GET", project + r"/pipelines/(?P<pipeline_id>\d+)/jobs",
                   standin._in_project(routes.list_jobs))


class _Routes:
    def __init__(self, standin: Any) -> None:
        self.standin = standin

    def list_pipelines(self, call: Call, project: ProjectRecord) -> Reply:
        order_by, sort = call.arg("order_by", "id"), call.arg("sort", "desc")
        if order_by not in _ORDERS:
            return wire.bad_request("order_by does not have a valid value")
        if sort not in ("asc", "desc"):
            return wire.bad_request("sort does not have a valid value")
        wanted = {key: call.arg(key) for key in ("sha", "ref", "status", "name", "source")}
        with self.standin.state.lock:
            found = [record for record in project.pipelines
                     if all(value is None or getattr(record, key) == value
                            for key, value in wanted.items())]
        found.sort(key=_ORDERS[order_by], reverse=sort == "desc")
        page, headers = wire.paginate(call, self.standin.url, found)
        return Reply(200, [pipeline_json(self.standin.url, project, record) for record in page],
                     headers=headers)

    def list_jobs(self, call: Call, project: ProjectRecord) -> Reply:
        pipeline_id = int(call.params["pipeline_id"])
        record = next((p for p in project.pipelines if p.id == pipeline_id), None)
        if record is None:
            return wire.not_found()
        scopes = set(call.query.get("scope[]", []) + call.query.get("scope", []))
        if scopes - set(STATUSES):
            return wire.bad_request("scope does not have a valid value")
        jobs = sorted((job for job in record.jobs if not scopes or job[2] in scopes),
                      reverse=True)
        page, headers = wire.paginate(call, self.standin.url, jobs)
        return Reply(200, [self._job_json(project, record, job) for job in page],
                     headers=headers)

    def _job_json(self, project: ProjectRecord, pipeline: PipelineRecord,
                  job: tuple[int, str, str, str | None]) -> dict[str, Any]:
        job_id, name, status, reason = job
        bare = self.standin.git.repo_path(project.path)
        full, author, email, date, message = run_git(
            bare, "log", "-1", f"--format={_COMMIT_FORMAT}", pipeline.sha).split("\0", 4)
        message = message.rstrip("\n")
        shape = copy.deepcopy(_recorded("pipeline-jobs"))
        shape.update(
            commit={"author_email": email, "author_name": author, "created_at": date,
                    "id": full, "message": message, "short_id": full[:8],
                    "title": message.split("\n", 1)[0]},
            created_at=pipeline.created_at, started_at=pipeline.created_at,
            finished_at=pipeline.updated_at, artifacts_expire_at=None, id=job_id, name=name,
            pipeline={"id": pipeline.id, "project_id": project.id, "ref": pipeline.ref,
                      "sha": pipeline.sha, "status": pipeline.status},
            ref=pipeline.ref, status=status, failure_reason=reason,
            web_url=f"{self.standin.url}/{project.path}/-/jobs/{job_id}",
            user=self.standin.user_json(self.standin.login))
        return shape


def _branch_of(bare: Path, sha: str) -> str | None:
    """A branch whose head is `sha`, else one that contains it."""
    for option in ("--points-at", "--contains"):
        names = run_git(bare, "for-each-ref", option, sha, "--format=%(refname:short)",
                        "refs/heads/").split()
        if names:
            return names[0]
    return None
