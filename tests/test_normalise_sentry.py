"""Sentry normalisation: stored events, REST events, webhook envelopes and their failure modes."""

from __future__ import annotations

import contextlib
import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.standins.base import recorded
from worker.models import ErrorEvent, Source
from worker.normalise import (
    MISSING_TIMESTAMP,
    PayloadError,
    detect_and_normalise,
    from_datadog_log,
    from_datadog_monitor,
    from_sentry_api,
    from_sentry_stored,
    from_sentry_webhook,
)

# Every recorded Sentry document that is an event or a webhook, with how to normalise it.
STORED = ["sentry/raw-event-python.json"]
API = [
    "sentry/api-event-javascript.json",
    "sentry/api-event-javascript-cloudflare.json",
    "sentry/api-event-python-exception-entries.json",
]
WEBHOOKS = [
    ("event_alert", "sentry/webhook-event-alert-triggered.json", True),
    ("error", "sentry/webhook-error-created.json", True),
    ("issue", "sentry/webhook-issue-created.json", True),
    ("", "sentry/legacy-plugin-webhook.json", True),
    ("metric_alert", "sentry/webhook-metric-alert-resolved.json", False),
]


def stored_event(**overrides: Any) -> dict[str, Any]:
    """A small stored-shape Python event with a request interface."""
    event: dict[str, Any] = {
        "event_id": "0f3c2d1e4b5a69788796a5b4c3d2e1f0",
        "platform": "python",
        "level": "error",
        "timestamp": "2024-03-01T12:00:00Z",
        "release": "shop@1.4.2",
        "environment": "staging",
        "tags": [["server_name", "web-3"], ["level", "error"]],
        "user": {"id": "u-17", "email": "ada@example.com"},
        "exception": {"values": [{
            "type": "KeyError",
            "module": "builtins",
            "value": "'basket'",
            "stacktrace": {"frames": [
                {"filename": "shop/views.py", "abs_path": "/srv/shop/views.py",
                 "function": "checkout", "lineno": 41, "in_app": True,
                 "context_line": "    basket = session['basket']"},
            ]},
        }]},
        "request": {
            "method": "POST",
            "url": "https://shop.example.com/checkout",
            "query_string": [["step", "2"], ["coupon", "SPRING"]],
            "headers": [["Content-Type", "application/json"], ["X-Request-Id", "abc"]],
            "data": {"items": [3, 4]},
        },
    }
    event.update(overrides)
    return event


@pytest.mark.parametrize("path", STORED)
def test_recorded_stored_events_normalise(path: str) -> None:
    event = from_sentry_stored(recorded(path))
    assert event.source is Source.SENTRY
    assert event.exceptions and event.frames


@pytest.mark.parametrize("path", API)
def test_recorded_api_events_normalise(path: str) -> None:
    event = from_sentry_api(recorded(path))
    assert event.source is Source.SENTRY
    assert event.primary is not None and event.frames


@pytest.mark.parametrize(("resource", "path", "has_error"), WEBHOOKS)
def test_recorded_webhooks_normalise(resource: str, path: str, has_error: bool) -> None:
    event = from_sentry_webhook(resource, recorded(path))
    assert (event is not None) is has_error
    if event is not None:
        assert event.issue_id and event.title


def test_installation_webhook_carries_no_error() -> None:
    body = {"action": "created", "installation": {"uuid": "x"}, "data": {"installation": {}}}
    assert from_sentry_webhook("installation", body) is None
    assert from_sentry_webhook("comment", {"action": "created", "data": {"comment": "hi"}}) is None


def test_raw_python_event_fields() -> None:
    event = from_sentry_stored(recorded("sentry/raw-event-python.json"), project="demo")
    assert event.title == "Exception: This is an example Python exception"
    assert event.environment == "production"
    assert event.platform == "python"
    assert event.project == "demo"
    assert event.tags["server_name"] == "web01.example.org"
    assert event.timestamp == datetime.fromtimestamp(1751006912.86742, tz=UTC)
    assert [f.function for f in event.frames] == ["<module>", "main"]
    assert event.frames[-1].abs_path == "/Users/user/test/main.py"
    assert event.frames[-1].lineno == 26


