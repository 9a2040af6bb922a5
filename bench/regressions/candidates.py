"""Find fix commits whose message names the commit that introduced the bug they fix.

The history is read once with ``git log``. A fix names its culprit with a cue ("caused by",
"introduced in", "regression from", "broken by", ...) followed by a reference: a pull-request
number (``#1234``, ``python/mypy#1234`` or a pull URL), resolved to the squash-merge commit whose
subject ends with ``(#1234)``, or a commit SHA (bare or a commit URL), resolved with
``git rev-parse``. Cues are graded: "strong" ones say outright that the reference caused the bug,
"weak" ones ("follow-up to", "since", "reverts") only relate the two, so the builder keeps a weak
case only when the crash is shown to start at the culprit; any other pull-request or commit
reference in the message is a "mention", trusted on the same condition. A culprit must be an
ancestor of the fix's parent, or it cannot be in the release that crashed.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from dataclasses import dataclass

REPO_SLUG = "python/mypy"
_PR_SUBJECT = re.compile(r"\(#(\d+)\)\s*$")
_STRONG = (r"caus(?:ed|ing)|introduc(?:ed|ing)|regress(?:ed|ion|ions)(?!\s+tests?\b)|broken|broke"
           r"|surfaced|exposed|triggered")
_WEAK = r"follow[- ]?up|since|after|(?:partially\s+)?revert(?:s|ing|ed)?|walks?\s+back"
_REF = (r"(?P<ref>(?:https://github\.com/python/mypy/(?:pull/\d+|commit/[0-9a-f]{7,40}))"
        r"|(?<![\w/])(?:python/mypy)?#\d{3,6}\b|(?<![\w/#])[0-9a-f]{7,40}\b)")
_CUE = re.compile(
    rf"\b(?P<cue>{_STRONG}|{_WEAK})\b(?P<gap>(?:[^.\n]|\n(?!\n)){{0,60}}?){_REF}", re.IGNORECASE
)


@dataclass(frozen=True)
class Commit:
    """One commit of the scanned history."""

    sha: str
    date: str
    message: str

    @property
    def subject(self) -> str:
        """The first line of the message."""
        return self.message.splitlines()[0] if self.message else ""


@dataclass(frozen=True)
class Suspect:
    """A commit the fix's message points at, and how it points at it."""

    sha: str
    ref: str
    cue: str
    strength: str  # "strong", "weak" or "mention"


@dataclass(frozen=True)
class Candidate:
    """A fix commit and the earlier commits its message names, strongest cue first."""

    fix: Commit
    suspects: tuple[Suspect, ...]


def git(repo: str, *args: str, timeout: float = 120) -> str:
    """Run a read-only git command in ``repo`` and return its standard output."""
    result = subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True,
                            timeout=timeout, check=True)
    return result.stdout


def read_history(repo: str, since: str | None) -> list[Commit]:
    """Return the first-parent history of HEAD, newest first."""
    args = ["log", "--first-parent", "--format=%H%x00%cI%x00%B%x1e"]
    if since:
        args.append(f"--since={since}")
    commits = []
    for record in git(repo, *args).split("\x1e"):
        record = record.strip("\n")
        if record:
            sha, date, message = record.split("\x00", 2)
            commits.append(Commit(sha, date, message.strip()))
    return commits


def pr_index(repo: str) -> dict[str, list[str]]:
    """Map pull-request numbers to the commits whose subject ends with ``(#N)``."""
    index: dict[str, list[str]] = {}
    for line in git(repo, "log", "--format=%H %s").splitlines():
        sha, _, subject = line.partition(" ")
        match = _PR_SUBJECT.search(subject)
        if match:
            index.setdefault(match.group(1), []).append(sha)
    return index


def _is_sha_like(ref: str) -> bool:
    """False for a SHA-shaped reference that is a word ("defaced") or a number ("2019123")."""
    if "#" in ref or "/pull/" in ref:
        return True  # a pull-request number, not a SHA
    sha = ref.rsplit("/", 1)[-1]
    return bool(re.search(r"\d", sha)) and bool(re.search(r"[a-f]", sha))


