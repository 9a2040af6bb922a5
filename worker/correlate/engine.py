"""Correlation of one event with its repository: frames → files → suspects and owners.

The engine asks the repository a fixed, small set of batched questions (file list, one history
and one patch query over all frame files, the names of older commits that touched them, one
blame per file for just the lines around the crashing ones; when the error names a missing
definition, the files of its class or module and their patches) and hands the facts to the pure
evidence and ranking code.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from worker.correlate.evidence import Evidence, blamed_span, gather
from worker.correlate.functions import function_range
from worker.correlate.mapping import map_frames
from worker.correlate.missing import (
    Missing,
    created_classes,
    missing_name,
    owner_files,
    removed_definitions,
)
from worker.correlate.models import Correlation, MappedFrame
from worker.correlate.moves import removed_texts
from worker.correlate.owners import find_owners, name_suspects
from worker.correlate.prose import PYTHON, Spans, docstrings, may_hold_prose
from worker.correlate.ranking import rank
from worker.models import ErrorEvent
from worker.ports import AccountDirectory, HistoryWindow, PermanentError, Repository
from worker.vcs import BlameLine, Commit, Hunk

MAX_FUNCTION_LINES = 400
# Innermost frames whose crashing line is also blamed over all history. Off: on sympy it made
# ranking 6x a plain `git log` of the window (median) for no gain on the named regressions.
DEEP_LINES = 0
WEAK = 0.35
# Suspects whose changed Python files are read whole to find docstrings (a few ms per file).
PROSE_LEADS = 3
# Commits older than the window that touched the stack's files stay candidates, by name only
# (no patch, no blame), up to this many days before first seen: regressions surface months or
# years after the change that caused them. On the benchmark two years let 11 more culprits be
# ranked (65 -> 76 of 104), two of them in the top 5; three years ranked none better.
HORIZON_DAYS = 730


@dataclass
class Facts:
    """What the repository says about one event, before any weighing."""

    release: str
    frames: list[MappedFrame]
    commits: dict[str, Commit] = field(default_factory=dict)
    hunks: list[Hunk] = field(default_factory=list)
    blame: dict[str, dict[int, BlameLine]] = field(default_factory=dict)
    in_release: set[str] = field(default_factory=set)
    message: str = ""
    first_seen: datetime = field(default_factory=lambda: datetime.now(UTC))
    note: str = ""
    # (commit, path) -> docstring lines of the file before and after the commit, read for the
    # commits that could make the list (`complete`).
    prose: dict[tuple[str, str], tuple[Spans, Spans]] = field(default_factory=dict)
    # The stack's files at the release, as lines (for telling moved lines from written ones).
    sources: dict[str, list[str]] = field(default_factory=dict)
    # sha -> the lines it removed anywhere, for the commits checked for moved code (`complete`).
    moved: dict[str, frozenset[str]] = field(default_factory=dict)
    # What the error says is missing, and the hunks outside the stack that removed it (in the
    # files that define the class or module it was looked up on).
    missing: Missing | None = None
    elsewhere: list[Hunk] = field(default_factory=list)

    @property
    def app(self) -> list[MappedFrame]:
        """The frames that map to in-app files."""
        return [item for item in self.frames if item.blameable]

    def evidence(self) -> dict[str, Evidence]:
        """Each candidate commit's measured signals."""
        return gather(self.frames, list(self.commits.values()), self.hunks, self.blame,
                      first_seen=self.first_seen, in_release=self.in_release,
                      message=self.message, prose=self.prose, moved=self.moved,
                      sources=self.sources, missing=self.missing, elsewhere=self.elsewhere)


def correlate(repo: Repository, event: ErrorEvent, *, release: str | None = None,
              previous_release: str | None = None, first_seen: datetime | None = None,
              top: int = 5, max_commits: int = 2000, window_days: float = 365,
              horizon_days: float = HORIZON_DAYS, logins: Mapping[str, str] | None = None,
              accounts: AccountDirectory | None = None) -> Correlation:
    """Rank suspect commits and find owners for `event` at its release.

    Patches and blame are read `window_days` back from first seen (and at most `max_commits`
    commits touching the stack's files); older commits that touched those files are candidates
    up to `horizon_days` back. Age lowers a commit's score but never removes it.
    """
    facts = collect(repo, event, release=release, previous_release=previous_release,
                    first_seen=first_seen, max_commits=max_commits, window_days=window_days,
                    horizon_days=horizon_days)
    note = facts.note
    if not facts.app:
        return Correlation(release=facts.release, frames=facts.frames,
                           note=_join(note, "no frame maps to a file of the repository"))
    # The full size of a commit (for "how much of it the stack explains") costs a diff of the
    # whole commit, so it is read only for the commits that could make the list.
    leads = [s.sha for s in rank(facts.evidence(), top=max(3 * top, 15))]
    complete(repo, facts, leads, prose=leads[:PROSE_LEADS])
    suspects = name_suspects(rank(facts.evidence(), top=top), logins or {}, accounts)
    owners = find_owners(repo, facts.release, facts.app, facts.blame, logins or {}, accounts)
    if not suspects:
        note = _join(note, "no commit in the window touched the crashing code")
    elif suspects[0].confidence < WEAK:
        note = _join(note, "weak evidence: no suspect stands out; treat the list as leads")
    return Correlation(release=facts.release, suspects=suspects, owners=owners,
                       frames=facts.frames, note=note)


