"""The contract every `CodeHost` adapter keeps, written once and run against each host.

A test module subclasses `CodeHostContract` (named `Test...` so pytest collects it) and provides a
`world` fixture: a `World` whose host is the adapter under test, wired to a stand-in of that host.
The contract speaks only through the port and the world's own views (`changes`, `checks`), so it
holds no vendor calls; `push_commit` is the one way a world pushes, with plain git and the
credential given only through git's credential helper (never in the URL or the argument list).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from integrations.git.command import run_git
from worker.codehost import ChangeDraft, CheckReport, PushAccess
from worker.ports import CodeHost, PermanentError

# The helper answers `get` with the two variables and nothing else; every other helper is off.
CREDENTIAL_HELPER = ('!f() { test "$1" = get && printf "username=%s\\npassword=%s\\n" '
                     '"$SUTURE_GIT_USERNAME" "$SUTURE_GIT_PASSWORD"; }; f')
HELPER_CONFIG = ("-c", "credential.helper=", "-c", f"credential.helper={CREDENTIAL_HELPER}")
_AUTHOR = {"GIT_AUTHOR_NAME": "Contract Test", "GIT_AUTHOR_EMAIL": "contract@example.invalid",
           "GIT_AUTHOR_DATE": "2026-02-01T00:00:00Z", "GIT_COMMITTER_NAME": "Contract Test",
           "GIT_COMMITTER_EMAIL": "contract@example.invalid",
           "GIT_COMMITTER_DATE": "2026-02-01T00:00:00Z"}


def push_commit(source: Path, access: PushAccess, branch: str, base: str = "main") -> str:
    """Commit a new file on top of `base` in the local repository `source` and push it as
    `branch` to `access.url`; the commit's sha. GitFailed when the host refuses the push."""
    run_git(source, "checkout", "--quiet", "-B", branch, base)
    (source / f"{branch.replace('/', '-')}.txt").write_text(f"{branch}\n", encoding="utf-8")
    run_git(source, "add", "--all")
    run_git(source, "commit", "--quiet", "-m", f"Change on {branch}", env=_AUTHOR)
    sha = run_git(source, "rev-parse", "HEAD").strip()
    run_git(source, "checkout", "--quiet", base)
    run_git(source, "push", "--quiet", access.url, f"{sha}:refs/heads/{branch}",
            config=HELPER_CONFIG,
            env={"SUTURE_GIT_USERNAME": access.username,
                 "SUTURE_GIT_PASSWORD": access.token.get_secret_value()})
    return sha


@dataclass
class World:
    """A code host under test and what the contract needs around it.

    `push(branch)` pushes a new commit as `branch` with the host's own push access and returns
    its sha; `changes()` is the host's view of every change of `repo` (dicts with number, draft,
    title, body, labels, reviewers, comments, branch, state; comments are what people wrote,
    not the host's event notes); `close(number)` closes one as a person would; `merge(number)`
    merges one as `reviewer` would, with a merge commit, and returns that commit's sha;
    `comment_as(number, body, login, bot)` comments as account `login` (a bot account when
    `bot`); `set_writer(login, may)` gives `login` a role that may push, or one that may only
    read; `checks()` lists the evidence attached to commits (dicts with sha, name, outcome);
    `add_check(sha, name, conclusion, summary)` has the host's CI report `conclusion`
    ("success", "failure" or "pending") as `name` on commit `sha`, `summary` (one word) being
    what the CI says of the failure; `reviewer` may review; `bot` is the host's own account;
    `foreign` is a repository the host's credential cannot reach."""

    host: CodeHost
    repo: str
    push: Callable[[str], str]
    changes: Callable[[], list[dict[str, Any]]]
    close: Callable[[int], None]
    merge: Callable[[int], str]
    comment_as: Callable[[int, str, str, bool], object]
    set_writer: Callable[[str, bool], None]
    checks: Callable[[], list[dict[str, Any]]]
    add_check: Callable[[str, str, str, str], object]
    reviewer: str
    bot: str
    foreign: str
    default_branch: str = "main"


def draft(world: World, branch: str, marker: str, **overrides: Any) -> ChangeDraft:
    """A draft change from `branch` into the default branch, labelled `bug`."""
    values: dict[str, Any] = {
        "repo": world.repo, "branch": branch, "base_branch": world.default_branch,
        "title": "Fix ZeroDivisionError in checkout.total",
        "body": f"Verified fix.\n\n{marker}\n", "marker": marker, "labels": ["bug"],
    }
    values.update(overrides)
    return ChangeDraft(**values)


