"""Thin Dramatiq actors: each carries ids only, calls one stage, and sends the next message.

Failures are sorted here. A `TransientError` is retried with backoff by Dramatiq's Retries
middleware; a `PermanentError`, or too many attempts (a message redelivered after a worker died is
an attempt too), ends the run or delivery as failed with the reason recorded. Nothing is dropped
silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dramatiq

from worker import stages
from worker.models import RunState
from worker.ports import PermanentError, TransientError
from worker.stages import Deps

log = logging.getLogger("suture.actors")

# Retry backoff for transient errors, in milliseconds.
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 300_000


@dataclass
class Actors:
    """The actors declared on one broker."""

    ingest_delivery: dramatiq.Actor[Any, Any]
    poll_source: dramatiq.Actor[Any, Any]
    triage_run: dramatiq.Actor[Any, Any]
    publish_run: dramatiq.Actor[Any, Any]

    def send_for_state(self, run_id: int, state: RunState) -> bool:
        """Send the message that moves a run on from `state`; False if it is terminal."""
        actor = {RunState.NEW: self.triage_run, RunState.TRIAGED: self.publish_run,
                 RunState.PUBLISHING: self.publish_run}.get(state)
        if actor is None:
            return False
        actor.send(run_id)
        return True


def declare(broker: dramatiq.Broker, deps: Deps) -> Actors:
    """Declare suture's actors on `broker`, bound to `deps`."""
    max_attempts = deps.settings.max_attempts

    def retry_when(retries: int, exc: BaseException) -> bool:
        return isinstance(exc, TransientError) and retries < max_attempts

    def actor(fn: Callable[..., None], name: str) -> dramatiq.Actor[Any, Any]:
        return dramatiq.actor(fn, broker=broker, actor_name=name, queue_name="default",
                              retry_when=retry_when, min_backoff=MIN_BACKOFF_MS,
                              max_backoff=MAX_BACKOFF_MS, time_limit=600_000)

    def ingest_delivery(delivery_id: int) -> None:
        attempt = deps.store.start_delivery(delivery_id)
        if attempt > max_attempts:
            deps.store.finish_delivery(delivery_id, "failed", f"gave up after {max_attempts} "
                                                              "attempts")
            return
        try:
            result = stages.ingest_delivery(deps, delivery_id)
        except PermanentError as exc:
            deps.store.finish_delivery(delivery_id, "failed", str(exc))
            return
        except TransientError as exc:
            _give_up_delivery_if_last(deps, delivery_id, attempt, exc)
            raise
        for run_id in result.run_ids:
            actors.triage_run.send(run_id)

    def poll_source(source_name: str) -> None:
        try:
            result = stages.poll(deps, source_name)
        except PermanentError as exc:
            log.error("poll of %s gave up: %s", source_name, exc)
            return
        log.info("poll of %s: %s", source_name, result.summary)
        for run_id in result.run_ids:
            actors.triage_run.send(run_id)

    def triage_run(run_id: int) -> None:
        if _run_stage(deps, run_id, stages.triage) == RunState.TRIAGED:
            actors.publish_run.send(run_id)

    def publish_run(run_id: int) -> None:
        _run_stage(deps, run_id, stages.publish)

    actors = Actors(
        ingest_delivery=actor(ingest_delivery, "ingest_delivery"),
        poll_source=actor(poll_source, "poll_source"),
        triage_run=actor(triage_run, "triage_run"),
        publish_run=actor(publish_run, "publish_run"),
    )
    return actors


def _run_stage(deps: Deps, run_id: int,
               stage: Callable[[Deps, int], RunState | None]) -> RunState | None:
    """Run one stage on a run, counting the attempt and recording a give-up with its reason."""
    run = deps.store.get_run(run_id)
    if run is None or run.state.terminal:
        return None
    attempt = deps.store.start_attempt(run_id)
    if attempt > deps.settings.max_attempts:
        deps.store.transition(run_id, run.state, RunState.FAILED,
                              f"gave up after {deps.settings.max_attempts} attempts at "
                              f"{stage.__name__}")
        return RunState.FAILED
    try:
        return stage(deps, run_id)
    except PermanentError as exc:
        deps.store.transition(run_id, run.state, RunState.FAILED, f"{stage.__name__}: {exc}")
        return RunState.FAILED
    except TransientError as exc:
        if attempt >= deps.settings.max_attempts:
            current = deps.store.get_run(run_id)
            if current is not None and not current.state.terminal:
                deps.store.transition(run_id, current.state, RunState.FAILED,
                                      f"gave up after {attempt} attempts at {stage.__name__}: "
                                      f"{exc}")
            return RunState.FAILED
        raise


def _give_up_delivery_if_last(deps: Deps, delivery_id: int, attempt: int,
                              exc: TransientError) -> None:
    if attempt >= deps.settings.max_attempts:
        deps.store.finish_delivery(delivery_id, "failed",
                                   f"gave up after {attempt} attempts: {exc}")
