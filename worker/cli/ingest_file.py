"""`suture ingest FILE`: a payload file goes through the same path as a webhook.

The file is stored as a delivery and the `ingest_delivery` message is sent. With the embedded
in-memory broker the command also runs a worker until every message (triage, ticket) is done, so
the report it prints is final; with Redis the running workers take it from there. The report
lists the runs of the cluster the payload belongs to, not every run in the store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dramatiq.brokers.stub import StubBroker

from worker.broker import join_all
from worker.fingerprint import fingerprint
from worker.models import Cluster, ErrorEvent
from worker.normalise import (
    SENTRY_ERROR_RESOURCES,
    PayloadError,
    detect_and_normalise,
    from_sentry_webhook,
    resource_of,
)
from worker.scrub import scrub_event
from worker.settings import Settings


def classify(payload: dict[str, Any]) -> tuple[str, str]:
    """(source, kind) of a payload, the way the webhook receiver would have labelled it."""
    resource = resource_of(payload) if "action" in payload else None
    if resource in SENTRY_ERROR_RESOURCES:
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
        event = (from_sentry_webhook(kind, payload) if source == "sentry"
                 else detect_and_normalise(payload))
    except PayloadError as exc:
        raise ValueError(f"{path} is not a payload suture understands: {exc}") from None
    app = build_app(settings)
    try:
        delivery_id, created = app.store.add_delivery(source, kind, body, payload)
        if created:
            _process(app, delivery_id)
        return _report(app, delivery_id, created, event)
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
        join_all(app.broker)
        worker.join()
    finally:
        worker.stop()


def _report(app: Any, delivery_id: int, created: bool,
            event: ErrorEvent | None) -> dict[str, Any]:
    delivery = app.store.get_delivery(delivery_id)
    cluster = _cluster_of(app, event) if event is not None else None
    runs = []
    if cluster is not None:
        for run in app.store.list_runs(cluster.id):
            runs.append({"run": run.id, "cluster": cluster.id, "title": cluster.title,
                         "state": run.state.value, "reason": run.reason,
                         "ticket": run.ticket_url})
    return {"delivery": delivery_id, "new": created,
            "status": delivery.status if delivery else "missing",
            "detail": delivery.reason if delivery else "", "runs": runs}


def _cluster_of(app: Any, event: ErrorEvent) -> Cluster | None:
    """The cluster the payload's event was recorded in.

    By fingerprint; failing that by upstream issue id, because an `issue` webhook is completed
    with its upstream's latest full event before it is recorded, which can change the fingerprint.
    """
    # Ingestion fingerprints the scrubbed event, so the lookup must too.
    found: Cluster | None = app.store.find_cluster(fingerprint(scrub_event(event)))
    if found is not None or not event.issue_id:
        return found
    source = event.source.value
    return next((cluster for cluster in app.store.list_clusters()
                 if cluster.upstream.get(source) == event.issue_id), None)
