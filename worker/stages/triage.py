"""The triage stage: the policy decides whether suture acts on a new run, and says why."""

from __future__ import annotations

from worker import policy
from worker.models import RunState
from worker.stages.deps import Deps, open_run


def triage(deps: Deps, run_id: int) -> RunState | None:
    """Apply the policy to a new run; returns the run's new state (None if not ours to move)."""
    opened = open_run(deps, run_id, (RunState.NEW,))
    if opened is None:
        return None
    rules = deps.settings.policy
    if deps.settings.forge == "github" and not rules.require_service:
        # A GitHub ticket needs a repository: without a service there is nowhere to file it.
        rules = rules.model_copy(update={"require_service": True})
    decision = policy.triage(opened.cluster, opened.events[0] if opened.events else None,
                             opened.service, rules)
    new = RunState.TRIAGED if decision.allowed else RunState.SKIPPED
    return new if deps.store.transition(run_id, RunState.NEW, new, decision.reason) else None
