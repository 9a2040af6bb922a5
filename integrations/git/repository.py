"""`GitRepository`: the Repository port over the git CLI, batched and cached.

Every question is asked once per resolved commit: the file list, one `git log --numstat` over the
window for all frame files together, one `git log -p -U0` for their hunks (with git's function
context, so a hunk can be tied to the function a frame runs), and one `git blame --porcelain`
per file for just the needed line ranges. Answers are cached by the commit sha they were computed
at, so a moved HEAD never serves a stale answer and an unchanged one is never asked twice.
"""

from __future__ import annotations

import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from integrations.git.command import GitFailed, run_git
from integrations.git.parse import LOG_FORMAT, parse_blame, parse_log, parse_patch
from worker.correlate.models import BlameLine, Commit, Hunk
from worker.ports import HistoryWindow, PermanentError

# git's own function-context patterns for these languages, plus one for JavaScript/TypeScript,
# which git lacks.
_ATTRIBUTES = "\n".join([
    "*.py diff=python", "*.java diff=java", "*.kt diff=kotlin", "*.go diff=golang",
    "*.rb diff=ruby", "*.rs diff=rust", "*.php diff=php", "*.cs diff=csharp",
    *(f"*.{ext} diff=suturejs" for ext in ("js", "jsx", "mjs", "cjs", "ts", "tsx")),
]) + "\n"
_JS_FUNCNAME = (r"^[ \t]*((export[ \t]+)?(default[ \t]+)?(async[ \t]+)?function[ \t*]*[A-Za-z_$]"
                r".*|.*[A-Za-z_$][A-Za-z0-9_$]*[ \t]*[:=][ \t]*(async[ \t]*)?(function\b.*|\(.*\)"
                r"[ \t]*=>.*)|[ \t]*(static[ \t]+|async[ \t]+|get[ \t]+|set[ \t]+)*[A-Za-z_$]"
                r"[A-Za-z0-9_$]*[ \t]*\([^;]*\)[ \t]*\{.*)$")
_attributes_lock = threading.Lock()
_attributes_file: Path | None = None


def _funcname_config() -> tuple[str, ...]:
    global _attributes_file
    with _attributes_lock:
        if _attributes_file is None or not _attributes_file.exists():
            folder = Path(tempfile.mkdtemp(prefix="suture-git-"))
            _attributes_file = folder / "attributes"
            _attributes_file.write_text(_ATTRIBUTES)
    return ("-c", f"core.attributesFile={_attributes_file}",
            "-c", f"diff.suturejs.xfuncname={_JS_FUNCNAME}")


class _Cache:
    """A small thread-safe LRU keyed by immutable facts (resolved shas and arguments)."""

    def __init__(self, size: int = 512) -> None:
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        return None

    def put(self, key: Any, value: Any) -> Any:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)
        return value


class GitRepository:
    """A local git repository (work tree or bare) read through the git CLI."""

    def __init__(self, path: Path, timeout: float = 120) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._cache = _Cache()
        if not (self.path / ".git").exists() and not (self.path / "HEAD").exists():
            raise PermanentError(f"not a git repository: {self.path}")

    def _git(self, *args: str, config: tuple[str, ...] = ()) -> str:
        return run_git(self.path, *args, timeout=self.timeout, config=config)

    def resolve(self, rev: str) -> str:
        """The full sha `rev` names."""
        try:
            return self._git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip()
        except GitFailed:
            raise PermanentError(f"{rev!r} names no commit in {self.path.name}") from None

    def files(self, rev: str) -> list[str]:
        """Every tracked path at `rev`."""
        sha = self.resolve(rev)
        cached = self._cache.get(("files", sha))
        if cached is not None:
            return list(cached)
        listing = self._git("ls-tree", "-r", "-z", "--name-only", "--full-tree", sha)
        return list(self._cache.put(("files", sha), tuple(p for p in listing.split("\0") if p)))

    def read(self, rev: str, path: str) -> str | None:
        """A file's text at `rev`."""
        sha = self.resolve(rev)
        key = ("read", sha, path)
        cached = self._cache.get(key)
        if cached is not None:
            return str(cached) or None
        try:
            text = self._git("show", f"{sha}:{path}")
        except GitFailed:
            text = ""
        return str(self._cache.put(key, "" if "\0" in text else text)) or None

    def history(self, rev: str, paths: list[str], window: HistoryWindow) -> list[Commit]:
        """Commits touching `paths` in the window, each with every file it changed."""
        if not paths:
            return []
        args = ["log", "--no-merges", "--full-diff", "--numstat", f"--format={LOG_FORMAT}",
                *self._window_args(rev, window), "--", *sorted(set(paths))]
        key = ("history", tuple(args))
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache.put(key, tuple(parse_log(self._git(*args))))
        return list(cached)

    def hunks(self, rev: str, paths: list[str], window: HistoryWindow) -> list[Hunk]:
        """Zero-context hunks of those commits in `paths`, with function context headers."""
        if not paths:
            return []
        args = ["log", "--no-merges", "-p", "-U0", "--no-color", "--no-ext-diff",
                "--format=%x01%H", *self._window_args(rev, window), "--", *sorted(set(paths))]
        key = ("hunks", tuple(args))
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache.put(key, tuple(parse_patch(
                self._git(*args, config=_funcname_config()))))
        return list(cached)

    def blame(self, rev: str, path: str, ranges: list[tuple[int, int]]) -> dict[int, BlameLine]:
        """Who last changed each line of `ranges` (inclusive) at `rev`."""
        sha = self.resolve(rev)
        text = self.read(sha, path)
        length = len(text.splitlines()) if text else 0
        # A frame from an older build may point past the end of today's file: clamp, don't fail.
        spans = [(a, min(b, length)) for a, b in _merge(ranges) if a <= length]
        if not spans:
            return {}
        key = ("blame", sha, path, tuple(spans))
        cached = self._cache.get(key)
        if cached is not None:
            return dict(cached)
        args = ["blame", "--porcelain", *(f"-L{start},{end}" for start, end in spans), sha,
                "--", path]
        try:
            lines = parse_blame(self._git(*args))
        except GitFailed:
            lines = {}  # a range past the end of the file: the frame is stale, nothing to blame
        return dict(self._cache.put(key, lines))

    def describe(self, shas: list[str]) -> list[Commit]:
        """The named commits with their changed files, in one `git log --no-walk`."""
        wanted = sorted(set(shas))
        if not wanted:
            return []
        key = ("describe", tuple(wanted))
        cached = self._cache.get(key)
        if cached is None:
            text = self._git("log", "--no-walk=unsorted", "--numstat", f"--format={LOG_FORMAT}",
                             *wanted)
            cached = self._cache.put(key, tuple(parse_log(text)))
        return list(cached)

    def _window_args(self, rev: str, window: HistoryWindow) -> list[str]:
        args = [f"--max-count={window.max_commits}", self.resolve(rev)]
        if window.exclude:
            args.append(f"^{self.resolve(window.exclude)}")
        if window.since:
            args.append(f"--since={int(window.since.timestamp())}")
        return args


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping inclusive ranges of positive line numbers."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted((max(1, a), max(1, b)) for a, b in ranges if b >= a):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
