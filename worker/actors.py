"""Thin Dramatiq actors: each carries ids only, calls one stage, and sends the next message.

Failures are sorted here. A `TransientError` is retried with backoff by Dramatiq's Retries
middleware, never sooner than the `retry_after` the service asked for (`worker.retry_hints`); a
`PermanentError`, or too many attempts (a message redelivered after a worker died is an attempt
too), ends the run or delivery as failed with the reason recorded. Nothing is dropped silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dramatiq

from worker import stages
from worker.digest.sending import send_last_week
from worker.leasing import RunBusy, holding
from worker.models import RunState
from worker.normalise.codehost_events import CODEHOST_SOURCES
from worker.ports import PermanentError, TransientError
from worker.retry_hints import honour_retry_after, is_transient
from worker.stages import Deps
from worker.stages.deps import AGENT_STAGE_SECONDS
from worker.stages.follow import follow_delivery, poll_changes, retries_started
from worker.stages.watch import check_held, remind_stale
from worker.waiting import refund_attempt, wait_for_lease

log = logging.getLogger("suture.actors")

AGENT_QUEUE = "agent"
AGENT_TIME_LIMIT_MS = AGENT_STAGE_SECONDS * 1000

# Retry backoff for transient errors, in milliseconds.
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 300_000


@dataclass
class Actors:
    """The actors declared on one broker."""

    ingest_delivery: dramatiq.Actor[Any, Any]
    poll_source: dramatiq.Actor[Any, Any]
    triage_run: dramatiq.Actor[Any, Any]
    correlate_run: dramatiq.Actor[Any, Any]
    fix_run: dramatiq.Actor[Any, Any]
    verify_run: dramatiq.Actor[Any, Any]
    publish_run: dramatiq.Actor[Any, Any]
    follow_activity: dramatiq.Actor[Any, Any]
    follow_changes: dramatiq.Actor[Any, Any]
    watch_fixes: dramatiq.Actor[Any, Any]
    send_digest: dramatiq.Actor[Any, Any]

    def for_state(self, state: RunState) -> dramatiq.Actor[Any, Any] | None:
        """The actor that moves a run on from `state`; None if it is terminal."""
        return {RunState.NEW: self.triage_run, RunState.TRIAGED: self.correlate_run,
                RunState.CORRELATED: self.fix_run, RunState.FIXING: self.fix_run,
                RunState.PATCHED: self.verify_run, RunState.VERIFYING: self.verify_run,
                RunState.VERIFIED: self.publish_run, RunState.UNVERIFIED: self.publish_run,
                RunState.PUBLISHING: self.publish_run}.get(state)

    def send_for_state(self, run_id: int, state: RunState) -> bool:
        """Send the message that moves a run on from `state`; False if it is terminal."""
        actor = self.for_state(state)
        if actor is None:
            return False
        actor.send(run_id)
        return True

    def send_for_delivery(self, delivery_id: int, source: str) -> None:
        """Send the message that processes a stored delivery: what a code host says about a
        change is followed up, anything else (an error report) is ingested."""
        actor = self.follow_activity if source in CODEHOST_SOURCES else self.ingest_delivery
        actor.send(delivery_id)


def declare(broker: dramatiq.Broker, deps: Deps) -> Actors:
    """Declare suture's actors on `broker`, bound to `deps`."""
    max_attempts = deps.settings.max_attempts

    def retry_when(retries: int, exc: BaseException) -> bool:
        return is_transient(exc) and retries < max_attempts

    def actor(fn: Callable[..., None], name: str, queue: str = "default",
              time_limit: int = 600_000) -> dramatiq.Actor[Any, Any]:
        declared: list[dramatiq.Actor[Any, Any]] = []

        def waiting_when_busy(*args: Any) -> None:
            try:
                fn(*args)
            except RunBusy as busy:
                # Someone else is running this run's stage: come back when their lease would
                # end. Not a failure and no attempt: the holder sends the next message itself.
                delay = _delay_until(deps, busy.until)
                log.info("%s; %s waits %.1f s", busy, name, delay / 1000)
                declared[0].send_with_options(args=args, delay=delay)

        waiting_when_busy.__name__ = name
        body = honour_retry_after(waiting_when_busy, min_backoff_ms=MIN_BACKOFF_MS,
                                  max_backoff_ms=MAX_BACKOFF_MS)
        # Options first, then the function: the form Dramatiq's typed overloads accept.
        declare_on = dramatiq.actor(broker=broker, actor_name=name, queue_name=queue,
                                    retry_when=retry_when, min_backoff=MIN_BACKOFF_MS,
                                    max_backoff=MAX_BACKOFF_MS, time_limit=time_limit)
        declared.append(declare_on(body))
        return declared[0]

    def ingest_delivery(delivery_id: int) -> None:
        attempt = deps.store.start_delivery(delivery_id)
        if attempt > max_attempts:
            deps.store.finish_delivery(delivery_id, "failed", f"gave up after {max_attempts} "
                                                              "attempts")
            return
        try:
            result = stages.ingest_delivery(deps, delivery_id)
        except PermanentError as exc:
            log.error("delivery %s failed: %s", delivery_id, exc)
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

    def move_on(run_id: int, state: RunState | None, this_actor: str) -> None:
        """Send the message that moves the run on from where it now is. A stage that did not
        move it (None) was handed a run already past it: its first worker died between the
        transition and sending the next message, which is sent now instead of waiting for the
        reconciler, unless another message already did (`dispatched`), so duplicates do not
        multiply down the pipeline. Never this same actor again, so a stuck state cannot loop."""
        if state is None:
            run = deps.store.get_run(run_id)
            if run is None or run.dispatched == run.state:
                return  # its next message is out already: a duplicate adds nothing
            state = run.state
        following = actors.for_state(state)
        if following is not None and following.actor_name != this_actor:
            following.send(run_id)
            deps.store.mark_dispatched(run_id, state.value)

    def triage_run(run_id: int) -> None:
        move_on(run_id, _run_stage(deps, run_id, stages.triage), "triage_run")

    def correlate_run(run_id: int) -> None:
        move_on(run_id, _run_stage(deps, run_id, stages.correlate), "correlate_run")

    def fix_run(run_id: int) -> None:
        move_on(run_id, _run_stage(deps, run_id, stages.fix), "fix_run")

    def verify_run(run_id: int) -> None:
        move_on(run_id, _run_stage(deps, run_id, stages.verify), "verify_run")

    def publish_run(run_id: int) -> None:
        try:
            wait_for_lease(deps, run_id)  # before counting: waiting is not an attempt
            _run_stage(deps, run_id, stages.publish)
        except stages.Deferred as exc:
            delay = _delay_until(deps, exc.until)
            log.info("run %s deferred for %.1f s: %s", run_id, delay / 1000, exc)
            actors.publish_run.send_with_options(args=(run_id,), delay=delay)

    def follow_activity(delivery_id: int) -> None:
        attempt = deps.store.start_delivery(delivery_id)
        if attempt > max_attempts:
            deps.store.finish_delivery(delivery_id, "failed", f"gave up after {max_attempts} "
                                                              "attempts")
            return
        started = deps.now()
        try:
            follow_delivery(deps, delivery_id)
            for run_id in retries_started(deps, started):
                actors.fix_run.send(run_id)
        except PermanentError as exc:
            log.error("delivery %s failed: %s", delivery_id, exc)
            deps.store.finish_delivery(delivery_id, "failed", str(exc))
        except TransientError as exc:
            _give_up_delivery_if_last(deps, delivery_id, attempt, exc)
            raise

    def follow_changes() -> None:
        # The fallback for hosts that send no webhook: ask about every open proposed change.
        started = deps.now()
        for line in poll_changes(deps):
            log.info("%s", line)
        for run_id in retries_started(deps, started):
            actors.fix_run.send(run_id)

    def watch_fixes() -> None:
        for line in [*check_held(deps), *remind_stale(deps)]:
            log.info("%s", line)

    def send_digest() -> None:
        # Last week's digest, once per outlet per week whatever number of ticks send this.
        report = send_last_week(deps.store, deps.settings, deps.digest_outlets, deps.now())
        log.info("digest %s: sent to %s, already had it: %s, refused: %s", report.week,
                 sorted(report.sent) or "none", report.already or "none",
                 sorted(report.refused) or "none")

    actors = Actors(
        ingest_delivery=actor(ingest_delivery, "ingest_delivery"),
        poll_source=actor(poll_source, "poll_source"),
        triage_run=actor(triage_run, "triage_run"),
        correlate_run=actor(correlate_run, "correlate_run"),
        # Agents and test suites are slow and heavy: their own queue, long time limits.
        fix_run=actor(fix_run, "fix_run", queue=AGENT_QUEUE, time_limit=AGENT_TIME_LIMIT_MS),
        verify_run=actor(verify_run, "verify_run", queue=AGENT_QUEUE,
                         time_limit=AGENT_TIME_LIMIT_MS),
        publish_run=actor(publish_run, "publish_run"),
        follow_activity=actor(follow_activity, "follow_activity"),
        follow_changes=actor(follow_changes, "follow_changes"),
        watch_fixes=actor(watch_fixes, "watch_fixes"),
        send_digest=actor(send_digest, "send_digest"),
    )
    return actors


