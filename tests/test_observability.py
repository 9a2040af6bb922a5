"""suture's own error reports: off by default, scrubbed when on."""

from __future__ import annotations

import json
import logging

import sentry_sdk
from sentry_sdk.transport import Transport

from worker.observability import init_error_reporting
from worker.settings import load_settings


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
