"""The triage stage: the policy decides whether suture acts on a new run, and says why."""

from __future__ import annotations

from worker import policy
from worker.models import RunState
from worker.ports import PermanentError
from worker.stages.deps import Deps, service_of


def triage(deps: Deps, run_id: int) -> RunState | None:
    """Apply the policy to a new run; returns the run's new state (None if not ours to move)."""
    run = deps.store.get_run(run_id)
    if run is None or run.state != RunState.NEW:
        return None
    cluster = deps.store.get_cluster(run.cluster_id)
    if cluster is None:
        raise PermanentError(f"run {run_id} points at a missing cluster")
    events = deps.store.cluster_events(cluster.id)
    rules = deps.settings.policy
    if deps.settings.forge == "github" and not rules.require_service:
        # A GitHub ticket needs a repository: without a service there is nowhere to file it.
        rules = rules.model_copy(update={"require_service": True})
    decision = policy.triage(cluster, events[0] if events else None,
                             service_of(deps.settings, cluster.project, events), rules)
    new = RunState.TRIAGED if decision.allowed else RunState.SKIPPED
    return new if deps.store.transition(run_id, RunState.NEW, new, decision.reason) else None
