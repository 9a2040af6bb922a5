"""Correlation of one event with its repository: frames → files → suspects and owners.

The engine asks the repository a fixed, small set of batched questions (file list, one history
and one patch query over all frame files, one blame per file for just the frames' functions) and
hands the facts to the pure evidence and ranking code.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from worker.correlate.evidence import gather
from worker.correlate.functions import function_range
from worker.correlate.mapping import map_frames
from worker.correlate.models import BlameLine, Correlation, MappedFrame, Suspect
from worker.correlate.owners import find_owners
from worker.correlate.ranking import rank
from worker.models import ErrorEvent
from worker.ports import HistoryWindow, PermanentError, Repository

MAX_FUNCTION_LINES = 400
WEAK = 0.35


def correlate(repo: Repository, event: ErrorEvent, *, release: str | None = None,
              previous_release: str | None = None, first_seen: datetime | None = None,
              top: int = 5, max_commits: int = 2000, window_days: float = 365,
              logins: Mapping[str, str] | None = None) -> Correlation:
    """Rank suspect commits and find owners for `event` at its release.

    The history read goes back `window_days` before first seen (and at most `max_commits`
    commits touching the stack's files); inside it, age lowers a commit's score but never
    removes it.
    """
    release_sha, note = _release(repo, release or event.release)
    frames = map_frames(event.frames, repo.files(release_sha))
    app = [item for item in frames if item.blameable]
    if not app:
        return Correlation(release=release_sha, frames=frames,
                           note=_join(note, "no frame maps to a file of the repository"))
    _set_function_ranges(repo, release_sha, app)
    paths = sorted({item.path for item in app if item.path})
    seen = first_seen or event.timestamp or datetime.now(UTC)
    if seen.tzinfo is None:  # a naive time is UTC, as the store keeps it
        seen = seen.replace(tzinfo=UTC)
    window = HistoryWindow(max_commits=max_commits, since=seen - timedelta(days=window_days))
    # git does the work in separate processes: ask the history and every blame at once.
    with ThreadPoolExecutor(max_workers=4) as pool:
        history = pool.submit(repo.history, release_sha, paths, window)
        blame = _blame(repo, release_sha, app, window, pool)
        commits = {c.sha: c for c in history.result()}
    hunks = repo.hunks(release_sha, paths, window)
    missing = {line.sha for lines in blame.values() for line in lines.values()} - set(commits)
    commits.update({c.sha: c for c in repo.describe(sorted(missing))})
    # Reformatting commits the project lists for blame to skip changed no behaviour.
    for sha in repo.ignored_revisions(release_sha):
        commits.pop(sha, None)
    in_release = _new_in_release(repo, release_sha, previous_release, paths, max_commits)
    primary = event.primary
    message = f"{primary.type} {primary.value}" if primary else event.message

    def ranked(pool: int) -> list[Suspect]:
        evidence = gather(frames, list(commits.values()), hunks, blame, first_seen=seen,
                          in_release=in_release, message=message)
        return rank(evidence, top=pool)

    # The full size of a commit (for "how much of it the stack explains") costs a diff of the
    # whole commit, so it is read only for the commits that could make the list.
    leaders = [s.sha for s in ranked(max(3 * top, 15)) if not commits[s.sha].complete]
    commits.update({c.sha: c for c in repo.describe(leaders)})
    suspects = ranked(top)
    owners = find_owners(repo, release_sha, app, blame, logins or {})
    if not suspects:
        note = _join(note, "no commit in the window touched the crashing code")
    elif suspects[0].confidence < WEAK:
        note = _join(note, "weak evidence: no suspect stands out; treat the list as leads")
    return Correlation(release=release_sha, suspects=suspects, owners=owners, frames=frames,
                       note=note)


def _release(repo: Repository, release: str | None) -> tuple[str, str]:
    if release:
        try:
            return repo.resolve(release), ""
        except PermanentError:
            return repo.resolve("HEAD"), f"release {release[:40]!r} is not in the repository; " \
                                         "used HEAD"
    return repo.resolve("HEAD"), "the event names no release; used HEAD"


def _set_function_ranges(repo: Repository, release: str, app: list[MappedFrame]) -> None:
    sources = repo.read_many(release, [item.path or "" for item in app])
    for item in app:
        line = item.frame.lineno
        source = sources.get(item.path or "") if line else None
        if not source or not line:
            continue
        first, last = function_range(source, line, item.path or "")
        if last - first > MAX_FUNCTION_LINES:  # a whole-module "function": keep near the line
            first, last = max(first, line - 30), min(last, line + 30)
        item.function_range = (first, last)


def _blame(repo: Repository, release: str, app: list[MappedFrame], window: HistoryWindow,
           pool: ThreadPoolExecutor) -> dict[str, dict[int, BlameLine]]:
    ranges: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for item in app:
        if item.function_range:
            ranges[item.path or ""].append(item.function_range)
        elif item.frame.lineno:
            ranges[item.path or ""].append((item.frame.lineno, item.frame.lineno))
    futures = {path: pool.submit(repo.blame, release, path, spans, since=window.since)
               for path, spans in ranges.items()}
    return {path: future.result() for path, future in futures.items()}


def _new_in_release(repo: Repository, release: str, previous: str | None, paths: list[str],
                    max_commits: int) -> set[str]:
    if not previous:
        return set()
    try:
        window = HistoryWindow(exclude=repo.resolve(previous), max_commits=max_commits)
    except PermanentError:
        return set()
    return {commit.sha for commit in repo.history(release, paths, window)}


def _join(*notes: str) -> str:
    return "; ".join(note for note in notes if note)
