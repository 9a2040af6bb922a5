"""Build suspect-commit benchmark cases from real regressions of a project tested by functions.

A case is a first-parent fix commit F whose changed test function crashes the project at F's
first parent (the release that crashed) but not at F, captured as a real Sentry event, together
with the commit C that introduced the crash as named by F's message (or its merged branch's
messages). A strongly cued culprit is kept as named, with the culprit check recorded; a weakly
cued or merely mentioned one only when the check confirms it (crash at C, none at C's parent).
A merge culprit is replaced by the commit inside its branch where the crash starts. Cases are
appended to ``--out`` as they are found and sorted newest release first at the end. Usage::

    python bench/regressions/pyfunc/build.py --project sympy --repo <clone> --out cases.jsonl \
        --python <venv311>/bin/python --legacy-python <venv38>/bin/python
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent.parent))  # the mypy builder's modules
from branch_bisect import bisect_branch  # noqa: E402
from candidates import Suspect, git  # noqa: E402
from event_source import strip  # noqa: E402
from history import Candidate, scan  # noqa: E402
from projects import PROJECTS  # noqa: E402
from verdicts import Reproduction, Settings, check, parent, reproduce_fix, verified  # noqa: E402

MAX_CHECKS = 4


def _is_merge(repo: str, sha: str) -> bool:
    return len(git(repo, "rev-list", "--parents", "-n1", sha).split()) > 2


def _settle(cfg: Settings, repro: Reproduction, suspect: Suspect) -> dict[str, Any] | str:
    """The culprit fields for ``suspect``, or why it cannot be the case's culprit."""
    result = check(cfg, repro, suspect.sha, parent(cfg.repo, suspect.sha))
    if suspect.strength != "strong" and not verified(result):
        return "not confirmed"
    fields = {"culprit": suspect.sha, "culprit_ref": suspect.ref, "culprit_source": "message",
              "cue": suspect.cue, "cue_strength": suspect.strength, "culprit_check": result}
    if _is_merge(cfg.repo, suspect.sha):
        inside, reason = bisect_branch(cfg, repro, suspect.sha)
        if inside is None:
            return reason
        fields.update(culprit=inside, culprit_merge=suspect.sha)
    elif not verified(result):
        from bisected import bisect  # imported here: bisected builds on this module

        # Where the test says the crash starts, for judging a named culprit it did not confirm.
        fields["bisected_culprit"] = bisect(cfg, repro)[0]
    return fields


def named_case(cfg: Settings, cand: Candidate) -> tuple[dict[str, Any] | None, str, bool]:
    """``(case, drop reason, reproduced)`` for one candidate."""
    repro = reproduce_fix(cfg, cand.fix.sha)
    if isinstance(repro, str):
        return None, repro, False
    strong = [s for s in cand.suspects if s.strength == "strong"]
    reasons = []
    for suspect in (strong[:1] or cand.suspects[:MAX_CHECKS]):
        settled = _settle(cfg, repro, suspect)
        if isinstance(settled, dict):
            return record(cfg, cand, repro, settled), "", True
        reasons.append(settled)
    kind = "strong culprit" if strong else "no reference confirmed"
    return None, f"{kind}: {'; '.join(sorted(set(reasons)))}", True


def record(cfg: Settings, cand: Candidate, repro: Reproduction,
           culprit: dict[str, Any]) -> dict[str, Any]:
    """The JSON object written for a kept case (event without the project's source lines)."""
    stamp = int(git(cfg.repo, "show", "-s", "--format=%ct", repro.release).strip())
    test = repro.test
    return {
        "project": cfg.project.slug, "fix": cand.fix.sha, "culprit": culprit["culprit"],
        "culprit_ref": culprit["culprit_ref"], "release": repro.release,
        "first_seen": datetime.fromtimestamp(stamp, tz=UTC).isoformat(),
        "fix_subject": cand.fix.subject,
        **{k: v for k, v in culprit.items() if k not in ("culprit", "culprit_ref")},
        "test": {"file": test.path, "name": "::".join(p for p in (test.cls, test.name) if p),
                 "staging": repro.staging},
        "exception": repro.crash["exc_type"], "innermost": repro.crash["innermost"],
        "harness_python": repro.python, "event": strip(repro.crash["event"]),
    }


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", required=True, choices=sorted(PROJECTS))
    parser.add_argument("--repo", required=True, help="a clone of the project")
    parser.add_argument("--out", required=True, help="JSON-lines file for the cases")
    parser.add_argument("--since", default="2017-01-01", help="oldest fix date to consider")
    parser.add_argument("--until", default=None, help="newest fix date to consider (to build an "
                        "era with its own interpreters)")
    parser.add_argument("--python", default=sys.executable, help="interpreter for recent commits")
    parser.add_argument("--legacy-python", default=None, help="interpreter for old commits")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per pytest run")
    parser.add_argument("--limit", type=int, default=None, help="stop after this many cases")
    parser.add_argument("--minutes", type=float, default=None, help="stop starting new candidates"
                        " after this many minutes")
    return parser.parse_args(argv)


def _sort_file(path: str) -> int:
    lines = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    lines.sort(key=lambda case: case["first_seen"], reverse=True)
    Path(path).write_text("".join(json.dumps(case) + "\n" for case in lines))
    return len(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    args = _arguments(argv)
    project, start = PROJECTS[args.project], time.monotonic()
    cands, skipped = scan(args.repo, project, args.since)
    if args.until:
        cands = [c for c in cands if c.fix.date[:10] <= args.until]
    print(f"{len(cands)} candidates; not candidates: {dict(skipped)}", flush=True)
    Path(args.out).touch()
    # A resumed build does not redo (or duplicate) the fixes the file already holds.
    done = {json.loads(line)["fix"] for line in Path(args.out).read_text().splitlines() if line}
    cands = [c for c in cands if c.fix.sha not in done]
    drops, tried, reproduced, kept = Counter[str](), 0, 0, 0
    with tempfile.TemporaryDirectory(prefix="pyfunc-bench-") as scratch:
        cfg = Settings(args.repo, project, args.python, args.legacy_python, scratch, args.timeout)
        for cand in cands:
            if (args.limit and kept >= args.limit) or (
                    args.minutes and time.monotonic() - start > args.minutes * 60):
                break
            tried += 1
            try:
                case, reason, was_reproduced = named_case(cfg, cand)
            except Exception as exc:  # one broken fix must not end a long build
                case, reason, was_reproduced = None, f"builder error: {type(exc).__name__}", False
            reproduced += was_reproduced
            if case:
                kept += 1
                with open(args.out, "a", encoding="utf-8") as out:
                    out.write(json.dumps(case) + "\n")
            else:
                drops[reason] += 1
            verdict = f"KEPT {case['exception']}" if case else f"drop: {reason}"
            print(f"{cand.fix.sha[:10]} {cand.fix.subject[:60]!r} -> {verdict}", flush=True)
    total = _sort_file(args.out)
    print(f"== {project.slug}: candidates {len(cands)}, tried {tried}, reproduced {reproduced}, "
          f"kept {kept} (file holds {total}), {time.monotonic() - start:.0f}s")
    for reason, count in drops.most_common():
        print(f"  {count:4d}  {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
