"""Measure scale-out: for each broker and each worker count, a fresh PostgreSQL database, a
broker of its own, `suture web`, `suture scheduler` and N `suture worker` processes; M distinct
clusters posted as signed Sentry webhooks; runs completed per second until the last ticket, and
the exactly-once checks (no state entered twice by a run, no ticket filed twice).

    python bench/scaleout/run.py --brokers redis,rabbitmq --workers 1,2,4 --clusters 200

Needs PostgreSQL (127.0.0.1:5432, user postgres), Redis (127.0.0.1:6379) and, for RabbitMQ,
the server on 127.0.0.1:5672 with `rabbitmqctl` to make a virtual host per round.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.scaleout.brokers import broker_environment  # noqa: E402 - after the path is set
from bench.scaleout.harness import (  # noqa: E402
    Deployment,
    Outcome,
    github_standin,
    measure,
)

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def database() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards; its SQLAlchemy URL."""
    name = f"suture_scaleout_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def one_round(broker: str, workers: int, clusters: int, threads: int, forge: str,
              backlog: bool, logs: Path) -> Outcome:
    """One deployment of `workers` workers on `broker`, measured once."""
    with database() as url, broker_environment(broker) as environment, \
            github_standin() as github:
        deployment = Deployment(logs, url, environment, github, worker_threads=threads,
                                forge=forge)
        try:
            deployment.up(0 if backlog else workers)
            return measure(deployment, broker, workers, clusters, backlog=backlog)
        finally:
            deployment.stop()


def main() -> int:
    """Run every (broker, workers) round and print a Markdown table; 1 if anything repeated."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--brokers", default="redis,rabbitmq")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--threads", type=int, default=4, help="threads per worker process")
    parser.add_argument("--forge", choices=["github", "files"], default="github",
                        help="tickets to the GitHub stand-in (PyGithub, paced as for GitHub) "
                             "or as Markdown files")
    parser.add_argument("--backlog", action="store_true",
                        help="accept every webhook first, then start the workers and time them "
                             "alone (first run transition to last ticket)")
    args = parser.parse_args()
    # SIGTERM (and SIGINT, which a background job may have ignored) unwind through the rounds'
    # clean-up: processes stopped, database dropped, virtual host deleted.
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: sys.exit(130))
    timed = ("backlog: workers started after every webhook was accepted; time from the first "
             "run transition to the last ticket" if args.backlog else
             "time from the first webhook to the last ticket, every worker already up")
    print(f"forge: {args.forge}, {args.threads} threads per worker; {timed}\n")
    print("| broker | workers | clusters | runs | tickets | webhooks accepted (s) | "
          "time (s) | runs/s | CPU s per run | repeated states | "
          "repeated tickets |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    failed = False
    for broker in args.brokers.split(","):
        for workers in (int(n) for n in args.workers.split(",")):
            with tempfile.TemporaryDirectory(prefix="suture-scaleout-") as logs:
                outcome = one_round(broker, workers, args.clusters, args.threads,
                                    args.forge, args.backlog, Path(logs))
            failed |= bool(outcome.repeated_states or outcome.repeated_tickets
                           or outcome.tickets != args.clusters)
            print(f"| {broker} | {workers} | {outcome.clusters} | {outcome.runs} | "
                  f"{outcome.tickets} | {outcome.accept_seconds:.1f} | {outcome.seconds:.1f} | "
                  f"{outcome.per_second:.2f} | {outcome.cpu_per_run:.3f} | "
                  f"{len(outcome.repeated_states)} | "
                  f"{len(outcome.repeated_tickets)} |", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
