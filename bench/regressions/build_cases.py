"""Build suspect-commit benchmark cases from real mypy regressions.

A case is a fix commit F whose regression test crashes mypy at F's parent (the release that
crashed) but not at F, captured as a real Sentry event with sentry-sdk, together with the commit
C that introduced the crash. In the main set C is named by F's message ("caused by #N",
"introduced in <sha>", ...); a weakly cued or merely mentioned commit is accepted only when the
same crash is shown to start at it (crash at C, none at C's parent). With ``--bisect-out``, crash
fixes that name no usable culprit are also bisected and written to a second file. A summary with
the reason for every dropped candidate is printed.

Each kept case is written as soon as it is found (see ``case_store``), so a long build can be
stopped at any time; a restart keeps the cases already written and skips their fixes (and, with
``--log``, every fix an earlier run settled). ``--minutes`` time-boxes the run. Usage::

    python bench/regressions/build_cases.py --repo <clone of python/mypy> --out cases.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bisect_culprit import bisect
from candidates import REPO_SLUG, Candidate, Commit, Suspect, crash_fixes, crash_priority, git, scan
from case_store import CaseFile, ProgressLog, Verdict
from regression import Reproduction, Settings, check_culprit, reproduce_fix, verified

MAX_CHECKS = 4  # weak or mentioned suspects tried per fix


@dataclass
class Outcome:
    """The verdict on one fix commit: a case to write, or the reason it was dropped."""

    fix: Commit
    case: dict[str, Any] | None = None
    reason: str = ""
    reproduced: bool = False


def _choose_culprit(cfg: Settings, cand: Candidate,
                    repro: Reproduction) -> tuple[Suspect, dict] | None:
    """The named culprit (strong cue), else the first weak/mention suspect shown to be one."""
    strong = [s for s in cand.suspects if s.strength == "strong"]
    if strong:
        return strong[0], check_culprit(cfg, repro, strong[0].sha)
    for suspect in cand.suspects[:MAX_CHECKS]:
        check = check_culprit(cfg, repro, suspect.sha)
        if verified(check):
            return suspect, check
    return None


def named_case(cfg: Settings, cand: Candidate) -> Outcome:
    """Reproduce a candidate's crash and settle its culprit from the message."""
    repro = reproduce_fix(cfg, cand.fix.sha)
    if isinstance(repro, str):
        return Outcome(cand.fix, reason=repro)
    chosen = _choose_culprit(cfg, cand, repro)
    if chosen is None:
        return Outcome(cand.fix, reason="no strong cue, and no reference shown to start the crash",
                       reproduced=True)
    suspect, check = chosen
    culprit = {"culprit": suspect.sha, "culprit_ref": suspect.ref, "culprit_source": "message",
               "cue": suspect.cue, "cue_strength": suspect.strength, "culprit_check": check}
    if not verified(check):
        # Where the test says the crash starts, for judging a named culprit it did not confirm.
        culprit["bisected_culprit"] = bisect(cfg, repro)[0]
    return Outcome(cand.fix, case=record(cfg, cand.fix, repro, culprit), reproduced=True)


def bisected_case(cfg: Settings, fix: Commit) -> Outcome:
    """Reproduce a crash fix's crash and find its culprit by bisection."""
    repro = reproduce_fix(cfg, fix.sha)
    if isinstance(repro, str):
        return Outcome(fix, reason=repro)
    culprit, reason = bisect(cfg, repro)
    if culprit is None:
        return Outcome(fix, reason=reason, reproduced=True)
    subject = git(cfg.repo, "show", "-s", "--format=%s", culprit)
    number = re.search(r"\(#(\d+)\)\s*$", subject)
    found = {"culprit": culprit, "culprit_ref": f"#{number.group(1)}" if number else culprit[:12],
             "culprit_source": "bisect", "cue": "", "cue_strength": "",
             "culprit_check": {"crash_at_culprit": True, "crash_before_culprit": False}}
    return Outcome(fix, case=record(cfg, fix, repro, found), reproduced=True)


