"""Waiting is not failing: a run waiting on a live publication lease spends no attempt and is
not re-sent, and settings that contradict each other are refused at start.

The crash test reproduces what was seen: a worker is killed right after GitHub created the
run's ticket and before the store learned of it, leaving its lease behind. The restarted worker
runs with the reconciler's `stuck_after_seconds` far below the lease (as in the incident: 30 s
against 180 s), and the reconciler runs often. The run must wait for the dead worker's lease,
find the ticket the dead worker filed by its marker, and end with that one ticket recorded.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from integrations.standins.base import recorded
from integrations.standins.github import GitHubStandIn
from tests.kill_publish import KILLED, publish_killed
from tests.support import SECRET, compact
from tests.test_store import event
from worker import stages
from worker.app import build_app
from worker.models import RunState
from worker.reconcile import reconcile
from worker.settings import ConfigError, load_settings
from worker.stages.publish import READY
from worker.store.waiting import live_leases, refund_attempt

TOKEN = "waiting-test-token"
LEASE = 6.0  # seconds the dead worker's publication lease lasts here
SHOP = [{"name": "shop", "sentry_project": "front-end", "repository": ".", "slug": "acme/shop"}]


@pytest.fixture
def github():
    standin = GitHubStandIn(token=TOKEN)
    standin.add_repo("acme", "shop")
    standin.start()
    yield standin
    standin.stop()


def settings_values(tmp_path: Path, github: GitHubStandIn) -> dict[str, Any]:
    return {"database_url": f"sqlite:///{tmp_path / 'suture.db'}", "data_dir": str(tmp_path),
            "tickets_dir": str(tmp_path / "tickets"), "forge": "github",
            "github": {"base_url": github.url, "token": TOKEN},
            "sentry": {"client_secret": SECRET}, "services": SHOP, "fix": {"enabled": False},
            "publish_lease_seconds": LEASE, "stuck_after_seconds": int(LEASE)}


def ready_to_publish(values: dict[str, Any]) -> int:
    """Take one Sentry alert through every stage before publishing; the run's id."""
    app = build_app(load_settings(None, **values))
    try:
        payload = recorded("sentry/webhook-event-alert-triggered.json")
        delivery_id, _ = app.store.add_delivery("sentry", "event_alert", compact(payload),
                                                payload)
        [run_id] = stages.ingest_delivery(app.deps, delivery_id).run_ids
        for stage in (stages.triage, stages.correlate, stages.fix):
            stage(app.deps, run_id)
        run = app.store.get_run(run_id)
        assert run is not None and run.state in READY, run
        return run_id
    finally:
        app.close()


def kill_while_filing(tmp_path: Path, values: dict[str, Any], run_id: int) -> None:
    """Publish in another process, which dies once GitHub has created the ticket."""
    settings_file = tmp_path / "settings.json"
    settings_file.write_text(json.dumps(values))
    code, output = publish_killed(settings_file, run_id, "ticket-created", timeout=120)
    assert code == KILLED, output[-2000:]


def test_a_worker_killed_mid_create_leaves_one_recorded_ticket_under_a_short_stuck_after(
        tmp_path, github):
    values = settings_values(tmp_path, github)
    run_id = ready_to_publish(values)
    kill_while_filing(tmp_path, values, run_id)
    [issue] = github.issues("acme", "shop")  # filed on the forge; the store never heard back
    assert "suture:ticket:" in issue["body"]

    # The incident's settings, as a configuration written before the start-up check would
    # have had them: `load_settings` refuses these now, so they are made without it.
    checked = load_settings(None, **values)
    incident = checked.model_copy(update={"stuck_after_seconds": 1, "max_attempts": 3,
                                          "reconcile_interval_seconds": 1})
    app = build_app(incident)
    worker = app.worker(threads=1)
    worker.start()
    resent_while_leased: list[int] = []
    try:
        run = app.store.get_run(run_id)
        assert run is not None and run.state == RunState.PUBLISHING
        app.actors.publish_run.send(run_id)  # the broker's redelivery of the dead worker's job
        deadline = time.monotonic() + 90
        while not run.state.terminal and time.monotonic() < deadline:
            leased = live_leases(app.store, datetime.now(UTC))
            report = app.reconcile()
            done = datetime.now(UTC)
            # Only a lease still live when the pass was over was live throughout it: one that
            # ran out during the pass may rightly be re-sent by it.
            resent_while_leased += [rid for rid in report.runs
                                    if rid in leased and leased[rid] > done]
            time.sleep(0.25)
            run = app.store.get_run(run_id)
            assert run is not None
        reasons = [t.reason for t in app.store.transitions(run_id)]
        publications = app.store.count_publications("ticket")
    finally:
        worker.stop()
        app.close()

    assert run.state == RunState.TICKETED, reasons
    assert not any("gave up" in reason for reason in reasons), reasons
    assert resent_while_leased == []
    assert len(github.issues("acme", "shop")) == 1  # the dead worker's ticket, adopted
    assert run.ticket_url and run.ticket_url.endswith(f"/issues/{issue['number']}")
    assert publications == 1


