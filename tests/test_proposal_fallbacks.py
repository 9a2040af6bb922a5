"""What a proposal says when it cannot go as planned: a repository the credential cannot reach
or a role that cannot push leaves a ticket that says what was tried (with the verified patch); a
default branch that moved on is rebased onto when it can be, and named when it cannot; the
repository's own pull request template is kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from integrations.git import run_git
from integrations.standins.github import GitHubStandIn
from integrations.standins.gitlab import GitLabStandIn
from tests.proposal_hosts import GITHUB_TOKEN, GITLAB_TOKEN, Host, settings_for, verified_shop
from tests.support import make_app
from worker import stages
from worker.models import RunState

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is missing")

TEMPLATE = "## Checklist\n\n- [ ] I have added a changelog entry\n"
AUTHOR = {"GIT_AUTHOR_NAME": "Someone", "GIT_AUTHOR_EMAIL": "someone@shop.example",
          "GIT_COMMITTER_NAME": "Someone", "GIT_COMMITTER_EMAIL": "someone@shop.example"}


@pytest.fixture(scope="module")
def verified(tmp_path_factory):
    return verified_shop(tmp_path_factory.mktemp("verified"),
                         {".github/pull_request_template.md": TEMPLATE})


def publish(verified, tmp_path: Path, host: Host):
    snapshot, shop, run_id = verified
    db = tmp_path / "suture.db"
    shutil.copy(snapshot, db)
    app = make_app(tmp_path, settings=settings_for(db, tmp_path / "data", host.settings(),
                                                   shop.path))
    try:
        stages.publish(app.deps, run_id)
        return app.store.get_run(run_id)
    finally:
        app.close()


def ticket_text(tmp_path: Path) -> str:
    [ticket] = list((tmp_path / "data" / "tickets").rglob("*.md"))
    return ticket.read_text()


def moved_on(shop, folder: Path, files: dict[str, str]) -> Path:
    """A clone of the shop whose `main` has one more commit changing `files`."""
    run_git(folder.parent, "clone", "-q", str(shop.path), str(folder))
    for name, text in files.items():
        (folder / name).write_text(text)
    run_git(folder, "add", "-A")
    run_git(folder, "commit", "-q", "-m", "Moved on", env=AUTHOR)
    return folder


def test_a_repository_out_of_the_tokens_reach_gets_a_ticket_saying_so(verified, tmp_path):
    github = GitHubStandIn(token=GITHUB_TOKEN, git_root=tmp_path / "host")  # no acme/shop
    github.start()
    try:
        run = publish(verified, tmp_path, Host("github", github))
    finally:
        github.stop()
    assert run.state == RunState.TICKETED
    assert run.record.publication.fallback_reason.startswith(
        "a draft pull request could not be opened")
    text = ticket_text(tmp_path)
    assert "a draft pull request could not be opened" in text and "```diff" in text


def test_a_role_that_cannot_push_gets_a_ticket_saying_so(verified, tmp_path):
    _, shop, _ = verified
    gitlab = GitLabStandIn(token=GITLAB_TOKEN, projects=["acme/shop"], root=tmp_path / "host",
                           access_level=20)  # Reporter: may read, may not push
    gitlab.start()
    try:
        gitlab.seed_repo("acme/shop", shop.path)
        run = publish(verified, tmp_path, Host("gitlab", gitlab))
        assert gitlab.merge_requests("acme/shop") == []
    finally:
        gitlab.stop()
    assert run.state == RunState.TICKETED
    assert "Developer" in run.record.publication.fallback_reason
    assert "could not be opened" in ticket_text(tmp_path)


@pytest.mark.parametrize("conflicting", [False, True])
def test_a_default_branch_that_moved_on_is_rebased_onto_or_named(verified, tmp_path,
                                                                  conflicting):
    _, shop, _ = verified
    pricing = (shop.path / "shop" / "pricing.py").read_text()
    files = ({"shop/pricing.py": pricing.replace("// cart.count()", "// max(cart.count(), 1)")}
             if conflicting else {"README.md": "The shop, documented.\n"})
    remote_main = moved_on(shop, tmp_path / "upstream", files)
    github = GitHubStandIn(token=GITHUB_TOKEN, repos=["acme/shop"], git_root=tmp_path / "host")
    github.start()
    try:
        github.seed_repo("acme", "shop", remote_main)
        run = publish(verified, tmp_path, Host("github", github))
        [pull] = github.pulls("acme", "shop")
    finally:
        github.stop()
    assert run.state == RunState.PROPOSED, run.reason
    made = run.record.publication.pull_request
    main = run_git(remote_main, "rev-parse", "HEAD").strip()
    assert made.default_head == main and made.release == shop.head
    assert made.conflicts_with_default is conflicting and made.rebased is not conflicting
    body = pull["body"]
    if conflicting:
        assert "Does not apply cleanly on `main`" in body
        assert run_git(shop.path, "rev-parse", f"{made.head}^").strip() == shop.head
    else:
        assert "carried onto `main`" in body
        assert run_git(shop.path, "rev-parse", f"{made.head}^").strip() == main
    assert TEMPLATE.strip() in body  # the repository's own template, kept
