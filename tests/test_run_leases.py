"""One stage at a time per run: the run lease, the reconciler leaving a held run alone, a second
message waiting without spending an attempt, and a redelivered ingestion resuming its run."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from integrations.standins.base import recorded
from tests.support import compact, drain, make_app
from worker import stages
from worker.broker import join_all
from worker.fingerprint import fingerprint
from worker.leasing import RunBusy, holding
from worker.models import RunState
from worker.normalise import from_sentry_webhook
from worker.reconcile import reconcile


def test_a_lease_is_one_holder_at_a_time_until_it_runs_out(store):
    app_store = store
    payload = recorded("sentry/webhook-event-alert-triggered.json")
    event = from_sentry_webhook("event_alert", payload)
    run_id = app_store.record_event(event, fingerprint(event), 5).run_id
    assert app_store.claim_run(run_id, "a", 30) is None
    assert app_store.claim_run(run_id, "a", 30) is None  # the holder may claim again
    held = app_store.claim_run(run_id, "b", 30)
    assert held is not None and held > datetime.now(UTC) + timedelta(seconds=20)
    assert app_store.renew_run(run_id, "a", 30)
    assert not app_store.renew_run(run_id, "b", 30)
    app_store.release_run(run_id, "b")  # not the holder: nothing happens
    assert app_store.claim_run(run_id, "b", 30) is not None
    app_store.release_run(run_id, "a")
    assert app_store.claim_run(run_id, "b", 30) is None
    # A holder that stops renewing (a dead worker) loses the run when the lease runs out.
    assert app_store.claim_run(run_id, "c", -1) is not None
    app_store.release_run(run_id, "b")
    assert app_store.claim_run(run_id, "c", -1) is None  # held until a moment ago
    assert app_store.claim_run(run_id, "d", 30) is None


def test_the_reconciler_leaves_a_held_run_alone_however_old(tmp_path):
    app = make_app(tmp_path)
    payload = recorded("sentry/webhook-event-alert-triggered.json")
    delivery, _ = app.store.add_delivery("sentry", "event_alert", compact(payload), payload)
    [run_id] = stages.ingest_delivery(app.deps, delivery).run_ids
    later = datetime.now(UTC) + timedelta(hours=1)
    with holding(app.store, run_id, 30):
        assert reconcile(app.deps, app.actors, later).runs == []
    assert reconcile(app.deps, app.actors, later).runs == [run_id]
    app.close()


def test_a_held_lease_is_renewed_while_the_stage_works(tmp_path):
    app = make_app(tmp_path)
    payload = recorded("sentry/webhook-event-alert-triggered.json")
    delivery, _ = app.store.add_delivery("sentry", "event_alert", compact(payload), payload)
    [run_id] = stages.ingest_delivery(app.deps, delivery).run_ids
    with holding(app.store, run_id, 3):
        threading.Event().wait(4)  # longer than the lease: only renewal keeps it
        with pytest.raises(RunBusy), holding(app.store, run_id, 3):
            pass
    with holding(app.store, run_id, 3):  # given back at the end of the block
        pass
    app.close()


def test_a_second_message_for_a_held_run_waits_and_spends_no_attempt(tmp_path):
    app = make_app(tmp_path, settings={"run_lease_seconds": 3})
    payload = recorded("sentry/webhook-event-alert-triggered.json")
    delivery, _ = app.store.add_delivery("sentry", "event_alert", compact(payload), payload)
    [run_id] = stages.ingest_delivery(app.deps, delivery).run_ids
    owner = "another-worker"
    assert app.store.claim_run(run_id, owner, 3) is None
    app.actors.triage_run.send(run_id)
    worker = app.worker(threads=1)
    worker.start()
    try:
        threading.Event().wait(1)
        run = app.store.get_run(run_id)
        assert run.state == RunState.NEW and run.attempts == 0  # waited, did nothing
        # The other worker dies: it never gives the lease back, which runs out; the waiting
        # message then runs the stage, and the pipeline goes on to the ticket.
        join_all(app.broker)
        worker.join()
    finally:
        worker.stop()
    assert app.store.get_run(run_id).state == RunState.TICKETED
    assert app.store.count_publications("ticket") == 1
    app.close()


def test_a_redelivered_ingestion_resumes_the_run_it_opened(tmp_path):
    # A worker that died after recording the event, before it finished the delivery and sent
    # the triage message: the redelivered message finds the event seen and hands back the
    # unstarted run instead of leaving it to the reconciler.
    app = make_app(tmp_path)
    payload = recorded("sentry/webhook-event-alert-triggered.json")
    delivery, _ = app.store.add_delivery("sentry", "event_alert", compact(payload), payload)
    event = from_sentry_webhook("event_alert", payload)
    [run_id] = stages.ingest_events(app.deps, [event]).run_ids
    assert app.store.get_delivery(delivery).status == "pending"
    app.actors.ingest_delivery.send(delivery)
    drain(app)
    assert app.store.get_run(run_id).state == RunState.TICKETED
    # Once started, it is not handed back again.
    assert stages.ingest_events(app.deps, [event]).run_ids == []
    assert len(app.store.list_runs()) == 1
    app.close()


def test_a_duplicate_message_for_a_finished_delivery_is_no_attempt(store):
    payload = recorded("sentry/webhook-event-alert-triggered.json")
    delivery, _ = store.add_delivery("sentry", "event_alert", compact(payload), payload)
    assert store.start_delivery(delivery) == 1
    store.finish_delivery(delivery, "processed", "done")
    for _ in range(10):  # a flood of re-sends cannot turn it into a failure
        assert store.start_delivery(delivery) == 0
    assert store.get_delivery(delivery).status == "processed"


def test_a_re_sent_run_waits_a_whole_stuck_after_before_the_next_re_send(tmp_path):
    app = make_app(tmp_path, settings={"stuck_after_seconds": 200, "publish_lease_seconds": 180})
    payload = recorded("sentry/webhook-event-alert-triggered.json")
    delivery, _ = app.store.add_delivery("sentry", "event_alert", compact(payload), payload)
    [run_id] = stages.ingest_delivery(app.deps, delivery).run_ids
    later = datetime.now(UTC) + timedelta(seconds=300)
    assert reconcile(app.deps, app.actors, later).runs == [run_id]
    # The workers are away: the next pass, a moment later, does not send it again.
    assert reconcile(app.deps, app.actors, later + timedelta(seconds=5)).runs == []
    assert reconcile(app.deps, app.actors, later + timedelta(seconds=400)).runs == [run_id]
    app.close()


def test_a_duplicate_message_for_a_stage_already_past_sends_nothing_more(tmp_path):
    app = make_app(tmp_path)
    payload = recorded("sentry/webhook-event-alert-triggered.json")
    delivery, _ = app.store.add_delivery("sentry", "event_alert", compact(payload), payload)
    [run_id] = stages.ingest_delivery(app.deps, delivery).run_ids
    app.actors.triage_run.send(run_id)
    drain(app)
    run = app.store.get_run(run_id)
    assert run.state == RunState.TICKETED
    # A worker that died after triage sent the next message: the run is marked, and its
    # redelivered triage message finds the run past triage and sends nothing more.
    assert app.store.transition(run_id, RunState.TICKETED, RunState.TRIAGED, "test: rewound")
    app.store.mark_dispatched(run_id, RunState.TRIAGED.value)
    app.actors.triage_run.send(run_id)
    drain(app)
    assert app.store.get_run(run_id).state == RunState.TRIAGED  # nothing moved it on
    # Without the mark (the worker died before sending), the same message moves it on.
    app.store.mark_dispatched(run_id, "")
    app.actors.triage_run.send(run_id)
    drain(app)
    assert app.store.get_run(run_id).state == RunState.TICKETED
    assert len(app.store.list_runs()) == 1
    app.close()
