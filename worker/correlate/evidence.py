"""Evidence: what the repository says about each candidate commit, before any weighing (pure).

For every commit that touched a frame's file in the window, or last changed a line near a
frame's, the signals are measured separately: blame of the exact crashing lines, blame of the
lines around them (not counting lines the commit only moved), hunks inside the frames'
functions, files touched, how much of the commit the stack explains, identifiers of the error
found in its added lines, whether it removed the definition the error says is missing, its age
relative to first seen, and whether it is new since the previous release. `ranking` weighs them.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from worker.correlate.cosmetic import is_bot, is_cosmetic, is_guard
from worker.correlate.missing import MESSAGE_HEAD, Missing, created_classes, removed_definitions
from worker.correlate.models import MappedFrame
from worker.correlate.moves import is_moved
from worker.correlate.prose import Spans, without_prose
from worker.vcs import BlameLine, Commit, Hunk

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
# Words too common in messages and code to say anything about a commit.
_STOPWORDS = frozenset({
    "the", "and", "for", "not", "has", "have", "with", "from", "that", "this", "none", "null",
    "true", "false", "self", "cls", "object", "error", "exception", "type", "value", "return",
    "def", "class", "import", "nonetype", "undefined", "function", "args", "kwargs", "int",
    "str", "dict", "list", "tuple", "bool", "float", "len", "get", "set", "new", "var", "let",
    "const", "attribute", "call",
})


def depth_weight(depth: int) -> float:
    """How much a frame counts: the crashing frame most, each caller less."""
    return 0.6 ** depth


@dataclass
class Evidence:
    """The measured signals for one commit."""

    commit: Commit
    blame_line: float = 0.0
    blame_function: float = 0.0
    hunk_function: float = 0.0
    touches_file: float = 0.0
    coverage: float = 0.0
    identifiers: set[str] = field(default_factory=set)
    age_days: float = 0.0
    new_in_release: bool = False
    revert: bool = False
    lines: list[str] = field(default_factory=list)
    # Of `blame_line`, the part earned on lines that assert or raise on purpose.
    blame_guard: float = 0.0
    # Every hunk it made in the stack's files was cosmetic (comments, messages, renames).
    cosmetic: bool = False
    # Changed a file near one on the stack: 1 in the same folder, less the fewer folders the
    # paths share, weighted by that frame's depth.
    sibling: float = 0.0
    # Made by an automated author (formatters, dependency bots).
    bot: bool = False
    # Removed the definition the error says is missing (its name).
    removed_definition: str = ""
    # Created the class the error says lacks the missing name (the class's name).
    created_owner: str = ""


FRAME_FUNCTIONS = 8
# Blame counts on the lines around the crashing one, inside its function: on the benchmark, the
# authors of a whole function were a worse lead than those of the lines next to the crash.
NEAR_LINES = 3
COMMON_SHARE = 0.2


def blamed_span(item: MappedFrame) -> tuple[int, int] | None:
    """The lines of a frame whose authors count: the crashing line's neighbours inside its
    function (the function, or the line alone, when one of them is unknown)."""
    line = item.frame.lineno
    if item.function_range and line:
        first, last = item.function_range
        return max(first, line - NEAR_LINES), min(last, line + NEAR_LINES)
    if item.function_range:
        return item.function_range
    return (line, line) if line else None


def error_identifiers(message: str, frames: list[MappedFrame]) -> set[str]:
    """Words of the error: its message, the code of the innermost crashing line read, and the
    functions of the innermost distinct frames."""
    # The head only: a huge attacker-made message would otherwise cost a search per word.
    words = set(_IDENTIFIER.findall(message[:MESSAGE_HEAD]))
    # The crashing line names what failed (the attribute that was None, the key that was
    # missing): on the benchmark its words put two more culprits first, and none lost first.
    read = [item for item in frames if item.depth is not None and item.source_line]
    if read:
        words.update(_IDENTIFIER.findall(min(read, key=lambda f: f.depth or 0).source_line or ""))
    functions: list[str] = []
    for item in sorted((f for f in frames if f.depth is not None), key=lambda f: f.depth or 0):
        name = item.frame.function or ""
        if name and name not in functions:
            functions.append(name)
        if len(functions) == FRAME_FUNCTIONS:
            break
    for name in functions:
        words.update(_IDENTIFIER.findall(name))
    return {word for word in words if word.lower() not in _STOPWORDS}


def distinctive(words: set[str], texts: list[str]) -> set[str]:
    """The words that appear in few of the candidates' added code: a word every commit of the
    file mentions (`accept`, `visit`) tells nothing about which commit is the culprit."""
    if len(texts) < 5:
        return words
    limit = max(1, int(COMMON_SHARE * len(texts)))
    seen: Counter[str] = Counter()
    for text in texts:
        seen.update(naming(words, text))
    return {word for word in words if seen[word] <= limit}


def naming(words: set[str], text: str) -> set[str]:
    """The words that appear in `text` as whole words (one pass over the text)."""
    if not words or not text:
        return set()
    # Longest first, so that a word is never cut short by another that begins it.
    pattern = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
    return set(re.findall(rf"\b(?:{pattern})\b", text))


def _folder(path: str) -> tuple[str, ...]:
    return tuple(part for part in posixpath.dirname(path).split("/") if part)


def nearness(folder: tuple[str, ...], frames: dict[tuple[str, ...], int]) -> float:
    """How near a changed file's folder is to the stack's: for each frame's folder, the share
    of it that the two have in common (1 for the same folder), times that frame's weight."""
    best = 0.0
    for frame_folder, depth in frames.items():
        if not frame_folder or not folder or folder[0] != frame_folder[0]:
            continue
        shared = 0
        for mine, theirs in zip(folder, frame_folder, strict=False):
            if mine != theirs:
                break
            shared += 1
        best = max(best, shared / max(len(folder), len(frame_folder)) * depth_weight(depth))
    return best


