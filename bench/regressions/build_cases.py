"""Build suspect-commit benchmark cases from real mypy regressions.

A case is a fix commit F whose message names the commit C that introduced the bug, and whose
regression test crashes mypy at F's parent (the release that crashed) but not at F. The crash is
reproduced by running F's test case against F^'s code in mypy's own test harness, and captured as
a real Sentry event with sentry-sdk. The culprit is also checked: the same test is run at C and at
C's parent. One JSON object per kept case is written to ``--out``; a summary with the reason for
every dropped candidate is printed. Usage::

    python bench/regressions/build_cases.py --repo <clone of python/mypy> --out cases.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from typing import Any

from candidates import REPO_SLUG, Candidate, git, scan
from reproduce import RunResult, run_at
from testcases import CaseRef, changed_cases, changed_files, stage_case_blocks, stage_fix_tests


@dataclass
class Outcome:
    """The verdict on one candidate: a case to write, or the reason it was dropped."""

    candidate: Candidate
    case: dict[str, Any] | None = None
    reason: str = ""


@dataclass(frozen=True)
class Settings:
    """How the reproduction runs: scratch directory, harness interpreter and time limit."""

    repo: str
    scratch: str
    python: str
    timeout: float


def _parent(repo: str, commit: str) -> str:
    return git(repo, "rev-parse", f"{commit}^").strip()


def _harness_reason(where: str, result: RunResult) -> str:
    kind = "timeout" if result.problem == "timeout" else "harness did not run the tests"
    return f"{kind} at {where}"


def _check_culprit(cfg: Settings, cand: Candidate, case: CaseRef, files: list[str]) -> dict:
    """Run the crashing test at the culprit and at its parent (None: could not run it there)."""
    stage = partial(stage_case_blocks, repo=cfg.repo, fix=cand.fix.sha, cases=[case],
                    files=files)
    verdict: dict[str, bool | None] = {}
    for key, commit in (("crash_at_culprit", cand.culprit),
                        ("crash_before_culprit", _parent(cfg.repo, cand.culprit))):
        result = run_at(cfg.repo, commit, cfg.scratch, [case], lambda tree: stage(tree),
                        cfg.python, cfg.timeout)
        ran = result.ok and result.ran({case.test_name})
        verdict[key] = (result.crash({case.test_name}) is not None) if ran else None
    return verdict


def _no_crash_reason(result: RunResult, names: set[str]) -> str:
    if not result.ran(names):
        return "regression test not collected at parent"
    outcomes = {t.get("outcome", "").split(":")[0] for t in result.tests if t["name"] in names}
    if "crash" in outcomes:
        return "crash captured without an event"
    return "no crash at parent (test " + ("failed" if outcomes - {"passed"} else "passed") + ")"


def _reproduce(cfg: Settings, cand: Candidate) -> Outcome:
    """Reproduce the crash at F^, confirm it is gone at F, and check the culprit."""
    fix = cand.fix.sha
    cases, files = changed_cases(cfg.repo, fix), changed_files(cfg.repo, fix)
    if not cases:
        return Outcome(cand, reason="fix adds no data-driven test case")
    names = {case.test_name for case in cases}
    release = _parent(cfg.repo, fix)
    before = run_at(cfg.repo, release, cfg.scratch, cases,
                    lambda tree: stage_fix_tests(tree, fix, files), cfg.python, cfg.timeout)
    if not before.ok:
        return Outcome(cand, reason=_harness_reason("parent", before))
    crash = before.crash(names)
    if crash is None:
        return Outcome(cand, reason=_no_crash_reason(before, names))
    crashed = {crash["name"]}
    after = run_at(cfg.repo, fix, cfg.scratch, cases, lambda tree: None, cfg.python, cfg.timeout)
    if not after.ok or not after.ran(crashed):
        return Outcome(cand, reason=_harness_reason("fix", after))
    if after.crash(crashed) is not None:
        return Outcome(cand, reason="crash persists at the fix")
    case_ref = next(case for case in cases if case.test_name == crash["name"])
    check = _check_culprit(cfg, cand, case_ref, files)
    verified = check["crash_at_culprit"] is True and check["crash_before_culprit"] is False
    if not cand.strong and not verified:
        return Outcome(cand, reason="weak culprit cue and crash not shown to start at culprit")
    return Outcome(cand, case=_record(cfg, cand, release, crash, case_ref, check))


def _record(cfg: Settings, cand: Candidate, release: str, crash: dict, case: CaseRef,
            check: dict) -> dict[str, Any]:
    """The JSON object written for a kept case."""
    stamp = git(cfg.repo, "show", "-s", "--format=%ct", release).strip()
    first_seen = datetime.fromtimestamp(int(stamp), tz=timezone.utc).isoformat()
    return {
        "project": REPO_SLUG, "fix": cand.fix.sha, "culprit": cand.culprit,
        "culprit_ref": cand.culprit_ref, "release": release, "first_seen": first_seen,
        "fix_subject": cand.fix.subject, "cue": cand.cue,
        "cue_strength": "strong" if cand.strong else "weak",
        "test": {"file": case.path, "name": case.name},
        "exception": crash["exc_type"], "innermost": crash["innermost"],
        "culprit_check": check, "event": crash["event"],
    }


def _safe(cfg: Settings, cand: Candidate) -> Outcome:
    try:
        return _reproduce(cfg, cand)
    except Exception as exc:  # one broken candidate must not end a long build
        return Outcome(cand, reason=f"builder error: {type(exc).__name__}")


def run_all(cfg: Settings, cands: list[Candidate], jobs: int, limit: int | None) -> list[Outcome]:
    """Reproduce candidates newest first on ``jobs`` threads until ``limit`` cases are kept."""
    outcomes: list[Outcome] = []
    pending: set[Future[Outcome]] = set()
    queue = list(cands)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        while queue or pending:
            kept = sum(1 for o in outcomes if o.case)
            while queue and len(pending) < jobs and (limit is None or kept < limit):
                pending.add(pool.submit(_safe, cfg, queue.pop(0)))
            if not pending:
                break
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                outcome = future.result()
                outcomes.append(outcome)
                _progress(outcome)
    return outcomes


def _progress(outcome: Outcome) -> None:
    cand = outcome.candidate
    verdict = "KEPT " + outcome.case["exception"] if outcome.case else "drop: " + outcome.reason
    print(f"{cand.fix.sha[:10]} {cand.fix.subject[:60]!r} -> {verdict}", file=sys.stderr,
          flush=True)


def summarise(found: int, skipped: Counter[str], outcomes: list[Outcome]) -> str:
    """A human-readable summary: candidates, reproductions, kept cases and drop reasons."""
    kept = [o for o in outcomes if o.case]
    drops = Counter(o.reason for o in outcomes if not o.case)
    reproduced = len(kept) + sum(n for r, n in drops.items() if r.startswith("weak culprit"))
    lines = [f"candidates found: {found}", f"candidates tried: {len(outcomes)}",
             f"reproduced (crash at parent, gone at fix): {reproduced}", f"kept: {len(kept)}",
             "commits with a culprit reference that were not candidates:"]
    lines += [f"  {n:4d}  {reason}" for reason, n in skipped.most_common()]
    lines.append("dropped candidates:")
    lines += [f"  {n:4d}  {reason}" for reason, n in drops.most_common()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", required=True, help="a clone of python/mypy")
    parser.add_argument("--out", required=True, help="JSON-lines file to write")
    parser.add_argument("--limit", type=int, default=None, help="stop after this many cases")
    parser.add_argument("--since", default="2020-06-01",
                        help="oldest fix date to consider (older harnesses need pytest<6)")
    parser.add_argument("--jobs", type=int, default=2, choices=(1, 2))
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter for mypy's test harness (needs pytest 7, tomli)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per pytest run")
    args = parser.parse_args(argv)
    cands, skipped = scan(args.repo, args.since)
    with tempfile.TemporaryDirectory(prefix="suture-bench-") as scratch:
        cfg = Settings(args.repo, scratch, args.python, args.timeout)
        outcomes = run_all(cfg, cands, args.jobs, args.limit)
    cases = sorted((o.case for o in outcomes if o.case), key=lambda c: c["first_seen"],
                   reverse=True)
    with open(args.out, "w", encoding="utf-8") as out:
        for case in cases:
            out.write(json.dumps(case, sort_keys=False) + "\n")
    print(summarise(len(cands), skipped, outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
