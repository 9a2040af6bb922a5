"""Find the commit inside a merged branch where a crash starts.

When the named culprit is a merge commit ("Merge pull request #N"), the case's culprit must be
a real change, not the merge. The branch is the first-parent chain of the merge's second parent
down to where it left the mainline (``git rev-list --first-parent C^2 --not C^1``); its base is
the parent of the branch's oldest commit. The tip must crash and the base must be clean; the
boundary is then halved. An untestable step is replaced by a neighbour (up to +-2).
"""

from __future__ import annotations

from candidates import git
from verdicts import Reproduction, Settings, parent, probe

NEIGHBOURS = 2


def branch(repo: str, merge: str) -> list[str]:
    """The merged branch's own commits, newest first."""
    return git(repo, "rev-list", "--first-parent", f"{merge}^2", "--not", f"{merge}^1").split()


def _step(cfg: Settings, repro: Reproduction, chain: list[str], low: int, high: int
          ) -> tuple[int, str] | None:
    middle = (low + high) // 2
    for offset in [0] + [s * d for d in range(1, NEIGHBOURS + 1) for s in (1, -1)]:
        index = middle + offset
        if low < index < high:
            verdict = probe(cfg, repro, chain[index])
            if verdict == "crash":
                return index, "crash"
            if verdict in ("clean", "feature absent"):
                return index, "clean"
    return None


def bisect_branch(cfg: Settings, repro: Reproduction, merge: str) -> tuple[str | None, str]:
    """``(non-merge culprit inside the branch, "")`` or ``(None, why not)``."""
    commits = branch(cfg.repo, merge)
    if not commits:
        return None, "merged branch has no commits of its own"
    if probe(cfg, repro, commits[0]) != "crash":
        return None, "merged branch's tip does not crash"
    base = parent(cfg.repo, commits[-1])
    if probe(cfg, repro, base) not in ("clean", "feature absent"):
        return None, "merged branch's base is not clean"
    chain = [*commits, base]  # index 0 crashes, the last index is clean
    low, high = 0, len(chain) - 1
    while high - low > 1:
        step = _step(cfg, repro, chain, low, high)
        if step is None:
            return None, "untestable commits inside the merged branch"
        index, verdict = step
        low, high = (index, high) if verdict == "crash" else (low, index)
    culprit = chain[low]
    if len(git(cfg.repo, "rev-list", "--parents", "-n1", culprit).split()) > 2:
        return None, "crash starts at a merge inside the branch"
    return culprit, ""