def fresh(prefix: str) -> tuple[str, str]:
    """A branch name and a marker nobody has used."""
    tag = uuid.uuid4().hex[:10]
    return f"suture/{prefix}-{tag}", f"suture-fingerprint: {tag}"


class CodeHostContract:
    """What every `CodeHost` does; subclasses provide the `world` fixture."""

    @pytest.fixture
    def world(self) -> World:
        raise NotImplementedError("a host's test module provides the world")

    def test_is_a_code_host(self, world: World) -> None:
        assert isinstance(world.host, CodeHost)
        assert world.host.name

    def test_default_branch(self, world: World) -> None:
        assert world.host.default_branch(world.repo) == world.default_branch

    def test_opens_a_draft_with_its_labels(self, world: World) -> None:
        branch, marker = fresh("open")
        sha = world.push(branch)
        change = world.host.open_change(draft(world, branch, marker))

        assert (change.draft, change.adopted, change.state) == (True, False, "open")
        assert (change.branch, change.head_sha, change.repo) == (branch, sha, world.repo)
        [seen] = world.changes()
        assert seen["number"] == change.number and seen["draft"] is True
        assert seen["branch"] == branch
        assert seen["title"] == "Fix ZeroDivisionError in checkout.total"
        assert marker in seen["body"]
        assert "bug" in seen["labels"]

    def test_finds_a_change_by_branch_and_by_marker(self, world: World) -> None:
        branch, marker = fresh("find")
        world.push(branch)
        opened = world.host.open_change(draft(world, branch, marker))

        by_branch = world.host.find_change(world.repo, branch, "suture-fingerprint: other")
        by_marker = world.host.find_change(world.repo, "suture/never-pushed", marker)
        assert by_branch is not None and by_branch.number == opened.number
        assert by_marker is not None and by_marker.number == opened.number
        assert by_branch.adopted and by_marker.adopted
        assert world.host.find_change(world.repo, "suture/nothing", "suture-fp: none") is None

    def test_opening_twice_adopts_the_open_change(self, world: World) -> None:
        branch, marker = fresh("twice")
        world.push(branch)
        first = world.host.open_change(draft(world, branch, marker))
        second = world.host.open_change(draft(world, branch, marker, title="Another title"))

        assert second.adopted and not first.adopted
        assert second.number == first.number
        assert len(world.changes()) == 1

    def test_a_closed_change_is_still_found(self, world: World) -> None:
        branch, marker = fresh("closed")
        world.push(branch)
        opened = world.host.open_change(draft(world, branch, marker))
        world.close(opened.number)

        found = world.host.find_change(world.repo, branch, marker)
        assert found is not None and found.number == opened.number
        assert found.state == "closed"

    def test_comment_lands_on_the_change(self, world: World) -> None:
        branch, marker = fresh("comment")
        world.push(branch)
        change = world.host.open_change(draft(world, branch, marker))

        url = world.host.comment(world.repo, change.number, "Verification logs are attached.")
        assert url.startswith("http")
        [seen] = world.changes()
        assert seen["comments"] == ["Verification logs are attached."]

    def test_review_requests_skip_the_bot_and_unknown_accounts(self, world: World) -> None:
        branch, marker = fresh("review")
        world.push(branch)
        change = world.host.open_change(draft(world, branch, marker))
        unknown = "no-such-account-" + uuid.uuid4().hex[:6]

        asked = world.host.request_reviewers(world.repo, change.number,
                                             [world.reviewer, world.bot, unknown])
        assert asked.requested == [world.reviewer]
        assert set(asked.skipped) == {world.bot, unknown}
        assert all(reason.strip() for reason in asked.skipped.values())
        [seen] = world.changes()
        assert seen["reviewers"] == [world.reviewer]

    def test_report_check_lands_on_the_head_commit(self, world: World) -> None:
        branch, marker = fresh("check")
        sha = world.push(branch)
        world.host.open_change(draft(world, branch, marker))

        posted = world.host.report_check(world.repo, CheckReport(
            head_sha=sha, conclusion="success", title="Fix verified: 3 tests now pass",
            summary="The reproduction test fails before the fix and passes after it.",
            text="collected 3 items\n...\n3 passed", details_url="https://suture.example/runs/1"))
        assert posted.kind in ("check_run", "status")
        [check] = world.checks()
        assert (check["sha"], check["name"], check["outcome"]) == (sha, "suture", "success")

    def test_push_access_pushes_through_the_credential_helper(self, world: World) -> None:
        access = world.host.push_access(world.repo)
        assert access.token.get_secret_value()
        assert "@" not in access.url.split("//", 1)[-1].split("/", 1)[0]  # no credentials
        branch, marker = fresh("push")
        sha = world.push(branch)
        change = world.host.open_change(draft(world, branch, marker))
        assert change.head_sha == sha

    def test_push_access_refuses_a_repository_out_of_reach(self, world: World) -> None:
        with pytest.raises(PermanentError):
            world.host.push_access(world.foreign)

    # -- reading a change back ------------------------------------------------------------------

    def test_change_reads_an_open_change(self, world: World) -> None:
        branch, marker = fresh("read")
        sha = world.push(branch)
        opened = world.host.open_change(draft(world, branch, marker))

        now = world.host.change(world.repo, opened.number)
        assert (now.number, now.state, now.draft, now.branch) == (opened.number, "open", True,
                                                                  branch)
        assert (now.head_sha, now.url, now.merge_sha) == (sha, opened.url, "")
        assert now.author == opened.author == world.bot
        assert not now.adopted

    def test_a_merged_change_names_its_merge_commit(self, world: World) -> None:
        branch, marker = fresh("merged")
        sha = world.push(branch)
        opened = world.host.open_change(draft(world, branch, marker))
        merge_sha = world.merge(opened.number)

        now = world.host.change(world.repo, opened.number)
        assert (now.state, now.merge_sha, now.head_sha) == ("merged", merge_sha, sha)
        assert merge_sha != sha
        found = world.host.find_change(world.repo, branch, marker)
        assert found is not None and (found.state, found.merge_sha) == ("merged", merge_sha)
        assert found.author == world.bot

    def test_a_closed_change_has_no_merge_commit(self, world: World) -> None:
        branch, marker = fresh("unmerged")
        world.push(branch)
        opened = world.host.open_change(draft(world, branch, marker))
        world.close(opened.number)

        now = world.host.change(world.repo, opened.number)
        assert (now.state, now.merge_sha) == ("closed", "")

    def test_an_unknown_change_is_permanent(self, world: World) -> None:
        with pytest.raises(PermanentError):
            world.host.change(world.repo, 9999)
        with pytest.raises(PermanentError):
            world.host.comments(world.repo, 9999)

    def test_comments_are_the_conversation_oldest_first(self, world: World) -> None:
        branch, marker = fresh("talk")
        world.push(branch)
        change = world.host.open_change(draft(world, branch, marker))
        own = world.host.comment(world.repo, change.number, "Verification logs are attached.")
        world.comment_as(change.number, "/suture stop", world.reviewer, False)
        world.comment_as(change.number, "Coverage went down by 0.1%.", "coverage-helper", True)

        said = world.host.comments(world.repo, change.number)
        assert [c.body for c in said] == ["Verification logs are attached.", "/suture stop",
                                          "Coverage went down by 0.1%."]
        assert [c.author for c in said] == [world.bot, world.reviewer, "coverage-helper"]
        assert [c.author_is_bot for c in said[1:]] == [False, True]
        assert said[0].url == own and all(c.url.startswith("http") for c in said)
        assert len({c.id for c in said}) == 3 and all(c.id for c in said)
        stamps = [c.created_at for c in said if c.created_at is not None]
        assert len(stamps) == 3 and stamps == sorted(stamps)

    def test_a_change_nobody_spoke_on_has_no_comments(self, world: World) -> None:
        branch, marker = fresh("quiet")
        world.push(branch)
        change = world.host.open_change(draft(world, branch, marker))
        assert world.host.comments(world.repo, change.number) == []

    # -- who may push, and who suture is --------------------------------------------------------

    def test_can_write_follows_the_role(self, world: World) -> None:
        world.set_writer(world.reviewer, True)
        assert world.host.can_write(world.repo, world.reviewer) is True
        world.set_writer(world.reviewer, False)
        assert world.host.can_write(world.repo, world.reviewer) is False

    def test_an_unknown_account_cannot_write(self, world: World) -> None:
        unknown = "no-such-account-" + uuid.uuid4().hex[:6]
        assert world.host.can_write(world.repo, unknown) is False
        assert world.host.can_write(world.repo, "  ") is False

    def test_can_write_on_a_repository_out_of_reach_is_permanent(self, world: World) -> None:
        with pytest.raises(PermanentError):
            world.host.can_write(world.foreign, world.reviewer)

    def test_own_login_is_the_hosts_own_account(self, world: World) -> None:
        assert world.host.own_login(world.repo) == world.bot

    # -- closing ----------------------------------------------------------------------------------

    def test_close_change_comments_then_closes_once(self, world: World) -> None:
        branch, marker = fresh("close")
        world.push(branch)
        change = world.host.open_change(draft(world, branch, marker))

        world.host.close_change(world.repo, change.number, "Closing: the error stopped.")
        world.host.close_change(world.repo, change.number, "Closing: the error stopped.")
        assert world.host.change(world.repo, change.number).state == "closed"
        [seen] = world.changes()
        assert seen["comments"] == ["Closing: the error stopped."]

    def test_close_change_does_not_repeat_a_comment_it_already_left(self, world: World) -> None:
        branch, marker = fresh("crash")
        world.push(branch)
        change = world.host.open_change(draft(world, branch, marker))
        world.host.comment(world.repo, change.number, "Closing: superseded.")  # then a crash

        world.host.close_change(world.repo, change.number, "Closing: superseded.")
        assert world.host.change(world.repo, change.number).state == "closed"
        [seen] = world.changes()
        assert seen["comments"] == ["Closing: superseded."]

    def test_close_change_without_a_comment(self, world: World) -> None:
        branch, marker = fresh("silent")
        world.push(branch)
        change = world.host.open_change(draft(world, branch, marker))

        world.host.close_change(world.repo, change.number)
        assert world.host.change(world.repo, change.number).state == "closed"
        [seen] = world.changes()
        assert seen["comments"] == []

    def test_close_change_leaves_a_merged_change_alone(self, world: World) -> None:
        branch, marker = fresh("done")
        world.push(branch)
        change = world.host.open_change(draft(world, branch, marker))
        merge_sha = world.merge(change.number)

        world.host.close_change(world.repo, change.number, "Closing: no longer needed.")
        now = world.host.change(world.repo, change.number)
        assert (now.state, now.merge_sha) == ("merged", merge_sha)
        [seen] = world.changes()
        assert seen["comments"] == []

    # -- a commit's CI result -------------------------------------------------------------------

    def test_a_commit_without_ci_has_no_result(self, world: World) -> None:
        sha = world.push(fresh("no-ci")[0])
        assert world.host.check_result(world.repo, sha, "ci/test") is None
        world.add_check(sha, "ci/lint", "failure", "flake8")
        assert world.host.check_result(world.repo, sha, "ci/test") is None

    def test_a_passing_check(self, world: World) -> None:
        sha = world.push(fresh("ci-pass")[0])
        world.add_check(sha, "ci/test", "success", "")

        result = world.host.check_result(world.repo, sha, "ci/test")
        assert result is not None
        assert (result.name, result.conclusion) == ("ci/test", "success")
        assert result.url.startswith("http")

    def test_a_failing_check_says_why(self, world: World) -> None:
        sha = world.push(fresh("ci-fail")[0])
        world.add_check(sha, "ci/test", "failure", "test_checkout_total")

        result = world.host.check_result(world.repo, sha, "ci/test")
        assert result is not None and result.conclusion == "failure"
        assert "test_checkout_total" in result.summary
        assert result.url.startswith("http")

    def test_a_running_check_is_pending(self, world: World) -> None:
        sha = world.push(fresh("ci-run")[0])
        world.add_check(sha, "ci/test", "pending", "")

        result = world.host.check_result(world.repo, sha, "ci/test")
        assert result is not None and result.conclusion == "pending"

    def test_the_latest_check_wins(self, world: World) -> None:
        fixed = world.push(fresh("ci-rerun")[0])
        world.add_check(fixed, "ci/test", "failure", "test_flaky")
        world.add_check(fixed, "ci/test", "success", "")
        broken = world.push(fresh("ci-broke")[0])
        world.add_check(broken, "ci/test", "success", "")
        world.add_check(broken, "ci/test", "failure", "test_checkout_total")
        world.add_check(broken, "ci/lint", "success", "")

        now_fixed = world.host.check_result(world.repo, fixed, "ci/test")
        now_broken = world.host.check_result(world.repo, broken, "ci/test")
        assert now_fixed is not None and now_fixed.conclusion == "success"
        assert now_broken is not None and now_broken.conclusion == "failure"
        assert "test_checkout_total" in now_broken.summary
