"""GitHubPulls reading a change back, where GitHub has its own ways (the shared part is in
`CodeHostContract`): reviews that join the conversation, bots told by `type` or `[bot]`, roles
behind GitHub's legacy `permission`, the merge commit the merge button writes, and failures that
must not read as "no"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from integrations.git.command import run_git
from integrations.github.pulls import GitHubPulls
from integrations.standins.github import GitHubStandIn
from tests.codehost_contract import fresh, push_commit
from tests.github_world import (
    NAME,
    OWNER,
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
from worker.codehost import Change, ChangeDraft
from worker.ports import TransientError


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
def host(standin: GitHubStandIn) -> Iterator[GitHubPulls]:
    adapter = unpaced(token_settings(standin))
    yield adapter
    adapter.close()


def _opened(host: GitHubPulls, source: GitRepoBuilder) -> Change:
    branch, marker = fresh("follow")
    push_commit(source.path, host.push_access(REPO), branch)
    return host.open_change(ChangeDraft(repo=REPO, branch=branch, base_branch="main",
                                        title="Fix the total", body=f"Fix.\n\n{marker}\n",
                                        marker=marker))


def test_reviews_with_text_join_the_conversation(
        standin: GitHubStandIn, host: GitHubPulls, source: GitRepoBuilder) -> None:
    number = _opened(host, source).number
    standin.comment(OWNER, NAME, number, "First look: the test is missing.", as_user=REVIEWER)
    asked = standin.review(OWNER, NAME, number, "Please add a test.", as_user=REVIEWER,
                           state="REQUEST_CHANGES")
    standin.review(OWNER, NAME, number, "", as_user=REVIEWER, state="APPROVED")
    standin.review(OWNER, NAME, number, "Not sent yet.", as_user=standin.login, state="PENDING")
    standin.comment(OWNER, NAME, number, "Done, thanks.", as_user=REVIEWER)

    said = host.comments(REPO, number)
    assert [c.body for c in said] == ["First look: the test is missing.", "Please add a test.",
                                      "Done, thanks."]
    assert said[1].id == str(asked["id"]) and said[1].url == asked["html_url"]
    assert "#pullrequestreview-" in said[1].url and "#issuecomment-" in said[0].url
    # GitHub lists a pending review to its author only; it is still not part of the conversation.
    listed = api(standin, "GET", f"/repos/{REPO}/pulls/{number}/reviews").json()
    assert [review["state"] for review in listed] == ["CHANGES_REQUESTED", "APPROVED", "PENDING"]
    assert "submitted_at" not in listed[2]


def test_bots_are_told_by_type_or_by_login(
        standin: GitHubStandIn, host: GitHubPulls, source: GitRepoBuilder, key: AppKey,
        tmp_path: Path) -> None:
    number = _opened(host, source).number
    standin.comment(OWNER, NAME, number, "Bump lodash.", as_user="dependabot[bot]")
    standin.comment(OWNER, NAME, number, "Deployed.", as_user="deploy-machine", bot=True)
    standin.comment(OWNER, NAME, number, "Thanks!", as_user=REVIEWER)
    app = unpaced(app_settings(standin, install_app(standin, key, tmp_path)))
    app.comment(REPO, number, "Evidence attached.")

    said = {c.author: c.author_is_bot for c in host.comments(REPO, number)}
    assert said == {"dependabot[bot]": True, "deploy-machine": True, REVIEWER: False,
                    f"{SLUG}[bot]": True}
    assert app.own_login(REPO) == f"{SLUG}[bot]" and host.own_login(REPO) == standin.login
    app.close()


@pytest.mark.parametrize(("role", "writes"), [("admin", True), ("maintain", True),
                                              ("write", True), ("triage", False),
                                              ("read", False), ("none", False)])
def test_can_write_reads_githubs_roles(standin: GitHubStandIn, host: GitHubPulls, role: str,
                                       writes: bool) -> None:
    standin.set_permission(OWNER, NAME, "dana", role)
    assert host.can_write(REPO, "dana") is writes
    answer = api(standin, "GET", f"/repos/{REPO}/collaborators/dana/permission").json()
    legacy = {"maintain": "write", "triage": "read"}.get(role, role)
    assert (answer["permission"], answer["role_name"]) == (legacy, role)


def test_the_owner_and_collaborators_may_write(standin: GitHubStandIn, host: GitHubPulls) -> None:
    standin.add_collaborator(OWNER, NAME, "hubot")  # GitHub's default role is write
    standin.add_account("visitor")
    assert host.can_write(REPO, OWNER) and host.can_write(REPO, "hubot")
    assert not host.can_write(REPO, "visitor")  # known to GitHub, may only read


def test_failures_are_not_a_no(standin: GitHubStandIn, host: GitHubPulls) -> None:
    standin.fail_server_error(502, times=3)  # a GET is retried twice before it gives up
    with pytest.raises(TransientError, match="502"):
        host.can_write(REPO, REVIEWER)
    standin.fail_secondary_rate_limit(retry_after=30)
    with pytest.raises(TransientError) as raised:
        host.can_write(REPO, REVIEWER)
    assert raised.value.retry_after == 30


def test_merging_writes_a_merge_commit_on_main(
        standin: GitHubStandIn, host: GitHubPulls, source: GitRepoBuilder) -> None:
    change = _opened(host, source)
    before = standin.git.branches(REPO)["main"]
    merge_sha = standin.merge_pull(OWNER, NAME, change.number, by=REVIEWER)

    bare = standin.git.repo_path(REPO)
    assert standin.git.branches(REPO)["main"] == merge_sha
    assert run_git(bare, "rev-list", "--parents", "-n1", merge_sha).split()[1:] == [
        before, change.head_sha]
    message = run_git(bare, "log", "-1", "--format=%s%n%an%n%cn", merge_sha).splitlines()
    assert message == [f"Merge pull request #{change.number} from {OWNER}/{change.branch}",
                       REVIEWER, "GitHub"]
    [pull] = standin.pulls(OWNER, NAME)
    assert (pull["state"], pull["merged"], pull["merge_commit_sha"]) == ("closed", True,
                                                                         merge_sha)
    assert pull["merged_by"]["login"] == REVIEWER and pull["commits"] == 1
    reopened = api(standin, "PATCH", f"/repos/{REPO}/pulls/{change.number}",
                   json={"state": "open"})
    assert reopened.status_code == 422


def test_closing_a_closed_change_sends_nothing(
        standin: GitHubStandIn, host: GitHubPulls, source: GitRepoBuilder) -> None:
    number = _opened(host, source).number
    standin.close_pull(OWNER, NAME, number)
    before = len(standin.calls)
    host.close_change(REPO, number, "Closing.")
    writes = [call for call in standin.calls[before:] if call.method != "GET"]
    assert writes == [] and host.change(REPO, number).state == "closed"


def test_an_unknown_account_is_told_apart_from_an_unknown_repository(
        standin: GitHubStandIn, host: GitHubPulls) -> None:
    assert host.can_write(REPO, "nobody-at-all") is False
    asked = [call.path for call in standin.calls if "nobody-at-all" in call.path
             or call.path == f"/repos/{REPO}"]
    assert asked == [f"/repos/{REPO}/collaborators/nobody-at-all/permission", f"/repos/{REPO}"]