def _run_stage(deps: Deps, run_id: int,
               stage: Callable[[Deps, int], RunState | None]) -> RunState | None:
    """Run one stage on a run, counting the attempt and recording a give-up with its reason."""
    run = deps.store.get_run(run_id)
    if run is None or run.state.terminal:
        return None
    with holding(deps.store, run_id, deps.settings.run_lease_seconds):
        return _attempt_stage(deps, run_id, stage)


def _attempt_stage(deps: Deps, run_id: int,
                   stage: Callable[[Deps, int], RunState | None]) -> RunState | None:
    """Count the attempt, run the stage, sort its failure (the run's lease is held)."""
    attempt = deps.store.start_attempt(run_id)
    if attempt > deps.settings.max_attempts:
        return _fail(deps, run_id, f"gave up after {deps.settings.max_attempts} attempts at "
                                   f"{stage.__name__}")
    try:
        return stage(deps, run_id)
    except stages.Deferred:
        refund_attempt(deps.store, run_id)  # the stage found a lease held: it only waited
        raise
    except PermanentError as exc:
        log.error("run %s failed at %s: %s", run_id, stage.__name__, exc)
        return _fail(deps, run_id, f"{stage.__name__}: {exc}")
    except TransientError as exc:
        log.warning("run %s: %s attempt %d failed: %s", run_id, stage.__name__, attempt, exc)
        if attempt >= deps.settings.max_attempts:
            return _fail(deps, run_id, f"gave up after {attempt} attempts at {stage.__name__}: "
                                       f"{exc}")
        raise


def _fail(deps: Deps, run_id: int, reason: str) -> RunState:
    """Move a run, from whatever live state the stage left it in, to FAILED with `reason`."""
    current = deps.store.get_run(run_id)
    if current is not None and not current.state.terminal:
        deps.store.transition(run_id, current.state, RunState.FAILED, reason)
    return RunState.FAILED


def _delay_until(deps: Deps, until: datetime | None) -> int:
    """Milliseconds from now until `until` (plus a second of slack), at least one second."""
    now = deps.clock() if deps.clock else datetime.now(UTC)
    seconds = (until - now).total_seconds() if until else 0.0
    return int(max(seconds, 0.0) * 1000) + 1000


def _give_up_delivery_if_last(deps: Deps, delivery_id: int, attempt: int,
                              exc: TransientError) -> None:
    if attempt >= deps.settings.max_attempts:
        deps.store.finish_delivery(delivery_id, "failed",
                                   f"gave up after {attempt} attempts: {exc}")
