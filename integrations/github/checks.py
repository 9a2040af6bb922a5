"""Reading a commit's CI result on GitHub, for `GitHubPulls`: the check run of a name, else the
commit status of that context.

Check runs come from `GET /repos/{o}/{r}/commits/{sha}/check-runs?check_name=` (any token may
read them; only Apps may write them). GitHub keeps a superseded run beside its re-run, and its
order is not documented, so the newest (highest id) wins. A run that has not completed
(queued, in progress, waiting, requested) is pending; `failure`, `timed_out`, `cancelled`,
`action_required` and `stale` (GitHub's mark for a run left unfinished for two weeks) fail;
`success`, `neutral` and `skipped` pass. The summary is the run's output title and summary.

A name no check run has is looked up among the commit statuses (`GET .../commits/{sha}/status`,
the latest status of each context): `error` and `failure` fail, `pending` is pending. The
summary is the status's description and the URL its `target_url`. A sha the repository does
not have is GitHub's 422, a `PermanentError`.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from typing import Literal

from github.CheckRun import CheckRun
from github.Commit import Commit
from github.Repository import Repository

from worker.codehost import CheckResult

Conclusion = Literal["success", "failure", "pending"]
PASSED = frozenset({"success", "neutral", "skipped"})
FAILED = frozenset({"failure", "timed_out", "cancelled", "action_required", "stale"})
STATUS_CONCLUSIONS: dict[str, Conclusion] = {"success": "success", "failure": "failure",
                                             "error": "failure", "pending": "pending"}
RUN_SCAN_LIMIT = 100  # one page; a commit rarely has more runs of one name


class CommitChecks(ABC):
    """`check_result` of the `CodeHost` port; mixed into `GitHubPulls`, which provides the
    plumbing below (`GitHubClients`)."""

    @abstractmethod
    def _repo(self, full_name: str) -> Repository:
        ...

    @abstractmethod
    def _reaching(self, repo: str, action: str) -> AbstractContextManager[None]:
        ...

    def check_result(self, repo: str, sha: str, name: str) -> CheckResult | None:
        """The newest check run named `name` on `sha`, else the status of context `name`;
        None when the commit has neither."""
        with self._reaching(repo, f"reading {name} on {sha[:12]} in"):
            commit = self._repo(repo).get_commit(sha)
            runs = [run for run in itertools.islice(commit.get_check_runs(check_name=name),
                                                    RUN_SCAN_LIMIT) if run.name == name]
            if runs:
                return run_result(max(runs, key=lambda run: run.id))
            return _status_result(commit, name)


def run_result(run: CheckRun) -> CheckResult:
    """The port's result for a PyGithub check run."""
    conclusion: Conclusion = "pending"
    if run.status == "completed":
        conclusion = "success" if run.conclusion in PASSED else "failure"
    output = run.output
    parts = [] if output is None else [output.title, output.summary]
    summary = "\n\n".join(part.strip() for part in parts if part and part.strip())
    return CheckResult(name=run.name, conclusion=conclusion, summary=summary,
                       url=run.html_url or run.details_url or "")


def _status_result(commit: Commit, name: str) -> CheckResult | None:
    for status in commit.get_combined_status().statuses:
        if status.context == name:
            return CheckResult(name=name,
                               conclusion=STATUS_CONCLUSIONS.get(status.state, "failure"),
                               summary=status.description or "", url=status.target_url or "")
    return None
