"""Whether a run may try a fix now: the kill switch, daily budgets and the failed-fix cooldown.

Pure decisions over counts the store provides, each returning its reason, so a run that did not
get a fix says why (and the digest can count why).
"""

from __future__ import annotations

from dataclasses import dataclass

from worker.models import Decision
from worker.stage_settings import FixSettings


@dataclass(frozen=True)
class FixCounts:
    """What the store says about recent fixes."""

    today: int
    repository_today: int
    cluster_failures_in_cooldown: int


def may_fix(settings: FixSettings, counts: FixCounts, repository: str) -> Decision:
    """Allowed, or the first rule that says no."""
    if not settings.enabled:
        return Decision(allowed=False, reason="the fix loop is switched off (fix.enabled)")
    if counts.cluster_failures_in_cooldown:
        return Decision(allowed=False, reason=f"a fix for this cluster failed within the last "
                                              f"{settings.cooldown_hours:g} h (cooldown)")
    if counts.today >= settings.max_runs_per_day:
        return Decision(allowed=False, reason=f"the daily budget of {settings.max_runs_per_day} "
                                              "fix runs is spent")
    if counts.repository_today >= settings.max_runs_per_repo_per_day:
        return Decision(allowed=False, reason=f"the daily budget of "
                                              f"{settings.max_runs_per_repo_per_day} fix runs for "
                                              f"{repository} is spent")
    return Decision(allowed=True, reason=f"fix {counts.today + 1} of "
                                         f"{settings.max_runs_per_day} today")