def _function_name(item: MappedFrame) -> str:
    name = (item.frame.function or "").split(".")[-1].split("::")[-1]
    return name.strip("<>") if len(name) > 2 else ""


def gather(frames: list[MappedFrame], commits: list[Commit], hunks: list[Hunk],
           blame: dict[str, dict[int, BlameLine]], *, first_seen: datetime,
           in_release: set[str], message: str,
           prose: dict[tuple[str, str], tuple[Spans, Spans]] | None = None,
           moved: dict[str, frozenset[str]] | None = None,
           sources: dict[str, list[str]] | None = None, missing: Missing | None = None,
           elsewhere: list[Hunk] | None = None) -> dict[str, Evidence]:
    """Evidence per commit sha from the facts read out of git. `moved` holds, for the commits
    checked, the lines they removed: a blamed line of theirs with the same text was only moved,
    and `sources` (the stack's files at the release, as lines) gives the blamed lines' text.
    `elsewhere` holds the hunks outside the stack that removed what the error says is missing."""
    found = {c.sha: Evidence(commit=c) for c in commits}
    app = [item for item in frames if item.blameable]
    moved = moved or {}
    for item in app:
        _blame_signals(item, _written(blame.get(item.path or "", {}),
                                      (sources or {}).get(item.path or "", []), moved), found)
    # Docstring lines are prose: a hunk that only rewrote them changed no function. (Moved lines
    # still count in hunks: moving a statement can change what the code does.)
    hunks = [_plain(hunk, prose or {}) for hunk in hunks]
    _hunk_signals(app, [hunk for hunk in hunks if hunk.removed or hunk.added], found)
    frame_files = {item.path for item in app}
    closest = {path: min(i.depth or 0 for i in app if i.path == path) for path in frame_files}
    added = defaultdict(list)
    by_commit: dict[str, list[Hunk]] = defaultdict(list)
    for hunk in hunks:
        added[hunk.sha].extend(hunk.added)
        by_commit[hunk.sha].append(hunk)
    words = distinctive(error_identifiers(message, frames),
                        ["\n".join(lines) for lines in added.values()])
    gone = removed_definitions(missing.name, [*hunks, *(elsewhere or ())]) if missing else set()
    made = created_classes(missing.owner, [*hunks, *(elsewhere or ())]) \
        if missing and missing.owner else set()
    folders: dict[tuple[str, ...], int] = {}
    for path, depth in closest.items():
        folder = _folder(path or "")
        folders[folder] = min(depth, folders.get(folder, depth))
    for sha, evidence in found.items():
        commit = evidence.commit
        touched = [change.path for change in commit.changes if change.path in frame_files]
        evidence.touches_file = sum(depth_weight(closest[path]) for path in set(touched))
        evidence.sibling = max((nearness(_folder(change.path), folders)
                                for change in commit.changes if change.path not in frame_files),
                               default=0.0)
        if commit.complete and commit.changes:
            # By files: line counts would need a content diff of every file of the commit.
            evidence.coverage = len(set(touched)) / len({c.path for c in commit.changes})
        text = "\n".join(added.get(sha, ()))
        evidence.identifiers = naming(words, text)
        evidence.age_days = max(0.0, (first_seen - commit.timestamp).total_seconds() / 86400)
        evidence.new_in_release = sha in in_release
        evidence.revert = commit.summary.lower().startswith("revert")
        evidence.removed_definition = missing.name if missing and sha in gone else ""
        evidence.created_owner = missing.owner if missing and sha in made else ""
        # A rename that left a caller of the old name behind is no cosmetic change.
        evidence.cosmetic = not (evidence.removed_definition or evidence.created_owner) \
            and is_cosmetic(by_commit.get(sha, []))
        evidence.bot = is_bot(commit.author, commit.email)
    return found


