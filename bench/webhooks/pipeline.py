"""After the acknowledgement: how fast deliveries become clustered events, and how long an alert
takes to become a ticket.

1. Ingest rate: N stored Sentry alerts (distinct event ids, spread over C bugs by exception type)
   go through the ingest stage (`worker.stages.ingest.ingest_delivery`: normalise, fingerprint,
   record the event in its cluster, open a run for a new cluster) on PostgreSQL, against plain
   `json.loads` of the same bodies timed in the same run.
2. Alert to ticket: a suture with its web receiver, two worker threads and the GitHub stand-in
   as the forge; each of N alerts of a new bug is posted to `/hooks/sentry` and timed until its
   issue exists at the stand-in.

    python -m bench.webhooks.pipeline --events 2000 --clusters 20 --tickets 20
"""

from __future__ import annotations

import argparse
import copy
import json
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from integrations.github import GitHubTickets
from integrations.standins.base import recorded
from integrations.standins.github import GitHubStandIn
from tests.support import compact, make_app, sentry_headers, served
from worker.settings import GitHubSettings
from worker.stages.ingest import ingest_delivery

TOKEN = "bench-github-token"


def alert(n: int, bug: int) -> dict[str, Any]:
    """A recorded Sentry alert with event id `n`, of bug number `bug`."""
    payload = copy.deepcopy(recorded("sentry/webhook-event-alert-triggered.json"))
    event = payload["data"]["event"]
    event["event_id"] = f"{n:032x}"
    event["exception"]["values"][-1]["type"] = f"BenchError{bug}"
    event["title"] = f"BenchError{bug}: bench"
    return payload


def ingest_rate(database: str, events: int, clusters: int, work: Path) -> dict[str, float]:
    """Events per second through the ingest stage, and through `json.loads` alone."""
    app = make_app(work, settings={"database_url": database})
    bodies = [compact(alert(n, n % clusters)) for n in range(events)]
    ids = [app.store.add_delivery("sentry", "event_alert", body, json.loads(body))[0]
           for body in bodies]
    started = time.perf_counter()
    for body in bodies:
        json.loads(body)
    plain = time.perf_counter() - started
    started = time.perf_counter()
    for delivery_id in ids:
        ingest_delivery(app.deps, delivery_id)
    staged = time.perf_counter() - started
    made = len(app.store.list_clusters())
    app.close()
    return {"events": events, "clusters": made, "ingest_per_s": events / staged,
            "json_loads_per_s": events / plain}


def alert_to_ticket(database: str, tickets: int, work: Path) -> list[float]:
    """Seconds from each alert's POST to its issue at the stand-in."""
    standin = GitHubStandIn(token=TOKEN)
    standin.add_repo("acme", "shop")
    standin.start()
    forge = GitHubTickets(GitHubSettings(base_url=standin.url, token=TOKEN),
                          seconds_between_requests=0, seconds_between_writes=0)
    shop = [{"name": "shop", "sentry_project": "front-end", "repository": ".",
             "slug": "acme/shop"}]
    app = make_app(work, forge=forge, settings={"database_url": database, "services": shop})
    worker = app.worker(threads=2)
    worker.start()
    latencies = []
    try:
        with served(app) as client:
            for n in range(tickets):
                body = compact(alert(10**6 + n, 10**3 + n))
                before = len(standin.issues("acme", "shop"))
                started = time.perf_counter()
                answer = client.post("/hooks/sentry", content=body, headers=sentry_headers(body))
                if answer.status_code != 202:
                    raise SystemExit(f"webhook refused: {answer.status_code} {answer.text}")
                while len(standin.issues("acme", "shop")) == before:
                    if time.perf_counter() - started > 120:
                        raise SystemExit("no ticket within 120 s")
                    time.sleep(0.005)
                latencies.append(time.perf_counter() - started)
    finally:
        worker.stop()
        app.close()
        standin.stop()
    return latencies


def main() -> None:
    """Run both measurements on a throwaway PostgreSQL database each and print them."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--tickets", type=int, default=20)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="suture-pipeline-"))
    results: dict[str, Any] = {}
    for part in ("ingest", "ticket"):
        name = f"suture_bench_{secrets.token_hex(4)}"
        with psycopg.connect(args.postgres, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        database = args.postgres.rsplit("/", 1)[0] + "/" + name
        try:
            if part == "ingest":
                results["ingest"] = ingest_rate(database, args.events, args.clusters,
                                                work / part)
            else:
                seconds = alert_to_ticket(database, args.tickets, work / part)
                results["alert_to_ticket_ms"] = {
                    "n": len(seconds), "median": 1000 * statistics.median(seconds),
                    "max": 1000 * max(seconds), "min": 1000 * min(seconds)}
        finally:
            with psycopg.connect(args.postgres, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
