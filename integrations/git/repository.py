"""`GitRepository`: the Repository port over the git CLI, batched and cached.

Every question is asked once per resolved commit: the file list, one `git cat-file --batch` for
the files' text, one path-limited `git log -p -U0` over the window for all frame files together
(commits and their hunks, with git's function context, so a hunk can be tied to the function a
frame runs), one `git blame --porcelain` per file for just the needed line ranges, and one
`git log --no-walk --name-only` for every file of the few commits that rank high (and one
`git log --no-walk -p` for the lines they removed, to tell moved code). Answers are
cached by the commit sha they were computed at, so a moved HEAD never serves a stale answer and
an unchanged one is never asked twice.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

from integrations.git.cache import LruCache
from integrations.git.command import GitFailed, run_git, run_git_bytes
from integrations.git.funcname import funcname_config
from integrations.git.parse import (
    LOG_FORMAT,
    parse_blame,
    parse_log,
    parse_log_patch,
    parse_patch,
)
from worker.ports import HistoryWindow, PermanentError
from worker.vcs import BlameLine, Commit, Hunk

IGNORE_REVS = ".git-blame-ignore-revs"


def _is_hex(text: str) -> bool:
    return all(char in "0123456789abcdef" for char in text.lower())


class GitRepository:
    """A local git repository (work tree or bare) read through the git CLI."""

    def __init__(self, path: Path, timeout: float = 120) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._cache = LruCache()
        self._known: set[str] = set()
        if not (self.path / ".git").exists() and not (self.path / "HEAD").exists():
            raise PermanentError(f"not a git repository: {self.path}")

    def _git(self, *args: str, config: tuple[str, ...] = ()) -> str:
        return run_git(self.path, *args, timeout=self.timeout, config=config)

    def resolve(self, rev: str) -> str:
        """The full sha `rev` names (a full sha already seen costs nothing)."""
        if rev in self._known:
            return rev
        try:
            sha = self._git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip()
        except GitFailed:
            raise PermanentError(f"{rev!r} names no commit in {self.path.name}") from None
        self._known.add(sha)
        return sha

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
        return self.read_many(rev, [path]).get(path)

    def read_many(self, rev: str, paths: list[str]) -> dict[str, str | None]:
        """Several files' text at `rev` through one `git cat-file --batch`."""
        sha = self.resolve(rev)
        result: dict[str, str | None] = {}
        wanted = []
        for path in dict.fromkeys(paths):
            cached = self._cache.get(("read", sha, path))
            if cached is None:
                wanted.append(path)
            else:
                result[path] = str(cached) or None
        if wanted:
            for path, text in zip(wanted, self._cat(sha, wanted), strict=True):
                self._cache.put(("read", sha, path), text or "")
                result[path] = text
        return result

    def grep(self, rev: str, texts: list[str]) -> list[tuple[str, int, str]]:
        """(path, line number, line) of the text lines at `rev` holding one of `texts`, in one
        `git grep` over the tree (fixed strings: a regular expression is several times slower)."""
        sha = self.resolve(rev)
        key = ("grep", sha, tuple(texts))
        cached = self._cache.get(key)
        if cached is None:
            patterns = [arg for text in texts for arg in ("-e", text)]
            # Exit status 1 means no line matched.
            output = run_git(self.path, "grep", "-n", "-I", "-F", "--null", *patterns, sha,
                             timeout=self.timeout, ok_codes=(0, 1)) if texts else ""
            found = []
            for line in output.splitlines():
                name, number, text = (line.split("\0", 2) + ["", ""])[:3]
                if number.isdigit():
                    found.append((name.partition(":")[2], int(number), text))
            cached = self._cache.put(key, tuple(found))
        return list(cached)

    def versions(self, changes: list[tuple[str, str]]
                 ) -> dict[tuple[str, str], tuple[str | None, str | None]]:
        """Each (commit, path)'s text before and after the commit, in one `git cat-file`.

        Not cached: whole files of many commits would crowd out the small answers."""
        wanted = list(dict.fromkeys(changes))
        specs = [spec for sha, path in wanted for spec in (f"{sha}^:{path}", f"{sha}:{path}")]
        texts = self._cat_specs(specs) if specs else []
        return {change: (texts[2 * index], texts[2 * index + 1])
                for index, change in enumerate(wanted)}

    def _cat(self, sha: str, paths: list[str]) -> list[str | None]:
        return self._cat_specs([f"{sha}:{path}" for path in paths])

    def _cat_specs(self, specs: list[str]) -> list[str | None]:
        """The text of each `rev:path` (None for missing or binary), in one `git cat-file`."""
        request = "".join(f"{spec}\n" for spec in specs).encode()
        output = run_git_bytes(self.path, "cat-file", "--batch", stdin=request,
                               timeout=self.timeout)
        texts: list[str | None] = []
        position = 0
        for _spec in specs:
            newline = output.index(b"\n", position)
            header = output[position:newline].split()
            position = newline + 1
            if len(header) != 3 or header[1] != b"blob":
                texts.append(None)
                continue
            size = int(header[2])
            blob = output[position:position + size]
            position += size + 1
            texts.append(None if b"\0" in blob else blob.decode("utf-8", "replace"))
        return texts

    def history(self, rev: str, paths: list[str], window: HistoryWindow) -> list[Commit]:
        """Commits touching `paths` in the window; `changes` cover only those paths."""
        return list(self._log_patch(rev, paths, window)[0])

    def touching(self, rev: str, paths: list[str], window: HistoryWindow) -> list[Commit]:
        """Commits touching `paths` in the window from one `git log --name-only`."""
        if not paths:
            return []
        args = ["log", "--no-merges", "--name-only", f"--format={LOG_FORMAT}",
                *self._window_args(rev, window), "--", *sorted(set(paths))]
        key = ("touching", tuple(args))
        cached = self._cache.get(key)
        if cached is None:
            commits = [commit.model_copy(update={"complete": False})
                       for commit in parse_log(self._git(*args))]
            cached = self._cache.put(key, tuple(commits))
        return list(cached)

    def hunks(self, rev: str, paths: list[str], window: HistoryWindow) -> list[Hunk]:
        """Zero-context hunks of those commits in `paths`, with function context headers."""
        return list(self._log_patch(rev, paths, window)[1])

    def _log_patch(self, rev: str, paths: list[str],
                   window: HistoryWindow) -> tuple[tuple[Commit, ...], tuple[Hunk, ...]]:
        """One path-limited `git log -p -U0` answers both `history` and `hunks`."""
        if not paths:
            return (), ()
        args = ["log", "--no-merges", "-p", "-U0", "--no-color", "--no-ext-diff",
                f"--format={LOG_FORMAT}", *self._window_args(rev, window), "--",
                *sorted(set(paths))]
        key = ("log-patch", tuple(args))
        cached = self._cache.get(key)
        if cached is None:
            commits, hunks = parse_log_patch(self._git(*args, config=funcname_config()))
            cached = self._cache.put(key, (tuple(commits), tuple(hunks)))
        return cached  # type: ignore[no-any-return]

    def blame(self, rev: str, path: str, ranges: list[tuple[int, int]],
              since: datetime | None = None) -> dict[int, BlameLine]:
        """Who last changed each line of `ranges` (inclusive) at `rev`, back to `since`.

        Bounding blame by the window keeps it from walking a file's whole history; lines older
        than the window come back as boundary lines and are left out.
        """
        sha = self.resolve(rev)
        text = self.read(sha, path)
        length = text.count("\n") + (not text.endswith("\n")) if text else 0
        # A frame from an older build may point past the end of today's file: clamp, don't fail.
        spans = [(a, min(b, length)) for a, b in _merge(ranges) if a <= length]
        if not spans:
            return {}
        key = ("blame", sha, path, tuple(spans), since)
        cached = self._cache.get(key)
        if cached is not None:
            return dict(cached)
        bound = [f"--since={int(since.timestamp())}"] if since else []
        ignore = self._ignore_revs_file(sha)
        # --root: the first commit wrote its lines too; without it git reports them as boundary.
        # -w: a whitespace-only change did not write the line.
        args = ["blame", "--porcelain", "--root", "-w", *bound, *ignore,
                *(f"-L{start},{end}" for start, end in spans), sha, "--", path]
        try:
            lines = parse_blame(self._git(*args))
        except GitFailed:
            lines = {}  # a range past the end of the file: the frame is stale, nothing to blame
        return dict(self._cache.put(key, lines))

    def ignored_revisions(self, rev: str) -> set[str]:
        """Commits the project declares as not changing behaviour (`.git-blame-ignore-revs`:
        reformatting, mass renames), which blame looks through and ranking leaves out."""
        sha = self.resolve(rev)
        cached = self._cache.get(("ignored", sha))
        if cached is None:
            text = self.read(sha, IGNORE_REVS) if IGNORE_REVS in self.files(sha) else None
            listed = {line.strip() for line in (text or "").splitlines()
                      if len(line.strip()) == 40 and _is_hex(line.strip())}
            cached = self._cache.put(("ignored", sha), frozenset(listed))
        return set(cached)

    def _ignore_revs_file(self, sha: str) -> list[str]:
        revisions = self.ignored_revisions(sha)
        if not revisions:
            return []
        known = self._existing(revisions)
        if not known:
            return []
        folder = Path(tempfile.gettempdir()) / "suture-git-ignore-revs"
        folder.mkdir(exist_ok=True)
        target = folder / f"{sha}.txt"
        if not target.exists():
            target.write_text("\n".join(sorted(known)) + "\n")
        return ["--ignore-revs-file", str(target)]

    def _existing(self, revisions: set[str]) -> set[str]:
        """The listed commits that exist here (git refuses an ignore file naming others)."""
        request = "".join(f"{rev}\n" for rev in sorted(revisions)).encode()
        output = run_git_bytes(self.path, "cat-file", "--batch-check", stdin=request,
                               timeout=self.timeout).decode("utf-8", "replace")
        return {line.split()[0] for line in output.splitlines()
                if len(line.split()) == 3 and line.split()[1] == "commit"}

    def describe(self, shas: list[str]) -> list[Commit]:
        """The named commits with every file they changed (names only), in one `git log`."""
        wanted = sorted(set(shas))
        if not wanted:
            return []
        key = ("describe", tuple(wanted))
        cached = self._cache.get(key)
        if cached is None:
            # Names only: a tree diff, cheap even for a commit that rewrote thousands of files,
            # where line counts would need every file's content diff.
            text = self._git("log", "--no-walk=unsorted", "--name-only",
                             f"--format={LOG_FORMAT}", *wanted)
            cached = self._cache.put(key, tuple(parse_log(text)))
        return list(cached)

    def removed(self, shas: list[str]) -> dict[str, list[str]]:
        """Every line each commit removed, in any file (deleted ones too), in one `git log`."""
        wanted = sorted(set(shas))
        if not wanted:
            return {}
        key = ("removed", tuple(wanted))
        cached = self._cache.get(key)
        if cached is None:
            text = self._git("log", "--no-walk=unsorted", "-p", "-U0", "--no-color",
                             "--no-ext-diff", "--format=%x01%H", *wanted)
            lines: dict[str, list[str]] = {sha: [] for sha in wanted}
            for hunk in parse_patch(text, deleted=True):
                lines.setdefault(hunk.sha, []).extend(hunk.removed)
            cached = self._cache.put(key, {sha: tuple(found) for sha, found in lines.items()})
        return {sha: list(found) for sha, found in cached.items()}

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