def collect(repo: Repository, event: ErrorEvent, *, release: str | None = None,
            previous_release: str | None = None, first_seen: datetime | None = None,
            max_commits: int = 2000, window_days: float = 365,
            horizon_days: float = HORIZON_DAYS, deep_lines: int = DEEP_LINES,
            beside_days: float = 0) -> Facts:
    """Read the facts for `event` out of the repository in a few batched git questions.

    `beside_days` > 0 also reads the commits of that many days that changed files near the
    stack's (the same top folder), for the `sibling` signal. Its weight is 0, so the engine
    does not ask: on the benchmark, admitting such commits cost more culprits than it found.
    """
    release_sha, note = _release(repo, release or event.release)
    frames = map_frames(event.frames, repo.files(release_sha))
    seen = first_seen or event.timestamp or datetime.now(UTC)
    if seen.tzinfo is None:  # a naive time is UTC, as the store keeps it
        seen = seen.replace(tzinfo=UTC)
    facts = Facts(release=release_sha, frames=frames, first_seen=seen, note=note)
    primary = event.primary
    facts.message = f"{primary.type} {primary.value}" if primary else event.message
    facts.missing = missing_name(facts.message)
    app = facts.app
    if not app:
        return facts
    facts.sources = _set_function_ranges(repo, release_sha, app)
    paths = sorted({item.path for item in app if item.path})
    window = HistoryWindow(max_commits=max_commits, since=seen - timedelta(days=window_days))
    # git does the work in separate processes: ask the history and every blame at once.
    folders = sorted({path.split("/")[0] for path in paths if "/" in path} if beside_days else ())
    recent = HistoryWindow(max_commits=max_commits,
                          since=seen - timedelta(days=min(beside_days, window_days)))
    # Older commits that touched the stack's files stay candidates (names only, no patches).
    older = HistoryWindow(max_commits=max_commits,
                          since=seen - timedelta(days=max(window_days, horizon_days)))
    with ThreadPoolExecutor(max_workers=4) as pool:
        history = pool.submit(repo.history, release_sha, paths, window)
        beside = pool.submit(repo.touching, release_sha, folders, recent)
        earlier = pool.submit(repo.touching, release_sha,
                              paths if horizon_days > window_days else [], older)
        owners = pool.submit(owner_files, repo, release_sha, facts.missing)
        facts.blame = _blame(repo, release_sha, app, window, pool, deep=deep_lines)
        facts.commits = {c.sha: c for c in history.result()}
        for commit in [*beside.result(), *earlier.result()]:
            facts.commits.setdefault(commit.sha, commit)
    facts.hunks = repo.hunks(release_sha, paths, window)
    _read_removals(repo, facts, sorted(set(owners.result()) - set(paths)), window)
    blamed = {line.sha for lines in facts.blame.values() for line in lines.values()}
    facts.commits.update({c.sha: c for c in repo.describe(sorted(blamed - set(facts.commits)))})
    # Reformatting commits the project lists for blame to skip changed no behaviour.
    for sha in repo.ignored_revisions(release_sha):
        facts.commits.pop(sha, None)
    fresh = _new_in_release(repo, release_sha, previous_release, max_commits)
    for commit in fresh:
        facts.commits.setdefault(commit.sha, commit)
    facts.in_release = {commit.sha for commit in fresh}
    return facts


