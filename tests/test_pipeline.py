"""The pipeline end to end on the in-memory broker: deliveries and polls in, tickets out.

Real stages, real actors (Dramatiq's in-memory broker and worker), real SQLite, the real Sentry,
Datadog and GitHub clients against their HTTP stand-ins.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integrations.datadog import DatadogSource
from integrations.github import GitHubTickets
from integrations.sentry import SentrySource
from integrations.standins.base import Reply, recorded
from integrations.standins.datadog import API_KEY, APP_KEY, DatadogStandIn
from integrations.standins.github import GitHubStandIn
from integrations.standins.sentry import SentryStandIn
from tests.support import compact, drain, make_app
from worker.models import ClusterStatus, RunState
from worker.settings import DatadogSettings, GitHubSettings, SentrySettings

GH_TOKEN = "pipeline-token"


@pytest.fixture
def github():
    standin = GitHubStandIn(token=GH_TOKEN)
    standin.add_repo("acme", "shop")
    standin.start()
    yield standin
    standin.stop()


def github_forge(standin: GitHubStandIn) -> GitHubTickets:
    return GitHubTickets(GitHubSettings(base_url=standin.url, token=GH_TOKEN),
                         seconds_between_requests=0, seconds_between_writes=0)


SHOP = [{"name": "shop", "sentry_project": "front-end", "datadog_service": "example-python-app",
         "repository": ".", "slug": "acme/shop"}]
# The shop is this repository: a fix would first build suture's own environment from PyPI
# (the better part of a minute) for an attempt no agent can make. These tests are about
# tickets, so the fix loop is off and the runs go straight to publishing.
TICKETS_ONLY = {"services": SHOP, "fix": {"enabled": False}}


def deliver(app, kind: str, payload: dict, source: str = "sentry") -> int:
    delivery_id, _ = app.store.add_delivery(source, kind, compact(payload), payload)
    app.actors.ingest_delivery.send(delivery_id)
    return delivery_id


def ticket_files(tmp_path):
    return sorted((tmp_path / "tickets").rglob("*.md"))


def test_an_alert_becomes_one_scrubbed_ticket_in_the_files_forge(tmp_path):
    payload = recorded("sentry/webhook-event-alert-triggered.json")
    event = payload["data"]["event"]
    event["exception"]["values"][-1]["value"] = (
        "heck is not defined for ann@example.com token ghp_" + "a1B2c3D4" * 5)
    app = make_app(tmp_path)
    deliver(app, "event_alert", payload)
    deliver(app, "event_alert", payload)  # the same body again: one delivery
    drain(app)
    [run] = app.store.list_runs()
    assert run.state == RunState.TICKETED, run.reason
    [ticket] = ticket_files(tmp_path)
    text = ticket.read_text()
    assert "ReferenceError" in text and "Stack trace" in text
    assert "ann@example.com" not in text and "ghp_a1B2" not in text
    assert "[REDACTED:email]" in text
    assert [t.to_state for t in app.store.transitions(run.id)] == [
        RunState.NEW, RunState.TRIAGED, RunState.CORRELATED, RunState.UNVERIFIED,
        RunState.PUBLISHING, RunState.TICKETED]
    assert "correlation skipped: no service maps" in app.store.transitions(run.id)[2].reason
    app.close()


def test_the_same_error_from_sentry_and_datadog_is_one_cluster_and_one_ticket(tmp_path, github):
    app = make_app(tmp_path, forge=github_forge(github), settings=TICKETS_ONLY)
    log = recorded("datadog/logs-search.response.error-stack.COMPOSED.json")["data"][0]
    deliver(app, "file", log, source="file")
    drain(app)
    deliver(app, "file", recorded("sentry/raw-event-python.json"), source="file")
    drain(app)
    [cluster] = app.store.list_clusters()
    assert cluster.event_count == 2
    assert {e.source.value for e in app.store.cluster_events(cluster.id)} == {"sentry", "datadog"}
    assert len(app.store.list_runs()) == 1
    assert len(github.issues("acme", "shop")) == 1
    app.close()


def test_a_regression_opens_a_new_run_and_a_new_ticket(tmp_path):
    app = make_app(tmp_path)
    event = recorded("sentry/raw-event-python.json")
    deliver(app, "file", event, source="file")
    drain(app)
    [cluster] = app.store.list_clusters()
    app.store.set_cluster_status(cluster.id, ClusterStatus.RESOLVED)
    deliver(app, "file", {**event, "event_id": "f" * 32}, source="file")
    drain(app)
    runs = app.store.list_runs(cluster.id)
    assert [(r.episode, r.state) for r in runs] == [(1, RunState.TICKETED),
                                                    (2, RunState.TICKETED)]
    files = ticket_files(tmp_path)
    assert len(files) == 2 and "Regression" in files[1].read_text()
    app.close()


def test_a_transient_forge_failure_is_retried_until_the_ticket_is_filed(tmp_path, github):
    github.fail_server_error(status=502, times=1)
    app = make_app(tmp_path, forge=github_forge(github), settings=TICKETS_ONLY)
    deliver(app, "event_alert", recorded("sentry/webhook-event-alert-triggered.json"))
    drain(app)
    [run] = app.store.list_runs()
    assert run.state == RunState.TICKETED
    assert len(github.issues("acme", "shop")) == 1
    app.close()


def test_a_permanent_forge_failure_fails_the_run_with_the_reason(tmp_path, github):
    forge = GitHubTickets(GitHubSettings(base_url=github.url, token="wrong"),
                          seconds_between_requests=0, seconds_between_writes=0)
    app = make_app(tmp_path, forge=forge, settings=TICKETS_ONLY)
    deliver(app, "event_alert", recorded("sentry/webhook-event-alert-triggered.json"))
    drain(app)
    [run] = app.store.list_runs()
    assert run.state == RunState.FAILED and "publish" in run.reason
    assert github.issues("acme", "shop") == []
    app.close()


def test_a_cluster_with_no_repository_is_skipped_when_tickets_go_to_github(tmp_path, github):
    app = make_app(tmp_path, forge=github_forge(github), settings={"forge": "github"})
    deliver(app, "event_alert", recorded("sentry/webhook-event-alert-triggered.json"))
    drain(app)
    [run] = app.store.list_runs()
    assert run.state == RunState.SKIPPED and "no configured service maps" in run.reason
    app.close()


def test_policy_skips_are_recorded_with_their_reason(tmp_path):
    app = make_app(tmp_path, settings={"policy": {"ignore_types": ["ReferenceError"]}})
    deliver(app, "event_alert", recorded("sentry/webhook-event-alert-triggered.json"))
    drain(app)
    [run] = app.store.list_runs()
    assert run.state == RunState.SKIPPED and "ReferenceError is on the ignore list" in run.reason
    assert ticket_files(tmp_path) == []
    app.close()


def test_a_malformed_delivery_is_kept_as_failed_with_its_reason(tmp_path):
    app = make_app(tmp_path)
    delivery_id = deliver(app, "event_alert", {"action": "triggered", "data": {"event": 3}})
    drain(app)
    delivery = app.store.get_delivery(delivery_id)
    assert delivery.status == "failed" and "malformed" in delivery.reason
    app.close()


def test_the_reconciler_resends_runs_and_deliveries_the_broker_lost(tmp_path):
    app = make_app(tmp_path)
    payload = recorded("sentry/webhook-event-alert-triggered.json")
    delivery_id, _ = app.store.add_delivery("sentry", "event_alert", compact(payload), payload)
    report = app.deps and app.reconcile()
    assert report.deliveries == []  # not stuck yet
    later = datetime.now(UTC) + timedelta(hours=1)
    from worker.reconcile import reconcile

    assert reconcile(app.deps, app.actors, later).deliveries == [delivery_id]
    drain(app)
    [run] = app.store.list_runs()
    assert run.state == RunState.TICKETED
    app.close()


def test_an_issue_webhook_fetches_the_latest_event_from_sentry(tmp_path):
    with SentryStandIn(token="tok") as sentry:
        source = SentrySource(SentrySettings(base_url=sentry.url, org=sentry.org, token="tok"))
        app = make_app(tmp_path, sources={"sentry": source})
        issue = recorded("sentry/webhook-issue-created.json")
        issue["data"]["issue"]["id"] = "1"
        deliver(app, "issue", issue)
        drain(app)
        [cluster] = app.store.list_clusters()
        [event] = app.store.cluster_events(cluster.id)
        assert event.frames, "the latest event's stack trace was fetched"
        assert app.store.list_runs()[0].state == RunState.TICKETED
        app.close()


def test_polling_sentry_and_datadog_records_each_event_once(tmp_path):
    with SentryStandIn(token="tok") as sentry, DatadogStandIn() as datadog:
        sources = {
            "sentry": SentrySource(SentrySettings(base_url=sentry.url, org=sentry.org,
                                                  token="tok")),
            "datadog": DatadogSource(DatadogSettings(host=datadog.url, api_key=API_KEY,
                                                     app_key=APP_KEY, lookback_minutes=10**7)),
        }
        app = make_app(tmp_path, sources=sources)
        for name in sources:
            app.actors.poll_source.send(name)
        drain(app)
        first = sum(c.event_count for c in app.store.list_clusters())
        assert first >= 4 and app.store.get_cursor("sentry") and app.store.get_cursor("datadog")
        for name in sources:
            app.actors.poll_source.send(name)
        drain(app)
        assert sum(c.event_count for c in app.store.list_clusters()) == first
        assert all(run.state == RunState.TICKETED for run in app.store.list_runs())
        app.close()


def test_a_rate_limited_poll_is_retried(tmp_path):
    with SentryStandIn(token="tok") as sentry:
        sentry.fail_next(Reply(429, {"detail": "slow down"}), times=1)
        source = SentrySource(SentrySettings(base_url=sentry.url, org=sentry.org, token="tok"),
                              sleep=lambda _s: None)
        app = make_app(tmp_path, sources={"sentry": source})
        app.actors.poll_source.send("sentry")
        drain(app)
        assert app.store.get_cursor("sentry") is not None
        app.close()
