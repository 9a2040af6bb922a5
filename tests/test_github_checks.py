"""Reading a commit's CI result on GitHub (`GitHubPulls.check_result`) through PyGithub against
the stand-in, beyond the shared contract: how each of GitHub's run states and conclusions reads,
the fallback to commit statuses, suture's own evidence read back, and the stand-in's routes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from integrations.github.pulls import GitHubPulls
from integrations.standins.github import GitHubStandIn
from tests.codehost_contract import fresh, push_commit
from tests.github_world import (
    NAME,
    OWNER,
    REPO,
    AppKey,
    api,
    app_settings,
    install_app,
    make_key,
    seed_source,
    seeded_standin,
    token_settings,
    unpaced,
)
from tests.gitrepo import GitRepoBuilder
from worker.codehost import CheckReport
from worker.ports import PermanentError


@pytest.fixture
def source(tmp_path: Path) -> GitRepoBuilder:
    return seed_source(tmp_path / "source")


@pytest.fixture
def standin(tmp_path: Path, source: GitRepoBuilder) -> Iterator[GitHubStandIn]:
    running = seeded_standin(tmp_path / "remote", source.path)
    yield running
    running.stop()


@pytest.fixture
def host(standin: GitHubStandIn) -> Iterator[GitHubPulls]:
    adapter = unpaced(token_settings(standin))
    yield adapter
    adapter.close()


@pytest.fixture
def sha(host: GitHubPulls, source: GitRepoBuilder) -> str:
    return push_commit(source.path, host.push_access(REPO), fresh("ci")[0])


def _status(standin: GitHubStandIn, sha: str, context: str, state: str,
            description: str = "") -> None:
    api(standin, "POST", f"/repos/{REPO}/statuses/{sha}",
        json={"state": state, "context": context, "description": description,
              "target_url": f"https://ci.example/{context}"}).raise_for_status()


@pytest.mark.parametrize(("conclusion", "expected"), [
    ("success", "success"), ("neutral", "success"), ("skipped", "success"),
    ("failure", "failure"), ("timed_out", "failure"), ("cancelled", "failure"),
    ("action_required", "failure"), ("stale", "failure")])
def test_each_conclusion_reads_as_passed_or_failed(
        standin: GitHubStandIn, host: GitHubPulls, sha: str, conclusion: str,
        expected: str) -> None:
    standin.add_check_run(OWNER, NAME, sha, "build", conclusion=conclusion)
    result = host.check_result(REPO, sha, "build")
    assert result is not None and result.conclusion == expected


@pytest.mark.parametrize("status", ["queued", "in_progress", "waiting", "requested"])
def test_a_run_not_completed_is_pending(standin: GitHubStandIn, host: GitHubPulls, sha: str,
                                        status: str) -> None:
    standin.add_check_run(OWNER, NAME, sha, "build", conclusion=None, status=status)
    result = host.check_result(REPO, sha, "build")
    assert result is not None and result.conclusion == "pending"


def test_the_summary_is_the_output_title_and_summary(
        standin: GitHubStandIn, host: GitHubPulls, sha: str) -> None:
    run = standin.add_check_run(OWNER, NAME, sha, "build", conclusion="failure",
                                title="2 tests failed",
                                summary="test_total: ZeroDivisionError\ntest_tax: 0 != 1")
    result = host.check_result(REPO, sha, "build")
    assert result is not None
    assert result.summary == "2 tests failed\n\ntest_total: ZeroDivisionError\ntest_tax: 0 != 1"
    assert result.url == run["html_url"]
    [asked] = [call for call in standin.calls if call.path.endswith("/check-runs")]
    assert asked.query["check_name"] == ["build"]


def test_a_status_stands_in_when_no_run_has_the_name(
        standin: GitHubStandIn, host: GitHubPulls, sha: str) -> None:
    _status(standin, sha, "ci/jenkins", "pending", "Build started")
    first = host.check_result(REPO, sha, "ci/jenkins")
    _status(standin, sha, "ci/jenkins", "error", "Build broke: tests timed out")
    _status(standin, sha, "ci/other", "success")

    result = host.check_result(REPO, sha, "ci/jenkins")
    assert first is not None and first.conclusion == "pending"
    assert result is not None
    assert (result.conclusion, result.summary) == ("failure", "Build broke: tests timed out")
    assert result.url == "https://ci.example/ci/jenkins"
    passed = host.check_result(REPO, sha, "ci/other")
    assert passed is not None and passed.conclusion == "success"


def test_a_check_run_is_preferred_to_a_status_of_the_same_name(
        standin: GitHubStandIn, host: GitHubPulls, sha: str) -> None:
    _status(standin, sha, "build", "failure", "old status")
    standin.add_check_run(OWNER, NAME, sha, "build", conclusion="success")
    result = host.check_result(REPO, sha, "build")
    assert result is not None and result.conclusion == "success"


def test_suture_reads_back_its_own_status(host: GitHubPulls, sha: str) -> None:
    host.report_check(REPO, CheckReport(head_sha=sha, conclusion="failure", title="Not verified",
                                        summary="still fails",
                                        details_url="https://suture.example/runs/7"))
    result = host.check_result(REPO, sha, "suture")
    assert result is not None
    assert (result.conclusion, result.summary) == ("failure", "Not verified")
    assert result.url == "https://suture.example/runs/7"


def test_an_app_reads_back_its_own_check_run(standin: GitHubStandIn, tmp_path: Path,
                                            source: GitRepoBuilder) -> None:
    key: AppKey = make_key()
    app = unpaced(app_settings(standin, install_app(standin, key, tmp_path)))
    try:
        sha = push_commit(source.path, app.push_access(REPO), fresh("app-ci")[0])
        app.report_check(REPO, CheckReport(head_sha=sha, conclusion="success",
                                           title="Fix verified", summary="3 tests now pass"))
        result = app.check_result(REPO, sha, "suture")
    finally:
        app.close()
    assert result is not None
    assert (result.conclusion, result.summary) == ("success", "Fix verified\n\n3 tests now pass")


def test_a_commit_or_repository_github_does_not_have_is_permanent(host: GitHubPulls) -> None:
    with pytest.raises(PermanentError):
        host.check_result(REPO, "0" * 40, "build")
    with pytest.raises(PermanentError):
        host.check_result("acme/missing", "0" * 40, "build")


# -- the stand-in's routes --------------------------------------------------------------------


def test_the_standin_lists_runs_by_name_and_status(standin: GitHubStandIn, sha: str) -> None:
    standin.add_check_run(OWNER, NAME, sha, "build", conclusion="failure")
    standin.add_check_run(OWNER, NAME, sha, "build", conclusion=None, status="queued")
    standin.add_check_run(OWNER, NAME, sha, "lint", conclusion="success")

    listed = api(standin, "GET", f"/repos/{REPO}/commits/{sha}/check-runs",
                 params={"check_name": "build"}).json()
    queued = api(standin, "GET", f"/repos/{REPO}/commits/main/check-runs",
                 params={"status": "queued"}).json()
    assert listed["total_count"] == 2
    assert [run["conclusion"] for run in listed["check_runs"]] == ["failure", None]
    assert all(run["app"]["slug"] == "github-actions" for run in listed["check_runs"])
    assert queued["total_count"] == 0  # main is not the pushed commit
    refused = api(standin, "GET", f"/repos/{REPO}/commits/{'1' * 40}/check-runs")
    assert refused.status_code == 422
    assert refused.json()["message"] == f"No commit found for SHA: {'1' * 40}"


def test_the_standin_combines_the_latest_status_of_each_context(
        standin: GitHubStandIn, sha: str) -> None:
    empty = api(standin, "GET", f"/repos/{REPO}/commits/{sha}/status").json()
    _status(standin, sha, "a", "failure")
    _status(standin, sha, "a", "success")
    _status(standin, sha, "b", "pending")
    combined = api(standin, "GET", f"/repos/{REPO}/commits/{sha}/status").json()

    assert (empty["state"], empty["total_count"]) == ("pending", 0)
    assert (combined["state"], combined["sha"], combined["total_count"]) == ("pending", sha, 2)
    assert [(s["context"], s["state"]) for s in combined["statuses"]] == [
        ("a", "success"), ("b", "pending")]
    assert "creator" not in combined["statuses"][0]
    assert combined["url"].endswith(f"/commits/{sha}/status")


def test_add_check_run_refuses_what_github_would_not_hold(standin: GitHubStandIn,
                                                          sha: str) -> None:
    with pytest.raises(ValueError):
        standin.add_check_run(OWNER, NAME, sha, "build", conclusion=None)
    with pytest.raises(ValueError):
        standin.add_check_run(OWNER, NAME, sha, "build", conclusion="green")
    with pytest.raises(ValueError):
        standin.add_check_run(OWNER, NAME, "2" * 40, "build", conclusion="success")
