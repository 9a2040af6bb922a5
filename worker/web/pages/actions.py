"""What the review pages' buttons do: retry a run, ignore a cluster. Each returns an `Outcome`
saying what happened or why nothing did, and records who asked on the run's history.

A retry does what the pipeline already does to move a run on. A failed or skipped run goes back
to the state it stopped in (the one before the failure or skip) and its stage's message is sent,
as the reconciler sends a stuck run's; a run with an open pull request gets a new attempt pushed
to that same pull request, as a `/suture retry` comment does (`stages.follow`). Everything else
is refused with why: a run in progress moves on by itself, a merged or closed change is the
code host's business, a ticketed run has its ticket, an ignored cluster would only be skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from worker.actors import Actors
from worker.models import ClusterStatus, RunState
from worker.runs import FollowRecord, Run, RunRecord
from worker.settings import Settings
from worker.store import SqlStore

log = logging.getLogger("suture.pages")

MAX_NOTE = 500
RESUMABLE = (RunState.FAILED, RunState.SKIPPED)
_REFUSED = {
    RunState.MERGED: "its pull request was merged: the fix is being watched, and a new event "
                     "after it opens a new run",
    RunState.HELD: "its fix was merged and held: a new event opens a new run",
    RunState.RECURRED: "the error came back after its fix was merged: act on the cluster's "
                       "newer run",
    RunState.CLOSED: "its pull request was closed without merging: reopen it on the code host, "
                     "or ask there with /suture retry",
    RunState.TICKETED: "a ticket was filed for it: a retry would only file the same ticket again",
}


@dataclass(frozen=True)
class Outcome:
    """What an action did (`done`), or why it was refused, as a sentence either way."""

    done: bool
    message: str
    status: int = 200


def refused(message: str, status: int = 409) -> Outcome:
    """An action not taken, with why."""
    return Outcome(done=False, message=message, status=status)


def retry(store: SqlStore, actors: Actors, settings: Settings, run_id: int, who: str,
          note: str = "") -> Outcome:
    """Send run `run_id` through the pipeline again at `who`'s request, or say why not."""
    run = store.get_run(run_id)
    if run is None:
        return refused(f"there is no run {run_id}", 404)
    cluster = store.get_cluster(run.cluster_id)
    if cluster is not None and cluster.status == ClusterStatus.IGNORED:
        return refused(f"run {run_id} was not retried: its cluster is ignored, so triage would "
                       "only skip it again")
    if not run.state.terminal:
        return refused(f"run {run_id} is still in progress ({run.state.value}): it moves on by "
                       "itself, and the reconciler re-sends it if it is stuck")
    if run.state in _REFUSED:
        return refused(f"run {run_id} was not retried: {_REFUSED[run.state]}")
    said = f": “{note}”" if note else ""
    if run.state == RunState.PROPOSED:
        return _new_attempt(store, actors, settings, run, who, note, said)
    return _resume(store, actors, run, who, said)


def _resume(store: SqlStore, actors: Actors, run: Run, who: str, said: str) -> Outcome:
    """A failed or skipped run back to the state it stopped in, and that stage's message sent."""
    resume = _stopped_in(store, run)
    reason = (f"retry asked for by {who} on the review page{said}; "
              f"{run.state.value} run resumes at {resume.value}")
    if not store.transition(run.id, run.state, resume, reason):
        return _moved(store, run)
    _send(actors, run.id, resume)
    return Outcome(done=True, message=f"run {run.id} resumes at {resume.value}")


def _stopped_in(store: SqlStore, run: Run) -> RunState:
    """The live state a run was in when it failed or was skipped (new if unknown)."""
    for step in reversed(store.transitions(run.id)):
        if step.to_state == run.state and step.from_state != run.state.value:
            try:
                state = RunState(step.from_state)
            except ValueError:
                break
            return RunState.NEW if state.terminal else state
    return RunState.NEW


def _new_attempt(store: SqlStore, actors: Actors, settings: Settings, run: Run, who: str,
                 note: str, said: str) -> Outcome:
    """A new attempt for a run with an open pull request, its result pushed to the same one."""
    follow = run.record.follow or FollowRecord()
    cap = settings.follow.max_retries
    if follow.retries >= cap:
        return refused(f"run {run.id} was not retried: the cap of {cap} new attempts per pull "
                       "request is reached")
    asked = f"{who}: {note}" if note else f"{who}: make a new attempt at this fix"
    follow = follow.model_copy(update={"retries": follow.retries + 1, "retry_pending": True,
                                       "review": [asked]})
    reason = (f"new attempt {follow.retries} of {cap} asked for by {who} on the review "
              f"page{said}")
    if not store.transition(run.id, RunState.PROPOSED, RunState.CORRELATED, reason,
                            record=RunRecord(follow=follow)):
        return _moved(store, run)
    _send(actors, run.id, RunState.CORRELATED)
    return Outcome(done=True, message=f"run {run.id}: new attempt {follow.retries} of {cap} "
                                      "started; a verified result updates its pull request")


def _moved(store: SqlStore, run: Run) -> Outcome:
    now = store.get_run(run.id)
    state = now.state.value if now else "gone"
    return refused(f"run {run.id} changed while you looked (it is {state} now): reload the page")


def _send(actors: Actors, run_id: int, state: RunState) -> None:
    """Send the stage message for `state`; a broker that is down leaves it to the reconciler,
    which re-sends any live run nobody has touched for a while."""
    try:
        actors.send_for_state(run_id, state)
    except Exception as exc:  # the state is recorded; the reconciler finds the run
        log.warning("run %s: could not enqueue its retry (%s); the reconciler will", run_id, exc)


def ignore(store: SqlStore, cluster_id: int, who: str, why: str) -> Outcome:
    """Mark cluster `cluster_id` ignored at `who`'s request for `why`, recorded on its latest
    run; triage then skips the cluster's runs with "the cluster is ignored"."""
    if not why:
        return refused("say why the cluster is ignored (it is recorded with your name)", 400)
    cluster = store.get_cluster(cluster_id)
    if cluster is None:
        return refused(f"there is no cluster {cluster_id}", 404)
    if cluster.status == ClusterStatus.IGNORED:
        return refused(f"cluster {cluster_id} is already ignored")
    store.set_cluster_status(cluster_id, ClusterStatus.IGNORED)
    reason = (f"cluster ignored by {who} on the review page: “{why}”; triage skips its runs "
              "from now on")
    for _ in range(3):  # a stage may move the run between our read and our write
        runs = store.list_runs(cluster_id)
        if not runs or store.transition(runs[-1].id, runs[-1].state, runs[-1].state, reason):
            break
    return Outcome(done=True, message=f"cluster {cluster_id} is ignored")
