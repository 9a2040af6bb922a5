"""GitLabMergeRequests through python-gitlab against the GitLab stand-in over real HTTP, with
branches pushed by real git over smart HTTP: the shared `CodeHostContract`, then what is
GitLab's own.

Covers the draft title prefix, adopting the merge request GitLab's 409 names, finding changes
by branch and by marker, notes, reviewers (and every reason one is left out), commit statuses,
and the mapping of GitLab's refusals: 401/403/404 permanent, 429 and 5xx transient with
`Retry-After`, and never a sleep or retry inside the worker.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gitlab
import pytest
from pydantic import SecretStr

from integrations.git.branches import push_branch, remote_branch
from integrations.gitlab import GitLabMergeRequests, WorkerGitlab, translate_gitlab_error
from integrations.standins.gitlab import GitLabStandIn
from integrations.standins.gitlab.state import DRAFT_PREFIX
from tests.codehost_contract import CodeHostContract, World, push_commit
from tests.gitrepo import GitRepoBuilder
from worker.codehost import ChangeDraft, CheckReport
from worker.ports import CodeHost, PermanentError, TransientError
from worker.settings import GitLabSettings, load_settings

TOKEN = "glpat-test-token"
REPO = "acme/platform/shop"
MARKER = "<!-- suture:fix 3f2a9c -->"
BRANCH = "suture/3f2a9c-zerodivisionerror"


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
        yield running


def make_host(url: str, token: str = TOKEN, labels: list[str] | None = None
              ) -> GitLabMergeRequests:
    settings = GitLabSettings(base_url=url, token=SecretStr(token),
                              labels=["suture"] if labels is None else labels)
    return GitLabMergeRequests(settings, timeout=5)


@pytest.fixture
def host(standin: GitLabStandIn) -> Iterator[GitLabMergeRequests]:
    adapter = make_host(standin.url)
    yield adapter
    adapter.close()


def pushed(host: GitLabMergeRequests, source: GitRepoBuilder, branch: str = BRANCH) -> str:
    """Commit a fix in `source` and push it to `branch` the way the publish stage does."""
    sha = source.commit({"shop/cart.py": "def total(items):\n    return sum(items) / max("
                                         "len(items), 1)\n"}, "fix")
    push_branch(source.path, host.push_access(REPO), sha, branch)
    return sha


def draft(**overrides: Any) -> ChangeDraft:
    values: dict[str, Any] = {
        "repo": REPO, "branch": BRANCH, "base_branch": "main",
        "title": "Fix ZeroDivisionError in cart.total",
        "body": f"Verified fix.\n\n{MARKER}\n", "marker": MARKER, "labels": ["bug"],
    }
    values.update(overrides)
    return ChangeDraft(**values)


# -- the shared contract ---------------------------------------------------------------------

FOREIGN = "elsewhere/private"
REVIEWER = "octocat"
_OUTCOMES = {"success": "success", "failed": "failure", "skipped": "neutral"}
_PIPELINE_STATES = {"success": "success", "failure": "failed", "pending": "running"}


def _contract_view(merge_request: dict[str, Any]) -> dict[str, Any]:
    """A merge request as the contract reads changes (GitLab keeps draft-ness in the title)."""
    return {"number": merge_request["iid"], "draft": merge_request["draft"],
            "title": DRAFT_PREFIX.sub("", merge_request["title"], count=1),
            "body": merge_request["description"], "labels": merge_request["labels"],
            "reviewers": [user["username"] for user in merge_request["reviewers"]],
            "comments": [note["body"] for note in merge_request["notes"] if not note["system"]],
            "branch": merge_request["source_branch"], "state": merge_request["state"]}


class TestGitLabContract(CodeHostContract):
    """The contract on GitLab: `acme/platform/shop` seeded, `octocat` a member who may review,
    `elsewhere/private` a project the token cannot see."""

    @pytest.fixture
    def world(self, tmp_path: Path, request: pytest.FixtureRequest) -> World:
        source = GitRepoBuilder(tmp_path / "contract-source")
        source.commit({"app.py": "def total(items):\n    return sum(items) / len(items)\n"},
                      "first")
        standin = GitLabStandIn(token=TOKEN, root=tmp_path / "contract-host")
        standin.start()
        request.addfinalizer(standin.stop)
        standin.seed_repo(REPO, source.path)
        standin.add_project(FOREIGN, visible=False)
        standin.add_user(REVIEWER)
        host = make_host(standin.url)
        request.addfinalizer(host.close)
        return World(
            host=host, repo=REPO,
            push=lambda branch: push_commit(source.path, host.push_access(REPO), branch),
            changes=lambda: [_contract_view(mr) for mr in standin.merge_requests(REPO)],
            close=lambda number: standin.close(REPO, number, by=REVIEWER),
            merge=lambda number: standin.merge(REPO, number, by=REVIEWER),
            comment_as=lambda number, body, login, bot: standin.add_note(
                REPO, number, body, as_user=login, bot=bot),
            set_writer=lambda login, may: standin.set_access(REPO, login, 30 if may else 20),
            checks=lambda: [{"sha": status["sha"], "name": status["name"],
                             "outcome": _OUTCOMES.get(status["status"], status["status"])}
                            for status in standin.statuses(REPO)],
            add_check=lambda sha, name, conclusion, summary: standin.add_pipeline(
                REPO, sha, status=_PIPELINE_STATES[conclusion], name=name,
                failed_jobs=[summary] if summary else []),
            reviewer=REVIEWER, bot=standin.login, foreign=FOREIGN)


# -- access and pushing -----------------------------------------------------------------------


def test_is_a_code_host(host: GitLabMergeRequests) -> None:
    assert isinstance(host, CodeHost)
    assert host.name == "gitlab"


def test_push_access_is_the_https_url_with_oauth2_and_the_token(
        host: GitLabMergeRequests, standin: GitLabStandIn, source: GitRepoBuilder) -> None:
    access = host.push_access(REPO)
    assert access.url == f"{standin.url}/{REPO}.git"
    assert (access.username, access.token.get_secret_value()) == ("oauth2", TOKEN)
    assert TOKEN not in access.url
    sha = pushed(host, source)
    assert standin.git.branches(REPO)[BRANCH] == sha
    assert remote_branch(source.path, access, BRANCH) == sha
    assert host.default_branch(REPO) == "main"


def test_a_token_that_cannot_push_is_refused_before_any_push(tmp_path: Path,
                                                             source: GitRepoBuilder) -> None:
    with GitLabStandIn(token=TOKEN, root=tmp_path / "reporter", access_level=20) as standin:
        standin.seed_repo(REPO, source.path)
        with pytest.raises(PermanentError, match="Developer"):
            make_host(standin.url).push_access(REPO)


def test_an_unknown_project_or_a_malformed_name_is_permanent(host: GitLabMergeRequests) -> None:
    with pytest.raises(PermanentError, match="404 Project Not Found"):
        host.push_access("acme/elsewhere")
    with pytest.raises(PermanentError, match="group/project"):
        host.find_change("shop", BRANCH, MARKER)


# -- opening and adopting ---------------------------------------------------------------------


def test_open_change_is_a_draft_by_title_prefix_with_labels_and_marker(
        host: GitLabMergeRequests, standin: GitLabStandIn, source: GitRepoBuilder) -> None:
    sha = pushed(host, source)
    change = host.open_change(draft(body="Verified fix, no marker yet."))
    assert (change.number, change.draft, change.adopted, change.state) == (1, True, False, "open")
    assert change.head_sha == sha and change.branch == BRANCH
    assert change.url == f"{standin.url}/{REPO}/-/merge_requests/1"
    [stored] = standin.merge_requests(REPO)
    assert stored["title"] == "Draft: Fix ZeroDivisionError in cart.total"
    assert stored["draft"] is True and stored["labels"] == ["suture", "bug"]
    assert stored["description"].rstrip().endswith(MARKER)
    assert stored["author"]["username"] == "suture-bot"


def test_a_ready_change_has_no_prefix_and_a_prefixed_title_is_not_doubled(
        host: GitLabMergeRequests, standin: GitLabStandIn, source: GitRepoBuilder) -> None:
    pushed(host, source)
    pushed(host, source, "suture/other")
    ready = host.open_change(draft(draft=False))
    again = host.open_change(draft(branch="suture/other", title="Draft: already"))
    assert (ready.draft, again.draft) == (False, True)
    titles = [mr["title"] for mr in standin.merge_requests(REPO)]
    assert titles == ["Fix ZeroDivisionError in cart.total", "Draft: already"]


def test_the_409_for_an_open_merge_request_is_adopted(
        host: GitLabMergeRequests, standin: GitLabStandIn, source: GitRepoBuilder) -> None:
    pushed(host, source)
    first = host.open_change(draft())
    second = host.open_change(draft(title="Another title"))
    assert (second.number, second.adopted) == (first.number, True)
    assert len(standin.merge_requests(REPO)) == 1
    posts = [c for c in standin.calls if c.method == "POST" and c.path.endswith("merge_requests")]
    assert len(posts) == 2  # the second create was refused with 409, then looked up


def test_a_merge_request_someone_else_opened_from_the_branch_is_adopted(
        host: GitLabMergeRequests, standin: GitLabStandIn, source: GitRepoBuilder) -> None:
    pushed(host, source)
    standin.add_merge_request(REPO, source_branch=BRANCH, title="mine", author="dana")
    change = host.open_change(draft())
    assert (change.number, change.adopted, change.draft) == (1, True, False)


def test_a_branch_that_was_never_pushed_is_permanent(host: GitLabMergeRequests) -> None:
    with pytest.raises(PermanentError, match='Source branch "suture/missing" does not exist'):
        host.open_change(draft(branch="suture/missing"))


# -- finding ----------------------------------------------------------------------------------


def test_find_change_by_branch_in_any_state(
        host: GitLabMergeRequests, standin: GitLabStandIn, source: GitRepoBuilder) -> None:
    assert host.find_change(REPO, BRANCH, MARKER) is None
    pushed(host, source)
    opened = host.open_change(draft())
    standin.set_state(REPO, opened.number, "merged")
    found = host.find_change(REPO, BRANCH, "no such marker")
    assert found is not None
    assert (found.number, found.state, found.adopted) == (opened.number, "merged", True)


def test_find_change_by_marker_when_the_branch_is_gone(
        host: GitLabMergeRequests, standin: GitLabStandIn) -> None:
    standin.add_merge_request(REPO, source_branch="renamed", title="near miss",
                              description="<!-- suture:fix 3f2a9c --> is not quite it",
                              state="closed")
    assert host.find_change(REPO, BRANCH, "<!-- suture:fix 3f2a9 -->") is None
    standin.add_merge_request(REPO, source_branch="renamed-again", title="the one",
                              description=f"Body.\n{MARKER}\n", state="closed")
    found = host.find_change(REPO, BRANCH, MARKER)
    assert found is not None and (found.number, found.state) == (2, "closed")
    searches = [c for c in standin.calls if c.arg("search")]
    assert searches and all(c.arg("in") == "description" for c in searches)


# -- notes, reviewers, statuses ---------------------------------------------------------------


def test_comment_is_a_note_with_its_url(
        host: GitLabMergeRequests, standin: GitLabStandIn, source: GitRepoBuilder) -> None:
    pushed(host, source)
    change = host.open_change(draft())
    url = host.comment(REPO, change.number, "Bisected to abc123.")
    [stored] = standin.merge_requests(REPO)
    [note] = stored["notes"]
    assert url == f"{change.url}#note_{note['id']}"
    assert note["body"] == "Bisected to abc123." and note["author"]["username"] == "suture-bot"


def test_request_reviewers_skips_with_reasons(
        host: GitLabMergeRequests, standin: GitLabStandIn, source: GitRepoBuilder) -> None:
    pushed(host, source)
    standin.add_merge_request(REPO, source_branch=BRANCH, title="by dana", author="dana")
    for name in ("alice", "bob"):
        standin.add_user(name)
    standin.add_user("carol", member=False)
    standin.add_user("eve", state="blocked")
    asked = host.request_reviewers(REPO, 1, ["alice", "Suture-Bot", "dana", "ghost", "carol",
                                            "eve", "alice"])
    assert asked.requested == ["alice"]
    assert set(asked.skipped) == {"Suture-Bot", "dana", "ghost", "carol", "eve"}
    assert "own account" in asked.skipped["Suture-Bot"]
    assert "author" in asked.skipped["dana"]
    assert "no GitLab account" in asked.skipped["ghost"]
    assert "not a member" in asked.skipped["carol"]
    assert "blocked" in asked.skipped["eve"]
    again = host.request_reviewers(REPO, 1, ["bob", "alice"])
    assert sorted(again.requested) == ["alice", "bob"] and not again.skipped
    [stored] = standin.merge_requests(REPO)
    assert [user["username"] for user in stored["reviewers"]] == ["alice", "bob"]


def test_report_check_is_a_commit_status(
        host: GitLabMergeRequests, standin: GitLabStandIn, source: GitRepoBuilder) -> None:
    sha = pushed(host, source)
    report = CheckReport(head_sha=sha, conclusion="failure", title="Could not verify",
                         summary="x" * 400, details_url="https://suture.example/runs/7")
    posted = host.report_check(REPO, report)
    assert (posted.kind, posted.url) == ("status", "https://suture.example/runs/7")
    [status] = standin.statuses(REPO)
    assert (status["sha"], status["status"], status["name"]) == (sha, "failed", "suture")
    assert status["target_url"] == "https://suture.example/runs/7"
    assert len(status["description"]) == 255 and status["description"].endswith("…")
    neutral = host.report_check(REPO, report.model_copy(update={"conclusion": "neutral",
                                                                "details_url": None}))
    assert neutral.url == f"{standin.url}/{REPO}/-/commit/{sha}"
    assert standin.statuses(REPO)[-1]["status"] == "skipped"


# -- errors -----------------------------------------------------------------------------------


def test_a_bad_token_is_permanent(standin: GitLabStandIn) -> None:
    with pytest.raises(PermanentError, match="401"):
        make_host(standin.url, token="glpat-wrong").default_branch(REPO)


def test_a_rate_limit_is_transient_with_retry_after_and_never_waited_out(
        host: GitLabMergeRequests, standin: GitLabStandIn) -> None:
    standin.fail_rate_limit(retry_after=30, times=3)
    before, started = len(standin.calls), time.monotonic()
    with pytest.raises(TransientError) as caught:
        host.default_branch(REPO)
    assert caught.value.retry_after == 30
    assert time.monotonic() - started < 5
    assert len(standin.calls) == before + 1  # python-gitlab did not retry the 429


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient_and_not_retried(
        host: GitLabMergeRequests, standin: GitLabStandIn, status: int) -> None:
    standin.fail_server_error(status, times=3)
    before = len(standin.calls)
    with pytest.raises(TransientError, match=str(status)):
        host.find_change(REPO, BRANCH, MARKER)
    assert len(standin.calls) == before + 1


def test_an_unreachable_gitlab_is_transient(tmp_path: Path) -> None:
    with GitLabStandIn(root=tmp_path / "gone") as standin:
        url = standin.url
    with pytest.raises(TransientError, match="unreachable"):
        make_host(url).default_branch(REPO)


def test_translate_reads_ratelimit_reset_and_defaults_to_a_minute() -> None:
    error = gitlab.GitlabHttpError("Retry later", 429)
    reset = str(int(time.time()) + 20)
    hinted = translate_gitlab_error(error, "x", {"ratelimit-reset": reset})
    assert isinstance(hinted, TransientError) and 19 <= (hinted.retry_after or 0) <= 22
    bare = translate_gitlab_error(error, "x", {})
    assert isinstance(bare, TransientError) and bare.retry_after == 60
    forbidden = translate_gitlab_error(gitlab.GitlabHttpError("403 Forbidden", 403), "x")
    assert isinstance(forbidden, PermanentError) and "scope" in str(forbidden)


def test_the_worker_client_never_obeys_rate_limits(standin: GitLabStandIn) -> None:
    client = WorkerGitlab(standin.url, TOKEN, timeout=5)
    standin.fail_rate_limit(retry_after=120)
    with pytest.raises(gitlab.GitlabHttpError) as caught:
        client.http_get("/user", obey_rate_limit=True, retry_transient_errors=True)
    assert caught.value.response_code == 429
    assert client.failure_headers()["retry-after"] == "120"


# -- settings and stand-in faithfulness -------------------------------------------------------


def test_settings_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUTURE_GITLAB__TOKEN", "glpat-from-env")
    settings = load_settings().gitlab
    assert settings.base_url == "https://gitlab.com" and settings.labels == ["suture"]
    assert settings.token is not None and settings.token.get_secret_value() == "glpat-from-env"
    with pytest.raises(ValueError, match="gitlab.token"):
        GitLabMergeRequests(GitLabSettings())


def test_standin_speaks_gitlab_to_python_gitlab(standin: GitLabStandIn) -> None:
    client = gitlab.Gitlab(standin.url, oauth_token=TOKEN)  # `Authorization: Bearer`
    project = client.projects.get(REPO)
    assert project.path_with_namespace == REPO and project.empty_repo is False
    for number in range(5):
        standin.add_merge_request(REPO, source_branch=f"b{number}",
                                  title=["[Draft] a", "(draft) b", "Draft:c", "draft d", "e"]
                                  [number])
    listed = list(project.mergerequests.list(iterator=True, per_page=2, state="opened"))
    assert [mr.draft for mr in listed] == [False, False, True, True, True]  # newest first
    assert [mr.iid for mr in project.mergerequests.list(get_all=False, labels="none")] == []


def test_standin_refuses_repeating_a_pending_status(standin: GitLabStandIn) -> None:
    client = gitlab.Gitlab(standin.url, private_token=TOKEN)
    sha = standin.git.branches(REPO)["main"]
    statuses = client.projects.get(REPO, lazy=True).commits.get(sha, lazy=True).statuses
    statuses.create({"state": "pending", "name": "ci"})
    with pytest.raises(gitlab.GitlabCreateError, match="Cannot transition status via :enqueue"):
        statuses.create({"state": "pending", "name": "ci"})
    statuses.create({"state": "success", "name": "ci"})
    assert [status["status"] for status in standin.statuses(REPO)] == ["success"]
