"""The `suture` command line: ingesting payload files, the database, status, and config errors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from typer.testing import CliRunner

from integrations.standins.base import recorded
from worker.cli import cli


@pytest.fixture
def env(tmp_path, monkeypatch) -> Path:
    """SUTURE_* pointing at a throwaway SQLite database and tickets folder; nothing else set."""
    for name in list(os.environ):
        if name.startswith("SUTURE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SUTURE_DATABASE_URL", f"sqlite:///{tmp_path / 'suture.db'}")
    monkeypatch.setenv("SUTURE_TICKETS_DIR", str(tmp_path / "tickets"))
    monkeypatch.setenv("SUTURE_DATA_DIR", str(tmp_path / "data"))
    # The payloads name projects no service maps; these tests follow them to a ticket.
    monkeypatch.setenv("SUTURE_POLICY__REQUIRE_SERVICE", "false")
    return tmp_path


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def datadog_log_item() -> dict[str, Any]:
    return recorded("datadog/logs-search.response.error-stack.COMPOSED.json")["data"][0]


PAYLOADS = {
    "sentry-event-alert-webhook": lambda: recorded("sentry/webhook-event-alert-triggered.json"),
    "sentry-stored-event": lambda: recorded("sentry/raw-event-python.json"),
    "datadog-log-item": datadog_log_item,
}


def write_json(folder: Path, name: str, payload: object) -> Path:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def ingest(path: Path) -> dict[str, Any]:
    result = invoke("ingest", str(path))
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def ticket_files(folder: Path) -> list[Path]:
    return sorted((folder / "tickets").rglob("*.md"))


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_ingesting_a_payload_file_files_a_ticket(env, kind):
    path = write_json(env, kind, PAYLOADS[kind]())

    report = ingest(path)

    assert report["new"] is True and report["status"] == "processed"
    assert len(report["runs"]) == 1
    run = report["runs"][0]
    assert run["state"] == "ticketed"
    ticket = Path(unquote(urlparse(run["ticket"]).path))
    assert ticket_files(env) == [ticket]
    text = ticket.read_text("utf-8")
    assert "## Stack trace" in text and "suture:ticket:" in text


def test_ingesting_the_same_file_twice_creates_nothing_new(env):
    path = write_json(env, "alert", recorded("sentry/webhook-event-alert-triggered.json"))
    first = ingest(path)
    tickets = ticket_files(env)

    again = ingest(path)

    assert again["new"] is False
    assert again["delivery"] == first["delivery"]
    assert again["runs"] == first["runs"]
    assert ticket_files(env) == tickets


def test_the_report_lists_only_the_runs_of_the_files_cluster(env):
    ingest(write_json(env, "alert", recorded("sentry/webhook-event-alert-triggered.json")))

    report = ingest(write_json(env, "stored", recorded("sentry/raw-event-python.json")))

    assert [run["title"] for run in report["runs"]] == [
        "Exception: This is an example Python exception"]


def test_the_report_shows_a_frameless_events_cluster_with_its_title_scrubbed(env):
    # Without frames the fingerprint reads the message, which ingestion scrubs first.
    secret = "call +44 20 7946 0958 or mail ann.lee@example.com"
    event = {"event_id": "f" * 32, "platform": "python", "timestamp": 1751006912.0,
             "message": f"Payment declined: {secret}", "title": f"Payment declined: {secret}"}

    report = ingest(write_json(env, "message", event))

    assert [run["title"] for run in report["runs"]] == [
        "Payment declined: call [REDACTED:phone] or mail [REDACTED:email]"]
    assert "7946" not in json.dumps(report) and "ann.lee" not in json.dumps(report)


def test_a_file_that_is_not_json_fails_with_exit_1(env):
    path = env / "notes.txt"
    path.write_text("Traceback (most recent call last): ...", encoding="utf-8")

    result = invoke("ingest", str(path))

    assert result.exit_code == 1
    assert result.stderr.startswith(f"suture: cannot read {path}")
    assert result.stdout == ""


def test_a_missing_file_fails_with_exit_1(env):
    result = invoke("ingest", str(env / "nowhere.json"))

    assert result.exit_code == 1 and "cannot read" in result.stderr


def test_a_json_document_that_is_not_an_object_fails_with_exit_1(env):
    result = invoke("ingest", str(write_json(env, "list", [1, 2, 3])))

    assert result.exit_code == 1 and "does not hold a JSON object" in result.stderr


def test_an_unrecognised_json_object_fails_with_exit_1_and_stores_nothing(env):
    path = write_json(env, "other", {"hello": "world", "answer": 42})

    result = invoke("ingest", str(path))

    assert result.exit_code == 1
    assert f"{path} is not a payload suture understands" in result.stderr
    status = invoke("status")
    assert status.exit_code == 0 and status.stdout == ""


def test_a_bad_configuration_exits_2_naming_the_key(env, monkeypatch):
    monkeypatch.setenv("SUTURE_PORT", "abc")
    path = write_json(env, "stored", recorded("sentry/raw-event-python.json"))

    result = invoke("ingest", str(path))

    assert result.exit_code == 2
    assert "port (SUTURE_PORT)" in result.stderr
    assert not (env / "suture.db").exists()


def test_a_missing_config_file_exits_2(env):
    result = invoke("status", "--config", str(env / "missing.toml"))

    assert result.exit_code == 2 and "config file not found" in result.stderr


def test_a_config_file_is_read(env, monkeypatch):
    monkeypatch.delenv("SUTURE_DATABASE_URL")
    config = env / "suture.toml"
    config.write_text(f'database_url = "sqlite:///{env / "from-toml.db"}"\n', encoding="utf-8")

    result = invoke("db", "upgrade", "--config", str(config))

    assert result.exit_code == 0, result.output
    assert (env / "from-toml.db").is_file()


def test_db_upgrade_creates_the_schema_and_can_run_again(env):
    first = invoke("db", "upgrade")
    second = invoke("db", "upgrade")

    assert first.exit_code == second.exit_code == 0
    assert second.stdout.strip() == "database is up to date"
    assert (env / "suture.db").is_file()


def test_status_lists_clusters_and_their_runs(env):
    empty = invoke("status")
    assert empty.exit_code == 0 and empty.stdout == ""
    ingest(write_json(env, "stored", recorded("sentry/raw-event-python.json")))

    result = invoke("status")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == ("cluster 1 [open] Exception: This is an example Python exception "
                        "(1 events, 0 users)")
    assert lines[1].startswith("  run 1 episode 1: ticketed - ticket filed: file://")


def test_worker_without_a_broker_url_exits_2_with_a_message(env):
    result = invoke("worker")

    assert result.exit_code == 2
    assert "needs SUTURE_BROKER_URL" in result.stderr


def test_without_a_command_the_help_is_shown():
    result = invoke()

    assert "ingest" in result.output and "status" in result.output


def test_playbooks_check_passes_on_the_shipped_playbooks_and_fails_on_a_broken_one(tmp_path):
    from typer.testing import CliRunner

    from worker.cli import cli

    ok = CliRunner().invoke(cli, ["playbooks", "check"])
    assert ok.exit_code == 0, ok.output
    (tmp_path / "templates").mkdir()
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    bad = CliRunner().invoke(cli, ["playbooks", "check"],
                             env={"SUTURE_PLAYBOOKS_DIR": str(tmp_path)})
    assert bad.exit_code == 1
