"""suture's own error reports: off by default, scrubbed when on."""

from __future__ import annotations

import json
import logging
import os
import uuid

import pytest
import sentry_sdk
import uvicorn
from sentry_sdk.transport import Transport
from typer.testing import CliRunner

import worker.app
import worker.cli.commands
import worker.cli.doctor
from worker.cli import cli
from worker.observability import init_error_reporting
from worker.settings import Settings, load_settings


class Capture(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.events: list[dict] = []

    def capture_envelope(self, envelope):
        event = envelope.get_event()
        if event is not None:
            self.events.append(event)


def test_reporting_is_off_without_a_dsn():
    assert init_error_reporting(load_settings(None)) is False


def test_reports_are_scrubbed_before_they_leave():
    transport = Capture()
    settings = load_settings(None, error_dsn="https://key@errors.invalid/1")
    try:
        assert init_error_reporting(settings, transport=transport, default_integrations=False)
        try:
            raise RuntimeError("could not file for ops@example.com with ghp_" + "Ab1" * 13)
        except RuntimeError as exc:
            sentry_sdk.capture_exception(exc)
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init(dsn=None)
    [event] = transport.events
    value = event["exception"]["values"][-1]["value"]
    assert "ops@example.com" not in value and "ghp_" not in value
    frames = event["exception"]["values"][-1]["stacktrace"]["frames"]
    assert all("vars" not in frame for frame in frames)


def test_breadcrumbs_are_scrubbed_also_when_the_sdk_dropped_some():
    transport = Capture()
    settings = load_settings(None, error_dsn="https://key@errors.invalid/1")
    try:
        assert init_error_reporting(settings, transport=transport, default_integrations=False,
                                    max_breadcrumbs=2)
        for number in range(4):
            sentry_sdk.add_breadcrumb(message=f"mailed ops{number}@example.com")
        sentry_sdk.capture_message("done for ops@example.com")
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init(dsn=None)
    [event] = transport.events
    crumbs = event["breadcrumbs"]["values"]
    assert len(crumbs) == 2
    assert all("@example.com" not in crumb["message"] for crumb in crumbs)
    assert "@example.com" not in event["message"]


def test_a_logged_error_is_scrubbed_with_its_arguments():
    transport = Capture()
    settings = load_settings(None, error_dsn="https://key@errors.invalid/1")
    try:
        # The default integrations include logging: an error logged becomes a report.
        assert init_error_reporting(settings, transport=transport)
        logging.getLogger("suture.test").error("could not mail %s about %d runs",
                                               "ops@example.com", 3)
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init(dsn=None)
    [event] = transport.events
    assert "ops@example.com" not in json.dumps(event)
    assert event["logentry"]["params"][1] == 3


@pytest.mark.parametrize("command", ["run", "web", pytest.param("worker", marks=pytest.mark.redis),
                                     "scheduler"])
def test_every_process_starts_error_reporting_with_the_dramatiq_integration(
        command, tmp_path, monkeypatch):
    # Each long-running command builds its app through `build_app`, which starts reporting;
    # serving and waiting are cut short so the command returns once it has started.
    started: list[Settings] = []

    def init(settings: Settings, **options):
        started.append(settings)
        return init_error_reporting(settings, transport=Capture(), **options)

    for name in list(os.environ):
        if name.startswith("SUTURE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SUTURE_ERROR_DSN", "https://key@errors.invalid/1")
    monkeypatch.setenv("SUTURE_DATABASE_URL", f"sqlite:///{tmp_path / 'suture.db'}")
    monkeypatch.setenv("SUTURE_DATA_DIR", str(tmp_path / "data"))
    if command == "worker":
        monkeypatch.setenv("SUTURE_BROKER_URL", "redis://127.0.0.1:6379/0")
        monkeypatch.setenv("SUTURE_BROKER__NAMESPACE", f"suture-test-{uuid.uuid4().hex[:8]}")
    monkeypatch.setattr(worker.app, "init_error_reporting", init)
    monkeypatch.setattr(worker.cli.doctor, "preflight", lambda *args, **kwargs: None)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    monkeypatch.setattr(worker.cli.commands, "_wait_for_signal", lambda: None)
    root_handlers = list(logging.getLogger().handlers)
    try:
        result = CliRunner().invoke(cli, [command])
        client = sentry_sdk.get_client()
        assert result.exit_code == 0, result.output
        assert [s.error_dsn.get_secret_value() for s in started] == [
            "https://key@errors.invalid/1"]
        assert client.is_active() and client.dsn == "https://key@errors.invalid/1"
        assert "dramatiq" in client.integrations
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init(dsn=None)
        for handler in logging.getLogger().handlers:
            if handler not in root_handlers:
                logging.getLogger().removeHandler(handler)


def test_a_code_host_webhook_is_read_whole_while_errors_are_reported(tmp_path):
    # sentry-sdk's web framework integrations read a request's body before the route does; the
    # code-host receivers must still get it (they once waited for it until the sender gave up).
    from tests.support import make_app, served

    settings = load_settings(None, error_dsn="https://key@errors.invalid/1")
    try:
        assert init_error_reporting(settings, transport=Capture())
        app = make_app(tmp_path, settings={"gitlab": {"webhook_secret": "gitlab-hook-secret"}})
        body = json.dumps({"object_kind": "note", "project": {"path_with_namespace": "a/b"},
                           "object_attributes": {"noteable_type": "MergeRequest"}}).encode()
        try:
            with served(app) as client:
                answer = client.post("/hooks/gitlab", content=body, timeout=10, headers={
                    "Content-Type": "application/json", "X-Gitlab-Event": "Note Hook",
                    "X-Gitlab-Token": "gitlab-hook-secret"})
        finally:
            app.close()
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init(dsn=None)
    assert answer.status_code < 500 and "went away" not in answer.text, answer.text
