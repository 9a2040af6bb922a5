"""The fix loop in the pipeline: agents propose, verification decides, budgets and cooldowns hold.

Real sample repository with seeded bugs, real sentry-sdk events, the real bubblewrap sandbox, the
in-memory broker and SQLite; the tool-loop agent talks to a scripted chat-completions stand-in.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from integrations.standins.chat import ChatStandIn, tool_call
from tests.support import compact, drain, make_app
from worker.demo.sample import build_sample_repo, capture_crash
from worker.models import ClusterStatus, RunState

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is missing")

# Each bug: the request that crashes, the file the fix changes, and the sample history's
# commit (0-based) that brought the bug in with its feature.
BUGS = {
    "zero-division": ("/cart/average", "cart=empty", "shop/pricing.py", 1),
    "attribute-none": ("/cart/owner", "cart=empty", "shop/customers.py", 2),
    "key-error": ("/cart/discount", "cart=full&code=NOPE", "shop/discounts.py", 3),
}


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    return build_sample_repo(tmp_path_factory.mktemp("sample") / "shop")


def settings_for(repo_path: Path, tmp_path: Path, **fix: object) -> dict:
    return {"services": [{"name": "shop", "sentry_project": "shop", "repository": str(repo_path),
                          "slug": "acme/shop", "test_command": "python -m pytest -q"}],
            "data_dir": tmp_path / "data", "fix": fix}


def deliver_crash(app, shop, path: str, query: str) -> None:
    event = capture_crash(shop, path=path, query=query)
    event["project"] = "shop"
    delivery_id = app.store.add_delivery("file", "file", compact(event), event)[0]
    app.actors.ingest_delivery.send(delivery_id)
    drain(app)


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_fix_templates_produce_a_verified_fix_for_each_seeded_bug(shop, tmp_path, bug):
    path, query, crash_file, introduced = BUGS[bug]
    app = make_app(tmp_path, settings=settings_for(shop.path, tmp_path))
    deliver_crash(app, shop, path, query)
    [run] = app.store.list_runs()
    states = [t.to_state for t in app.store.transitions(run.id)]
    assert RunState.VERIFIED in states, [t.reason for t in app.store.transitions(run.id)]
    assert run.state == RunState.TICKETED
    fixed = run.record.fix
    chosen = fixed.chosen
    assert chosen.agent == "templates" and f"+++ b/{crash_file}" in chosen.patch
    assert chosen.verification.verified is True
    assert fixed.verify_audit, "every sandboxed command is audited on the run"
    bisection = fixed.bisection
    assert bisection.culprit == shop.commits[introduced], bisection
    assert len(bisection.probes) <= 3
    [ticket] = list((tmp_path / "tickets").rglob("*.md"))
    text = ticket.read_text()
    assert "```diff" in text
    assert f"**Found by bisection with a reproduction test:** `{shop.commits[introduced][:12]}`" \
        in text
    app.close()


def fix_script(body: dict, index: int) -> dict:
    """A model that reads the crashing file, guards the division, adds a test and stops."""
    steps = [
        {"tool_calls": [tool_call("read_file", {"path": "shop/pricing.py"}, "c1")]},
        {"tool_calls": [tool_call("edit_file", {
            "path": "shop/pricing.py", "old": "    return cart.total_cents() // cart.count()",
            "new": "    count = cart.count()\n"
                   "    return cart.total_cents() // count if count else 0"}, "c2")]},
        {"tool_calls": [tool_call("write_file", {
            "path": "tests/test_average_of_empty_cart.py",
            "content": "from shop.cart import Cart\nfrom shop.pricing import average_item_price"
                       "\n\n\ndef test_empty_cart_averages_zero():\n"
                       "    assert average_item_price(Cart([])) == 0\n"}, "c3")]},
        {"content": "Guarded the division and added a regression test."},
    ]
    return steps[min(index, len(steps) - 1)]


def tool_loop_run(shop, tmp_path, chat):
    """The empty-cart crash through a pipeline whose only agent is the tool loop on `chat`."""
    playbooks = tmp_path / "playbooks"
    shutil.copytree(Path(__file__).resolve().parents[1] / "playbooks", playbooks)
    zero = playbooks / "zero-division.yaml"
    zero.write_text(zero.read_text().replace("  - kind: templates\n", ""))
    app = make_app(tmp_path, settings={
        **settings_for(shop.path, tmp_path, agent={"base_url": chat.url, "api_key": "k"}),
        "playbooks_dir": playbooks})
    deliver_crash(app, shop, "/cart/average", "cart=empty")
    [run] = app.store.list_runs()
    return app, run


def test_the_tool_loop_produces_a_verified_fix_through_the_pipeline(shop, tmp_path):
    with ChatStandIn(fix_script) as chat:
        app, run = tool_loop_run(shop, tmp_path, chat)
        assert run.record.fix.chosen.agent == "toolloop", run.reason
        assert any(t.to_state == RunState.VERIFIED for t in app.store.transitions(run.id))
        assert len(chat.chat_requests) == 4
        app.close()


def script_adding_only_a_test(body: dict, index: int) -> dict:
    """A model that adds the regression test but never fixes the code."""
    return fix_script(body, 2 if index == 0 else 3)


def test_an_unverified_attempt_whose_test_shows_the_crash_is_still_bisected(shop, tmp_path):
    with ChatStandIn(script_adding_only_a_test) as chat:
        app, run = tool_loop_run(shop, tmp_path, chat)
        unverified = next(t for t in app.store.transitions(run.id)
                          if t.to_state == RunState.UNVERIFIED)
        assert "reproduction test fails on the fix" in unverified.reason
        bisection = run.record.fix.bisection
        assert bisection.culprit == shop.commits[1], bisection
        assert bisection.probes[0].sha == shop.commits[-1], "the base is checked first"
        assert unverified.reason.endswith(f"the crash started at {shop.commits[1][:12]}")
        app.close()


@pytest.mark.parametrize(("fix", "reason"), [
    ({"enabled": False}, "switched off"),
    ({"max_runs_per_day": 0}, "daily budget"),
    ({"max_runs_per_repo_per_day": 0}, "fix runs for shop is spent"),
])
def test_budgets_and_the_kill_switch_skip_the_fix_with_their_reason(shop, tmp_path, fix, reason):
    app = make_app(tmp_path, settings=settings_for(shop.path, tmp_path, **fix))
    deliver_crash(app, shop, "/cart/average", "cart=empty")
    [run] = app.store.list_runs()
    unverified = [t for t in app.store.transitions(run.id) if t.to_state == RunState.UNVERIFIED]
    assert unverified and reason in unverified[0].reason
    assert run.state == RunState.TICKETED and run.record.fix is None
    app.close()


def test_a_cluster_whose_fix_failed_waits_for_the_cooldown(shop, tmp_path):
    app = make_app(tmp_path, settings=settings_for(shop.path, tmp_path))
    deliver_crash(app, shop, "/cart/average", "cart=empty")
    [first] = app.store.list_runs()
    # Pretend the first fix was rejected, then see the bug come back.
    app.store.transition(first.id, RunState.TICKETED, RunState.UNVERIFIED,
                         "verification rejected every patch (test)")
    app.store.set_cluster_status(first.cluster_id, ClusterStatus.RESOLVED)
    deliver_crash(app, shop, "/cart/average", "cart=empty")
    second = app.store.list_runs()[-1]
    assert second.episode == 2
    reasons = [t.reason for t in app.store.transitions(second.id)]
    assert any("cooldown" in reason for reason in reasons), reasons
    app.close()


def test_a_playbook_that_switches_the_suite_off_verifies_without_it_and_says_so(shop, tmp_path):
    playbooks = tmp_path / "playbooks"
    shutil.copytree(Path(__file__).resolve().parents[1] / "playbooks", playbooks)
    chosen = playbooks / "zero-division.yaml"
    chosen.write_text(chosen.read_text().replace("  suite: true", "  suite: false"))
    settings = {**settings_for(shop.path, tmp_path), "playbooks_dir": playbooks}
    app = make_app(tmp_path, settings=settings)
    deliver_crash(app, shop, "/cart/average", "cart=empty")
    [run] = app.store.list_runs()
    verified = next(t for t in app.store.transitions(run.id) if t.to_state == RunState.VERIFIED)
    assert "the suite did not run: switched off by the playbook" in verified.reason
    verdict = run.record.fix.chosen.verification
    assert not verdict.suite.ran and verdict.reproduction.reproduced
    # Only the narrowed reproduction ran: never the whole test command.
    assert all(c.argv[-1] != "python -m pytest -q" for c in run.record.fix.verify_audit)
    [ticket] = list((tmp_path / "tickets").rglob("*.md"))
    assert "The test suite did\nnot run: switched off by the playbook" in ticket.read_text()
    app.close()