def test_raw_event_without_id_gets_a_stable_content_id() -> None:
    raw = recorded("sentry/raw-event-python.json")
    first, second = from_sentry_stored(raw), from_sentry_stored(copy.deepcopy(raw))
    assert first.event_id == second.event_id and len(first.event_id) == 32
    raw["exception"]["values"][0]["value"] = "another message"
    assert from_sentry_stored(raw).event_id != first.event_id


def test_stored_event_keeps_the_request() -> None:
    event = from_sentry_stored(stored_event())
    assert event.request is not None
    assert event.request.method == "POST"
    assert event.request.url == "https://shop.example.com/checkout"
    assert event.request.query == "step=2&coupon=SPRING"
    assert event.request.headers == {"Content-Type": "application/json", "X-Request-Id": "abc"}
    assert event.request.body == '{"items": [3, 4]}'


def test_stored_event_request_with_dict_headers_and_text_body() -> None:
    request = {"method": "PUT", "url": "https://x.test/a", "query_string": "?a=1",
               "headers": {"Accept": "text/plain"}, "data": "raw=body&x=1"}
    event = from_sentry_stored(stored_event(request=request))
    assert event.request is not None
    assert (event.request.query, event.request.headers, event.request.body) == (
        "a=1", {"Accept": "text/plain"}, "raw=body&x=1")


def test_stored_event_fields() -> None:
    event = from_sentry_stored(stored_event(), issue_id="77", link="https://s.test/i/77")
    assert event.event_id == "0f3c2d1e4b5a69788796a5b4c3d2e1f0"
    assert (event.issue_id, event.link) == ("77", "https://s.test/i/77")
    assert event.timestamp == datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert (event.release, event.environment, event.user) == ("shop@1.4.2", "staging",
                                                               "ada@example.com")
    assert event.primary is not None
    assert (event.primary.type, event.primary.module) == ("KeyError", "builtins")
    assert event.frames[0].context_line == "    basket = session['basket']"


def test_event_alert_webhook_reads_the_stored_event() -> None:
    body = recorded("sentry/webhook-event-alert-triggered.json")
    event = from_sentry_webhook("event_alert", body)
    assert event is not None
    assert event.event_id == "e4874d664c3540c1a32eab185f12c5ab"
    assert event.issue_id == "1117540176"
    assert event.project == "front-end"  # from the event's API URL; `project` is a numeric id
    assert event.link and event.link.endswith("/events/e4874d664c3540c1a32eab185f12c5ab/")
    assert event.request is not None and event.request.url == "https://null.jsbin.com/runner"
    assert "User-Agent" in event.request.headers
    assert all(not frame.in_app for frame in event.frames)
    assert event.user == "ip:162.218.85.90"


def test_issue_webhook_gives_a_frameless_event() -> None:
    event = from_sentry_webhook("issue", recorded("sentry/webhook-issue-created.json"))
    assert event is not None
    assert event.issue_id == "1170820242"
    assert event.short_id == "FRONT-END-9"  # what a pull request's `Fixes` line names
    assert event.project == "front-end"
    assert event.frames == []
    assert event.primary is not None
    assert (event.primary.type, event.primary.value) == ("ReferenceError", "blooopy is not defined")
    assert event.timestamp == datetime(2019, 8, 19, 20, 58, 37, 391000, tzinfo=UTC)


def test_issue_event_id_changes_with_last_seen_only() -> None:
    body = recorded("sentry/webhook-issue-created.json")
    first = from_sentry_webhook("issue", body)
    again = from_sentry_webhook("issue", copy.deepcopy(body))
    body["data"]["issue"]["lastSeen"] = "2019-08-20T10:00:00Z"
    later = from_sentry_webhook("issue", body)
    assert first is not None and again is not None and later is not None
    assert first.event_id == again.event_id != later.event_id


