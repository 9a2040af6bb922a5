"""The repository's environment in the pipeline: the fix and verify stages run the agents and
the tests inside it, the run records it, and a setup that fails still files a ticket that says
why.

The sample shop gets one more commit: a `requirements.txt` naming a real PyPI package that its
tests import (as a real application's do). The environment is built for real, in the bubblewrap
sandbox, through the egress proxy to PyPI.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.gitrepo import GitRepoBuilder, git
from tests.support import compact, drain, make_app
from tests.test_env_build import needs
from tests.test_verify import patch_of
from worker.cli import cli
from worker.demo.sample import SampleRepo, build_sample_repo, capture_crash
from worker.models import RunState

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is missing")

AUTHOR = {"GIT_AUTHOR_NAME": "Mary Jackson", "GIT_AUTHOR_EMAIL": "mary@example.com",
          "GIT_COMMITTER_NAME": "Mary Jackson", "GIT_COMMITTER_EMAIL": "mary@example.com"}
CONFTEST = "import tomli_w  # noqa: F401  (the tests need the package installed)\n"


def shop_needing(tmp_path: Path, requirement: str) -> SampleRepo:
    """The sample shop, whose tests now import a package it declares in requirements.txt."""
    shop = build_sample_repo(tmp_path / "shop")
    (shop.path / "requirements.txt").write_text(f"{requirement}\n")
    (shop.path / "tests" / "conftest.py").write_text(CONFTEST)
    git(shop.path, "add", "-A")
    git(shop.path, "commit", "-q", "-m", "Tests use tomli-w", env=AUTHOR)
    head = git(shop.path, "rev-parse", "HEAD").strip()
    return SampleRepo(path=shop.path, commits=[*shop.commits, head])


def crash_through_the_pipeline(tmp_path: Path, shop: SampleRepo, *, environments: bool = True):
    settings = {"services": [{"name": "shop", "sentry_project": "shop",
                              "repository": str(shop.path), "slug": "acme/shop",
                              "test_command": "python -m pytest -q"}],
                "data_dir": tmp_path / "data", "env": {"cache_dir": tmp_path / "envs"}}
    app = make_app(tmp_path, settings=settings)
    if not environments:
        app.deps.environments = None
    event = capture_crash(shop, path="/cart/average", query="cart=empty")
    event["project"] = "shop"
    app.actors.ingest_delivery.send(app.store.add_delivery("file", "file", compact(event),
                                                           event)[0])
    drain(app)
    [run] = app.store.list_runs()
    return app, run


def reasons_of(app, run) -> list[str]:
    return [t.reason for t in app.store.transitions(run.id)]


def test_a_shop_whose_tests_need_a_package_is_verified_in_its_environment(tmp_path):
    needs("pypi.org")
    shop = shop_needing(tmp_path, "tomli-w")
    app, run = crash_through_the_pipeline(tmp_path, shop)
    assert any(t.to_state == RunState.VERIFIED for t in app.store.transitions(run.id)), \
        reasons_of(app, run)
    environment = run.record.fix.environment
    assert environment.key and "requirements.txt" in environment.source
    verdict = run.record.fix.chosen.verification
    assert verdict.suite.counts.ran_on_base > 0 and verdict.reproduction.reproduced
    [ticket] = list((tmp_path / "tickets").rglob("*.md"))
    assert "Tests ran in the repository's own environment" in ticket.read_text()
    app.close()


def test_without_its_environment_the_same_fix_could_not_be_verified(tmp_path):
    shop = shop_needing(tmp_path, "tomli-w")
    app, run = crash_through_the_pipeline(tmp_path, shop, environments=False)
    unverified = next(t for t in app.store.transitions(run.id)
                      if t.to_state == RunState.UNVERIFIED)
    # The suite cannot even start on base (its conftest imports tomli_w), and the template
    # agent could keep no reproduction test, since none runs either.
    assert "the test command fails on base as a whole" in unverified.reason, unverified.reason
    assert "No module named 'tomli_w'" in unverified.reason
    assert not any(t.to_state == RunState.VERIFIED for t in app.store.transitions(run.id))
    app.close()


def test_a_setup_that_fails_still_files_a_ticket_saying_why(tmp_path):
    needs("pypi.org")
    shop = shop_needing(tmp_path, "suture-no-such-package-anywhere==0.0.1")
    app, run = crash_through_the_pipeline(tmp_path, shop)
    assert run.state == RunState.TICKETED
    failure = run.record.fix.environment_failure
    assert failure is not None and failure.log and "requirements.txt" in failure.source
    assert any("the repository's environment could not be built" in r
               for r in reasons_of(app, run)), reasons_of(app, run)
    [ticket] = list((tmp_path / "tickets").rglob("*.md"))
    text = ticket.read_text()
    assert "The repository's environment could not be built" in text
    assert "suture-no-such-package-anywhere" in text
    app.close()


PRICING = "def average(prices):\n    return sum(prices) // len(prices)\n"
FIXED = "def average(prices):\n    return sum(prices) // len(prices) if prices else 0\n"
TESTS = ("import tomli_w\n\nfrom shop.pricing import average\n\n\n"
         "def test_average():\n    assert tomli_w.dumps({'a': average([2, 4])}) == 'a = 3\\n'\n")
REPRO = "\n\ndef test_average_of_nothing():\n    assert average([]) == 0\n"


def test_suture_verify_builds_the_environment_from_setup_commands_then_reuses_it(tmp_path):
    needs("pypi.org")
    repo = GitRepoBuilder(tmp_path / "repo")
    repo.commit({"shop/__init__.py": "", "shop/pricing.py": PRICING,
                 "tests/test_pricing.py": TESTS}, "Prices")
    patch = patch_of(repo, {"shop/pricing.py": FIXED, "tests/test_pricing.py": TESTS + REPRO})
    (tmp_path / "fix.patch").write_text(patch)
    arguments = ["verify", "--repo", str(repo.path), "--base", "main", "--patch",
                 str(tmp_path / "fix.patch"), "--setup-command",
                 "python -m pip install tomli-w pytest", "--test-command",
                 "python -m pytest -q {tests}", "--json"]
    first = CliRunner().invoke(cli, arguments)
    assert first.exit_code == 0, first.output
    shown = json.loads(first.output)
    assert shown["status"] == "verified" and shown["suite"]["counts"]["ran_on_base"] == 1
    assert shown["environment"]["reused"] is False
    assert shown["environment"]["commands"] == ["python -m pip install tomli-w pytest"]
    second = json.loads(CliRunner().invoke(cli, arguments).output)
    assert second["status"] == "verified" and second["environment"]["reused"] is True
    assert second["environment"]["key"] == shown["environment"]["key"]
