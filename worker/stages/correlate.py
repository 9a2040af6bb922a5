"""The correlate stage: suspect commits and owners for a triaged run, stored on the run.

Correlation informs the ticket; it never blocks it. When the service has no repository, the
repository cannot be read, or the event names nothing in it, the run moves on with the reason
recorded, and the ticket says what was not found.
"""

from __future__ import annotations

from worker.correlate.engine import correlate as correlate_event
from worker.correlate.models import Correlation
from worker.correlate.presented import presented
from worker.models import RunState
from worker.ports import PermanentError
from worker.runs import RunRecord
from worker.scrub import scrub_text
from worker.stages.deps import Deps, accounts_for, open_run
from worker.stages.scrubbing import scrubbed_correlation
from worker.titles import shorten

MAX_FRAMES_KEPT = 30


def correlate(deps: Deps, run_id: int) -> RunState | None:
    """Rank suspects and find owners for a triaged run; returns the new state."""
    opened = open_run(deps, run_id, (RunState.TRIAGED,))
    if opened is None:
        return None
    cluster, service, event = opened.cluster, opened.service, opened.event
    if service is None or event is None or deps.open_repository is None:
        missing = ("no service maps this cluster to a repository" if service is None else
                   "no event of the cluster has a stack trace" if event is None else
                   "no repository access is configured")
        return _moved(deps, run_id, f"correlation skipped: {missing}")
    # The release deployed before the event's marks where new code starts.
    previous = (deps.store.previous_release(cluster.project, event.release)
                if event.release else None)
    logins = deps.settings.correlate.logins
    try:
        repository = deps.open_repository(service.repository)
        accounts = accounts_for(deps, service)
        found = correlate_event(repository, event, first_seen=cluster.first_seen,
                                previous_release=previous, logins=logins, accounts=accounts,
                                top=deps.settings.correlate.top,
                                window_days=deps.settings.correlate.window_days,
                                horizon_days=deps.settings.correlate.horizon_days)
    except PermanentError as exc:
        return _moved(deps, run_id, f"correlation failed: {scrub_text(str(exc))}")
    # Suspects' logins let a pull request ask their authors to review it.
    kept = scrubbed_correlation(
        found.model_copy(update={"frames": found.frames[-MAX_FRAMES_KEPT:]}))
    shown = presented(kept)
    best = shown.suspects[0] if shown.suspects else None
    reason = (f"top suspect {best.sha[:12]} ({best.confidence:.0%}): {shorten(best.summary, 80)}"
              if best else f"no suspect: {shown.note}")
    return _moved(deps, run_id, reason, kept)


def _moved(deps: Deps, run_id: int, reason: str,
           found: Correlation | None = None) -> RunState | None:
    record = RunRecord(correlation=found) if found else None
    if deps.store.transition(run_id, RunState.TRIAGED, RunState.CORRELATED, reason,
                             record=record):
        return RunState.CORRELATED
    return None