def record(cfg: Settings, fix: Commit, repro: Reproduction,
           culprit: dict[str, Any]) -> dict[str, Any]:
    """The JSON object written for a kept case."""
    stamp = int(git(cfg.repo, "show", "-s", "--format=%ct", repro.release).strip())
    return {
        "project": REPO_SLUG, "fix": fix.sha, "culprit": culprit["culprit"],
        "culprit_ref": culprit["culprit_ref"], "release": repro.release,
        "first_seen": datetime.fromtimestamp(stamp, tz=UTC).isoformat(),
        "fix_subject": fix.subject, **{k: v for k, v in culprit.items() if k not in
                                       ("culprit", "culprit_ref")},
        "test": {"file": repro.case.path, "name": repro.case.name},
        "exception": repro.crash["exc_type"], "innermost": repro.crash["innermost"],
        "harness_python": repro.python, "event": repro.crash["event"],
    }


def _guarded(work: Callable[[Any], Outcome], item: Any) -> Outcome:
    try:
        return work(item)
    except Exception as exc:  # one broken fix must not end a long build
        fix = item.fix if isinstance(item, Candidate) else item
        return Outcome(fix, reason=f"builder error: {type(exc).__name__}")


def run_all(work: Callable[[Any], Outcome], items: Iterable[Any], jobs: int,
            limit: int | None, done: Callable[[Outcome], None],
            deadline: float | None = None) -> list[Outcome]:
    """Apply ``work`` to items in order on ``jobs`` threads until ``limit`` cases are kept.

    ``done`` is called on each outcome as soon as it is known (to write it to disk). No item is
    started after ``deadline`` (a ``time.monotonic()`` value); those already running finish.
    """
    outcomes: list[Outcome] = []
    pending: set[Future[Outcome]] = set()
    queue = list(items)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        while queue or pending:
            kept = sum(1 for o in outcomes if o.case)
            in_time = deadline is None or time.monotonic() < deadline
            while queue and in_time and len(pending) < jobs and (limit is None or kept < limit):
                pending.add(pool.submit(_guarded, work, queue.pop(0)))
            if not pending:
                break
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                outcomes.append(future.result())
                _progress(outcomes[-1])
                done(outcomes[-1])
    return outcomes


def _progress(outcome: Outcome) -> None:
    verdict = "KEPT " + outcome.case["exception"] if outcome.case else "drop: " + outcome.reason
    print(f"{outcome.fix.sha[:10]} {outcome.fix.subject[:60]!r} -> {verdict}", file=sys.stderr,
          flush=True)


def keeper(phase: str, cases: CaseFile, log: ProgressLog) -> Callable[[Outcome], None]:
    """A callback that writes a kept case to ``cases`` and every verdict to ``log``."""

    def done(outcome: Outcome) -> None:
        case = outcome.case
        if case:
            cases.add(case)
        log.add(Verdict(phase, outcome.fix.sha, outcome.fix.subject, case is not None,
                        outcome.reproduced, outcome.reason,
                        case["exception"] if case else "",
                        case["culprit_check"] if case else None))

    return done


