"""A seeded store for the weekly digest's tests: clusters, events, runs, transitions and run
records across ISO week 2026-W48 (Monday 23 November to Sunday 29 November 2026) and both
neighbouring weeks, written through `SqlStore` with a clock moved by hand.

Clusters, in the order they are first seen (so their ids are 1 to 8):
  D (1) old: events 10 and 18 Nov; its merged fix (17 Nov) held on Tuesday of W48.
  H (2) old: event 12 Nov; its pull request opened 13 Nov and is still open (stale), with a
        reminder in W48 and a merge only in W49.
  A (3) events Sun 22 Nov 23:59:59 (W47), Mon 23 Nov 00:00:00, Tue 10:00 and 11:00; its run
        opens a pull request Monday, is retried Tuesday, merged Thursday, recurs in W49.
  B (4) new Wed: events Wed 09:00 and Thu 12:00; pull request Wed 14:00, closed Saturday.
  F (5) new Fri 15:00, one event; skipped by policy.
  G (6) new Sat 12:00, one event; no verified fix, ticket filed.
  C (7) a hostile title; events Sun 29 Nov 23:59:59 (W48) and Mon 30 Nov 00:00:00 (W49);
        skipped by policy.
  E (8) only in W49.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from worker.fix.models import Attempt, Verification
from worker.models import ErrorEvent, ExceptionInfo, RunState, Source
from worker.runs import ChosenPatch, FixOutcome, FollowRecord, Publication, RunRecord
from worker.store import SqlStore

# Planted secret, built at run time so no scanner flags this file.
TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
HOSTILE_TITLE = f"<script>alert(1)</script> | **@octocat** [x](https://evil.example) {TOKEN}"
SKIP_REASON = "level 'warning' is not one of policy.levels"


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0, month: int = 11) -> datetime:
    """A moment in 2026, UTC."""
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = at(1)

    def __call__(self) -> datetime:
        return self.now


def event(fingerprint: str, title: str, when: datetime, project: str = "shop") -> ErrorEvent:
    kind = title.split(":")[0]
    return ErrorEvent(source=Source.SENTRY, event_id=f"{fingerprint}-{when.isoformat()}",
                      project=project, title=title, timestamp=when,
                      exceptions=[ExceptionInfo(type=kind, value=title)])


def fix(changed: int | None, *costs: tuple[float, int]) -> FixOutcome:
    attempts = [Attempt(agent="toolloop", patch="--- a\n+++ b\n", cost_usd=cost, tokens=tokens)
                for cost, tokens in costs]
    chosen = (ChosenPatch(agent="toolloop", patch="--- a\n+++ b\n", changed_lines=changed,
                          verification=Verification(verified=True))
              if changed is not None else None)
    return FixOutcome(playbook="default", attempts=attempts, chosen=chosen)


class World:
    """Writes the scenario through the store, moving the clock for each write."""

    def __init__(self, url: str) -> None:
        self.clock = Clock()
        self.store = SqlStore(url, clock=self.clock)
        self.runs: dict[str, int] = {}

    def see(self, name: str, title: str, when: datetime, project: str = "shop") -> None:
        self.clock.now = when
        outcome = self.store.record_event(event(name, title, when, project), f"fp-{name}", 20)
        if outcome.run_id is not None:
            self.runs[name] = outcome.run_id

    def walk(self, name: str, *steps: tuple[RunState, datetime],
             record: RunRecord | None = None) -> None:
        run_id = self.runs[name]
        for state, when in steps:
            current = self.store.get_run(run_id)
            assert current is not None
            self.clock.now = when
            assert self.store.transition(run_id, current.state, state, f"to {state.value}",
                                         record=record)

    def skip(self, name: str, when: datetime, reason: str) -> None:
        self.clock.now = when
        assert self.store.transition(self.runs[name], RunState.NEW, RunState.SKIPPED, reason)


def published(state: RunState, kind: str = "pull_request") -> Publication:
    return Publication(kind=kind, key=f"k-{state.value}", url="https://github.com/acme/shop/pull/1")


def to_pr(start: datetime, proposed: datetime) -> list[tuple[RunState, datetime]]:
    """The states from a new run to an open pull request, the last at `proposed`."""
    states = [RunState.TRIAGED, RunState.CORRELATED, RunState.FIXING, RunState.PATCHED,
              RunState.VERIFYING, RunState.VERIFIED, RunState.PUBLISHING]
    steps = [(state, start + timedelta(minutes=n)) for n, state in enumerate(states)]
    return [*steps, (RunState.PROPOSED, proposed)]


def seed(url: str) -> World:
    """The scenario above, in the store at `url`."""
    w = World(url)
    # W46 and W47: D's fix merged; H's pull request opened.
    w.see("D", "IndexError: list index out of range", at(10, 8))
    w.walk("D", *to_pr(at(10, 8, 1), at(10, 12)), (RunState.MERGED, at(17, 9)),
           record=RunRecord(fix=fix(3, (0.05, 500))))
    w.see("H", "AttributeError: 'NoneType' object has no attribute 'id'", at(12, 7))
    w.walk("H", *to_pr(at(12, 7, 1), at(13, 7)), record=RunRecord(fix=fix(2, (0.02, 200))))
    w.see("D", "IndexError: list index out of range", at(18, 6))
    w.walk("H", (RunState.PROPOSED, at(20, 7)))  # a reminder in W47
    # A: first seen on the last second of W47, its pull request four hours later (in W48).
    w.see("A", "KeyError: 'sku'", at(22, 23, 59, 59))
    w.walk("A", *to_pr(at(23, 1), at(23, 3, 59, 59)))
    w.see("A", "KeyError: 'sku'", at(23, 0, 0, 0))
    w.see("A", "KeyError: 'sku'", at(24, 10))
    w.see("A", "KeyError: 'sku'", at(24, 11))
    w.walk("D", (RunState.HELD, at(24, 6)))
    # A retry on Tuesday: back through fix and verify, the same pull request updated.
    w.walk("A", (RunState.CORRELATED, at(24, 9)), (RunState.FIXING, at(24, 9, 5)),
           (RunState.PATCHED, at(24, 9, 30)), (RunState.VERIFYING, at(24, 9, 31)),
           (RunState.VERIFIED, at(24, 10, 30)), (RunState.PUBLISHING, at(24, 10, 31)),
           (RunState.PROPOSED, at(24, 11)),
           record=RunRecord(fix=fix(4, (0.30, 10_000), (0.10, 2_000)),
                            publication=published(RunState.PROPOSED),
                            follow=FollowRecord(retries=1)))
    w.see("B", "ZeroDivisionError: division by zero", at(25, 9))
    w.walk("B", *to_pr(at(25, 9, 1), at(25, 14)),
           record=RunRecord(fix=fix(10, (0.50, 5_000)), publication=published(RunState.PROPOSED)))
    w.see("B", "ZeroDivisionError: division by zero", at(26, 12))
    w.walk("A", (RunState.MERGED, at(26, 10)))
    w.see("F", "TimeoutError: read timed out", at(27, 15))
    w.skip("F", at(27, 15), SKIP_REASON)
    w.walk("H", (RunState.PROPOSED, at(27, 7)))  # another reminder, in W48
    w.see("G", "ValueError: bad invoice", at(28, 12), project="billing")
    w.walk("G", (RunState.TRIAGED, at(28, 12, 1)), (RunState.CORRELATED, at(28, 12, 2)),
           (RunState.FIXING, at(28, 12, 5)), (RunState.UNVERIFIED, at(28, 12, 30)),
           (RunState.PUBLISHING, at(28, 12, 31)), (RunState.TICKETED, at(28, 13)),
           record=RunRecord(fix=fix(None, (0.20, 3_000)),
                            publication=published(RunState.TICKETED, "ticket")))
    w.walk("B", (RunState.CLOSED, at(28, 8)))
    # The last second of W48 and the first of W49.
    w.see("C", HOSTILE_TITLE, at(29, 23, 59, 59), project="web")
    w.skip("C", at(29, 23, 59, 59), SKIP_REASON)
    w.see("C", HOSTILE_TITLE, at(30, 0, 0, 0), project="web")
    # W49: H merged, A recurred, E new.
    w.walk("H", (RunState.MERGED, at(1, 9, month=12)))
    w.walk("A", (RunState.RECURRED, at(1, 10, month=12)))
    w.see("E", "OSError: disk full", at(2, 3, month=12))
    return w
