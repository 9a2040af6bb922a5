"""Runs for the review pages' tests, made through the store's own API (events recorded, runs
moved by `SqlStore.transition` with typed record parts), as the stages leave them."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from worker.correlate.models import Correlation, Owner, Suspect
from worker.fix.models import (
    Attempt,
    PolicyReport,
    ReproductionCounts,
    ReproductionReport,
    SuiteCounts,
    SuiteReport,
    TestRunReport,
)
from worker.models import ErrorEvent, ExceptionInfo, Frame, RunState, Source
from worker.preview.evidence import ReplayEvidence, ReplayRequest, ReplayResponse
from worker.preview.outcome import PreviewOutcome, Shot
from worker.runs import (
    AttemptVerdict,
    ChosenPatch,
    CommandSummary,
    FixOutcome,
    Publication,
    PullRequestRecord,
    RunRecord,
)
from worker.store import SqlStore

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SECRET = "ghp_" + "Zx9Yw8Vu7Ts6" * 3  # a GitHub token's shape: must never be shown
HOSTILE_TITLE = f"<script>alert('owned')</script> token {SECRET}"
# A 1×1 PNG, enough for the artifact store and a browser's <img>.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAE"
                       "hQGAhKmMIQAAAABJRU5ErkJggg==")
PATCH = ("diff --git a/shop/pricing.py b/shop/pricing.py\n--- a/shop/pricing.py\n"
         "+++ b/shop/pricing.py\n@@ -8,2 +8,4 @@\n def average(items):\n"
         "-    return sum(items) / len(items)\n+    if not items:\n+        return 0\n"
         "+    return sum(items) / len(items)\n")


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Seeded:
    """The runs made, by role."""

    proposed: int = 0
    failed: int = 0
    fixing: int = 0
    skipped: list[int] = field(default_factory=list)
    fresh: int = 0


def event(event_id: str, title: str, *, level: str = "error",
          exception: str = "ZeroDivisionError") -> ErrorEvent:
    return ErrorEvent(source=Source.SENTRY, event_id=event_id, project="shop", title=title,
                      level=level, timestamp=START, user=f"user-{event_id}",
                      exceptions=[ExceptionInfo(type=exception, value="division by zero",
                                                frames=[Frame(filename="shop/pricing.py",
                                                              function="average", lineno=9)])])


def new_run(store: SqlStore, fingerprint: str, title: str, **kwargs: str) -> int:
    run_id = store.record_event(event(f"{fingerprint}-1", title, **kwargs), fingerprint,
                                sample_size=5).run_id
    assert run_id is not None
    return run_id


def walk(store: SqlStore, run_id: int, *steps: tuple[RunState, str, RunRecord | None]) -> None:
    """Move a run through `steps` from wherever it is, as the stages would."""
    for new, reason, record in steps:
        current = store.get_run(run_id)
        assert current is not None
        assert store.transition(run_id, current.state, new, reason, record=record)


def correlation() -> Correlation:
    return Correlation(release="r42", suspects=[Suspect(
        sha="4f2c9e1d8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d", score=0.91, confidence=0.8,
        author="Ann Lee", login="annlee", summary="pricing: average over the basket",
        reasons=["touched shop/pricing.py:9, the crashing line", "in release r42"])],
        owners=[Owner(name="Ann Lee", login="annlee", source="blame",
                      reason="wrote the crashing line")])


def fix_outcome(preview: PreviewOutcome | None = None) -> FixOutcome:
    verdict = AttemptVerdict(
        agent="toolloop", verified=True, reasons=["the reproduction test fails on base and "
                                                  "passes on the fix"],
        reproduction=ReproductionReport(ran=True, tests=["tests/test_repro.py::test_empty"],
                                        counts=ReproductionCounts(tests=1, red_on_base=1,
                                                                  green_on_fix=1, reproduced=1)),
        suite=SuiteReport(ran=True, command="python -m pytest -q",
                          counts=SuiteCounts(passed_on_base=6, ran_on_base=6, ran_on_fix=7),
                          fix=TestRunReport(command="python -m pytest -q", exit_code=0,
                                            parser="junit", counts={"passed": 7},
                                            log="7 passed in 0.12s")),
        policy=PolicyReport(passed=True, files=1, changed_lines=3), seconds=4.2)
    transcript: list[dict[str, object]] = [
        {"kind": "request", "step": 1, "messages": 2},
        {"kind": "tool", "step": 1, "id": "c1", "name": "read_file",
         "arguments": '{"path": "shop/pricing.py"}', "ok": True, "result": "def average(..."},
        {"kind": "tool", "step": 2, "id": "c2", "name": "run",
         "arguments": '{"command": "python -m pytest -q"}', "ok": True,
         "result": f"exit 0; env had {SECRET}"},
        {"kind": "tool", "step": 3, "id": "c3", "name": "edit_file",
         "arguments": '{"path": "shop/pricing.py", "old": "x", "new": "y"}', "ok": True,
         "result": "edited"},
        {"kind": "final", "step": 4, "content": "Guarded the empty basket."}]
    return FixOutcome(
        playbook="zero-division", base="9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b",
        attempts=[Attempt(agent="toolloop", patch=PATCH, transcript=transcript, cost_usd=0.12,
                          tokens=5321, seconds=31.5),
                  Attempt(agent="cli", error="agent command exited with code 2", seconds=3.0)],
        audit=[CommandSummary(argv=["python", "-m", "pytest", "-q"], exit_code=0, seconds=1.5)],
        verifications=[verdict],
        verify_audit=[CommandSummary(argv=["sh", "-c", "python -m pytest -q"], exit_code=1,
                                     seconds=2.0),
                      CommandSummary(argv=["sh", "-c", "python -m pytest -q"], exit_code=0,
                                     seconds=2.1)],
        chosen=ChosenPatch(agent="toolloop", patch=PATCH, changed_lines=3,
                           verification=verdict),
        preview=preview)


def preview_outcome(shot_urls: tuple[str, str]) -> PreviewOutcome:
    request = ReplayRequest(method="GET", path="/cart/average", exception="ZeroDivisionError")
    replay = ReplayEvidence(
        request=request, reproduced_on_base=True, fixed=True,
        base=ReplayResponse(target="base", url="http://127.0.0.1:9001/cart/average",
                            status=500, excerpt="ZeroDivisionError: division by zero",
                            names_exception=True),
        fix=ReplayResponse(target="fix", url="http://127.0.0.1:9002/cart/average",
                           status=200, excerpt="average: 0"),
        reasons=["the base answered 500 naming ZeroDivisionError", "the fix answered 200"])
    return PreviewOutcome(provider="local", base_url="http://127.0.0.1:9001",
                          fix_url="http://127.0.0.1:9002", replay=replay,
                          screenshots=[Shot(label="base", url=shot_urls[0], width=1, height=1,
                                            status=500),
                                       Shot(label="fix", url=shot_urls[1], width=1, height=1,
                                            status=200)])


def seed(store: SqlStore, clock: Clock, shot_urls: tuple[str, str] = ("", "")) -> Seeded:
    """A proposed run with its whole record (hostile title), a failed one, one in progress,
    two skipped for the same reason and one for another, and a fresh one."""
    seeded = Seeded()
    seeded.proposed = new_run(store, "fp-proposed", HOSTILE_TITLE)
    clock.advance(minutes=1)
    walk(store, seeded.proposed,
         (RunState.TRIAGED, "ZeroDivisionError in service shop passes the triage policy", None),
         (RunState.CORRELATED, "1 suspect", RunRecord(correlation=correlation())),
         (RunState.FIXING, "fix 1 of 10 today", None),
         (RunState.PATCHED, "1 of 2 attempts made a patch", RunRecord(fix=fix_outcome())),
         (RunState.VERIFYING, "verifying 1 patch", None),
         (RunState.VERIFIED, "toolloop's patch verified",
          RunRecord(fix=fix_outcome(preview_outcome(shot_urls)))),
         (RunState.PUBLISHING, "opening a draft pull request with the verified patch", None))
    clock.advance(hours=5)
    url = "https://github.example/acme/shop/pull/7"
    walk(store, seeded.proposed, (RunState.PROPOSED, f"draft pull request opened: {url}",
                                  RunRecord(publication=Publication(
                                      kind="pull_request", key="pr:fp-proposed:1", url=url,
                                      pull_request=PullRequestRecord(
                                          branch="suture/fp-proposed", base_branch="main",
                                          number=7, reviewers=["annlee"])))))
    store.set_ticket(seeded.proposed, url)
    clock.advance(hours=1)
    seeded.failed = new_run(store, "fp-failed", "KeyError: 'sku'", exception="KeyError")
    walk(store, seeded.failed, (RunState.TRIAGED, "passes", None),
         (RunState.CORRELATED, "no suspect", RunRecord(correlation=Correlation(release="r42"))),
         (RunState.FIXING, "fix 2 of 10 today", None),
         (RunState.FAILED, "fix: the agent endpoint refused the request", None))
    seeded.fixing = new_run(store, "fp-fixing", "TypeError in checkout", exception="TypeError")
    walk(store, seeded.fixing, (RunState.TRIAGED, "passes", None),
         (RunState.CORRELATED, "1 suspect", None), (RunState.FIXING, "fix 3 of 10 today", None))
    for name in ("a", "b"):
        run_id = new_run(store, f"fp-warn-{name}", f"Deprecated call {name}", level="warning")
        walk(store, run_id, (RunState.SKIPPED, "level 'warning' is not one of the policy's "
                                               "levels (error, fatal)", None))
        seeded.skipped.append(run_id)
    ignored = new_run(store, "fp-ignored-type", "Timeout", exception="TimeoutError")
    walk(store, ignored, (RunState.SKIPPED, "TimeoutError is on the ignore list", None))
    seeded.skipped.append(ignored)
    clock.advance(minutes=30)
    seeded.fresh = new_run(store, "fp-fresh", "ValueError in coupons", exception="ValueError")
    return seeded
