"""`suture health` and the heartbeat a worker or scheduler writes: a live process passes, a
stale or missing heartbeat, an unreachable database or broker fails with the reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from worker.cli import commands
from worker.health import Heartbeat, check_health, heartbeat_check
from worker.health_settings import HealthSettings
from worker.settings import ConfigError, load_settings

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_a_heartbeat_is_written_only_while_the_process_is_alive(tmp_path):
    path = tmp_path / "run" / "heartbeat"
    alive = [True]
    beat = Heartbeat(path, 10, lambda: alive[0], clock=lambda: NOW)
    assert beat.beat() is True
    assert datetime.fromisoformat(path.read_text()) == NOW
    alive[0] = False
    later = Heartbeat(path, 10, lambda: alive[0], clock=lambda: NOW + timedelta(minutes=5))
    assert later.beat() is False
    assert datetime.fromisoformat(path.read_text()) == NOW  # the old beat stays, going stale


def test_the_heartbeat_check_fails_when_stale_or_missing(tmp_path):
    settings = HealthSettings(heartbeat_file=tmp_path / "heartbeat", stale_after_seconds=60)
    missing = heartbeat_check(settings, NOW)
    assert not missing.ok and "no readable heartbeat" in missing.detail
    Heartbeat(tmp_path / "heartbeat", 10, lambda: True, clock=lambda: NOW).beat()
    assert heartbeat_check(settings, NOW + timedelta(seconds=30)).ok
    stale = heartbeat_check(settings, NOW + timedelta(seconds=61))
    assert not stale.ok and "61 s ago" in stale.detail


def test_health_checks_the_database_and_the_broker_with_reasons(tmp_path):
    settings = load_settings(None, database_url=f"sqlite:///{tmp_path / 's.db'}",
                             broker_url="redis://127.0.0.1:1/0")
    checks = {check.name: check for check in check_health(settings, NOW)}
    assert checks["heartbeat"].ok and checks["database"].ok
    assert not checks["broker"].ok and "ConnectionError" in checks["broker"].detail


def test_suture_health_exits_non_zero_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("SUTURE_DATABASE_URL", f"sqlite:///{tmp_path / 's.db'}")
    monkeypatch.setenv("SUTURE_HEALTH__HEARTBEAT_FILE", str(tmp_path / "never-written"))
    result = CliRunner().invoke(commands.cli, ["health"])
    assert result.exit_code == 1
    assert "FAIL heartbeat" in result.output and "ok database" in result.output
    monkeypatch.setenv("SUTURE_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    Heartbeat(tmp_path / "never-written", 10, lambda: True).beat()
    live = CliRunner().invoke(commands.cli, ["health", "--liveness"])
    assert live.exit_code == 0 and "database" not in live.output  # the process itself is alive


def test_a_blank_heartbeat_file_means_none(monkeypatch):
    monkeypatch.setenv("SUTURE_HEALTH__HEARTBEAT_FILE", "")
    assert load_settings(None).health.heartbeat_file is None


def test_a_stale_limit_below_the_beat_is_refused():
    with pytest.raises(ConfigError, match="stale_after_seconds"):
        load_settings(None, health={"heartbeat_seconds": 30, "stale_after_seconds": 20})
