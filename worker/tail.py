"""Transitions as they happen: poll the store by transition id and hand each new one on.

Whichever process moved a run (a worker, the embedded `suture run`, another host), its
transition is a row with a growing id, so `suture status --follow` and the demo only need the
last id they printed. A stop event ends the loop, from a signal handler or a timer; nothing here
waits on wall-clock timings beyond the poll interval.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from worker.scrub import scrub_text
from worker.store import SqlStore
from worker.store.history import TransitionEntry, last_transition_id, transitions_after

Emit = Callable[[TransitionEntry], None]


def follow_transitions(store: SqlStore, emit: Emit, stop: threading.Event, *,
                       after: int | None = None, run_id: int | None = None,
                       poll_seconds: float = 0.5) -> int:
    """Call `emit` with every transition (of `run_id`, or of any run) newer than id `after`,
    in order, until `stop` is set; `after=None` starts from the newest one. Returns the id of
    the last transition handed on."""
    seen = last_transition_id(store) if after is None else after
    while True:
        seen = drain(store, emit, seen, run_id=run_id)
        if stop.wait(poll_seconds):
            # One more look: what was committed just before the stop is still printed.
            return drain(store, emit, seen, run_id=run_id)


def drain(store: SqlStore, emit: Emit, after: int, *, run_id: int | None = None) -> int:
    """Hand on every transition newer than id `after` now; returns the last id handed on."""
    while True:
        batch = transitions_after(store, after, run_id=run_id)
        for entry in batch:
            emit(entry)
            after = entry.id
        if not batch:
            return after


def transition_line(entry: TransitionEntry) -> str:
    """One transition as `suture status --follow` prints it (the reason scrubbed)."""
    return (f"{entry.at:%Y-%m-%d %H:%M:%S} run {entry.run_id}: {entry.from_state or '-'} -> "
            f"{entry.to_state.value}: {scrub_text(entry.reason)}")
