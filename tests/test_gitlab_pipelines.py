"""Reading a commit's CI result on GitLab (`GitLabMergeRequests.check_result`) through
python-gitlab against the stand-in, beyond the shared contract: pipeline names and the name
"pipeline", how each pipeline status reads, the failed jobs in the summary, and the stand-in's
routes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from integrations.gitlab import GitLabMergeRequests
from integrations.standins.gitlab import GitLabStandIn
from tests.gitrepo import GitRepoBuilder
from worker.ports import PermanentError
from worker.settings import GitLabSettings

TOKEN = "glpat-test-token"
REPO = "acme/platform/shop"


@pytest.fixture
def source(tmp_path: Path) -> GitRepoBuilder:
    repo = GitRepoBuilder(tmp_path / "source")
    repo.commit({"shop/cart.py": "def total(items):\n    return sum(items) / len(items)\n"},
                "cart")
    return repo


@pytest.fixture
def standin(tmp_path: Path, source: GitRepoBuilder) -> Iterator[GitLabStandIn]:
    with GitLabStandIn(token=TOKEN, root=tmp_path / "host") as running:
        running.seed_repo(REPO, source.path)
        running.add_project("elsewhere/private", visible=False)
        yield running


@pytest.fixture
def host(standin: GitLabStandIn) -> Iterator[GitLabMergeRequests]:
    adapter = GitLabMergeRequests(GitLabSettings(base_url=standin.url, token=SecretStr(TOKEN)),
                                  timeout=5)
    yield adapter
    adapter.close()


@pytest.fixture
def sha(standin: GitLabStandIn) -> str:
    return standin.git.branches(REPO)["main"]


def _get(standin: GitLabStandIn, path: str, **params: str | list[str]) -> httpx.Response:
    return httpx.get(f"{standin.url}/api/v4/projects/acme%2Fplatform%2Fshop{path}",
                     params=params, headers={"PRIVATE-TOKEN": TOKEN}, timeout=10)


def test_pipeline_means_the_latest_pipeline_whatever_its_name(
        standin: GitLabStandIn, host: GitLabMergeRequests, sha: str) -> None:
    standin.add_pipeline(REPO, sha, status="failed", failed_jobs=["rspec"])
    latest = standin.add_pipeline(REPO, sha, status="running", name="Nightly")

    result = host.check_result(REPO, sha, "pipeline")
    assert result is not None
    assert (result.name, result.conclusion, result.url) == ("pipeline", "pending",
                                                            latest["web_url"])
    assert host.check_result(REPO, sha, "Build pipeline") is None


def test_a_name_picks_the_latest_pipeline_of_that_name(
        standin: GitLabStandIn, host: GitLabMergeRequests, sha: str) -> None:
    standin.add_pipeline(REPO, sha, status="success", name="Build")
    standin.add_pipeline(REPO, sha, status="failed", name="Deploy")
    standin.add_pipeline(REPO, sha, status="success")  # unnamed

    result = host.check_result(REPO, sha, "Build")
    assert result is not None and result.conclusion == "success"
    deploy = host.check_result(REPO, sha, "Deploy")
    assert deploy is not None and deploy.conclusion == "failure"


@pytest.mark.parametrize(("status", "expected"), [
    ("success", "success"), ("skipped", "success"), ("failed", "failure"),
    ("canceled", "failure"), ("canceling", "failure"), ("created", "pending"),
    ("waiting_for_resource", "pending"), ("preparing", "pending"), ("pending", "pending"),
    ("running", "pending"), ("manual", "pending"), ("scheduled", "pending")])
def test_each_status_reads_as_passed_failed_or_pending(
        standin: GitLabStandIn, host: GitLabMergeRequests, sha: str, status: str,
        expected: str) -> None:
    standin.add_pipeline(REPO, sha, status=status)
    result = host.check_result(REPO, sha, "pipeline")
    assert result is not None and result.conclusion == expected
    assert result.summary == ""


def test_a_failed_pipeline_names_its_failed_jobs(
        standin: GitLabStandIn, host: GitLabMergeRequests, sha: str) -> None:
    standin.add_pipeline(REPO, sha, status="failed", failed_jobs=["rspec", "rubocop"])

    result = host.check_result(REPO, sha, "pipeline")
    assert result is not None and result.conclusion == "failure"
    assert result.summary == "Failed jobs: rubocop (script_failure), rspec (script_failure)"
    [asked] = [call for call in standin.calls if call.path.endswith("/jobs")]
    assert asked.query["scope[]"] == ["failed"]


def test_pipelines_of_another_commit_do_not_count(
        standin: GitLabStandIn, host: GitLabMergeRequests, source: GitRepoBuilder,
        sha: str) -> None:
    standin.add_pipeline(REPO, sha, status="failed")
    other = source.commit({"shop/tax.py": "RATE = 0.2\n"}, "tax")
    standin.seed_repo(REPO, source.path)
    assert host.check_result(REPO, other, "pipeline") is None


def test_a_project_out_of_reach_is_permanent(host: GitLabMergeRequests, sha: str) -> None:
    with pytest.raises(PermanentError):
        host.check_result("elsewhere/private", sha, "pipeline")


# -- the stand-in's routes --------------------------------------------------------------------


def test_the_standin_lists_pipelines_newest_first_with_filters(
        standin: GitLabStandIn, sha: str) -> None:
    first = standin.add_pipeline(REPO, sha, status="success", name="Build")
    second = standin.add_pipeline(REPO, sha, status="failed")

    listed = _get(standin, "/pipelines", sha=sha).json()
    oldest = _get(standin, "/pipelines", sort="asc").json()
    named = _get(standin, "/pipelines", name="Build").json()
    assert [p["id"] for p in listed] == [second["id"], first["id"]]
    assert [p["id"] for p in oldest] == [first["id"], second["id"]]
    assert [p["id"] for p in named] == [first["id"]]
    assert (first["iid"], second["iid"], first["ref"], second["name"]) == (1, 2, "main", None)
    assert set(first) == {"id", "iid", "project_id", "status", "source", "ref", "sha", "name",
                          "web_url", "created_at", "updated_at"}
    assert _get(standin, "/pipelines", order_by="name").status_code == 400
    assert _get(standin, "/pipelines", sha="0" * 40).json() == []


def test_the_standin_lists_a_pipelines_jobs_by_scope(standin: GitLabStandIn, sha: str) -> None:
    pipeline = standin.add_pipeline(REPO, sha, status="failed", failed_jobs=["rspec"])

    [job] = _get(standin, f"/pipelines/{pipeline['id']}/jobs", scope="failed").json()
    assert (job["name"], job["status"], job["failure_reason"]) == ("rspec", "failed",
                                                                   "script_failure")
    assert job["pipeline"]["id"] == pipeline["id"] and job["commit"]["id"] == sha
    assert job["web_url"].endswith(f"/{REPO}/-/jobs/{job['id']}")
    assert _get(standin, f"/pipelines/{pipeline['id']}/jobs", **{"scope[]": "success"}).json() \
        == []
    assert _get(standin, "/pipelines/999999/jobs").status_code == 404
    assert _get(standin, f"/pipelines/{pipeline['id']}/jobs", scope="nope").status_code == 400


def test_add_pipeline_refuses_what_gitlab_would_not_hold(standin: GitLabStandIn,
                                                        sha: str) -> None:
    with pytest.raises(ValueError):
        standin.add_pipeline(REPO, sha, status="green")
    with pytest.raises(ValueError):
        standin.add_pipeline(REPO, "1" * 40, status="success")