def _plain(hunk: Hunk, prose: dict[tuple[str, str], tuple[Spans, Spans]]) -> Hunk:
    spans = prose.get((hunk.sha, hunk.path))
    return without_prose(hunk, *spans) if spans else hunk


def _written(lines: dict[int, BlameLine], source: list[str],
             moved: dict[str, frozenset[str]]) -> dict[int, BlameLine]:
    """Blame with the lines their commit only moved credited to nobody: whoever wrote them is
    not known, but they still count among the lines around the crash."""
    if not moved or not source:
        return lines
    return {number: line.model_copy(update={"sha": ""})
            if line.sha in moved and 0 < number <= len(source)
            and is_moved(source[number - 1], moved[line.sha]) else line
            for number, line in lines.items()}


def _blame_signals(item: MappedFrame, lines: dict[int, BlameLine],
                   found: dict[str, Evidence]) -> None:
    weight = depth_weight(item.depth or 0)
    crash_line = item.frame.lineno
    if crash_line in lines and lines[crash_line].sha in found:
        evidence = found[lines[crash_line].sha]
        evidence.blame_line += weight
        if is_guard(item.source_line):
            evidence.blame_guard += weight
        evidence.lines.append(f"{item.path}:{crash_line}")
    if item.function_range:
        first, last = blamed_span(item) or item.function_range
        span = [lines[n] for n in range(first, last + 1) if n in lines]
        counts: dict[str, int] = defaultdict(int)
        for blamed in span:
            counts[blamed.sha] += 1
        for sha, count in counts.items():
            if sha in found:
                found[sha].blame_function += weight * count / max(1, len(span))


def _hunk_signals(app: list[MappedFrame], hunks: list[Hunk], found: dict[str, Evidence]) -> None:
    by_file: dict[str, list[MappedFrame]] = defaultdict(list)
    for item in app:
        by_file[item.path or ""].append(item)
    credited: set[tuple[str, int]] = set()
    for hunk in hunks:
        if hunk.old_start == 0 and hunk.old_count == 0:
            # The file's creation "defines" every function in it: that says nothing about the
            # crash, and blame already credits the lines it wrote that survive.
            continue
        for item in by_file.get(hunk.path, ()):
            name = _function_name(item)
            key = (hunk.sha, id(item))
            if not name or key in credited or hunk.sha not in found:
                continue
            header_hit = re.search(rf"\b{re.escape(name)}\b", hunk.function)
            defines = any(re.search(rf"\b(def|func|function|fun)\s+{re.escape(name)}\b", line)
                          for line in hunk.added)
            if header_hit or defines:
                credited.add(key)
                found[hunk.sha].hunk_function += depth_weight(item.depth or 0)
