"""Noise triage keeps out of tickets, through the real pipeline: a Datadog monitor's test
notification and an event of a project no service maps end `skipped` with their reason, and
the policy settings turn tickets for them back on."""

from __future__ import annotations

from integrations.standins.base import recorded
from tests.support import DD_SECRET, compact, drain, make_app, served
from worker.models import RunState

TEST_NOTIFICATION = "datadog/monitor-webhook.rendered-example.json"


def deliver(app, source: str, kind: str, payload: dict) -> None:
    delivery_id, _ = app.store.add_delivery(source, kind, compact(payload), payload)
    app.actors.ingest_delivery.send(delivery_id)


def tickets(tmp_path):
    return sorted((tmp_path / "tickets").rglob("*.md"))


def only_run(app):
    [run] = app.store.list_runs()
    return run


def real_alert() -> dict:
    """The recorded monitor notification as an alert would send it, not as a test."""
    payload = recorded(TEST_NOTIFICATION)
    payload["title"] = "[Triggered] Host Cluster Alert"
    payload["body"] = payload["body"].replace("Test notification triggered by kenaz@puppet.com.",
                                              "Three hosts of the cluster stopped reporting.")
    return payload


def test_a_datadog_test_notification_is_skipped_with_its_reason_and_not_ticketed(tmp_path):
    app = make_app(tmp_path)
    deliver(app, "datadog", "monitor", recorded(TEST_NOTIFICATION))
    drain(app)
    run = only_run(app)
    assert run.state == RunState.SKIPPED
    assert run.reason == ("a datadog test notification, not an error "
                          "(policy.skip_test_notifications)")
    assert [t.to_state for t in app.store.transitions(run.id)] == [RunState.NEW,
                                                                   RunState.SKIPPED]
    assert tickets(tmp_path) == []
    app.close()


def test_the_same_monitor_alerting_for_real_is_ticketed(tmp_path):
    app = make_app(tmp_path)
    deliver(app, "datadog", "monitor", real_alert())
    drain(app)
    assert only_run(app).state == RunState.TICKETED
    assert len(tickets(tmp_path)) == 1
    app.close()


def test_the_policy_can_ticket_test_notifications(tmp_path):
    app = make_app(tmp_path, settings={"policy": {"require_service": False,
                                                  "skip_test_notifications": False}})
    deliver(app, "datadog", "monitor", recorded(TEST_NOTIFICATION))
    drain(app)
    assert only_run(app).state == RunState.TICKETED, only_run(app).reason
    [ticket] = tickets(tmp_path)
    assert "Host Cluster Alert" in ticket.read_text()
    app.close()


def test_by_default_an_event_of_a_project_with_no_service_is_skipped(tmp_path):
    app = make_app(tmp_path, settings={"policy": {}})  # the shipped defaults
    deliver(app, "sentry", "event_alert", recorded("sentry/webhook-event-alert-triggered.json"))
    drain(app)
    run = only_run(app)
    assert run.state == RunState.SKIPPED
    assert run.reason == ("no configured service maps project 'front-end' to a repository "
                          "(policy.require_service)")
    assert tickets(tmp_path) == []
    app.close()


def test_the_policy_can_ticket_events_of_projects_with_no_service(tmp_path):
    app = make_app(tmp_path, settings={"policy": {"require_service": False}})
    deliver(app, "sentry", "event_alert", recorded("sentry/webhook-event-alert-triggered.json"))
    drain(app)
    assert only_run(app).state == RunState.TICKETED
    assert len(tickets(tmp_path)) == 1
    app.close()


def test_a_mapped_project_is_ticketed_under_the_default_policy(tmp_path):
    services = [{"name": "shop", "sentry_project": "front-end", "repository": ".",
                 "slug": "acme/shop"}]
    # No fix: the shop is this repository, and building its environment for an attempt no agent
    # can make is not what the triage policy is about.
    app = make_app(tmp_path, settings={"policy": {}, "services": services,
                                       "fix": {"enabled": False}})
    deliver(app, "sentry", "event_alert", recorded("sentry/webhook-event-alert-triggered.json"))
    drain(app)
    assert only_run(app).state == RunState.TICKETED, only_run(app).reason
    app.close()


def test_a_test_notification_posted_to_the_webhook_is_accepted_and_skipped(tmp_path):
    app = make_app(tmp_path)
    with served(app) as client:
        reply = client.post("/hooks/datadog", content=compact(recorded(TEST_NOTIFICATION)),
                            headers={"X-Suture-Token": DD_SECRET})
    assert reply.status_code == 202, reply.text  # Datadog must not retry it
    drain(app)
    run = only_run(app)
    assert run.state == RunState.SKIPPED and "test notification" in run.reason
    assert tickets(tmp_path) == []
    app.close()
