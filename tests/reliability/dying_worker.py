"""A `suture worker` that kills itself with SIGKILL at the first stage boundary it reaches
that still has kills owed.

Usage: python -m tests.reliability.dying_worker SCHEDULE HITS_FILE [worker options...]

SCHEDULE is a comma-separated list of boundaries, a boundary listed twice owing two kills. A
boundary is `<stage>:before` (the message was received, the run's lease taken and the attempt
counted, nothing done) or `<stage>:after` (the stage committed its transition; the next
message is not sent and this one is not acknowledged). Kills already made are the lines of
HITS_FILE (boundary and run or delivery id), appended just before dying, so every worker of a
test shares one account and whichever worker reaches an owed boundary first dies there,
however the broker and the reconciler interleave the messages. SIGKILL, not an exception: no
`finally`, no rollback, no acknowledgement, exactly as `kill -9` from outside.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from worker import stages

STAGES = ("ingest_delivery", "triage", "correlate", "fix", "verify", "publish")
BOUNDARIES = tuple(f"{stage}:{side}" for stage in STAGES for side in ("before", "after"))


_dying = threading.Lock()  # one thread of this worker dies; the others wait for the signal


def arm(schedule: list[str], hits_file: str) -> None:
    """Replace each stage function with one that dies at a boundary still owed a kill."""
    unknown = set(schedule) - set(BOUNDARIES)
    if unknown:
        raise SystemExit(f"unknown boundaries {sorted(unknown)}; known: {', '.join(BOUNDARIES)}")
    owed = Counter(schedule)
    for name in STAGES:
        setattr(stages, name, _guarded(name, getattr(stages, name), owed, Path(hits_file)))


def owed_kills(owed: Counter[str], hits_file: Path) -> Counter[str]:
    """The kills still owed: the schedule less the kills already made."""
    made = Counter(line.split()[0] for line in hits_file.read_text().splitlines()
                   ) if hits_file.exists() else Counter()
    return owed - made


def _guarded(name: str, stage: Callable[..., Any], owed: Counter[str],
             hits_file: Path) -> Callable[..., Any]:
    def guarded(deps: Any, subject: int) -> Any:
        _maybe_die(f"{name}:before", subject, owed, hits_file)
        result = stage(deps, subject)
        _maybe_die(f"{name}:after", subject, owed, hits_file)
        return result

    guarded.__name__ = stage.__name__  # the actors name the stage in their reasons
    return guarded


def _maybe_die(boundary: str, subject: int, owed: Counter[str], hits_file: Path) -> None:
    with _dying:
        if not owed_kills(owed, hits_file)[boundary]:
            return
        with open(hits_file, "a", encoding="utf-8") as hits:
            hits.write(f"{boundary} {subject}\n")
            hits.flush()
            os.fsync(hits.fileno())
        os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    """Arm the schedule, then run `suture worker` with the remaining arguments."""
    schedule, hits_file, *options = sys.argv[1:]
    arm(schedule.split(","), hits_file)
    from worker.cli import main as suture

    sys.argv = ["suture", "worker", *options]
    suture()


if __name__ == "__main__":
    main()
