"""Which commit brought the crash in: the verify stage's reproduction test, bisected.

The verified patch's reproduction tests are the evidence. When no patch was verified, a test
an attempt added that fails on the base can still serve, once it is seen failing there with the
crash's error in the crash's function. Bisection informs the ticket; it never fails the stage,
and every reason it stopped is kept.
"""

from __future__ import annotations

from worker.correlate.models import Correlation
from worker.fix.models import Attempt, SandboxPolicy, Verification
from worker.models import ErrorEvent
from worker.ports import PermanentError, Sandbox, Workspace
from worker.stages.deps import Deps
from worker.verify.bisection import Bisection
from worker.verify.origin import Limits, Reproduction, find_culprit

Judged = tuple[Attempt, Verification, int]


def bisect_crash(deps: Deps, workspace: Workspace, base: str, judged: list[Judged],
                 best: Judged | None, sandbox: Sandbox, event: ErrorEvent,
                 correlation: Correlation | None, *,
                 seconds_left: float) -> Bisection:
    """Where a reproduction test puts the start of the crash, or why it could not be found.
    `seconds_left` is what the stage may still spend; a run started just before the end may
    take a whole sandbox run's time, which is kept in hand."""
    settings = deps.settings.fix
    if not settings.bisect_probes:
        return Bisection(reason="bisection is switched off")
    seconds = min(settings.bisect_seconds, seconds_left - SandboxPolicy().limits.wall_seconds)
    if seconds <= 0:
        return Bisection(reason="no time was left in the stage to bisect")
    chosen = _evidence(judged, best)
    if chosen is None:
        return Bisection(reason="no test reproduces the crash to bisect with")
    attempt, tests, command = chosen
    reproduction = Reproduction(patch=attempt.patch, tests=tests, command=command,
                                expected_error=event.primary.type if event.primary else None,
                                expected_function=crash_function(correlation, event))
    limits = Limits(max_commits=settings.bisect_commits, max_probes=settings.bisect_probes,
                    max_seconds=seconds)
    try:
        return find_culprit(workspace, base, reproduction, sandbox=sandbox, limits=limits,
                            check_base=best is None)
    except PermanentError as exc:
        return Bisection(reason=f"bisection could not run: {exc}")


def crash_function(correlation: Correlation | None, event: ErrorEvent) -> str | None:
    """The crash's innermost function: the innermost frame mapped to the repository, else the
    event's innermost in-app frame."""
    if correlation is not None:
        mapped = [f for f in correlation.frames if f.depth is not None]
        if mapped:
            return min(mapped, key=lambda f: f.depth or 0).frame.function
    in_app = [f for f in event.frames if f.in_app]
    return in_app[-1].function if in_app else None


def _evidence(judged: list[Judged], best: Judged | None
              ) -> tuple[Attempt, list[str], str] | None:
    """The attempt, tests and command to bisect with: the verified reproduction, else the
    first attempt whose added tests failed on the base."""
    for attempt, verdict, _lines in [best] if best is not None else judged:
        report = verdict.reproduction
        tests = report.reproduced if best is not None else report.red_on_base
        if tests and report.command:
            return attempt, list(tests), report.command
    return None
