"""`GET /metrics`: what one scrape of the web process says about the runs, deliveries, stages,
verdicts, agents' spending and queues of every process, read from the store and the broker."""

from __future__ import annotations

import uuid

import dramatiq
import pytest
import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from integrations.standins.base import recorded
from tests.support import compact, drain, make_app, make_settings, sentry_headers, served
from tests.test_store import event
from worker.broker import make_broker
from worker.fix.models import Attempt, VerdictStatus
from worker.metrics import BrokerCollector, StoreCollector
from worker.models import RunState
from worker.runs import AttemptVerdict, FixOutcome, RunRecord
from worker.store.tables import RunRow

REDIS_URL = "redis://127.0.0.1:6379/0"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition, by name and labels."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def scrape(*collectors) -> Samples:
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return parse(generate_latest(registry).decode())


def stays(history) -> dict[str, list[float]]:
    """Seconds spent in each state left, computed from the transitions as the test sees them."""
    spent: dict[str, list[float]] = {}
    for before, after in zip(history, history[1:], strict=False):
        spent.setdefault(before.to_state.value, []).append(
            (after.at - before.at).total_seconds())
    return spent


def test_a_scrape_after_a_ticket_shows_the_run_its_stages_and_the_deliveries(tmp_path):
    app = make_app(tmp_path)
    body = compact(recorded("sentry/webhook-event-alert-triggered.json"))
    with served(app) as client:
        accepted = client.post("/hooks/sentry", content=body, headers=sentry_headers(body))
        refused = client.post("/hooks/sentry", content=body,
                              headers=sentry_headers(body, secret="forged"))
        drain(app)
        response = client.get("/metrics")
    [run] = app.store.list_runs()
    history = app.store.transitions(run.id)
    app.close()
    assert (accepted.status_code, refused.status_code, response.status_code) == (202, 401, 200)
    assert response.headers["content-type"].startswith("text/plain")
    samples = parse(response.text)

    assert run.state == RunState.TICKETED
    assert {state: value(samples, "suture_runs", state=state.value) for state in RunState} == {
        state: (1.0 if state == RunState.TICKETED else 0.0) for state in RunState}
    assert value(samples, "suture_deliveries", source="sentry", status="processed") == 1
    assert value(samples, "suture_webhook_refusals_total", source="sentry", status="401") == 1
    expected = stays(history)
    assert set(expected) == {"new", "triaged", "correlated", "unverified", "publishing"}
    for state, spent in expected.items():
        assert value(samples, "suture_state_duration_seconds_count", state=state) == len(spent)
        assert value(samples, "suture_state_duration_seconds_sum", state=state) == \
            pytest.approx(sum(spent), abs=1e-6)
        assert value(samples, "suture_state_duration_seconds_bucket", state=state,
                     le="+Inf") == len(spent)
    assert ("suture_state_duration_seconds_count", frozenset({("state", "ticketed")})) \
        not in samples  # a run still in a state has not spent its time there yet
    assert value(samples, "suture_queue_messages", queue="default") == 0
    assert value(samples, "suture_queue_messages", queue="agent") == 0
    assert value(samples, "suture_store_up") == 1 and value(samples, "suture_broker_up") == 1


def fixed_record(verdicts: list[VerdictStatus]) -> RunRecord:
    attempts = [Attempt(agent="toolloop", patch="--- a\n+++ b\n", cost_usd=0.25, tokens=1200),
                Attempt(agent="toolloop", error="gave up", cost_usd=0.5, tokens=3000),
                Attempt(agent="templates", patch="--- a\n+++ b\n")]
    return RunRecord(fix=FixOutcome(attempts=attempts, verifications=[
        AttemptVerdict(agent=f"agent{n}", verified=status == VerdictStatus.VERIFIED,
                       status=status) for n, status in enumerate(verdicts)]))


