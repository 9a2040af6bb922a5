"""Accuracy benchmark: does suture rank the real culprit of a real regression first?

Reads cases made by `build_cases.py` (a fix commit that names the commit that caused the bug, and
the crash reproduced at the buggy state as a real Sentry event) and ranks suspects for each event
at its release with three rankers, side by side:
  * suture: `worker.correlate.engine.correlate`;
  * "sentry": the newest of the commits that git blame gives for the in-app frames' lines (the
    method Sentry's suspect commits use);
  * "newest-file": commits touching the innermost in-app frame's file, newest first.
It prints Top-1, Top-5 and MRR of the culprit for each, and the cases suture misses.

    python bench/regressions/run.py --repo <clone> --cases bench/regressions/cases-mypy.jsonl
"""

from __future__ import annotations

import argparse
import json
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--cases", type=Path, required=True)
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    repo = GitRepository(args.repo)
    cases = [json.loads(line) for line in args.cases.read_text().splitlines() if line.strip()]
    ranks: dict[str, list[int | None]] = {name: [] for name in RANKERS}
    misses = []
    for case in cases:
        event = detect_and_normalise(restore(case["event"], str(args.repo), case["release"]))
        culprit = repo.resolve(case["culprit"])
        for name, ranker in RANKERS.items():
            ranks[name].append(position(ranker(repo, event, case), culprit))
        if ranks["suture"][-1] != 1:
            misses.append((case, ranks["suture"][-1]))
    total = len(cases)
    print(f"{total} real regressions from {cases[0]['project'] if cases else '?'}")
    print(f"{'ranker':<12} {'Top-1':>7} {'Top-5':>7} {'MRR':>6}")
    for name, found in ranks.items():
        top1 = sum(1 for r in found if r == 1) / total
        top5 = sum(1 for r in found if r is not None and r <= 5) / total
        mrr = sum(1 / r for r in found if r) / total
        print(f"{name:<12} {top1:7.1%} {top5:7.1%} {mrr:6.3f}")
    if args.show_misses:
        for case, rank in misses:
            print(f"miss: fix {case['fix'][:10]} culprit {case['culprit'][:10]} rank {rank}: "
                  f"{case.get('fix_subject', '')[:70]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
