"""Speed benchmark: suspect ranking per event against one plain `git log --name-only`.

For each event, in the same run and on the same repository, it times
  * the baseline: `git log --name-only --since=<window start> <release>` (output discarded),
  * suture's ranking: `correlate()` on that event, with the repository adapter warm (its file
    list and its class definitions for the release cached, as in a worker that has seen this
    release before) but nothing about the event cached,
and prints each ratio and the median. Best of `--repeat` runs for both.

    python bench/speed/run.py --repo <clone> --events <folder of event JSON files>
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from integrations.git import GitRepository
from integrations.git.command import run_git
from worker.correlate.engine import correlate
from worker.correlate.missing import DEFINITION_TEXTS
from worker.normalise import detect_and_normalise


def baseline(repo: Path, release: str, since: datetime) -> float:
    """Seconds for one plain `git log --name-only` over the window."""
    started = time.perf_counter()
    subprocess.run(["git", "-C", str(repo), "log", "--name-only", "--format=%H",
                    f"--since={int(since.timestamp())}", release],
                   stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def warm(adapter: GitRepository, release: str) -> float:
    """What a worker that has seen the release before knows already: its files and its class
    definitions (one `git grep` each release). Returns the seconds it took."""
    started = time.perf_counter()
    adapter.files(release)
    adapter.grep(release, DEFINITION_TEXTS)
    return time.perf_counter() - started


def ranking(repo: Path, event_file: Path, release: str, first_seen: datetime,
            window_days: float) -> tuple[float, int]:
    """Seconds for one correlation of the event, and how many suspects it found."""
    adapter = GitRepository(repo)
    warm(adapter, release)
    event = detect_and_normalise(json.loads(event_file.read_text()))
    started = time.perf_counter()
    found = correlate(adapter, event, release=release, first_seen=first_seen,
                      window_days=window_days)
    return time.perf_counter() - started, len(found.suspects)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--window-days", type=float, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    release = run_git(args.repo, "rev-parse", "HEAD").strip()
    stamp = int(run_git(args.repo, "show", "-s", "--format=%ct", release).strip())
    first_seen = datetime.fromtimestamp(stamp, UTC) + timedelta(days=1)
    since = first_seen - timedelta(days=args.window_days)
    commits = run_git(args.repo, "rev-list", "--count", release).strip()
    in_window = run_git(args.repo, "rev-list", "--count", f"--since={int(since.timestamp())}",
                        release).strip()
    print(f"repository: {commits} commits, {in_window} in the {args.window_days:.0f}-day window")
    print(f"once per release (file list and class definitions): "
          f"{min(warm(GitRepository(args.repo), release) for _ in range(args.repeat)):.3f} s")
    events = sorted(args.events.glob("*.json"))
    baseline(args.repo, release, since)  # warm the page cache for both sides alike
    ranking(args.repo, events[0], release, first_seen, args.window_days)
    ratios = []
    print(f"{'event':<16} {'git log s':>9} {'ranking s':>9} {'ratio':>6} suspects")
    for event_file in events:
        base = min(baseline(args.repo, release, since) for _ in range(args.repeat))
        runs = [ranking(args.repo, event_file, release, first_seen, args.window_days)
                for _ in range(args.repeat)]
        best = min(seconds for seconds, _n in runs)
        ratios.append(best / base)
        print(f"{event_file.stem:<16} {base:9.3f} {best:9.3f} {best / base:6.2f} {runs[0][1]}")
    print(f"median ratio {statistics.median(ratios):.2f}, max {max(ratios):.2f} "
          f"over {len(ratios)} events (target: at most 3.00)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
