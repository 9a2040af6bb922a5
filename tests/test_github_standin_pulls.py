"""The GitHub stand-in's pull requests, checks, Apps and git hosting, held to GitHub's behaviour:
recorded shapes, GitHub's exact refusals, token scoping, and real pushes over smart HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from pydantic import SecretStr

from integrations.git.command import GitFailed
from integrations.standins.base import recorded
from integrations.standins.github import GitHubStandIn
from tests.codehost_contract import push_commit
from tests.github_world import (
    APP_ID,
    INSTALLATION,
    NAME,
    OTHER,
    OWNER,
    PRIVATE,
    REPO,
    REVIEWER,
    SLUG,
    TOKEN,
    AppKey,
    api,
    make_key,
    seed_source,
    seeded_standin,
)
from tests.gitrepo import GitRepoBuilder
from worker.codehost import PushAccess

DUPLICATE = {
    "message": "Validation Failed",
    "errors": [{"resource": "PullRequest", "code": "custom",
                "message": "A pull request already exists for acme:suture/fix."}],
}


@pytest.fixture(scope="module")
def key() -> AppKey:
    return make_key()


@pytest.fixture
def source(tmp_path: Path) -> GitRepoBuilder:
    return seed_source(tmp_path / "source")


@pytest.fixture
def standin(tmp_path: Path, source: GitRepoBuilder, key: AppKey) -> Iterator[GitHubStandIn]:
    running = seeded_standin(tmp_path / "remote", source.path)
    running.add_app(APP_ID, key.public, INSTALLATION, [REPO], slug=SLUG)
    yield running
    running.stop()


def _access(standin: GitHubStandIn, repo: str = REPO, token: str = TOKEN,
            user: str = "anyone") -> PushAccess:
    return PushAccess(url=f"{standin.url}/{repo}.git", username=user, token=SecretStr(token))


def _pushed(standin: GitHubStandIn, source: GitRepoBuilder, branch: str = "suture/fix") -> str:
    return push_commit(source.path, _access(standin), branch)


def _create(standin: GitHubStandIn, head: str = "suture/fix", token: str = TOKEN,
            **fields: Any) -> Any:
    body = {"title": "Fix it", "head": head, "base": "main", "body": "marker", **fields}
    return api(standin, "POST", f"/repos/{REPO}/pulls", token=token, json=body)


def _jwt(key: AppKey, **claims: Any) -> str:
    now = int(time.time())
    payload = {"iat": now - 60, "exp": now + 300, "iss": str(APP_ID), **claims}
    return jwt.encode(payload, key.private, algorithm="RS256")


def _installation_token(standin: GitHubStandIn, key: AppKey, **body: Any) -> Any:
    return api(standin, "POST", f"/app/installations/{INSTALLATION}/access_tokens",
               headers={"Authorization": f"Bearer {_jwt(key)}"}, json=body)


# -- repositories and git ---------------------------------------------------------------------


def test_a_repository_names_its_clone_url_and_default_branch(standin: GitHubStandIn) -> None:
    body = api(standin, "GET", f"/repos/{REPO}").json()
    assert body["clone_url"] == f"{standin.url}/{REPO}.git"
    assert body["default_branch"] == "main"


def test_a_branch_is_read_from_the_bare_repository(
    standin: GitHubStandIn, source: GitRepoBuilder
) -> None:
    body = api(standin, "GET", f"/repos/{REPO}/branches/main").json()
    assert body["name"] == "main" and body["commit"]["sha"] == source.head()
    assert body["commit"]["commit"]["message"] == "first"
    missing = api(standin, "GET", f"/repos/{REPO}/branches/nope")
    assert missing.status_code == 404 and missing.json()["message"] == "Branch not found"


def test_git_accepts_the_personal_token_under_any_user_name(
    standin: GitHubStandIn, source: GitRepoBuilder
) -> None:
    sha = push_commit(source.path, _access(standin, user="whoever"), "suture/a")
    assert standin.git.branches(REPO)["suture/a"] == sha


def test_git_refuses_a_wrong_token(standin: GitHubStandIn, source: GitRepoBuilder) -> None:
    with pytest.raises(GitFailed):
        push_commit(source.path, _access(standin, token="ghp_wrong"), "suture/b")


def test_an_installation_token_pushes_only_where_it_was_minted_for(
    standin: GitHubStandIn, source: GitRepoBuilder, key: AppKey
) -> None:
    standin.add_app(APP_ID, key.public, INSTALLATION, [REPO, OTHER], slug=SLUG)
    token = _installation_token(standin, key, repositories=[NAME]).json()["token"]
    assert push_commit(source.path, _access(standin, token=token, user="x-access-token"),
                       "suture/c")
    with pytest.raises(GitFailed):
        push_commit(source.path, _access(standin, OTHER, token, "x-access-token"), "suture/c")


# -- pull requests ----------------------------------------------------------------------------


def test_a_pull_request_has_githubs_recorded_shape(
    standin: GitHubStandIn, source: GitRepoBuilder
) -> None:
    sha = _pushed(standin, source)
    created = _create(standin, draft=True)
    assert created.status_code == 201
    body = created.json()
    assert set(body) == set(recorded("github/webhook-pull_request.opened.json")["pull_request"])
    assert body["draft"] is True and body["head"]["sha"] == sha and body["commits"] == 1
    assert body["base"]["sha"] == source.head() and body["user"]["login"] == standin.login
    assert created.headers["Location"] == body["url"]


def test_a_second_open_pull_request_for_a_head_is_refused_as_github_does(
    standin: GitHubStandIn, source: GitRepoBuilder
) -> None:
    _pushed(standin, source)
    assert _create(standin).status_code == 201
    again = _create(standin, head="acme:suture/fix")
    assert again.status_code == 422
    assert {key: again.json()[key] for key in ("message", "errors")} == DUPLICATE


def test_a_head_the_repository_lacks_or_with_nothing_new_is_refused(
    standin: GitHubStandIn
) -> None:
    missing = _create(standin, head="suture/never-pushed")
    assert missing.status_code == 422
    assert missing.json()["errors"] == [{"resource": "PullRequest", "field": "head",
                                         "code": "invalid"}]
    same = _create(standin, head="main")
    assert same.json()["errors"][0]["message"] == "No commits between main and main"


def test_pull_requests_share_numbers_with_issues_labels_and_comments(
    standin: GitHubStandIn, source: GitRepoBuilder
) -> None:
    standin.add_issue(OWNER, NAME, title="An issue")
    _pushed(standin, source)
    number = _create(standin).json()["number"]
    assert number == 2
    labels = api(standin, "POST", f"/repos/{REPO}/issues/2/labels", json=["suture"])
    assert [label["name"] for label in labels.json()] == ["suture"]
    made = api(standin, "POST", f"/repos/{REPO}/issues/2/comments", json={"body": "hi"})
    assert made.status_code == 201 and made.json()["html_url"].endswith(
        f"/{REPO}/pull/2#issuecomment-{made.json()['id']}")
    issues = api(standin, "GET", f"/repos/{REPO}/issues").json()
    as_issue = next(issue for issue in issues if issue["number"] == 2)
    assert as_issue["pull_request"]["url"].endswith("/pulls/2") and as_issue["comments"] == 1
    [pull] = standin.pulls(OWNER, NAME)
    assert [label["name"] for label in pull["labels"]] == ["suture"]
    assert [comment["body"] for comment in pull["issue_comments"]] == ["hi"]


def test_the_head_filter_needs_the_owner_as_on_github(
    standin: GitHubStandIn, source: GitRepoBuilder
) -> None:
    _pushed(standin, source, "suture/one")
    _pushed(standin, source, "suture/two")
    _create(standin, head="suture/one")
    _create(standin, head="suture/two")
    listed = api(standin, "GET", f"/repos/{REPO}/pulls", params={"head": "acme:suture/one"})
    assert [pull["head"]["ref"] for pull in listed.json()] == ["suture/one"]
    ignored = api(standin, "GET", f"/repos/{REPO}/pulls", params={"head": "suture/one"})
    assert len(ignored.json()) == 2


def test_closing_and_listing_by_state(standin: GitHubStandIn, source: GitRepoBuilder) -> None:
    _pushed(standin, source)
    number = _create(standin).json()["number"]
    closed = api(standin, "PATCH", f"/repos/{REPO}/pulls/{number}", json={"state": "closed"})
    assert closed.json()["state"] == "closed" and closed.json()["closed_at"]
    assert api(standin, "GET", f"/repos/{REPO}/pulls").json() == []
    assert len(api(standin, "GET", f"/repos/{REPO}/pulls", params={"state": "all"}).json()) == 1
    assert _create(standin).status_code == 201  # a closed one does not block a new one


def test_review_requests_are_refused_as_github_does(
    standin: GitHubStandIn, source: GitRepoBuilder
) -> None:
    _pushed(standin, source)
    path = f"/repos/{REPO}/pulls/{_create(standin).json()['number']}/requested_reviewers"
    author = api(standin, "POST", path, json={"reviewers": [standin.login]})
    assert (author.status_code, author.json()["message"]) == (
        422, "Review cannot be requested from pull request author.")
    stranger = api(standin, "POST", path, json={"reviewers": [REVIEWER, "stranger"]})
    assert stranger.status_code == 422
    assert stranger.json()["message"].startswith("Reviews may only be requested from collab")
    asked = api(standin, "POST", path, json={"reviewers": [REVIEWER]})
    assert asked.status_code == 201
    assert [user["login"] for user in asked.json()["requested_reviewers"]] == [REVIEWER]


# -- checks and statuses ----------------------------------------------------------------------


def test_a_personal_token_cannot_create_check_runs(
    standin: GitHubStandIn, source: GitRepoBuilder
) -> None:
    sha = _pushed(standin, source)
    refused = api(standin, "POST", f"/repos/{REPO}/check-runs",
                  json={"name": "suture", "head_sha": sha})
    assert refused.status_code == 403
    assert refused.json()["message"] == "Resource not accessible by personal access token"


def test_a_check_run_has_githubs_recorded_shape(
    standin: GitHubStandIn, source: GitRepoBuilder, key: AppKey
) -> None:
    sha = _pushed(standin, source)
    token = _installation_token(standin, key).json()["token"]
    output = {"title": "ok", "summary": "fine", "text": "t" * 65_536}
    body = {"name": "suture", "head_sha": sha, "status": "completed", "conclusion": "success",
            "output": output}
    too_long = api(standin, "POST", f"/repos/{REPO}/check-runs", token=token, json=body)
    assert too_long.status_code == 422
    output["text"] = "logs"
    made = api(standin, "POST", f"/repos/{REPO}/check-runs", token=token, json=body)
    assert made.status_code == 201
    expected = set(recorded("github/webhook-check_run.created.json")["check_run"])
    assert set(made.json()) == expected and made.json()["check_suite"].keys() == {"id"}
    assert made.json()["app"]["slug"] == SLUG


def test_a_commit_status_has_githubs_recorded_shape(
    standin: GitHubStandIn, source: GitRepoBuilder
) -> None:
    sha = _pushed(standin, source)
    body = {"state": "success", "context": "suture", "description": "d" * 141}
    assert api(standin, "POST", f"/repos/{REPO}/statuses/{sha}", json=body).status_code == 422
    body["description"] = "ok"
    made = api(standin, "POST", f"/repos/{REPO}/statuses/{sha}", json=body)
    recorded_status = recorded("github/rest-interactions.create-status.json")[0]["response"]
    assert made.status_code == 201 and set(made.json()) == set(recorded_status)
    unknown = api(standin, "POST", f"/repos/{REPO}/statuses/{'0' * 40}", json=body)
    assert unknown.json()["message"] == f"No commit found for SHA: {'0' * 40}"


# -- GitHub Apps ------------------------------------------------------------------------------


def test_installation_tokens_are_scoped_and_last_an_hour(
    standin: GitHubStandIn, key: AppKey
) -> None:
    made = _installation_token(standin, key, repositories=[NAME])
    assert made.status_code == 201
    body = made.json()
    assert body["token"].startswith("ghs_") and len(body["token"]) == 40
    assert [repo["full_name"] for repo in body["repositories"]] == [REPO]
    token = body["token"]
    assert api(standin, "GET", f"/repos/{REPO}", token=token).status_code == 200
    assert api(standin, "GET", f"/repos/{OTHER}", token=token).status_code == 404
    me = api(standin, "GET", "/user", token=token)
    assert (me.status_code, me.json()["message"]) == (
        403, "Resource not accessible by integration")
    elsewhere = _installation_token(standin, key, repositories=["private"])
    assert elsewhere.status_code == 422


def test_app_routes_check_the_jwt(standin: GitHubStandIn, key: AppKey) -> None:
    path = f"/repos/{REPO}/installation"
    good = {"Authorization": f"Bearer {_jwt(key)}"}
    assert api(standin, "GET", path, headers=good).json()["id"] == INSTALLATION
    assert api(standin, "GET", f"/repos/{PRIVATE}/installation", headers=good).status_code == 404
    forged = {"Authorization": f"Bearer {_jwt(make_key())}"}
    assert api(standin, "GET", path, headers=forged).status_code == 401
    expired = {"Authorization": f"Bearer {_jwt(key, exp=int(time.time()) - 120)}"}
    assert api(standin, "GET", path, headers=expired).status_code == 401
    too_long = {"Authorization": f"Bearer {_jwt(key, exp=int(time.time()) + 3600)}"}
    assert api(standin, "GET", path, headers=too_long).status_code == 401
    assert api(standin, "GET", "/app", headers=good).json()["slug"] == SLUG
