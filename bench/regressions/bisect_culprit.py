"""Find the commit that started a reproduced crash by bisecting first-parent history.

Used for crash fixes whose message names no culprit. Starting from the fix's parent (which
crashes), older first-parent commits are probed at growing distances until one runs the
regression test cleanly; the crash/clean boundary between the two is then halved until the
culprit is the oldest commit that crashes whose parent does not. "The same crash" means the
same exception type raised from the same innermost function. A commit where the test cannot
run (old harness, unsupported flag, a different crash) is "unknown" and a neighbour is probed
instead; a boundary on a commit that touches only tests is rejected, since the crash then
depends on test scaffolding rather than on mypy's code.
"""

from __future__ import annotations

from candidates import git
from regression import Reproduction, Settings, probe

REACH = (8, 32, 128, 512, 1536, 4096)  # first-parent distances probed for a clean commit
NEIGHBOURS = 3  # untestable commits tolerated around each bisection step
TEST_ONLY = ("test-data/", "mypy/test/", "mypyc/test-data/", "mypyc/test/", "docs/")


def _history(repo: str, release: str) -> list[str]:
    """First-parent ancestors of ``release``, newest first (``release`` itself at 0)."""
    out = git(repo, "rev-list", "--first-parent", f"--max-count={REACH[-1] + 1}", release)
    return out.split()


def _find_clean(cfg: Settings, repro: Reproduction, history: list[str]) -> tuple[int, int] | None:
    """Indexes (last known crash, first clean) bracketing the crash's start."""
    crash = 0
    for reach in REACH:
        if reach >= len(history):
            return None
        verdict = probe(cfg, repro, history[reach])
        if verdict == "clean":
            return crash, reach
        if verdict == "crash":
            crash = reach
    return None


def _probe_near(cfg: Settings, repro: Reproduction, history: list[str], low: int,
                high: int) -> tuple[int, str] | None:
    """Probe the midpoint of (low, high), or its nearest testable neighbour."""
    middle = (low + high) // 2
    offsets = [0] + [sign * step for step in range(1, NEIGHBOURS + 1) for sign in (1, -1)]
    for offset in offsets:
        index = middle + offset
        if low < index < high:
            verdict = probe(cfg, repro, history[index])
            if verdict != "unknown":
                return index, verdict
    return None


def _test_only(repo: str, commit: str) -> bool:
    paths = git(repo, "diff-tree", "--no-commit-id", "--name-only", "-r", commit).split()
    return bool(paths) and all(path.startswith(TEST_ONLY) for path in paths)


def bisect(cfg: Settings, repro: Reproduction) -> tuple[str | None, str]:
    """``(culprit SHA, "")``, or ``(None, reason)`` when no culprit was found."""
    history = _history(cfg.repo, repro.release)
    bracket = _find_clean(cfg, repro, history)
    if bracket is None:
        return None, "bisect: no clean commit within reach"
    low, high = bracket
    while high - low > 1:
        step = _probe_near(cfg, repro, history, low, high)
        if step is None:
            return None, "bisect: untestable commits around the boundary"
        index, verdict = step
        low, high = (index, high) if verdict == "crash" else (low, index)
    if _test_only(cfg.repo, history[low]):
        return None, "bisect: boundary on a commit that changes only tests"
    return history[low], ""