def test_verdicts_and_agent_spending_add_up_over_the_runs_records(store):
    first = store.record_event(event("e1"), "fp1", sample_size=5).run_id
    second = store.record_event(event("e2"), "fp2", sample_size=5).run_id
    store.transition(first, RunState.NEW, RunState.VERIFIED, "verified",
                     record=fixed_record([VerdictStatus.VERIFIED, VerdictStatus.REJECTED]))
    store.transition(second, RunState.NEW, RunState.UNVERIFIED, "no verdict",
                     record=fixed_record([VerdictStatus.UNVERIFIABLE]))
    # A verdict stored before `status` existed reads as its `verified` flag says.
    with store.session() as session:
        row = session.get(RunRow, second)
        details = dict(row.details)
        details["fix"] = {**details["fix"], "verifications": [
            *details["fix"]["verifications"], {"agent": "old", "verified": True}]}
        row.details = details

    samples = scrape(StoreCollector(store))

    assert value(samples, "suture_verifications_total", verdict="verified") == 2
    assert value(samples, "suture_verifications_total", verdict="rejected") == 1
    assert value(samples, "suture_verifications_total", verdict="could not verify") == 1
    assert value(samples, "suture_agent_attempts_total", agent="toolloop") == 4
    assert value(samples, "suture_agent_attempts_total", agent="templates") == 2
    assert value(samples, "suture_agent_cost_usd_total", agent="toolloop") == pytest.approx(1.5)
    assert value(samples, "suture_agent_tokens_total", agent="toolloop") == 8400
    assert value(samples, "suture_agent_cost_usd_total", agent="templates") == 0
    assert value(samples, "suture_runs", state="verified") == 1
    assert value(samples, "suture_runs", state="new") == 0


def test_a_stay_ends_only_when_the_state_changes(store):
    run_id = store.record_event(event("e1"), "fp1", sample_size=5).run_id
    store.transition(run_id, RunState.NEW, RunState.PROPOSED, "opened")
    store.transition(run_id, RunState.PROPOSED, RunState.PROPOSED, "reminded")
    store.transition(run_id, RunState.PROPOSED, RunState.MERGED, "merged")
    history = store.transitions(run_id)

    samples = scrape(StoreCollector(store))

    assert value(samples, "suture_state_duration_seconds_count", state="proposed") == 1
    assert value(samples, "suture_state_duration_seconds_sum", state="proposed") == \
        pytest.approx((history[3].at - history[1].at).total_seconds(), abs=1e-6)


def declare(broker: dramatiq.Broker) -> dramatiq.Actor:
    def job() -> None:
        pass

    return dramatiq.actor(job, broker=broker, actor_name=f"job_{uuid.uuid4().hex[:8]}",
                          queue_name="default")


def test_messages_waiting_on_the_in_memory_broker_are_counted(tmp_path):
    broker = make_broker(make_settings(tmp_path))
    job = declare(broker)
    job.send()
    job.send_with_options(delay=60_000)

    samples = scrape(BrokerCollector(broker))

    assert value(samples, "suture_queue_messages", queue="default") == 1
    assert value(samples, "suture_queue_messages", queue="default.DQ") == 1
    assert value(samples, "suture_queue_dead_messages", queue="default") == 0


@pytest.mark.redis
def test_messages_waiting_on_redis_are_counted(tmp_path):
    namespace = f"suture-metrics-{uuid.uuid4().hex[:8]}"
    broker = make_broker(make_settings(tmp_path, broker_url=REDIS_URL,
                                       broker={"namespace": namespace}))
    job = declare(broker)
    try:
        job.send()
        job.send()
        samples = scrape(BrokerCollector(broker))
        assert value(samples, "suture_queue_messages", queue="default") == 2
        assert value(samples, "suture_queue_messages", queue="default.DQ") == 0
        assert value(samples, "suture_broker_up") == 1
    finally:
        broker.flush_all()
        broker.close()
        client = redis.Redis.from_url(REDIS_URL)
        assert not client.keys(f"{namespace}:*.msgs")
        client.close()


def test_an_unreachable_broker_is_reported_down_and_the_scrape_still_answers(tmp_path):
    broker = make_broker(make_settings(tmp_path, broker_url="redis://127.0.0.1:9/0"))
    declare(broker)

    samples = scrape(BrokerCollector(broker))

    assert value(samples, "suture_broker_up") == 0
    assert not any(name == "suture_queue_messages" for name, _ in samples)
