"""Prometheus metrics at `GET /metrics` on the web app.

The web, the workers and the scheduler run as separate processes, so the figures are read when
Prometheus scrapes, from what they share: the store (runs by state, deliveries by source and
status, time spent in each state from the transitions' timestamps, verdicts, agents' attempts,
cost and tokens from the runs' records) and the broker (messages per queue). One scrape of the
web process shows everything, without multiprocess mode. Refused webhooks are counted where
they are refused, in this process (`worker.web.refusals`).

A figure that cannot be read (the database or the broker is down) is left out of that scrape and
`suture_store_up` or `suture_broker_up` says 0, so a scrape never fails as a whole.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

import dramatiq
from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from worker.brokers import queue_counts
from worker.models import RunState
from worker.store import SqlStore, readings

log = logging.getLogger("suture.metrics")

# Seconds spent in a state: triage takes milliseconds, a fix minutes, an open pull request days.
BUCKETS = (0.1, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0, 604800.0)


class StoreCollector(Collector):
    """Runs, deliveries, state durations, verdicts and agent spending, read from the store."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        """One reading of the store."""
        yield from _guarded("store", self._read)

    def _read(self) -> Iterator[Metric]:
        runs = GaugeMetricFamily("suture_runs", "Runs by state.", labels=["state"])
        counts = readings.runs_by_state(self._store)
        for state in RunState:
            runs.add_metric([state.value], counts.get(state.value, 0))
        yield runs
        deliveries = GaugeMetricFamily(
            "suture_deliveries", "Stored deliveries (webhooks, polls, files) by source and "
                                 "status: pending, processed, ignored, failed.",
            labels=["source", "status"])
        for (source, status), count in sorted(readings.deliveries_by_outcome(self._store).items()):
            deliveries.add_metric([source, status], count)
        yield deliveries
        yield durations_histogram(readings.state_durations(self._store))
        yield from fix_metrics(readings.fix_figures(self._store))


def durations_histogram(stays: Iterable[tuple[str, float]]) -> HistogramMetricFamily:
    """Seconds runs spent in each state they left (the stage's time for a working state)."""
    per_state: dict[str, list[float]] = {}
    for state, seconds in stays:
        per_state.setdefault(state, []).append(seconds)
    histogram = HistogramMetricFamily(
        "suture_state_duration_seconds",
        "Seconds a run spent in a state before leaving it, from the transitions' timestamps.",
        labels=["state"])
    for state, values in sorted(per_state.items()):
        buckets = [(_le(bound), float(sum(1 for v in values if v <= bound))) for bound in BUCKETS]
        buckets.append(("+Inf", float(len(values))))
        histogram.add_metric([state], buckets, sum(values))
    return histogram


def _le(bound: float) -> str:
    return str(int(bound)) if bound.is_integer() else str(bound)


def fix_metrics(figures: readings.FixFigures) -> Iterator[Metric]:
    """Verdicts by status, and each agent's attempts, cost and tokens."""
    verdicts = CounterMetricFamily(
        "suture_verifications", "Verdicts on agents' patches: verified, rejected, could not "
                                "verify.", labels=["verdict"])
    for status, count in sorted(figures.verdicts.items()):
        verdicts.add_metric([status], count)
    yield verdicts
    attempts = CounterMetricFamily("suture_agent_attempts", "Agents' fix attempts.",
                                   labels=["agent"])
    cost = CounterMetricFamily("suture_agent_cost_usd", "What agents' attempts cost, in US "
                                                        "dollars.", labels=["agent"])
    tokens = CounterMetricFamily("suture_agent_tokens", "Model tokens agents' attempts used.",
                                 labels=["agent"])
    for agent in sorted(figures.attempts):
        attempts.add_metric([agent], figures.attempts[agent])
        cost.add_metric([agent], figures.cost_usd[agent])
        tokens.add_metric([agent], figures.tokens[agent])
    yield from (attempts, cost, tokens)


class BrokerCollector(Collector):
    """Messages per queue: enqueued and not yet finished (waiting, prefetched or running), and
    dead-lettered."""

    def __init__(self, broker: dramatiq.Broker) -> None:
        self._broker = broker

    def collect(self) -> Iterator[Metric]:
        """One reading of the broker's queues."""
        yield from _guarded("broker", self._read)

    def _read(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "suture_queue_messages", "Messages on a queue not yet finished (waiting, prefetched "
                                     "or running; on RabbitMQ waiting only); <queue>.DQ holds "
                                     "delayed retries.",
            labels=["queue"])
        dead = GaugeMetricFamily("suture_queue_dead_messages", "Dead-lettered messages.",
                                 labels=["queue"])
        counts = queue_counts(self._broker, self._broker.get_declared_queues())
        for queue, (unfinished, dead_letters) in sorted(counts.items()):
            depth.add_metric([queue], unfinished)
            if not queue.endswith(".DQ"):
                dead.add_metric([queue], dead_letters)
        yield from (depth, dead)


def _guarded(part: str, read: Callable[[], Iterator[Metric]]) -> Iterator[Metric]:
    """The metrics `read` makes, then `suture_<part>_up`: 1, or 0 (and none of them) when
    reading failed."""
    up = GaugeMetricFamily(f"suture_{part}_up", f"Whether the {part} could be read for this "
                                                "scrape.")
    try:
        made = list(read())
    except Exception as exc:  # a scrape must not fail because one part is down
        log.warning("metrics: could not read the %s: %s", part, exc)
        up.add_metric([], 0)
        yield up
        return
    up.add_metric([], 1)
    yield from made
    yield up


def serve_metrics(web: FastAPI, store: SqlStore, broker: dramatiq.Broker) -> None:
    """Add `GET /metrics` to `web`, with a registry of its own (each app its own figures) and
    the refusal counter the webhook receivers add to."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    registry.register(BrokerCollector(broker))
    web.state.refusals = Counter("suture_webhook_refusals", "Webhooks refused, by receiver and "
                                 "HTTP status (401 bad signature, 409 duplicate, ...).",
                                 ["source", "status"], registry=registry)

    @web.get("/metrics", include_in_schema=False)
    def metrics() -> Response:  # a plain def: FastAPI runs it off the event loop
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
