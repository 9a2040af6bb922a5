"""GitLabMergeRequests reading a change back, where GitLab has its own ways (the shared part is
in `CodeHostContract`): system notes left out, the `bot` flag a note's author lacks looked up
once, squashed merges, roles by access level, closing with `state_event`, and failures that
must not read as "no"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gitlab
import pytest
from gitlab.v4.objects import ProjectMergeRequest
from pydantic import SecretStr

from integrations.git.command import run_git
from integrations.gitlab import GitLabMergeRequests
from integrations.gitlab.following import change_record
from integrations.standins.gitlab import GitLabStandIn
from tests.codehost_contract import fresh, push_commit
from tests.gitrepo import GitRepoBuilder
from worker.codehost import Change, ChangeDraft
from worker.ports import PermanentError, TransientError
from worker.settings import GitLabSettings

TOKEN = "glpat-follow-token"
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
        running.add_user("octocat")
        yield running


@pytest.fixture
def host(standin: GitLabStandIn) -> Iterator[GitLabMergeRequests]:
    adapter = GitLabMergeRequests(GitLabSettings(base_url=standin.url, token=SecretStr(TOKEN)),
                                  timeout=5)
    yield adapter
    adapter.close()


def _opened(host: GitLabMergeRequests, source: GitRepoBuilder) -> Change:
    branch, marker = fresh("follow")
    push_commit(source.path, host.push_access(REPO), branch)
    return host.open_change(ChangeDraft(repo=REPO, branch=branch, base_branch="main",
                                        title="Fix the total", body=f"Fix.\n\n{marker}\n",
                                        marker=marker))


def test_system_notes_are_left_out_and_bots_are_looked_up_once(
        standin: GitLabStandIn, host: GitLabMergeRequests, source: GitRepoBuilder) -> None:
    number = _opened(host, source).number
    host.comment(REPO, number, "Verification logs are attached.")
    standin.add_note(REPO, number, "requested review from @octocat", as_user="suture-bot",
                     system=True)
    standin.add_note(REPO, number, "/suture stop", as_user="octocat")
    standin.add_note(REPO, number, "Pipeline passed.", as_user="project_7_bot_3f2a", bot=True)

    said = host.comments(REPO, number)
    assert [(c.author, c.body, c.author_is_bot) for c in said] == [
        ("suture-bot", "Verification logs are attached.", True),
        ("octocat", "/suture stop", False),
        ("project_7_bot_3f2a", "Pipeline passed.", True)]
    assert said[1].url.endswith(f"/-/merge_requests/{number}#note_{said[1].id}")
    listed = [call for call in standin.calls if call.path.endswith(f"/{number}/notes")
              and call.method == "GET"]
    assert listed and listed[0].arg("sort") == "asc"
    host.comments(REPO, number)
    profiles = [call for call in standin.calls if call.path.startswith("/api/v4/users/")]
    assert len(profiles) == 3  # one per author, however often the notes are read


def test_a_squashed_fast_forward_names_the_squash_commit(
        standin: GitLabStandIn, host: GitLabMergeRequests, source: GitRepoBuilder) -> None:
    change = _opened(host, source)
    before = standin.git.branches(REPO)["main"]
    squashed = standin.merge(REPO, change.number, by="octocat", squash=True)

    now = host.change(REPO, change.number)
    assert (now.state, now.merge_sha, now.head_sha) == ("merged", squashed, change.head_sha)
    assert run_git(standin.git.repo_path(REPO), "rev-list", "--parents", "-n1",
                   squashed).split()[1:] == [before]
    [stored] = standin.merge_requests(REPO)
    assert (stored["merge_commit_sha"], stored["squash_commit_sha"]) == (None, squashed)
    assert stored["merge_user"]["username"] == "octocat"
    assert [note["body"] for note in stored["notes"] if note["system"]] == ["merged"]


def test_a_merge_commit_joins_main_and_the_change(
        standin: GitLabStandIn, host: GitLabMergeRequests, source: GitRepoBuilder) -> None:
    change = _opened(host, source)
    before = standin.git.branches(REPO)["main"]
    merged = standin.merge(REPO, change.number, by="octocat")

    bare = standin.git.repo_path(REPO)
    assert standin.git.branches(REPO)["main"] == merged
    assert run_git(bare, "rev-list", "--parents", "-n1", merged).split()[1:] == [
        before, change.head_sha]
    assert run_git(bare, "log", "-1", "--format=%s", merged).strip() == (
        f"Merge branch '{change.branch}' into 'main'")


def test_a_plain_fast_forward_names_the_head() -> None:
    manager = gitlab.Gitlab("http://gitlab.invalid").projects.get(1, lazy=True).mergerequests
    merge_request = ProjectMergeRequest(manager, {
        "iid": 4, "state": "merged", "web_url": "http://gitlab.invalid/a/b/-/merge_requests/4",
        "source_branch": "fix", "sha": "a" * 40, "merge_commit_sha": None,
        "squash_commit_sha": None, "author": {"username": "dana"}})
    change = change_record(merge_request, "a/b", adopted=False)
    assert (change.state, change.merge_sha, change.author) == ("merged", "a" * 40, "dana")


@pytest.mark.parametrize(("level", "writes"), [(10, False), (20, False), (30, True),
                                                (40, True), (50, True), (0, False)])
def test_can_write_needs_the_developer_role(standin: GitLabStandIn, host: GitLabMergeRequests,
                                            level: int, writes: bool) -> None:
    standin.set_access(REPO, "dana", level)
    assert host.can_write(REPO, "dana") is writes


def test_non_members_blocked_accounts_and_suture_itself(
        standin: GitLabStandIn, host: GitLabMergeRequests) -> None:
    standin.add_user("carol", member=False)
    standin.add_user("eve", state="blocked")
    assert not host.can_write(REPO, "carol") and not host.can_write(REPO, "eve")
    assert host.can_write(REPO, "Suture-Bot")  # usernames compare case-insensitively
    assert host.own_login(REPO) == "suture-bot"


def test_failures_are_not_a_no(standin: GitLabStandIn, host: GitLabMergeRequests) -> None:
    standin.fail_rate_limit(retry_after=30)
    with pytest.raises(TransientError) as raised:
        host.can_write(REPO, "octocat")
    assert raised.value.retry_after == 30
    with pytest.raises(PermanentError, match="404 Project Not Found"):
        host.can_write("acme/elsewhere", "octocat")


def test_close_change_closes_with_state_event_as_suture(
        standin: GitLabStandIn, host: GitLabMergeRequests, source: GitRepoBuilder) -> None:
    number = _opened(host, source).number
    host.close_change(REPO, number, "Closing: superseded.")

    [stored] = standin.merge_requests(REPO)
    assert (stored["state"], stored["closed_by"]["username"]) == ("closed", "suture-bot")
    assert [(note["body"], note["system"]) for note in stored["notes"]] == [
        ("Closing: superseded.", False), ("closed", True)]
    closes = [call for call in standin.calls if call.method == "PUT"]
    assert len(closes) == 1 and b"state_event" in closes[0].body
