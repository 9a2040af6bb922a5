"""Raw webhook bodies: emptied once ingested, kept at most `retention.raw_hours` otherwise, on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from integrations.files_forge import FilesForge
from integrations.standins.base import recorded
from tests.support import compact, make_settings
from worker.render import Renderer
from worker.retention_settings import RetentionSettings
from worker.stages.deps import Deps
from worker.stages.ingest import ingest_delivery
from worker.store import SqlStore
from worker.store.retention import purge
from worker.store.tables import DeliveryRow

SECRET_MAIL = "ann.lee@example.com"


def make_deps(store: SqlStore, tmp_path: Path) -> Deps:
    """Stage dependencies over `store` (the ingest stage uses only the store and settings)."""
    settings = make_settings(tmp_path, database_url=store.url)
    return Deps(settings=settings, store=store, forge=FilesForge(tmp_path / "tickets"),
                renderer=Renderer(settings.playbooks_dir))


def payloads(store: SqlStore) -> dict[int, dict]:
    with store.session() as session:
        return {row.id: row.payload for row in session.scalars(select(DeliveryRow))}


def alert() -> dict:
    payload = recorded("sentry/webhook-event-alert-triggered.json")
    payload["data"]["event"]["exception"]["values"][-1]["value"] = f"no account {SECRET_MAIL}"
    payload["data"]["event"]["title"] = f"ReferenceError: no account {SECRET_MAIL}"
    return payload


def test_an_ingested_delivery_keeps_no_raw_body(store: SqlStore, tmp_path: Path) -> None:
    payload = alert()
    delivery_id, _ = store.add_delivery("sentry", "event_alert", compact(payload), payload)
    assert SECRET_MAIL in str(payloads(store)[delivery_id])

    ingest_delivery(make_deps(store, tmp_path), delivery_id)

    delivery = store.get_delivery(delivery_id)
    assert delivery is not None and delivery.status == "processed"
    assert payloads(store)[delivery_id] == {}
    [cluster] = store.list_clusters()
    assert SECRET_MAIL not in cluster.title and "[REDACTED:email]" in cluster.title
    [event] = store.cluster_events(cluster.id)
    assert SECRET_MAIL not in event.model_dump_json()


def test_a_failed_delivery_is_kept_raw_only_until_the_retention_time(
        store: SqlStore, tmp_path: Path) -> None:
    payload = {"action": "created", "data": {"event": "not an object", "who": SECRET_MAIL}}
    delivery_id, _ = store.add_delivery("sentry", "event_alert", compact(payload), payload)
    ingest_delivery(make_deps(store, tmp_path), delivery_id)
    delivery = store.get_delivery(delivery_id)
    assert delivery is not None and delivery.status == "failed"
    assert SECRET_MAIL not in delivery.reason

    settings = RetentionSettings(raw_hours=6)
    now = datetime.now(UTC)
    assert purge(store, settings, now + timedelta(hours=5)).total == 0
    assert payloads(store)[delivery_id] == payload

    report = purge(store, settings, now + timedelta(hours=7))
    assert (report.failed, report.total) == (1, 1)
    assert payloads(store)[delivery_id] == {}
    assert purge(store, settings, now + timedelta(hours=8)).total == 0  # nothing left to do


def test_a_delivery_pending_past_the_retention_time_is_failed_and_emptied(
        store: SqlStore) -> None:
    payload = alert()
    delivery_id, _ = store.add_delivery("sentry", "event_alert", compact(payload), payload)
    now = datetime.now(UTC)
    assert purge(store, RetentionSettings(raw_hours=1), now).total == 0
    report = purge(store, RetentionSettings(raw_hours=1), now + timedelta(hours=2))
    assert report.expired == 1
    delivery = store.get_delivery(delivery_id)
    assert delivery is not None and delivery.status == "failed"
    assert "not ingested within 1 h" in delivery.reason
    assert payloads(store)[delivery_id] == {}


@pytest.mark.parametrize("status", ["processed", "ignored"])
def test_a_delivery_finished_elsewhere_is_emptied_by_the_next_purge(
        store: SqlStore, status: str) -> None:
    payload = {"comment": {"body": f"ping {SECRET_MAIL}"}}
    delivery_id, _ = store.add_delivery("github", "issue_comment", compact(payload), payload)
    store.finish_delivery(delivery_id, status, "ok")
    report = purge(store, RetentionSettings(), datetime.now(UTC))
    assert (report.finished, report.total) == (1, 1)
    assert payloads(store)[delivery_id] == {}


@pytest.mark.parametrize("hours", [0, -1])
def test_retention_must_be_positive(hours: float) -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        RetentionSettings(raw_hours=hours)
