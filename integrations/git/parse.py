"""Parsers for the git output formats the repository adapter asks for.

`git log` runs with a header line that starts with \\x01 and separates fields with \\x00, so
commit subjects and file names (which may hold anything) cannot be mistaken for structure.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from worker.vcs import BlameLine, Commit, FileChange, Hunk

LOG_FORMAT = "%x01%H%x00%P%x00%an%x00%ae%x00%ct%x00%s"
# A record starts with \x01 at the start of a line; anywhere else it is content.
_RECORD = re.compile(r"(?:^|\n)\x01")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")


def parse_log(text: str) -> list[Commit]:
    """Commits from `git log --numstat` or `--name-only` with `--format=LOG_FORMAT`."""
    commits = []
    for block in _RECORD.split(text)[1:]:
        header, _, rest = block.partition("\n")
        fields = header.split("\x00")
        if len(fields) < 6:
            continue
        sha, parents, author, email, stamp, summary = fields[:6]
        changes = [change for line in rest.splitlines() if (change := _numstat(line))]
        commits.append(Commit(sha=sha, parents=parents.split(), author=author, email=email,
                              timestamp=datetime.fromtimestamp(int(stamp), UTC),
                              summary=summary, changes=changes))
    return commits


def _numstat(line: str) -> FileChange | None:
    if line and "\t" not in line:  # --name-only: a path, no line counts
        return FileChange(path=line)
    parts = line.split("\t", 2)
    if len(parts) != 3:
        return None
    added, deleted, path = parts
    if " => " in path:  # a rename: keep the new name
        path = _renamed_to(path)
    return FileChange(path=path, added=int(added) if added.isdigit() else None,
                      deleted=int(deleted) if deleted.isdigit() else None)


def _renamed_to(path: str) -> str:
    braced = re.match(r"^(.*)\{(.*) => (.*)\}(.*)$", path)
    if braced:
        prefix, _old, new, suffix = braced.groups()
        return (prefix + new + suffix).replace("//", "/")
    return path.split(" => ", 1)[1]


def parse_log_patch(text: str) -> tuple[list[Commit], list[Hunk]]:
    """Commits and their hunks from `git log -p -U0 --format=LOG_FORMAT -- paths`.

    Each commit's `changes` then list only the paths asked about (`complete` is False); the
    line counts come from its hunks.
    """
    commits: list[Commit] = []
    hunks: list[Hunk] = []
    for block in _RECORD.split(text)[1:]:
        header, _, patch = block.partition("\n")
        fields = header.split("\x00")
        if len(fields) < 6:
            continue
        sha, parents, author, email, stamp, summary = fields[:6]
        own = parse_patch(f"\x01{sha}\n{patch}")
        totals: dict[str, list[int]] = {}
        for hunk in own:
            counts = totals.setdefault(hunk.path, [0, 0])
            counts[0] += len(hunk.added)
            counts[1] += len(hunk.removed)
        changes = [FileChange(path=path, added=a, deleted=d) for path, (a, d) in totals.items()]
        commits.append(Commit(sha=sha, parents=parents.split(), author=author, email=email,
                              timestamp=datetime.fromtimestamp(int(stamp), UTC),
                              summary=summary, changes=changes, complete=False))
        hunks.extend(own)
    return commits, hunks


def parse_patch(text: str, deleted: bool = False) -> list[Hunk]:
    """Hunks from `git log -p -U0 --format=%x01%H`; with `deleted`, also those of deleted files
    (under their old path).

    A hunk's lines are read by the counts in its header, so content that looks like a file
    header (an added `++ x` is printed `+++ x`, a removed `-- x` is `--- x`) stays content.
    """
    hunks: list[Hunk] = []
    sha = path = old = ""
    current: Hunk | None = None
    old_left = new_left = 0
    for line in text.split("\n"):  # only git's separator: sources may hold \f or U+2028
        if current is not None and new_left > 0 and line.startswith("+"):
            current.added.append(line[1:])
            new_left -= 1
        elif current is not None and old_left > 0 and line.startswith("-"):
            current.removed.append(line[1:])
            old_left -= 1
        elif line.startswith("\x01"):
            sha, path, current = line[1:].strip(), "", None
        elif line.startswith("--- "):
            old = _header_path(line, "a/")
        elif line.startswith("+++ "):
            path = _header_path(line, "b/") or (old if deleted else "")
            current = None
        elif line.startswith("@@ ") and path:
            current = _hunk(sha, path, line)
            if current is not None:
                hunks.append(current)
                old_left, new_left = current.old_count, current.new_count
    return hunks


def _header_path(line: str, prefix: str) -> str:
    """The path of a `--- a/x` or `+++ b/x` line ("" for /dev/null)."""
    target = line[4:].removesuffix("\t")  # git appends a tab to names holding a space
    return "" if target == "/dev/null" else target.removeprefix(prefix)


def _hunk(sha: str, path: str, header: str) -> Hunk | None:
    match = _HUNK.match(header)
    if not match:
        return None
    old_start, old_count, new_start, new_count, function = match.groups()
    return Hunk(sha=sha, path=path, old_start=int(old_start),
                old_count=int(old_count) if old_count is not None else 1,
                new_start=int(new_start), new_count=int(new_count) if new_count is not None else 1,
                function=function.strip())


def parse_blame(text: str) -> dict[int, BlameLine]:
    """Line → blame from `git blame --porcelain` (commit details appear once per commit)."""
    details: dict[str, dict[str, str]] = {}
    lines: dict[int, BlameLine] = {}
    sha, final_line = "", 0
    for line in text.split("\n"):
        if line.startswith("\t"):
            info = details.get(sha, {})
            if "boundary" in info:  # older than the blamed range: nobody inside it wrote this
                continue
            lines[final_line] = BlameLine(
                line=final_line, sha=sha, author=info.get("author", ""),
                email=info.get("author-mail", "").strip("<>"),
                timestamp=datetime.fromtimestamp(int(info.get("author-time", "0")), UTC))
            continue
        parts = line.split(" ")
        if len(parts) >= 3 and len(parts[0]) == 40 and _is_hex(parts[0]):
            sha, final_line = parts[0], int(parts[2])
            details.setdefault(sha, {})
        elif sha and parts:
            key, _, value = line.partition(" ")
            details[sha][key] = value or "yes"
    return lines


def _is_hex(text: str) -> bool:
    return all(char in "0123456789abcdef" for char in text)
