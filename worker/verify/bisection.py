"""Bisection over a commit history with a probe that says where a crash happens (pure).

The history is newest first, and its first commit is known to crash ("bad"). Older commits are
probed at growing distances until one is clean ("good"), looking nearer whenever one cannot be
tested, then the bad/good bracket is halved
until two neighbours are left: the newer one is the first bad commit, the one that brought the
crash in. A commit where the code the reproduction calls does not exist yet ("absent") counts as
clean: the crash cannot be older than that code. A probe may also answer "skip" (the
reproduction could not run there, or failed some other way); a neighbour of that commit is
probed instead, and a bracket whose middle is all untestable ends the search with that reason.
The number of probes is bounded, so a long history costs at most `max_probes` runs, and no
probe starts after the deadline, if one is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from pydantic import BaseModel, Field

BAD, GOOD, ABSENT, SKIP = "bad", "good", "absent", "skip"
CLEAN = (GOOD, ABSENT)
REACH = (4, 16, 64, 256, 1024, 4096)  # distances probed back for a commit that is good
NEIGHBOURS = 3  # untestable commits tolerated on each side of a bisection step


class Probe(BaseModel):
    """One run of the reproduction at one commit, and what it showed."""

    sha: str
    verdict: str
    detail: str = ""


def record(sha: str, verdict: str, detail: str) -> Probe:
    """A probe's result, with any verdict other than bad, good or absent read as skip."""
    return Probe(sha=sha, verdict=verdict if verdict in (BAD, *CLEAN) else SKIP,
                 detail=detail[:300])


class Bisection(BaseModel):
    """Where bisection put the start of the crash, how it got there, and why it stopped."""

    culprit: str | None = None  # the first bad commit
    good: str | None = None  # the culprit's parent, shown good
    # GOOD when the reproduction passes at `good`; ABSENT when the code it calls is not there,
    # a weaker answer: the crash is as old as that code, and may have been caused elsewhere.
    good_verdict: str = ""
    author: str = ""  # the culprit's author and subject line, as git records them
    summary: str = ""
    reason: str
    probes: list[Probe] = Field(default_factory=list)
    searched: int = 0  # commits of history that were within reach


class _Budget(Exception):
    """The probes allowed have been spent."""


class _Search:
    def __init__(self, history: Sequence[str], probe: Callable[[str], tuple[str, str]],
                 max_probes: int, deadline: float | None) -> None:
        self.history = history
        self.probe = probe
        self.max_probes = max_probes
        self.deadline = deadline
        self.done: list[Probe] = []
        self.seen: dict[int, str] = {0: BAD}

    def at(self, index: int) -> str:
        if index in self.seen:
            return self.seen[index]
        if len(self.done) >= self.max_probes:
            raise _Budget(f"stopped after {self.max_probes} runs of the reproduction")
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise _Budget(f"stopped after {len(self.done)} runs of the reproduction: out of "
                          f"time")
        done = record(self.history[index], *self.probe(self.history[index]))
        self.done.append(done)
        self.seen[index] = done.verdict
        return done.verdict

    def bracket(self, reach: Sequence[int]) -> tuple[int, int] | None:
        """(last bad index, first good index) from probes at growing distances."""
        bad = 0
        last = len(self.history) - 1
        for distance in sorted({min(d, last) for d in reach if d > 0}):
            verdict = self.at(distance)
            if verdict in CLEAN:
                return bad, distance
            if verdict == BAD:
                bad = distance
                continue
            # Old commits often cannot run a new test at all: look nearer, between the last
            # bad commit and this one, before looking further back.
            bad, good = self.nearer(bad, distance)
            if good is not None:
                return bad, good
        return None

    def nearer(self, bad: int, untestable: int) -> tuple[int, int | None]:
        """Halve (bad, untestable) for a good commit: the last bad index, and the good one."""
        while untestable - bad > 1:
            middle = (bad + untestable) // 2
            verdict = self.at(middle)
            if verdict in CLEAN:
                return bad, middle
            if verdict == BAD:
                bad = middle
            else:
                untestable = middle
        return bad, None

    def halve(self, low: int, high: int) -> tuple[int, int] | None:
        """The bracket one step narrower, or None when its middle cannot be tested."""
        middle = (low + high) // 2
        offsets = [0] + [sign * step for step in range(1, NEIGHBOURS + 1) for sign in (1, -1)]
        for offset in offsets:
            index = middle + offset
            if low < index < high:
                verdict = self.at(index)
                if verdict == BAD:
                    return index, high
                if verdict in CLEAN:
                    return low, index
        return None


def first_bad(history: Sequence[str], probe: Callable[[str], tuple[str, str]], *,
              max_probes: int = 20, reach: Sequence[int] = REACH,
              deadline: float | None = None) -> Bisection:
    """Bisect `history` (newest first; `history[0]` crashes) with `probe(sha) -> (verdict,
    detail)`, where the verdict is BAD, GOOD, ABSENT or anything else for "could not tell"."""
    if not history:
        return Bisection(reason="no history to search")
    search = _Search(history, probe, max_probes, deadline)

    def ended(reason: str, culprit: int | None = None) -> Bisection:
        if culprit is None:
            return Bisection(reason=reason, probes=search.done, searched=len(history))
        return Bisection(culprit=history[culprit], good=history[culprit + 1],
                         good_verdict=search.seen[culprit + 1], reason=reason,
                         probes=search.done, searched=len(history))

    try:
        bracket = search.bracket(reach)
        if bracket is None:
            return ended(f"no commit within {len(history) - 1} commits of history passes the "
                         f"reproduction")
        low, high = bracket
        while high - low > 1:
            narrower = search.halve(low, high)
            if narrower is None:
                return ended(f"the commits between {history[high][:12]} (good) and "
                             f"{history[low][:12]} (bad) cannot be tested")
            low, high = narrower
    except _Budget as spent:
        return ended(str(spent))
    parent = (f"passes at its parent {history[high][:12]}" if search.seen[high] == GOOD else
              f"its parent {history[high][:12]} does not have the code it calls")
    return ended(f"the reproduction fails at {history[low][:12]} and {parent}", low)
