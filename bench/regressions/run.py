"""Accuracy benchmark: does suture rank the real culprit of a real regression first?

Reads cases made by `build_cases.py` (a fix commit that names the commit that caused the bug, and
the crash reproduced at the buggy state as a real Sentry event) and ranks suspects for each event
at its release with three rankers, side by side:
  * suture: `worker.correlate.engine.correlate`;
  * "sentry": the newest of the commits that git blame gives for the in-app frames' lines (the
    method Sentry's suspect commits use);
  * "newest-file": commits touching the innermost in-app frame's file, newest first.
It prints Top-1, Top-5 and MRR of the culprit for each, and the cases suture misses.

    python bench/regressions/run.py --set mypy=<clone>:bench/regressions/cases-mypy.jsonl \\
        --set astroid=<clone>:bench/regressions/cases-astroid.jsonl
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from integrations.git import GitRepository
from integrations.git.command import run_git
from worker.correlate.engine import correlate
from worker.correlate.mapping import map_frames
from worker.models import ErrorEvent
from worker.normalise import detect_and_normalise

sys.path.insert(0, str(Path(__file__).resolve().parent))
from event_source import restore  # noqa: E402  (a sibling script module)
from facts import CaseSet  # noqa: E402

Ranker = Callable[[GitRepository, ErrorEvent, dict[str, Any]], list[str]]


def suture(repo: GitRepository, event: ErrorEvent, case: dict[str, Any]) -> list[str]:
    """suture's ranking (top 10)."""
    found = correlate(repo, event, release=case["release"],
                      first_seen=datetime.fromisoformat(case["first_seen"]), top=10)
    return [suspect.sha for suspect in found.suspects]


def sentry_method(repo: GitRepository, event: ErrorEvent, case: dict[str, Any]) -> list[str]:
    """Blame of every in-app frame's line; the newest blamed commit first."""
    frames = [f for f in map_frames(event.frames, repo.files(case["release"])) if f.blameable]
    dated: dict[str, int] = {}
    for item in frames:
        line = item.frame.lineno
        if not line or not item.path:
            continue
        for blamed in repo.blame(case["release"], item.path, [(line, line)]).values():
            dated[blamed.sha] = int(blamed.timestamp.timestamp())
    return sorted(dated, key=lambda sha: -dated[sha])


def newest_file(repo: GitRepository, event: ErrorEvent, case: dict[str, Any]) -> list[str]:
    """Commits touching the innermost in-app frame's file, newest first."""
    frames = [f for f in map_frames(event.frames, repo.files(case["release"])) if f.blameable]
    if not frames:
        return []
    innermost = min(frames, key=lambda item: item.depth or 0)
    listing = run_git(repo.path, "log", "--no-merges", "--format=%H", "-n", "10",
                      case["release"], "--", innermost.path or "")
    return listing.split()


RANKERS: dict[str, Ranker] = {"suture": suture, "sentry": sentry_method,
                              "newest-file": newest_file}


def position(ranking: list[str], culprit: str) -> int | None:
    """1-based rank of the culprit, None if absent."""
    for index, sha in enumerate(ranking, start=1):
        if sha == culprit:
            return index
    return None


def score_set(case_set: CaseSet, misses: list[str]) -> dict[str, list[int | None]]:
    """Each ranker's rank of the culprit for every case of one set."""
    repo = GitRepository(case_set.repo)
    ranks: dict[str, list[int | None]] = {name: [] for name in RANKERS}
    for case in case_set.load():
        event = detect_and_normalise(restore(case["event"], str(case_set.repo), case["release"]))
        culprit = repo.resolve(case["culprit"])
        for name, ranker in RANKERS.items():
            ranks[name].append(position(ranker(repo, event, case), culprit))
        if ranks["suture"][-1] != 1:
            misses.append(f"miss ({case_set.name}): fix {case['fix'][:10]} culprit "
                          f"{case['culprit'][:10]} rank {ranks['suture'][-1]}: "
                          f"{case.get('fix_subject', '')[:60]}")
    return ranks


def table(title: str, ranks: dict[str, list[int | None]]) -> str:
    """Top-1, Top-5 and MRR of each ranker."""
    total = max(1, len(ranks["suture"]))
    rows = [f"{title}: {len(ranks['suture'])} real regressions",
            f"{'ranker':<12} {'Top-1':>7} {'Top-5':>7} {'MRR':>6}"]
    for name, found in ranks.items():
        top1 = sum(1 for r in found if r == 1) / total
        top5 = sum(1 for r in found if r is not None and r <= 5) / total
        mrr = sum(1 / r for r in found if r) / total
        rows.append(f"{name:<12} {top1:7.1%} {top5:7.1%} {mrr:6.3f}")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="sets", action="append", type=CaseSet.parse, default=[],
                        help="NAME=CLONE:CASES (repeatable)")
    parser.add_argument("--repo", type=Path, help="one clone (with --cases)")
    parser.add_argument("--cases", type=Path, help="that clone's cases")
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    sets = list(args.sets)
    if args.repo and args.cases:
        sets.append(CaseSet(args.cases.stem.removeprefix("cases-"), args.repo, args.cases))
    if not sets:
        parser.error("give --set NAME=CLONE:CASES, or --repo and --cases")
    pooled: dict[str, list[int | None]] = {name: [] for name in RANKERS}
    misses: list[str] = []
    for case_set in sets:
        ranks = score_set(case_set, misses)
        print(table(case_set.name, ranks) + "\n")
        for name, found in ranks.items():
            pooled[name] += found
    if len(sets) > 1:
        print(table("all sets", pooled))
    if args.show_misses:
        print("\n".join(misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