def summarise(title: str, found: int, verdicts: list[Verdict],
              skipped: Counter[str] | None = None) -> str:
    """A human-readable summary: candidates, reproductions, kept cases and drop reasons."""
    drops = Counter(v.reason for v in verdicts if not v.kept)
    checks = Counter(json.dumps(v.check, sort_keys=True) for v in verdicts if v.kept)
    lines = [f"== {title}", f"candidates found: {found}", f"candidates tried: {len(verdicts)}",
             f"reproduced (crash at parent, gone at fix): {sum(v.reproduced for v in verdicts)}",
             f"kept: {sum(1 for v in verdicts if v.kept)}"]
    lines += [f"  {n:5d}  culprit_check {check}" for check, n in checks.most_common()]
    if skipped:
        lines.append("commits with references that are not candidates:")
        lines += [f"  {n:5d}  {reason}" for reason, n in skipped.most_common()]
    lines.append("dropped candidates:")
    lines += [f"  {n:5d}  {reason}" for reason, n in drops.most_common()]
    return "\n".join(lines)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", required=True, help="a clone of python/mypy")
    parser.add_argument("--out", required=True, help="JSON-lines file for message-named cases")
    parser.add_argument("--limit", type=int, default=None,
                        help="stop after this many cases (both files together)")
    parser.add_argument("--since", default="2017-06-01", help="oldest fix date to consider")
    parser.add_argument("--jobs", type=int, default=2, choices=(1, 2))
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter for mypy's test harness (pytest 7.3, tomli, sentry-sdk)")
    parser.add_argument("--legacy-python", default=None,
                        help="interpreter for old commits (Python 3.8, pytest 5.4, sentry-sdk)")
    parser.add_argument("--legacy-before", default="2021-01-01",
                        help="commits older than this try --legacy-python first")
    parser.add_argument("--extra-python", action="append", default=[],
                        help="newer interpreter tried last (for check-python312.test and the "
                             "like, which the harness collects only on that version); repeatable")
    parser.add_argument("--pins", default=None,
                        help="folder of py3.X/<name>-<version> installs (pip --target) of the "
                             "librt/ast-serialize versions commits name in mypy-requirements.txt")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per pytest run")
    parser.add_argument("--bisect-out", default=None,
                        help="also bisect crash fixes that name no culprit; write them here")
    parser.add_argument("--log", default=None,
                        help="JSON-lines file of every verdict; a restarted build skips the "
                             "fixes it lists and its summary counts them")
    parser.add_argument("--minutes", type=float, default=None,
                        help="start no fix after this many minutes (running ones finish)")
    parser.add_argument("--named-minutes", type=float, default=None,
                        help="move on to bisection after this many minutes")
    return parser.parse_args(argv)


def _deadline(started: float, minutes: float | None) -> float | None:
    return None if minutes is None else started + 60 * minutes


def _ordered(cands: list[Candidate]) -> list[Candidate]:
    """Likely crashes first, strong cues first within them; newest first otherwise.

    Only crashes make cases and a strong cue needs no confirming, so a time-boxed build spends
    its time where cases are; the other candidates still follow.
    """
    rank = {"strong": 0, "weak": 1, "mention": 2}
    return sorted(cands, key=lambda c: (crash_priority(c.fix), rank[c.suspects[0].strength]))


def _carry_over(log: ProgressLog, fixes: list[Commit]) -> list[Commit]:
    """Settle the fixes whose crash the named phase could not reproduce; return the rest.

    Reproduction does not depend on the phase, so rerunning it would only repeat the verdict.
    Timeouts and builder errors are retried.
    """
    failed = {v.fix: v for v in log.of("named") if not v.reproduced
              and not v.reason.startswith(("timeout", "builder error"))}
    for fix in fixes:
        if fix.sha in failed:
            log.add(Verdict("bisect", fix.sha, fix.subject, False, False, failed[fix.sha].reason))
    return [fix for fix in fixes if fix.sha not in failed]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    args = _arguments(argv)
    started = time.monotonic()
    cands, skipped = scan(args.repo, args.since)
    named_file = CaseFile(args.out)
    log = ProgressLog(args.log)
    with tempfile.TemporaryDirectory(prefix="suture-bench-") as scratch:
        cfg = Settings(args.repo, scratch, args.python, args.legacy_python, args.legacy_before,
                       args.timeout, tuple(args.extra_python), args.pins)
        settled = named_file.fixes() | log.tried("named")
        todo = [c for c in _ordered(cands) if c.fix.sha not in settled]
        end = _deadline(started, args.named_minutes if args.bisect_out else args.minutes)
        named = run_all(lambda c: named_case(cfg, c), todo, args.jobs, args.limit,
                        keeper("named", named_file, log), end)
        print(summarise("culprit named by the fix", len(cands), log.of("named"), skipped),
              flush=True)
        if args.bisect_out:
            bisect_file = CaseFile(args.bisect_out)
            settled = named_file.fixes() | bisect_file.fixes() | log.tried("bisect")
            fixes = crash_fixes(args.repo, args.since)
            todo = _carry_over(log, [f for f in fixes if f.sha not in settled])
            kept = sum(1 for o in named if o.case)
            left = None if args.limit is None else max(0, args.limit - kept)
            run_all(lambda f: bisected_case(cfg, f), todo, args.jobs, left,
                    keeper("bisect", bisect_file, log), _deadline(started, args.minutes))
            print(summarise("culprit found by bisection", len(fixes), log.of("bisect")),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
