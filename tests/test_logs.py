"""suture's log lines: every transition, refused webhook and filed ticket is logged once, in
text or JSON, and scrubbed."""

from __future__ import annotations

import json
import logging
import sys
import uuid

from integrations.standins.base import recorded
from tests.support import compact, drain, make_app, sentry_headers, served
from tests.test_store import event
from worker.cli.commands import _logging
from worker.logs import JsonFormatter, TextFormatter, configure_logging
from worker.models import RunState
from worker.settings import load_settings
from worker.web.codehost_signatures import github_signature

TOKEN = "ghp_" + "Ab1" * 12


def record(message: str, *args: object, exc_info=None, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("suture.test", logging.INFO, __file__, 1, message, args, exc_info)
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_a_json_line_has_time_level_logger_message_and_the_extra_fields_scrubbed():
    line = JsonFormatter().format(record("run %d: mailed %s", 7, "ops@example.com", run_id=7,
                                         state="ticketed", note=f"token {TOKEN}"))
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["level"] == "INFO" and entry["logger"] == "suture.test"
    assert entry["time"].endswith("+00:00")
    assert entry["message"] == "run 7: mailed [REDACTED:email]"
    assert entry["run_id"] == 7 and entry["state"] == "ticketed"
    assert TOKEN not in entry["note"] and "[REDACTED" in entry["note"]


def test_a_json_line_keeps_a_scrubbed_traceback_and_its_core_keys():
    try:
        raise ValueError(f"bad token {TOKEN}")
    except ValueError:
        made = record("failed", exc_info=sys.exc_info(), message_id="m1")
    made.level = "spoofed"  # an extra named like a core key
    entry = json.loads(JsonFormatter().format(made))
    assert entry["level"] == "INFO"
    assert "ValueError" in entry["exception"] and TOKEN not in entry["exception"]
    assert entry["message_id"] == "m1"


def test_a_text_line_is_scrubbed_and_shows_the_extra_fields():
    line = TextFormatter().format(record("refused: %s", f"Bearer {TOKEN}", status=401,
                                         source="sentry"))
    assert TOKEN not in line
    assert line.endswith('status=401 source="sentry"')
    assert " INFO suture.test refused: " in line


def test_uvicorns_coloured_copy_of_a_message_is_not_an_extra_field():
    made = record("Uvicorn running on %s", "http://127.0.0.1:8000",
                  color_message="Uvicorn running on \x1b[1m%s\x1b[0m")
    assert "color_message" not in json.loads(JsonFormatter().format(made))
    assert TextFormatter().format(made).endswith("Uvicorn running on http://127.0.0.1:8000")


def test_the_log_format_setting_makes_the_cli_log_json(capsys, monkeypatch):
    monkeypatch.setenv("SUTURE_LOG_FORMAT", "json")
    root = logging.getLogger()
    level = root.level
    try:
        _logging(load_settings(None))
        logging.getLogger("suture.runs").info("run %d opened", 3, extra={"run_id": 3})
    finally:
        for handler in [h for h in root.handlers if h.get_name() == "suture"]:
            root.removeHandler(handler)
        root.setLevel(level)
    [line] = [json.loads(text) for text in capsys.readouterr().err.splitlines()]
    assert line["message"] == "run 3 opened" and line["run_id"] == 3


def test_configuring_twice_keeps_one_handler():
    root = logging.getLogger()
    level = root.level
    try:
        configure_logging("text")
        configure_logging("json")
        ours = [h for h in root.handlers if h.get_name() == "suture"]
        assert len(ours) == 1 and isinstance(ours[0].formatter, JsonFormatter)
    finally:
        for handler in [h for h in root.handlers if h.get_name() == "suture"]:
            root.removeHandler(handler)
        root.setLevel(level)


def transition_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "suture.runs" and hasattr(r, "run_id")]


def test_every_transition_is_logged_once_where_it_is_stored(store, caplog):
    caplog.set_level(logging.INFO)
    run_id = store.record_event(event("e1"), "fp1", sample_size=5).run_id
    assert store.transition(run_id, RunState.NEW, RunState.TRIAGED, f"key {TOKEN} allowed")
    assert not store.transition(run_id, RunState.NEW, RunState.SKIPPED, "late duplicate")
    lines = transition_lines(caplog)
    assert [(r.from_state, r.state) for r in lines] == [("", "new"), ("new", "triaged")]
    assert lines[0].getMessage() == f"run {run_id}: - -> new: new cluster"
    assert TOKEN not in lines[1].getMessage() and TOKEN not in lines[1].reason


def test_a_pipeline_logs_its_transitions_and_the_ticket_it_filed(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    payload = recorded("sentry/webhook-event-alert-triggered.json")
    app = make_app(tmp_path)
    delivery_id, _ = app.store.add_delivery("sentry", "event_alert", compact(payload), payload)
    app.actors.ingest_delivery.send(delivery_id)
    drain(app)
    [run] = app.store.list_runs()
    app.close()
    states = [r.state for r in transition_lines(caplog) if r.run_id == run.id]
    assert states == [t.to_state.value for t in app.store.transitions(run.id)]
    [filed] = [r for r in caplog.records if r.name == "suture.publish"]
    assert filed.getMessage() == f"run {run.id}: ticket filed: {run.ticket_url}"
    assert filed.kind == "ticket" and filed.run_id == run.id


def test_a_refused_webhook_is_logged_with_its_status_and_reason(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    app = make_app(tmp_path)
    body = compact(recorded("sentry/webhook-event-alert-triggered.json"))
    with served(app) as client:
        bad = client.post("/hooks/sentry", content=body,
                          headers=sentry_headers(body, secret="not-the-secret"))
        datadog = client.post("/hooks/datadog", content=b"{}", headers={"DD-Secret": "x"})
    app.close()
    assert bad.status_code == 401
    refusals = [r for r in caplog.records if r.name == "suture.web"]
    by_source = {r.source: r for r in refusals}
    assert by_source["sentry"].status == 401
    assert by_source["sentry"].reason == bad.json()["error"]
    reason = bad.json()["error"]
    assert by_source["sentry"].getMessage() == f"refused POST /hooks/sentry: 401 {reason}"
    assert by_source["datadog"].status == datadog.status_code


def test_a_refused_code_host_delivery_is_logged_with_its_delivery(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    secret = "github-hook-secret"
    app = make_app(tmp_path, settings={"github": {"webhook_secret": secret}})
    body = compact(recorded("github/webhook-pull_request.closed-merged.json"))
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "pull_request",
               "X-GitHub-Delivery": str(uuid.uuid4()),
               "X-Hub-Signature-256": github_signature(body, secret)}
    with served(app) as client:
        first = client.post("/hooks/github", content=body, headers=headers)
        again = client.post("/hooks/github", content=body, headers=headers)
        forged = client.post("/hooks/github", content=body, headers={
            **headers, "X-Hub-Signature-256": github_signature(body, "forged")})
    app.close()
    assert (first.status_code, again.status_code, forged.status_code) == (202, 409, 401)
    refusals = [r for r in caplog.records if r.name == "suture.web"]
    assert [(r.source, r.status) for r in refusals] == [("github", 409), ("github", 401)]
    assert refusals[0].delivery_id == first.json()["delivery"]