def references(message: str) -> list[tuple[str, str, str]]:
    """Return ``(reference, cue, strength)`` for each reference in ``message``, in order.

    Cue-anchored references come first (strong, then weak); every other pull-request or commit
    reference follows as a "mention", which the builder only trusts once it is verified.
    """
    found: list[tuple[str, str, str]] = []
    anchored: set[int] = set()
    for match in _CUE.finditer(message):
        ref, cue = match.group("ref"), match.group("cue").lower()
        if _is_sha_like(ref):
            strong = re.fullmatch(_STRONG, cue, re.IGNORECASE) is not None
            found.append((ref, cue, "strong" if strong else "weak"))
            anchored.add(match.start("ref"))
    for match in re.finditer(_REF, message):
        if match.start("ref") not in anchored and _is_sha_like(match.group("ref")):
            found.append((match.group("ref"), "", "mention"))
    rank = {"strong": 0, "weak": 1, "mention": 2}
    return sorted(found, key=lambda item: rank[item[2]])


def resolve(repo: str, ref: str, prs: dict[str, list[str]]) -> list[str]:
    """Resolve a reference to candidate commit SHAs (several when a PR was merged twice)."""
    number = re.search(r"(?:#|/pull/)(\d+)$", ref)
    if number:
        return prs.get(number.group(1), [])
    sha = ref.rsplit("/", 1)[-1]
    try:
        return [git(repo, "rev-parse", "--verify", "--quiet", f"{sha}^{{commit}}").strip()]
    except subprocess.CalledProcessError:
        return []


def is_ancestor(repo: str, older: str, newer: str) -> bool:
    """True when ``older`` is an ancestor of (or equal to) ``newer``."""
    result = subprocess.run(["git", "-C", repo, "merge-base", "--is-ancestor", older, newer],
                            capture_output=True, timeout=120)
    return result.returncode == 0


def _candidate(repo: str, fix: Commit, prs: dict[str, list[str]]) -> Candidate | str:
    """Return the fix's candidate, or the reason it has none."""
    refs = references(fix.message)
    if not refs:
        return "no culprit reference"
    suspects: list[Suspect] = []
    reason = "references resolve to no commit (issues, other repositories)"
    for ref, cue, strength in refs:
        for sha in resolve(repo, ref, prs):
            if sha == fix.sha or any(s.sha == sha for s in suspects):
                continue
            if is_ancestor(repo, sha, f"{fix.sha}^"):
                suspects.append(Suspect(sha, ref, cue, strength))
                break
            reason = "referenced commits are not ancestors of the fix's parent"
    return Candidate(fix, tuple(suspects)) if suspects else reason


_CRASH_SUBJECT = re.compile(r"crash|internal error|traceback", re.IGNORECASE)
# Words of a message that make a crash likely: the subject's words, or an exception's name.
_CRASH_WORDS = re.compile(
    r"crash|internal error|traceback|\b(?:Assertion|Attribute|Key|Index|Type|Value|Runtime"
    r"|Recursion|UnboundLocal|Name|ZeroDivision)Error\b|\bStopIteration\b", re.IGNORECASE)


def crash_fixes(repo: str, since: str | None) -> list[Commit]:
    """Commits whose subject says they fix a crash, newest first (for bisection)."""
    return [c for c in read_history(repo, since) if _CRASH_SUBJECT.search(c.subject)]


def crash_priority(commit: Commit) -> int:
    """0 when the subject suggests a crash, 1 when only the body does, 2 otherwise.

    Only crashes make cases, so a time-boxed build tries the likely ones first.
    """
    if _CRASH_WORDS.search(commit.subject):
        return 0
    return 1 if _CRASH_WORDS.search(commit.message) else 2


def scan(repo: str, since: str | None) -> tuple[list[Candidate], Counter[str]]:
    """Return the candidates of the history (newest first) and counts of skipped commits."""
    prs = pr_index(repo)
    candidates, skipped = [], Counter[str]()
    for fix in read_history(repo, since):
        outcome = _candidate(repo, fix, prs)
        if isinstance(outcome, Candidate):
            candidates.append(outcome)
        else:
            skipped[outcome] += 1
    return candidates, skipped
