"""Reading a commit's CI result on GitLab, for `GitLabMergeRequests`: the latest pipeline of
the commit with a given name.

Pipelines come from `GET /projects/:id/pipelines?sha=` (newest first by id; child pipelines are
left out, as GitLab does by default). A pipeline's name is its `name` field (set by
`workflow:name`); the name "pipeline" means the commit's latest pipeline, whatever its name.
The `name` filter is applied here rather than sent, since GitLab before 16.9 ignores it.
`success` and `skipped` pass; `failed` and `canceled` (and `canceling`) fail; every other state
(created, waiting_for_resource, preparing, pending, running, manual, scheduled) is pending. A
failed pipeline's summary names its failed jobs and why each failed
(`GET /projects/:id/pipelines/:pipeline_id/jobs?scope[]=failed`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from typing import Any, Literal

from gitlab.v4.objects import Project, ProjectPipeline

from worker.codehost import CheckResult

Conclusion = Literal["success", "failure", "pending"]
LATEST = "pipeline"  # the name that means "the commit's latest pipeline"
PASSED = frozenset({"success", "skipped"})
FAILED = frozenset({"failed", "canceled", "canceling"})
SCAN_LIMIT = 100  # one page of a commit's pipelines
JOB_LIMIT = 20  # failed jobs named in a summary


class PipelineChecks(ABC):
    """`check_result` of the `CodeHost` port; mixed into `GitLabMergeRequests`, which provides
    the plumbing below."""

    @abstractmethod
    def _project(self, repo: str) -> Project:
        ...

    @abstractmethod
    def _errors(self, action: str) -> AbstractContextManager[None]:
        ...

    def check_result(self, repo: str, sha: str, name: str) -> CheckResult | None:
        """The latest pipeline of `sha` named `name` (any name for "pipeline"), or None."""
        with self._errors(f"reading the pipelines of {sha[:12]} in {repo}"):
            project = self._project(repo)
            found = project.pipelines.list(sha=sha, order_by="id", sort="desc",
                                           per_page=SCAN_LIMIT, get_all=False)
            matching = [pipeline for pipeline in found
                        if name == LATEST or pipeline.attributes.get("name") == name]
            if not matching:
                return None
            pipeline = max(matching, key=lambda item: int(item.id))
            conclusion = conclusion_of(str(pipeline.status))
            summary = _failed_jobs(project, pipeline) if conclusion == "failure" else ""
        return CheckResult(name=name, conclusion=conclusion, summary=summary,
                           url=str(pipeline.attributes.get("web_url") or ""))


def conclusion_of(status: str) -> Conclusion:
    """The port's conclusion for a pipeline status."""
    if status in PASSED:
        return "success"
    return "failure" if status in FAILED else "pending"


def _failed_jobs(project: Project, pipeline: ProjectPipeline) -> str:
    """"Failed jobs: name (reason), ..." for a failed pipeline; "" when it lists none (a
    canceled pipeline, or one whose configuration was refused)."""
    jobs: list[Any] = project.pipelines.get(pipeline.id, lazy=True).jobs.list(
        scope=["failed"], per_page=JOB_LIMIT, get_all=False)
    named = []
    for job in jobs:
        reason = job.attributes.get("failure_reason")
        named.append(f"{job.name} ({reason})" if reason else str(job.name))
    return "Failed jobs: " + ", ".join(named) if named else ""