def test_legacy_plugin_webhook() -> None:
    body = recorded("sentry/legacy-plugin-webhook.json")
    for resource in (None, "", "legacy"):
        event = from_sentry_webhook(resource, body)
        assert event is not None
        assert (event.issue_id, event.project) == ("1385042923", "meow")
        assert event.link == body["url"]
        assert event.event_id == "af17d39f6a5d4c19ae5a735043a3bd97"


def test_resource_read_from_body_when_header_missing() -> None:
    event = from_sentry_webhook("", recorded("sentry/webhook-error-created.json"))
    assert event is not None and event.event_id == "bb78c1407cea4519aa397afc059c793d"


def test_cloudflare_api_event() -> None:
    event = from_sentry_api(recorded("sentry/api-event-javascript-cloudflare.json"),
                            project="cloudflare-mcp", link="https://s.test/issues/6507376925/")
    assert (event.event_id, event.issue_id) == ("7ca573c0f4814912aaa9bdc77d1a7d51", "6507376925")
    assert event.project == "cloudflare-mcp"
    assert event.environment == "development"
    assert event.timestamp == datetime(2025, 4, 8, 21, 15, 4, tzinfo=UTC)
    assert [f.function for f in event.frames] == [None, "OAuthProviderImpl.fetch", "Object.fetch"]
    assert [f.lineno for f in event.frames] == [7809, 8029, 19631]
    assert event.request is not None
    assert event.request.method == "GET"
    assert event.request.headers["Authorization"] == "[Filtered]"
    assert event.user == "ip:2a06:98c0:3600::103"


def test_api_event_release_object_and_context_line() -> None:
    event = from_sentry_api(recorded("sentry/api-event-javascript.json"))
    assert event.release == "b65bc521378269d3eaefdc964f8ef56621414943"
    assert event.environment == "prod"
    assert event.user == "hell@boy.cat"
    assert event.request is not None and event.request.query == "project=5236886"
    assert event.frames[0].context_line == "            return fn.apply(this, wrappedArguments);"


def test_bare_entries_document_defaults() -> None:
    """A document holding only `entries` gets a content-digest id and the fixed missing time."""
    raw = recorded("sentry/api-event-python-exception-entries.json")
    event = from_sentry_api(raw)
    assert event.timestamp == MISSING_TIMESTAMP
    assert event.event_id == from_sentry_api(copy.deepcopy(raw)).event_id
    assert event.primary is not None and event.primary.type == "TypeError"
    assert event.frames[0].function == "__protected_call__" and not event.frames[0].in_app
    assert event.frames[-1].function == "_get_metric_histories" and event.frames[-1].in_app


def test_api_threads_stack_fills_an_exception_without_one() -> None:
    frame = {"filename": "app.py", "absPath": "/app/app.py", "function": "run", "lineNo": 3}
    raw = {"eventID": "e1", "dateCreated": "2024-01-01T00:00:00Z", "entries": [
        {"type": "exception", "data": {"values": [{"type": "SystemExit", "value": "1"}]}},
        {"type": "threads", "data": {"values": [
            {"id": 1, "crashed": True, "stacktrace": {"frames": [frame]}}]}},
    ]}
    event = from_sentry_api(raw)
    assert [f.function for f in event.frames] == ["run"]
    assert event.frames[0].in_app  # no inApp given: decided by path


def test_message_event_with_stacktrace_entry_keeps_frames() -> None:
    raw = {"eventID": "e2", "message": "cache miss storm", "entries": [
        {"type": "stacktrace", "data": {"frames": [
            {"filename": "cache.py", "function": "get", "lineNo": 9, "inApp": True}]}},
    ]}
    event = from_sentry_api(raw)
    assert event.title == "cache miss storm"
    assert [f.function for f in event.frames] == ["get"]