def test_a_run_waiting_on_a_live_lease_spends_no_attempt_and_is_not_resent(tmp_path, github):
    values = settings_values(tmp_path, github)
    run_id = ready_to_publish(values)
    app = build_app(load_settings(None, **values))
    try:
        run = app.store.get_run(run_id)
        assert run is not None
        app.store.transition(run_id, run.state, RunState.PUBLISHING, "publishing (test)")
        key = f"ticket:{app.store.get_cluster(run.cluster_id).fingerprint}:{run.episode}"
        held = app.store.lease_publication(key, run_id, "ticket", "another-worker", 600)
        assert held.owned

        for _ in range(app.settings.max_attempts + 2):  # as many deliveries as would fail it
            app.actors.publish_run.fn(run_id)
        run = app.store.get_run(run_id)
        assert run is not None and run.state == RunState.PUBLISHING and run.attempts == 0

        later = datetime.now(UTC) + timedelta(seconds=app.settings.stuck_after_seconds + 1)
        assert run_id in live_leases(app.store, later)
        assert reconcile(app.deps, app.actors, later).runs == []  # waiting, not stuck
        expired = held.until + timedelta(seconds=1) if held.until else later
        # The holder is gone once its lease has run out: the run is re-sent like any other.
        assert reconcile(app.deps, app.actors, expired).runs == [run_id]
    finally:
        app.close()


@pytest.mark.parametrize(("overrides", "words"), [
    ({"stuck_after_seconds": 30, "publish_lease_seconds": 180},
     ["stuck_after_seconds (30)", "publish_lease_seconds (180"]),
    ({"notify": {"timeout_seconds": 200, "slack_webhook_url": "https://hooks.example/x"},
      "publish_lease_seconds": 180,
      "stuck_after_seconds": 300},
     ["notify.timeout_seconds (200", "publish_lease_seconds (180"]),
    ({"env": {"setup_seconds": 7200}},
     ["env.setup_seconds (7200)", "SUTURE_ENV__SETUP_SECONDS"]),
])
def test_contradictory_settings_are_refused_at_start_with_a_reason(overrides, words):
    with pytest.raises(ConfigError) as refused:
        load_settings(None, **overrides)
    message = str(refused.value)
    for word in words:
        assert word in message, message


def test_the_default_settings_agree_with_each_other():
    settings = load_settings(None)
    assert settings.stuck_after_seconds >= settings.publish_lease_seconds


def test_the_store_tells_live_leases_and_gives_an_attempt_back(store):
    run_id = store.record_event(event("e1"), "fp1", sample_size=5).run_id
    other = store.record_event(event("e2"), "fp2", sample_size=5).run_id
    now = datetime.now(UTC)
    assert live_leases(store, now) == {}
    held = store.lease_publication("ticket:fp1:1", run_id, "ticket", "a", ttl_seconds=60)
    store.lease_publication("ticket:fp2:1", other, "ticket", "a", ttl_seconds=60)
    store.complete_publication("ticket:fp2:1", "7", "https://x/7")  # done: nothing to wait for
    assert live_leases(store, now) == {run_id: held.until}
    assert live_leases(store, now, [other]) == {}
    assert held.until is not None
    assert live_leases(store, held.until + timedelta(seconds=1)) == {}  # run out: not waiting

    assert store.start_attempt(run_id) == 1
    refund_attempt(store, run_id)
    refund_attempt(store, run_id)  # never below zero
    assert store.get_run(run_id).attempts == 0
