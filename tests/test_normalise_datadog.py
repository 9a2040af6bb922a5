"""Datadog normalisation: log items, Error Tracking issues, monitor webhooks and detection."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from integrations.standins.base import recorded
from worker.models import Source
from worker.normalise import (
    PayloadError,
    detect_and_normalise,
    from_datadog_issue,
    from_datadog_log,
    from_datadog_monitor,
)

LOG_RESPONSES = [
    "datadog/logs-search.response.error-stack.COMPOSED.json",
    "datadog/logs-search.response.page1.json",
    "datadog/logs-search.response.docs-example.json",
]

# Values a real Datadog delivery would put in the templates' `$VARIABLES`.
RENDERED = {
    "$EVENT_MSG": "%%%\nError rate above 5% on checkout\n\n[[Monitor Status]"
                  "(https://app.datadoghq.com/monitors#4242?)]\n%%%",
    "$LAST_UPDATED": "1718000000000",
    "$EVENT_TYPE": "query_alert_monitor",
    "$EVENT_TITLE": "[Triggered] Error rate on checkout",
    "$DATE": "1718000000000",
    "$ORG_ID": "415600",
    "$ORG_NAME": "Acme",
    "$ID": "7390012345678901234",
    "$ALERT_ID": "4242",
    "$ALERT_METRIC": "trace.flask.request.errors",
    "$ALERT_PRIORITY": "P2",
    "$ALERT_TRANSITION": "Triggered",
    "$ALERT_STATUS": "Error rate 7.1% > 5%",
    "$ALERT_TITLE": "Error rate on checkout",
    "$ALERT_TYPE": "error",
    "$HOSTNAME": "web-4",
    "$PRIORITY": "normal",
    "$TAGS": "env:prod,service:checkout,version:2.31.0",
    "$ALERT_SCOPE": "service:checkout",
}


def render(template: dict[str, Any]) -> dict[str, Any]:
    """A monitor payload template with its variables filled as Datadog would."""
    text = json.dumps(template)
    return json.loads(re.sub(r"\$[A-Z_]+", lambda m: json.dumps(RENDERED[m[0]])[1:-1], text))


def composed(index: int) -> dict[str, Any]:
    return recorded("datadog/logs-search.response.error-stack.COMPOSED.json")["data"][index]


@pytest.mark.parametrize("path", LOG_RESPONSES)
def test_every_recorded_log_normalises(path: str) -> None:
    items = recorded(path)["data"]
    assert items
    for item in items:
        event = from_datadog_log(item)
        assert event.source is Source.DATADOG
        assert event.event_id == item["id"]
        assert event.title


def test_python_error_log() -> None:
    event = from_datadog_log(composed(0))
    assert event.project == "example-python-app"
    assert (event.release, event.environment) == ("2.31.0", "production")
    assert event.tags["git.commit.sha"] == "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
    assert event.tags["host"] == "web01.example.org"
    assert event.platform == "python"
    assert event.title == "Exception: This is an example Python exception"
    assert event.timestamp == datetime(2025, 6, 27, 6, 48, 32, 867000, tzinfo=UTC)
    assert [(f.function, f.lineno) for f in event.frames] == [("<module>", 28), ("main", 26)]
    assert event.frames[-1].context_line == "raise Exception('This is an example Python exception')"


def test_javascript_error_log() -> None:
    event = from_datadog_log(composed(1))
    assert event.platform == "javascript"
    assert event.primary is not None and event.primary.type == "Error"
    assert [f.function for f in event.frames] == [None, "OAuthProviderImpl.fetch", "Object.fetch"]
    assert all(f.in_app for f in event.frames)


def test_log_without_error_attributes_uses_the_message() -> None:
    item = recorded("datadog/logs-search.response.docs-example.json")["data"][0]
    event = from_datadog_log(item)
    assert event.title == "Host connected to remote"
    assert event.exceptions == []
    assert (event.project, event.level) == ("agent", "info")
    assert event.tags == {"team": "A", "host": "i-0123"}


def test_http_attributes_become_the_request() -> None:
    event = from_datadog_log(recorded("datadog/logs-search.response.page1.json")["data"][0])
    assert event.request is not None
    assert (event.request.method, event.request.url) == ("GET", "/")
    assert event.environment == "integrations-lab"


def test_error_kind_overrides_and_issue_id_is_read() -> None:
    item = copy.deepcopy(composed(0))
    custom = item["attributes"]["attributes"]
    custom["error"]["kind"] = "builtins.KeyError"
    custom["error"]["message"] = "'basket'"
    custom["issue"] = {"id": "c0ffee00-0000-4000-8000-000000000001"}
    custom["usr"] = {"id": "u-9"}
    event = from_datadog_log(item)
    assert event.primary is not None
    assert (event.primary.type, event.primary.module, event.primary.value) == (
        "KeyError", "builtins", "'basket'")
    assert event.issue_id == "c0ffee00-0000-4000-8000-000000000001"
    assert event.user == "u-9"
    assert len(event.frames) == 2


def test_error_without_stack_still_has_an_exception() -> None:
    item = {"id": "l1", "attributes": {"timestamp": "2024-01-01T00:00:00Z", "status": "critical",
                                       "message": "boom", "attributes": {"error": {
                                           "kind": "TimeoutError", "message": "upstream slow"}}}}
    event = from_datadog_log(item)
    assert event.level == "fatal"
    assert event.primary is not None and event.primary.type == "TimeoutError"
    assert event.frames == []


def test_issue_without_sample_is_frameless() -> None:
    issue = recorded("datadog/error-tracking-get-issue.response.json")["data"]
    event = from_datadog_issue(issue)
    assert event.issue_id == "5f8ebd5c-6dd9-11f0-8a28-da7ad0900002"
    assert (event.title, event.project, event.platform) == (
        "Error: HTTP error", "synthetics-browser", "javascript")
    assert event.timestamp == datetime.fromtimestamp(1755686259.367, tz=UTC)
    assert event.frames == [] and event.primary is not None


def test_issue_with_sample_takes_its_stack() -> None:
    issue = recorded("datadog/error-tracking-get-issue.response.json")
    sample = from_datadog_log(composed(1))
    event = from_datadog_issue(issue, sample, link="https://app.datadoghq.eu/error-tracking/x")
    assert event.issue_id == "5f8ebd5c-6dd9-11f0-8a28-da7ad0900002"
    assert event.link == "https://app.datadoghq.eu/error-tracking/x"
    assert event.frames == sample.frames
    assert event.event_id == sample.event_id


def test_rendered_monitor_webhook() -> None:
    event = from_datadog_monitor(recorded("datadog/monitor-webhook.rendered-example.json"))
    assert event.event_id == "5485379890863845239"
    assert event.title == "[Triggered] [TEST] Host Cluster Alert"
    assert event.timestamp == datetime(2020, 6, 3, 20, 43, 5, tzinfo=UTC)
    assert event.level == "error"
    assert not event.message.startswith("%%%") and "Test notification" in event.message
    assert event.link == "https://app.datadoghq.com/monitors#18692904?"
    assert event.tags["org_name"] == "Puppet"
    assert event.test_notification  # "[TEST]" in the title, "Test notification" in the body


@pytest.mark.parametrize(
    "path", ["datadog/monitor-webhook.default-template.json",
             "datadog/monitor-webhook.extended-template.json"])
def test_templates_normalise_once_rendered(path: str) -> None:
    event = from_datadog_monitor(render(recorded(path)))
    assert event.event_id == "7390012345678901234"
    assert event.timestamp == datetime.fromtimestamp(1718000000, tz=UTC)
    assert event.message.startswith("Error rate above 5% on checkout")


def test_extended_template_fields_become_tags() -> None:
    event = from_datadog_monitor(render(recorded("datadog/monitor-webhook.extended-template.json")))
    assert event.tags["alert_id"] == "4242"
    assert event.tags["alert_transition"] == "Triggered"
    assert (event.project, event.environment, event.release) == ("checkout", "prod", "2.31.0")


def test_monitor_body_with_a_stack_is_parsed() -> None:
    body = render(recorded("datadog/monitor-webhook.default-template.json"))
    body["body"] = "%%%\nTraceback (most recent call last):\n  File \"/app/pay.py\", line 3, " \
                   "in charge\n    gateway.send()\nConnectionError: refused\n%%%"
    event = from_datadog_monitor(body)
    assert event.primary is not None and event.primary.type == "ConnectionError"
    assert [f.function for f in event.frames] == ["charge"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (["not", "an", "object"], "must be a JSON object"),
        ({"title": "t", "date": "1591216985000"}, "has no id"),
        ({"id": "1", "date": "1591216985000"}, "has no title"),
        ({"id": "1", "title": "t"}, "has no date"),
        ({"id": "1", "title": "t", "date": "yesterday"}, "not epoch milliseconds"),
        ({"id": {"x": 1}, "title": "t", "date": "1"}, "id must be a string"),
        ({"id": "$ID", "title": "t", "date": "1"}, "unrendered template variable"),
    ],
)
def test_malformed_monitor_webhooks(body: Any, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        from_datadog_monitor(body)


def test_unrendered_template_is_rejected() -> None:
    with pytest.raises(PayloadError, match="template"):
        from_datadog_monitor(recorded("datadog/monitor-webhook.extended-template.json"))


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ("log", "datadog log must be a JSON object"),
        ({"id": "x"}, "attributes must be a JSON object"),
        ({"id": "x", "attributes": {"attributes": {"error": "boom"}}}, "error must be"),
    ],
)
def test_malformed_logs(item: Any, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        from_datadog_log(item)


def test_malformed_issue() -> None:
    with pytest.raises(PayloadError, match="has no id"):
        from_datadog_issue({"attributes": {}})
    with pytest.raises(PayloadError, match="attributes must be"):
        from_datadog_issue({"id": "x", "attributes": []})


def test_detect_recognises_datadog_shapes() -> None:
    response = recorded("datadog/logs-search.response.error-stack.COMPOSED.json")
    assert detect_and_normalise(response) == from_datadog_log(composed(0))
    assert detect_and_normalise(composed(1)) == from_datadog_log(composed(1))
    monitor = recorded("datadog/monitor-webhook.rendered-example.json")
    assert detect_and_normalise(monitor) == from_datadog_monitor(monitor)
    issue = recorded("datadog/error-tracking-get-issue.response.json")
    assert detect_and_normalise(issue) == from_datadog_issue(issue["data"])


def test_detect_rejects_responses_without_errors() -> None:
    with pytest.raises(PayloadError, match="none of its 2 items"):
        detect_and_normalise(recorded("datadog/logs-search.response.page1.json"))
    with pytest.raises(PayloadError, match="not a Sentry or Datadog"):
        detect_and_normalise(recorded("datadog/logs-search.request.json"))


@pytest.mark.parametrize(
    ("title", "body", "expected"),
    [
        ("[Triggered] [TEST] Host Cluster Alert", "", True),
        ("[test] Disk full", "", True),
        ("[Triggered] Host Cluster Alert", "Test notification triggered by ann@example.com.",
         True),
        ("[Triggered] Host Cluster Alert", "Three hosts stopped reporting.", False),
        # Only Datadog's own leading tags mark a test: the monitor's name may say "test".
        ("[Triggered] Error rate of [TEST] suite runner", "", False),
        ("[Triggered] Test environment error rate", "the test notification went out", False),
    ],
)
def test_test_notifications_are_marked(title: str, body: str, expected: bool) -> None:
    payload = recorded("datadog/monitor-webhook.rendered-example.json")
    payload.update(title=title, body=f"%%%\n{body}\n%%%")
    assert from_datadog_monitor(payload).test_notification is expected


def test_a_rendered_template_alert_is_not_a_test() -> None:
    event = from_datadog_monitor(render(recorded("datadog/monitor-webhook.extended-template.json")))
    assert event.test_notification is False
