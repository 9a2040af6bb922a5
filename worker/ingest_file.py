"""`suture ingest FILE`: a payload file goes through the same path as a webhook.

The file is stored as a delivery and the `ingest_delivery` message is sent. With the embedded
in-memory broker the command also runs a worker until every message (triage, ticket) is done, so
the report it prints is final; with Redis the running workers take it from there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dramatiq.brokers.stub import StubBroker

from worker.normalise import PayloadError, detect_and_normalise, from_sentry_webhook
from worker.settings import Settings

SENTRY_ENVELOPE_KEYS = {"event": "event_alert", "error": "error", "issue": "issue"}


def classify(payload: dict[str, Any]) -> tuple[str, str]:
    """(source, kind) of a payload, the way the webhook receiver would have labelled it."""
    data = payload.get("data")
    if "action" in payload and isinstance(data, dict):
        for key, resource in SENTRY_ENVELOPE_KEYS.items():
            if key in data:
                return "sentry", resource
    return "file", "file"


def ingest_file(settings: Settings, path: Path) -> dict[str, Any]:
    """Store and process one payload file; returns a report of the delivery and its runs."""
    from worker.app import build_app

    try:
        body = path.read_bytes()
        payload = json.loads(body)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    if not isinstance(payload, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    source, kind = classify(payload)
    try:
        if source == "sentry":
            from_sentry_webhook(kind, payload)
        else:
            detect_and_normalise(payload)
    except PayloadError as exc:
        raise ValueError(f"{path} is not a payload suture understands: {exc}") from None
    app = build_app(settings)
    try:
        delivery_id, created = app.store.add_delivery(source, kind, body, payload)
        if created:
            _process(app, delivery_id)
        return _report(app, delivery_id, created)
    finally:
        app.close()


def _process(app: Any, delivery_id: int) -> None:
    if not isinstance(app.broker, StubBroker):
        app.actors.ingest_delivery.send(delivery_id)
        return
    worker = app.worker(threads=1)
    worker.start()
    try:
        app.actors.ingest_delivery.send(delivery_id)
        app.broker.join("default", fail_fast=False)
        worker.join()
    finally:
        worker.stop()


def _report(app: Any, delivery_id: int, created: bool) -> dict[str, Any]:
    delivery = app.store.get_delivery(delivery_id)
    runs = []
    for cluster in app.store.list_clusters():
        for run in app.store.list_runs(cluster.id):
            runs.append({"run": run.id, "cluster": cluster.id, "title": cluster.title,
                         "state": run.state.value, "reason": run.reason,
                         "ticket": run.ticket_url})
    return {"delivery": delivery_id, "new": created,
            "status": delivery.status if delivery else "missing",
            "detail": delivery.reason if delivery else "", "runs": runs}
