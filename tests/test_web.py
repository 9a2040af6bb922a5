"""The webhook receivers: authentication, shape checks, dedupe and the 202 path."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from integrations.standins.base import recorded
from tests.support import DD_SECRET, compact, make_app, sentry_headers, served


@pytest.fixture
def app(tmp_path):
    app = make_app(tmp_path)
    yield app
    app.close()


@pytest.fixture
def client(app):
    with served(app) as test_client:
        yield test_client


def alert_body() -> bytes:
    return compact(recorded("sentry/webhook-event-alert-triggered.json"))


def test_the_recorded_signed_delivery_verifies_over_its_raw_bytes(tmp_path):
    vector = recorded("sentry/webhook-request-issue-created.signed.DERIVED.json")
    sent_at = int(vector["headers"]["Sentry-Hook-Timestamp"])
    app = make_app(tmp_path, clock=lambda: datetime.fromtimestamp(sent_at + 5, UTC),
                   settings={"sentry": {"client_secret": vector["client_secret"]}})
    with served(app) as client:
        response = client.post("/hooks/sentry", content=vector["raw_body"].encode(),
                               headers=vector["headers"])
        assert response.status_code == 202, response.text
        pretty = json.dumps(json.loads(vector["raw_body"]), indent=2).encode()
        rejected = client.post("/hooks/sentry", content=pretty, headers=vector["headers"])
        assert rejected.status_code == 401
    assert app.store.count_deliveries() == 1
    app.close()


def test_a_signed_alert_is_stored_enqueued_and_answered_202(client, app):
    body = alert_body()
    response = client.post("/hooks/sentry", content=body, headers=sentry_headers(body))
    assert response.status_code == 202 and response.json()["accepted"] is True
    assert app.broker.queues["default"].qsize() == 1
    assert app.store.get_delivery(response.json()["delivery"]).status == "pending"


def test_a_redelivery_is_recognised_and_not_enqueued_again(client, app):
    body = alert_body()
    client.post("/hooks/sentry", content=body, headers=sentry_headers(body))
    again = client.post("/hooks/sentry", content=body, headers=sentry_headers(body))
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert app.broker.queues["default"].qsize() == 1
    assert app.store.count_deliveries() == 1


@pytest.mark.parametrize("tamper", ["signature", "body", "secret", "missing"])
def test_a_bad_signature_gets_401_and_nothing_is_stored(client, app, tamper):
    body = alert_body()
    headers = sentry_headers(body, secret="other" if tamper == "secret" else "test-client-secret")
    if tamper == "signature":
        headers["Sentry-Hook-Signature"] = "0" * 64
    if tamper == "missing":
        del headers["Sentry-Hook-Signature"]
    sent = body.replace(b"triggered", b"triggerex") if tamper == "body" else body
    response = client.post("/hooks/sentry", content=sent, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] and response.headers["Sentry-Hook-Error"]
    assert app.store.count_deliveries() == 0


def test_a_stale_timestamp_is_rejected(client, app):
    body = alert_body()
    response = client.post("/hooks/sentry", content=body,
                           headers=sentry_headers(body, timestamp=1_000_000_000))
    assert response.status_code == 401 and "stale" in response.json()["error"]
    assert app.store.count_deliveries() == 0


def test_malformed_bodies_get_a_4xx_with_a_reason(client, app):
    for body, status in [(b"{not json", 400), (b"[1, 2]", 422),
                         (compact({"action": "triggered", "data": {"event": "nope"}}), 422),
                         (compact({"action": "triggered", "data": []}), 422)]:
        response = client.post("/hooks/sentry", content=body, headers=sentry_headers(body))
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]
    assert app.store.count_deliveries() == 0


def test_installation_and_other_resources_are_acknowledged_not_stored(client, app):
    body = compact({"action": "created", "installation": {"uuid": "x"}, "data": {}})
    ack = client.post("/hooks/sentry", content=body, headers=sentry_headers(body, "installation"))
    assert ack.status_code == 200
    metric = compact(recorded("sentry/webhook-metric-alert-resolved.json"))
    ignored = client.post("/hooks/sentry", content=metric,
                          headers=sentry_headers(metric, "metric_alert"))
    assert ignored.status_code == 200 and "ignored" in ignored.json()
    assert app.store.count_deliveries() == 0


def test_missing_resource_header_is_a_400(client):
    body = alert_body()
    headers = sentry_headers(body)
    del headers["Sentry-Hook-Resource"]
    assert client.post("/hooks/sentry", content=body, headers=headers).status_code == 400


def test_an_oversized_body_gets_413(client, app):
    body = b'{"pad": "' + b"x" * 1_100_000 + b'"}'
    response = client.post("/hooks/sentry", content=body, headers=sentry_headers(body))
    assert response.status_code == 413
    assert app.store.count_deliveries() == 0


def test_sentry_webhook_without_a_configured_secret_is_refused(tmp_path):
    app = make_app(tmp_path, settings={"sentry": {}})
    with served(app) as client:
        body = alert_body()
        assert client.post("/hooks/sentry", content=body,
                           headers=sentry_headers(body)).status_code == 503
    app.close()


def test_datadog_monitor_webhook_needs_the_secret_header(client, app):
    body = compact(recorded("datadog/monitor-webhook.rendered-example.json"))
    assert client.post("/hooks/datadog", content=body).status_code == 401
    wrong = client.post("/hooks/datadog", content=body, headers={"X-Suture-Token": "nope"})
    assert wrong.status_code == 401
    ok = client.post("/hooks/datadog", content=body, headers={"X-Suture-Token": DD_SECRET})
    assert ok.status_code == 202, ok.text
    assert app.store.count_deliveries() == 1
    bad = client.post("/hooks/datadog", content=b"nope", headers={"X-Suture-Token": DD_SECRET})
    assert bad.status_code == 400


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