def test_detect_recognises_sentry_shapes() -> None:
    cases = {
        "sentry/raw-event-python.json": from_sentry_stored,
        "sentry/api-event-javascript-cloudflare.json": from_sentry_api,
    }
    for path, normaliser in cases.items():
        assert detect_and_normalise(recorded(path)) == normaliser(recorded(path))
    alert = detect_and_normalise(recorded("sentry/webhook-event-alert-triggered.json"))
    assert alert.event_id == "e4874d664c3540c1a32eab185f12c5ab"
    legacy = detect_and_normalise(recorded("sentry/legacy-plugin-webhook.json"))
    assert legacy.issue_id == "1385042923"
    issue = detect_and_normalise(recorded("sentry/api-issue-details.json"))
    assert issue.issue_id == "6507376925" and issue.frames == []


@pytest.mark.parametrize(
    ("resource", "body", "reason"),
    [
        ("event_alert", {"action": "triggered", "data": "oops"}, "data must be a JSON object"),
        ("event_alert", {"action": "triggered", "data": {"triggered_rule": "r"}}, "data.event"),
        ("error", {"action": "created", "data": {"error": [1, 2]}}, "data.error must be"),
        ("issue", {"action": "created", "data": {"issue": {"title": "x"}}}, "no id"),
        ("issue", {"action": "created"}, "data must be a JSON object"),
        ("", {"action": "created", "data": {"nothing": 1}}, "no resource"),
        ("legacy", {"id": "1", "event": "not an event"}, "must be a JSON object"),
        ("event_alert", {"action": "triggered", "data": {"event": {
            "exception": {"values": "nope"}}}}, "exception.values must be a list"),
    ],
)
def test_malformed_webhooks_raise_payload_error(resource: str, body: Any, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        from_sentry_webhook(resource, body)


def test_non_dict_bodies_raise_payload_error() -> None:
    with pytest.raises(PayloadError, match="webhook body must be a JSON object"):
        from_sentry_webhook("issue", ["not", "a", "body"])  # type: ignore[arg-type]
    with pytest.raises(PayloadError, match="API event must be a JSON object"):
        from_sentry_api("<html>")  # type: ignore[arg-type]
    with pytest.raises(PayloadError, match="entries must be a list"):
        from_sentry_api({"entries": {"type": "exception"}})


def test_metric_alert_is_not_an_error_document() -> None:
    with pytest.raises(PayloadError, match="carries no error"):
        detect_and_normalise(recorded("sentry/webhook-metric-alert-resolved.json"))


def test_hostile_values_stay_data() -> None:
    event = from_sentry_stored(stored_event(
        title="__import__('os').system('id')",
        tags={"x": {"nested": ["y"]}, "n": 5, "bad": None},
    ))
    assert isinstance(event, ErrorEvent)
    assert event.title == "__import__('os').system('id')"
    assert event.tags == {"x": '{"nested": ["y"]}', "n": "5"}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=10,
)
MUTABLE = [*STORED, *API, *(path for _, path, _ in WEBHOOKS),
           "datadog/logs-search.response.error-stack.COMPOSED.json",
           "datadog/monitor-webhook.rendered-example.json"]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document, as key paths from the root."""
    if isinstance(node, dict):
        children: list[tuple[Any, Any]] = list(node.items())
    elif isinstance(node, list):
        children = list(enumerate(node))
    else:
        children = []
    return [prefix, *(p for key, child in children for p in _paths(child, (*prefix, key)))]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(MUTABLE), st.integers(min_value=0), JSON)
def test_mutated_documents_raise_only_payload_error(path: str, pick: int, value: Any) -> None:
    """Any value at any place in a real document gives an event, None or a PayloadError."""
    document = recorded(path)
    where = _paths(document)[1:][pick % (len(_paths(document)) - 1)]
    parent = document
    for key in where[:-1]:
        parent = parent[key]
    parent[where[-1]] = value
    normalisers = [detect_and_normalise, from_sentry_stored, from_sentry_api, from_datadog_log,
                   from_datadog_monitor, lambda body: from_sentry_webhook("", body)]
    for normalise in normalisers:
        with contextlib.suppress(PayloadError):
            normalise(document)
