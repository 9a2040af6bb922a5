"""The week's figures (`WeekLedger`) from the rows the store holds for it.

A pure function of the rows and the week: no clock, no I/O. A run counts once per outcome in a
week however many times it entered that state (a reminder re-enters "proposed", a retry goes
round fix and verify again). A pull request counts in the week it was first opened.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from worker.digest.models import NoisyCluster, ReasonCount, Spread, WeekLedger
from worker.digest.week import IsoWeek
from worker.fix.models import Attempt
from worker.models import RunState
from worker.runs import Run
from worker.scrub import scrub_text
from worker.store.reports import RunTransition, WeekRows

REASON_LIMIT = 200


def compute_ledger(rows: WeekRows, week: IsoWeek, *, stale_days: float,
                   top: int = 5) -> WeekLedger:
    """The ledger of `week` from `rows` (which `worker.store.reports.week_rows` read for it)."""
    runs = {run.id: run for run in rows.runs}
    history = _by_run(rows.transitions)
    inside = [t for t in rows.transitions if week.holds(t.at)]
    opened = {run_id: at for run_id, at in _first_proposed(history).items() if week.holds(at)}
    merged = _entered(inside, RunState.MERGED)
    closed = _entered(inside, RunState.CLOSED)
    attempted = _entered(inside, RunState.FIXING)
    ledger = WeekLedger(
        week=week.label, start=week.start, end=week.end, stale_days=stale_days,
        skipped=_skipped(inside), attempted=len(attempted), pull_requests=len(opened),
        tickets=len(_entered(inside, RunState.TICKETED)), merged=len(merged),
        closed=len(closed), stale=_stale(history, week.end, stale_days),
        held=len(_entered(inside, RunState.HELD)),
        recurred=len(_entered(inside, RunState.RECURRED)),
        time_to_pr_seconds=_spread((at - runs[run_id].created_at).total_seconds()
                                   for run_id, at in opened.items() if run_id in runs),
        pr_size_lines=_spread(_changed_lines(runs[run_id]) for run_id in opened
                              if run_id in runs and _changed_lines(runs[run_id]) is not None),
    )
    return _with_costs(_with_events(ledger, rows, week, top), runs, attempted, merged, closed)


def _by_run(transitions: list[RunTransition]) -> dict[int, list[RunTransition]]:
    history: dict[int, list[RunTransition]] = {}
    for transition in sorted(transitions, key=lambda t: (t.at, t.id)):
        history.setdefault(transition.run_id, []).append(transition)
    return history


def _entered(transitions: list[RunTransition], state: RunState) -> set[int]:
    """Runs that moved into `state` (staying in it, as a reminder does, is not entering)."""
    return {t.run_id for t in transitions if t.to_state == state and t.from_state != state}


def _first_proposed(history: dict[int, list[RunTransition]]) -> dict[int, datetime]:
    first: dict[int, datetime] = {}
    for run_id, transitions in history.items():
        at = next((t.at for t in transitions if t.to_state == RunState.PROPOSED), None)
        if at is not None:
            first[run_id] = at
    return first


def _stale(history: dict[int, list[RunTransition]], end: datetime, stale_days: float) -> int:
    """Pull requests still open at `end` that were opened more than `stale_days` before it."""
    cutoff = end - timedelta(days=stale_days)
    stale = 0
    for transitions in history.values():
        first = next((t.at for t in transitions if t.to_state == RunState.PROPOSED), None)
        if first is not None and transitions[-1].to_state == RunState.PROPOSED and first < cutoff:
            stale += 1
    return stale


def _skipped(transitions: list[RunTransition]) -> list[ReasonCount]:
    reasons = Counter(" ".join(scrub_text(t.reason).split())[:REASON_LIMIT] or "no reason given"
                      for t in transitions
                      if t.to_state == RunState.SKIPPED and t.from_state != RunState.SKIPPED)
    return [ReasonCount(reason=reason, runs=count)
            for reason, count in sorted(reasons.items(), key=lambda item: (-item[1], item[0]))]


def _changed_lines(run: Run) -> int | None:
    fix = run.record.fix
    return fix.chosen.changed_lines if fix is not None and fix.chosen is not None else None


def _spread(values: Iterable[float | int | None]) -> Spread | None:
    measured = sorted(float(value) for value in values if value is not None)
    if not measured:
        return None
    return Spread(count=len(measured), median=statistics.median(measured), largest=measured[-1])


def _with_events(ledger: WeekLedger, rows: WeekRows, week: IsoWeek, top: int) -> WeekLedger:
    times: dict[int, list[datetime]] = {cluster.id: [] for cluster in rows.clusters}
    for event in rows.events:
        times.setdefault(event.cluster_id, []).append(event.at)
    for cluster in rows.clusters:
        # The first and last sightings are events too, even when the sample dropped them.
        for at in {cluster.first_seen, cluster.last_seen}:
            if week.holds(at) and at not in times[cluster.id]:
                times[cluster.id].append(at)
    by_day = [0] * 7
    for moments in times.values():
        for at in moments:
            by_day[at.weekday()] += 1
    ranked = sorted(rows.clusters, key=lambda c: (-len(times[c.id]), c.id))[:top]
    noisiest = [NoisyCluster(cluster_id=c.id, title=" ".join(scrub_text(c.title).split()),
                             project=scrub_text(c.project), events=len(times[c.id]),
                             new=week.holds(c.first_seen)) for c in ranked]
    return ledger.model_copy(update={
        "clusters_seen": len(rows.clusters), "events": sum(by_day), "events_by_day": by_day,
        "noisiest": noisiest,
        "new_clusters": sum(1 for c in rows.clusters if week.holds(c.first_seen))})


def _with_costs(ledger: WeekLedger, runs: dict[int, Run], attempted: set[int],
                merged: set[int], closed: set[int]) -> WeekLedger:
    def attempts(run_ids: Iterable[int]) -> list[Attempt]:
        found: list[Attempt] = []
        for run_id in sorted(run_ids):
            fix = runs[run_id].record.fix if run_id in runs else None
            found += fix.attempts if fix is not None else []
        return found

    decided = merged | closed
    reworked = {run_id for run_id in decided if run_id in runs and _reworked(runs[run_id])}
    merged_cost = round(sum(a.cost_usd for a in attempts(merged)), 6)
    return ledger.model_copy(update={
        "model_cost_usd": round(sum(a.cost_usd for a in attempts(attempted)), 6),
        "model_tokens": sum(a.tokens for a in attempts(attempted)),
        "merged_cost_usd": merged_cost,
        "cost_per_merged_fix_usd": round(merged_cost / len(merged), 6) if merged else None,
        "acceptance_rate": len(merged) / len(decided) if decided else None,
        "reworked": len(reworked),
        "rework_rate": len(reworked) / len(decided) if decided else None})


def _reworked(run: Run) -> bool:
    follow = run.record.follow
    return follow is not None and (follow.retries > 0 or follow.repairs > 0)