def complete(repo: Repository, facts: Facts, shas: list[str],
             prose: list[str] | None = None) -> None:
    """Read every file of the given commits (path-limited history lists only the stack's);
    for the commits of `prose` (default: the same ones), where their Python changes on the
    stack's files hold docstrings, and which blamed lines they only moved. That reads whole
    files and patches, so the engine asks it only for the likeliest few."""
    wanted = [sha for sha in shas if sha in facts.commits and not facts.commits[sha].complete]
    facts.commits.update({c.sha: c for c in repo.describe(wanted)})
    chosen = set(shas if prose is None else prose)
    changes = sorted({(hunk.sha, hunk.path) for hunk in facts.hunks
                      if hunk.sha in chosen and hunk.path.endswith(PYTHON)
                      and (hunk.sha, hunk.path) not in facts.prose and may_hold_prose(hunk)})
    for change, (before, after) in repo.versions(changes).items():
        facts.prose[change] = (docstrings(before or ""), docstrings(after or ""))
    _read_moves(repo, facts, [sha for sha in chosen if sha in facts.commits])


def _read_moves(repo: Repository, facts: Facts, shas: list[str]) -> None:
    """What the given commits removed, so that lines they only moved do not count as theirs
    (asked only of those that blame names: the answer changes nothing else)."""
    blamed = {line.sha for lines in facts.blame.values() for line in lines.values()}
    wanted = sorted(set(shas) & blamed - set(facts.moved))
    for sha, lines in repo.removed(wanted).items():
        facts.moved[sha] = removed_texts(lines)


def _read_removals(repo: Repository, facts: Facts, paths: list[str],
                   window: HistoryWindow) -> None:
    """The window's commits that removed the missing name from `paths`, or created the class
    that lacks it, join the candidates with just those hunks: deleting a method makes the crash
    wherever it was called."""
    if not facts.missing or not paths:
        return
    hunks = repo.hunks(facts.release, paths, window)
    gone = removed_definitions(facts.missing.name, hunks)
    if facts.missing.owner:
        gone |= created_classes(facts.missing.owner, hunks)
    facts.elsewhere = [hunk for hunk in hunks if hunk.sha in gone]
    facts.commits.update({c.sha: c for c in repo.describe(sorted(gone - set(facts.commits)))})


def _release(repo: Repository, release: str | None) -> tuple[str, str]:
    if release:
        try:
            return repo.resolve(release), ""
        except PermanentError:
            return repo.resolve("HEAD"), f"release {release[:40]!r} is not in the repository; " \
                                         "used HEAD"
    return repo.resolve("HEAD"), "the event names no release; used HEAD"


def _set_function_ranges(repo: Repository, release: str,
                         app: list[MappedFrame]) -> dict[str, list[str]]:
    """Set each frame's crashing line and function range; the files' lines by path."""
    sources = repo.read_many(release, [item.path or "" for item in app])
    split = {path: text.removesuffix("\n").split("\n") for path, text in sources.items() if text}
    for item in app:
        line = item.frame.lineno
        source = sources.get(item.path or "") if line else None
        if not source or not line:
            continue
        lines = split[item.path or ""]
        item.source_line = lines[line - 1] if line <= len(lines) else None
        first, last = function_range(source, line, item.path or "")
        if last - first > MAX_FUNCTION_LINES:  # a whole-module "function": keep near the line
            first, last = max(first, line - 30), min(last, line + 30)
        item.function_range = (first, last)
    return split


def _blame(repo: Repository, release: str, app: list[MappedFrame], window: HistoryWindow,
           pool: ThreadPoolExecutor, *, deep: int = 0) -> dict[str, dict[int, BlameLine]]:
    """Blame of the lines around each frame's crashing line inside the window and, for the
    `deep` innermost frames, of the crashing line itself over all history: a crash found years
    after the change that wrote its line still names that change."""
    ranges: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for item in app:
        span = blamed_span(item)
        if span:
            ranges[item.path or ""].append(span)
    futures = {path: pool.submit(repo.blame, release, path, spans, since=window.since)
               for path, spans in ranges.items()}
    lines: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for item in sorted(app, key=lambda frame: frame.depth or 0)[:deep]:
        if item.frame.lineno:
            lines[item.path or ""].append((item.frame.lineno, item.frame.lineno))
    deeper = {path: pool.submit(repo.blame, release, path, spans, since=None)
              for path, spans in lines.items()}
    found = {path: future.result() for path, future in futures.items()}
    for path, future in deeper.items():
        for number, line in future.result().items():
            found.setdefault(path, {}).setdefault(number, line)
    return found


def _new_in_release(repo: Repository, release: str, previous: str | None,
                    max_commits: int) -> list[Commit]:
    """Every commit deployed since the previous release, whatever it touched: a crash that
    starts with a deploy is most likely one of them."""
    if not previous:
        return []
    try:
        window = HistoryWindow(exclude=repo.resolve(previous), max_commits=max_commits)
    except PermanentError:
        return []
    return repo.touching(release, ["."], window)


def _join(*notes: str) -> str:
    return "; ".join(note for note in notes if note)
