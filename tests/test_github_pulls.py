"""GitHubPulls through PyGithub against the GitHub stand-in over real HTTP and real git.

The `CodeHost` contract runs twice: with a personal token and with a GitHub App (a key made in
the test). Then what is GitHub's own: check runs for an App and commit statuses for a token,
installation tokens scoped to one repository and renewed before they expire, adopting a pull
request GitHub says exists when the lookup missed it, and GitHub's failures mapped onto
TransientError/PermanentError.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from integrations.git.command import GitFailed
from integrations.github.pulls import GitHubPulls
from integrations.standins.base import Call, Reply
from integrations.standins.github import GitHubStandIn
from tests.codehost_contract import CodeHostContract, World, draft, fresh, push_commit
from tests.github_world import (
    NAME,
    OTHER,
    OWNER,
    PRIVATE,
    REPO,
    REVIEWER,
    SLUG,
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
from worker.ports import PermanentError, TransientError


@pytest.fixture(scope="module")
def key() -> AppKey:
    return make_key()


@pytest.fixture
def source(tmp_path: Path) -> GitRepoBuilder:
    return seed_source(tmp_path / "source")


@pytest.fixture
def standin(tmp_path: Path, source: GitRepoBuilder) -> Iterator[GitHubStandIn]:
    running = seeded_standin(tmp_path / "remote", source.path)
    yield running
    running.stop()


@pytest.fixture
def by_token(standin: GitHubStandIn) -> Iterator[GitHubPulls]:
    host = unpaced(token_settings(standin))
    yield host
    host.close()


@pytest.fixture
def by_app(standin: GitHubStandIn, key: AppKey, tmp_path: Path) -> Iterator[GitHubPulls]:
    host = unpaced(app_settings(standin, install_app(standin, key, tmp_path)))
    yield host
    host.close()


def _changes(standin: GitHubStandIn) -> list[dict[str, Any]]:
    return [{"number": pull["number"], "draft": pull["draft"], "title": pull["title"],
             "body": pull["body"], "labels": [label["name"] for label in pull["labels"]],
             "reviewers": [user["login"] for user in pull["requested_reviewers"]],
             "comments": [comment["body"] for comment in pull["issue_comments"]],
             "branch": pull["head"]["ref"], "state": pull["state"]}
            for pull in standin.pulls(OWNER, NAME)]


def _checks(standin: GitHubStandIn) -> list[dict[str, Any]]:
    runs = [{"sha": run["head_sha"], "name": run["name"], "outcome": run["conclusion"]}
            for run in standin.check_runs(OWNER, NAME)]
    statuses = [{"sha": status["url"].rsplit("/", 1)[1], "name": status["context"],
                 "outcome": status["state"]} for status in standin.statuses(OWNER, NAME)]
    return runs + statuses


def _world(standin: GitHubStandIn, host: GitHubPulls, source: Path, *, bot: str,
           foreign: str) -> World:
    def close(number: int) -> None:
        api(standin, "PATCH", f"/repos/{REPO}/pulls/{number}",
            json={"state": "closed"}).raise_for_status()

    def comment_as(number: int, body: str, login: str, bot: bool) -> object:
        return standin.comment(OWNER, NAME, number, body, as_user=login, bot=bot)

    def set_writer(login: str, may: bool) -> None:
        standin.set_permission(OWNER, NAME, login, "write" if may else "read")

    def add_check(sha: str, name: str, conclusion: str, summary: str) -> object:
        if conclusion == "pending":
            return standin.add_check_run(OWNER, NAME, sha, name, conclusion=None,
                                         status="in_progress")
        return standin.add_check_run(OWNER, NAME, sha, name, conclusion=conclusion,
                                     title=f"{name}: {conclusion}", summary=summary)

    return World(host=host, repo=REPO,
                 push=lambda branch: push_commit(source, host.push_access(REPO), branch),
                 changes=lambda: _changes(standin), close=close,
                 merge=lambda number: standin.merge_pull(OWNER, NAME, number, by=REVIEWER),
                 comment_as=comment_as, set_writer=set_writer,
                 checks=lambda: _checks(standin), add_check=add_check, reviewer=REVIEWER,
                 bot=bot, foreign=foreign)


class TestGitHubContract(CodeHostContract):
    """The contract with a personal token, then with a GitHub App."""

    @pytest.fixture(params=["personal-token", "github-app"])
    def world(self, request: pytest.FixtureRequest, standin: GitHubStandIn,
              source: GitRepoBuilder) -> World:
        if request.param == "personal-token":
            host = request.getfixturevalue("by_token")
            return _world(standin, host, source.path, bot=standin.login, foreign="acme/missing")
        host = request.getfixturevalue("by_app")
        return _world(standin, host, source.path, bot=f"{SLUG}[bot]", foreign=PRIVATE)


def _report(sha: str, **overrides: Any) -> CheckReport:
    values: dict[str, Any] = {"head_sha": sha, "conclusion": "failure", "title": "Not verified",
                              "summary": "The reproduction test still fails.",
                              "details_url": "https://suture.example/runs/7"}
    values.update(overrides)
    return CheckReport(**values)


def _push(standin: GitHubStandIn, host: GitHubPulls, source: GitRepoBuilder,
          repo: str = REPO) -> tuple[str, str, str]:
    branch, marker = fresh("gh")
    return branch, marker, push_commit(source.path, host.push_access(repo), branch)


# -- evidence: check runs for an App, commit statuses for a token ------------------------------


def test_an_app_reports_a_check_run_with_the_evidence(
    standin: GitHubStandIn, by_app: GitHubPulls, source: GitRepoBuilder
) -> None:
    branch, marker, sha = _push(standin, by_app, source)
    opened = by_app.open_change(draft(_world(standin, by_app, source.path, bot="", foreign=""),
                                      branch, marker))
    logs = "".join(f"line {n}\n" for n in range(20_000))  # longer than a check run may hold
    posted = by_app.report_check(REPO, _report(sha, text=logs, summary="s" * 70_000))

    [run] = standin.check_runs(OWNER, NAME)
    assert posted.kind == "check_run" and posted.url == run["html_url"]
    assert (run["status"], run["conclusion"], run["head_sha"]) == ("completed", "failure", sha)
    assert run["details_url"] == "https://suture.example/runs/7"
    assert run["app"]["slug"] == SLUG
    assert [pull["number"] for pull in run["pull_requests"]] == [opened.number]
    output = run["output"]
    assert len(output["summary"]) <= 65_535 and len(output["text"]) <= 65_535
    assert output["text"].startswith("line 0\n") and output["text"].endswith("line 19999\n")
    assert "characters cut" in output["text"]
    assert standin.statuses(OWNER, NAME) == []


def test_a_token_reports_a_commit_status(
    standin: GitHubStandIn, by_token: GitHubPulls, source: GitRepoBuilder
) -> None:
    _, _, sha = _push(standin, by_token, source)
    posted = by_token.report_check(REPO, _report(sha, title="x " * 200, conclusion="neutral"))

    [status] = standin.statuses(OWNER, NAME)
    assert posted.kind == "status" and posted.url == status["url"]
    assert (status["context"], status["state"]) == ("suture", "error")
    assert status["target_url"] == "https://suture.example/runs/7"
    assert len(status["description"]) <= 140
    assert status["creator"]["login"] == standin.login
    assert standin.check_runs(OWNER, NAME) == []


# -- installation tokens ----------------------------------------------------------------------


def test_an_installation_token_reaches_its_one_repository(
    standin: GitHubStandIn, key: AppKey, tmp_path: Path, source: GitRepoBuilder
) -> None:
    host = unpaced(app_settings(standin, install_app(standin, key, tmp_path, (REPO, OTHER))))
    access = host.push_access(REPO)
    token = access.token.get_secret_value()
    assert re.fullmatch(r"ghs_[A-Za-z0-9]{36}", token) and access.username == "x-access-token"
    assert access.expires_at is not None
    expires = datetime.fromisoformat(access.expires_at.replace("Z", "+00:00"))
    assert timedelta(minutes=55) < expires - datetime.now(UTC) <= timedelta(hours=1)
    minted = [json.loads(call.body) for call in standin.calls
              if call.path.endswith("/access_tokens")]
    assert {"repositories": [NAME]} in minted

    other = access.model_copy(update={"url": access.url.replace(f"/{NAME}.git", "/other.git")})
    with pytest.raises(GitFailed):
        push_commit(source.path, other, "suture/not-here")
    assert "suture/not-here" not in standin.git.branches(OTHER)
    assert push_commit(source.path, host.push_access(OTHER), "suture/here")
    host.close()


def test_push_access_mints_a_new_token_each_time(by_app: GitHubPulls) -> None:
    first, second = by_app.push_access(REPO), by_app.push_access(REPO)
    assert first.token.get_secret_value() != second.token.get_secret_value()


def test_the_configured_installation_is_used_without_looking_it_up(
    standin: GitHubStandIn, key: AppKey, tmp_path: Path
) -> None:
    settings = app_settings(standin, install_app(standin, key, tmp_path), installation_id=77)
    host = unpaced(settings)
    assert host.default_branch(REPO) == "main"
    assert not [call for call in standin.calls if call.path.endswith("/installation")]
    with pytest.raises(PermanentError, match="cannot reach acme/other"):
        host.push_access(OTHER)
    host.close()


def test_the_api_token_is_renewed_before_it_expires(
    standin: GitHubStandIn, key: AppKey, tmp_path: Path
) -> None:
    now = [datetime.now(UTC)]
    host = unpaced(app_settings(standin, install_app(standin, key, tmp_path)),
                   clock=lambda: now[0])

    def minted() -> int:
        return sum(1 for call in standin.calls if call.path.endswith("/access_tokens"))

    host.default_branch(REPO)
    host.find_change(REPO, "suture/none", "suture-fingerprint: none")
    assert minted() == 1  # one token serves every call while it lasts
    now[0] += timedelta(minutes=56)  # under five minutes left
    host.find_change(REPO, "suture/none", "suture-fingerprint: none")
    assert minted() == 2
    host.close()


def test_an_app_with_the_wrong_key_is_refused(
    standin: GitHubStandIn, key: AppKey, tmp_path: Path
) -> None:
    standin.add_app(4242, make_key().public, 77, [REPO], slug=SLUG)
    key_file = tmp_path / "stale.pem"
    key_file.write_text(key.private, encoding="utf-8")
    host = unpaced(app_settings(standin, key_file))
    with pytest.raises(PermanentError, match="401"):
        host.push_access(REPO)
    host.close()


def test_settings_without_any_credential_are_refused(standin: GitHubStandIn) -> None:
    with pytest.raises(ValueError, match="github.token"):
        GitHubPulls(token_settings(standin).model_copy(update={"token": None}))


# -- adopting --------------------------------------------------------------------------------


def test_a_change_the_lookup_missed_is_adopted_from_githubs_422(
    tmp_path: Path, source: GitRepoBuilder
) -> None:
    standin = seeded_standin(tmp_path / "lagging", source.path, search_lag=True)
    host = unpaced(token_settings(standin))
    branch, marker, _ = _push(standin, host, source)
    first = host.open_change(draft(_world(standin, host, source.path, bot="", foreign=""),
                                   branch, marker))

    def lagging_list(call: Call) -> Reply:  # GitHub's list behind its own create, briefly
        return Reply(200, [])

    standin.routes.insert(0, ("GET", re.compile(r"/repos/acme/shop/pulls"), lagging_list))
    assert host.find_change(REPO, branch, marker) is None  # list hidden, search not indexed
    standin.routes.pop(0)

    again = host.open_change(draft(_world(standin, host, source.path, bot="", foreign=""),
                                   branch, marker))
    assert again.adopted and again.number == first.number
    creates = [call for call in standin.calls
               if call.method == "POST" and call.path == "/repos/acme/shop/pulls"]
    assert len(creates) == 2 and len(standin.pulls(OWNER, NAME)) == 1
    host.close()
    standin.stop()


def test_adopting_adds_the_labels_the_open_change_lacks(
    standin: GitHubStandIn, by_token: GitHubPulls, source: GitRepoBuilder
) -> None:
    branch, marker, _ = _push(standin, by_token, source)
    world = _world(standin, by_token, source.path, bot="", foreign="")
    by_token.open_change(draft(world, branch, marker, labels=[]))
    by_token.open_change(draft(world, branch, marker, labels=["regression"]))
    [pull] = standin.pulls(OWNER, NAME)
    assert [label["name"] for label in pull["labels"]] == ["suture", "regression"]


# -- reviewers -------------------------------------------------------------------------------


def test_a_refused_reviewer_does_not_lose_the_others(
    standin: GitHubStandIn, by_token: GitHubPulls, source: GitRepoBuilder
) -> None:
    standin.add_collaborator(OWNER, NAME, "hubot")
    branch, marker, _ = _push(standin, by_token, source)
    world = _world(standin, by_token, source.path, bot="", foreign="")
    change = by_token.open_change(draft(world, branch, marker))
    asked = by_token.request_reviewers(REPO, change.number,
                                       [REVIEWER, "stranger", "hubot", standin.login])
    assert asked.requested == [REVIEWER, "hubot"]
    assert asked.skipped[standin.login] == "the bot itself"
    assert "not a collaborator" in asked.skipped["stranger"]
    [pull] = standin.pulls(OWNER, NAME)
    assert [user["login"] for user in pull["requested_reviewers"]] == [REVIEWER, "hubot"]


def test_the_author_is_not_asked_to_review(
    standin: GitHubStandIn, by_token: GitHubPulls, by_app: GitHubPulls, source: GitRepoBuilder
) -> None:
    branch, marker, _ = _push(standin, by_app, source)
    world = _world(standin, by_app, source.path, bot="", foreign="")
    change = by_app.open_change(draft(world, branch, marker))
    # Another account (the personal token's) asks the App's bot, the author, to review.
    asked = by_token.request_reviewers(REPO, change.number, [f"{SLUG}[bot]", REVIEWER])
    assert asked.requested == [REVIEWER]
    assert asked.skipped == {f"{SLUG}[bot]": "the author of the change"}


# -- failures --------------------------------------------------------------------------------


def test_a_bad_token_is_permanent(standin: GitHubStandIn) -> None:
    host = unpaced(token_settings(standin, token="ghp_wrong"))
    with pytest.raises(PermanentError, match="401"):
        host.default_branch(REPO)
    host.close()


def test_server_errors_are_transient(
    standin: GitHubStandIn, by_token: GitHubPulls, source: GitRepoBuilder
) -> None:
    branch, marker, _ = _push(standin, by_token, source)
    standin.fail_server_error(502)
    with pytest.raises(TransientError, match="502"):
        by_token.open_change(draft(_world(standin, by_token, source.path, bot="", foreign=""),
                                   branch, marker))


def test_a_secondary_rate_limit_is_transient_with_its_wait(
    standin: GitHubStandIn, by_token: GitHubPulls
) -> None:
    standin.fail_secondary_rate_limit(retry_after=42)
    with pytest.raises(TransientError) as raised:
        by_token.comment(REPO, 1, "hello")
    assert raised.value.retry_after == 42


def test_an_unknown_change_is_permanent(by_token: GitHubPulls) -> None:
    with pytest.raises(PermanentError, match="404"):
        by_token.comment(REPO, 999, "hello")


def test_a_malformed_repository_name_is_permanent(by_token: GitHubPulls) -> None:
    with pytest.raises(PermanentError, match="owner/name"):
        by_token.default_branch("no-slash")
