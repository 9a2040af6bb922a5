"""Parsing of unified diffs (git's and plain ones) into one record per file, with no I/O.

The records carry what the diff policy and the reproduction check need: old and new paths,
whether the file was added, deleted, renamed or copied, its modes, whether it is binary, and
every added and removed line with its line number. Hunks are read by their line counts, never
by the look of a line, so a removed line that reads `--- a/x` cannot start a new file. What
cannot be parsed raises `DiffError`; callers treat that as a refusal, not as an empty diff.
Text before the first file (a `format-patch` mail header) is ignored, as `git apply` does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
_NULL = "/dev/null"


class DiffError(ValueError):
    """The text is not a diff this parser can vouch for."""


@dataclass
class FileDiff:
    """One file's part of a diff. Line numbers are 1-based, old side for removed lines."""

    old_path: str | None = None  # None when the file is added
    new_path: str | None = None  # None when the file is deleted
    status: str = "modified"  # added, deleted, modified, renamed or copied
    binary: bool = False
    old_mode: str | None = None
    new_mode: str | None = None
    added: list[tuple[int, str]] = field(default_factory=list)
    removed: list[tuple[int, str]] = field(default_factory=list)

    @property
    def path(self) -> str:
        """The path the file has after the change (or had, when deleted)."""
        return self.new_path or self.old_path or ""

    @property
    def paths(self) -> list[str]:
        """Every path the change touches: both sides of a rename or copy."""
        return list(dict.fromkeys(p for p in (self.old_path, self.new_path) if p))

    @property
    def changed_lines(self) -> int:
        """Added plus removed lines."""
        return len(self.added) + len(self.removed)


def parse_diff(text: str) -> list[FileDiff]:
    """Every file section of `text`, in order."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    files: list[FileDiff] = []
    sided: set[int] = set()  # files whose `---`/`+++` pair has been read
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\r")
        current = files[-1] if files else None
        if line.startswith("diff --git "):
            files.append(_git_header(line[len("diff --git "):]))
        elif line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            if current is None or id(current) in sided:
                current = FileDiff()  # a plain unified diff has no `diff --git` line
                files.append(current)
            _set_sides(current, line[4:], lines[i + 1].rstrip("\r")[4:])
            sided.add(id(current))
            i += 1
        elif line.startswith("@@"):
            if current is None:
                raise DiffError(f"line {i + 1}: a hunk before any file header")
            sided.add(id(current))
            i = _read_hunk(lines, i, current)
            continue
        elif current is not None and id(current) not in sided:
            _extended_header(line, current)
        i += 1
    for file in files:
        _finish(file)
    return files


def changed_lines(text: str) -> int:
    """Added plus removed lines over the whole diff; a diff that cannot be parsed counts as huge."""
    try:
        return sum(file.changed_lines for file in parse_diff(text))
    except DiffError:
        return 10**9


def _git_header(rest: str) -> FileDiff:
    old, new = _split_git_paths(rest)
    return FileDiff(old_path=_strip_prefix(old), new_path=_strip_prefix(new))


def _split_git_paths(rest: str) -> tuple[str, str]:
    if rest.startswith('"'):
        old, tail = _unquote_token(rest)
        return old, _unquote_token(tail.lstrip(" "))[0] if tail.lstrip(" ") else ""
    size = len(rest)
    half = (size - 5) // 2  # "a/P b/P" has length 2p + 5 when both sides are the same path
    if size % 2 == 1 and rest[:2] == "a/" and rest[2 + half:5 + half] == " b/" \
            and rest[2:2 + half] == rest[5 + half:]:
        return rest[:2 + half], rest[3 + half:]
    old, sep, new = rest.partition(" b/")
    if sep:
        return old, "b/" + new
    if ' "' in rest:
        old, _, tail = rest.partition(' "')
        return old, _unquote_token('"' + tail)[0]
    raise DiffError(f"cannot read the paths of: diff --git {rest[:200]}")


def _unquote_token(text: str) -> tuple[str, str]:
    """A C-quoted token at the start of `text` (as git writes odd paths) and what follows."""
    if not text.startswith('"'):
        token, _, tail = text.partition(" ")
        return token, tail
    out = bytearray()
    i = 1
    while i < len(text):
        char = text[i]
        if char == '"':
            return out.decode("utf-8", "replace"), text[i + 1:]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in "01234567" and re.match(r"[0-7]{3}", text[i + 1:i + 4]):
                out.append(int(text[i + 1:i + 4], 8) & 0xFF)
                i += 4
                continue
            out.append(_ESCAPES.get(nxt, ord(nxt) & 0xFF))
            i += 2
            continue
        out.extend(char.encode("utf-8"))
        i += 1
    raise DiffError("an unterminated quoted path")


def _path_field(raw: str, *, prefixed: bool = True) -> str | None:
    raw = raw.rstrip("\r")
    # Plain diffs follow the path with a tab and a timestamp.
    value = _unquote_token(raw)[0] if raw.startswith('"') else raw.split("\t", 1)[0]
    if value == _NULL:
        return None
    return _strip_prefix(value) if prefixed else value


def _strip_prefix(path: str) -> str:
    # `git apply` strips one leading component (-p1), whatever it is called.
    head, sep, tail = path.partition("/")
    return tail if sep and head else path


def _set_sides(file: FileDiff, old: str, new: str) -> None:
    file.old_path = _path_field(old)
    file.new_path = _path_field(new)
    if file.old_path is None:
        file.status = "added"
    elif file.new_path is None:
        file.status = "deleted"


def _extended_header(line: str, file: FileDiff) -> None:
    key = line.partition(" ")[0]
    if line.startswith(("new file mode ", "deleted file mode ")):
        mode = line.rsplit(" ", 1)[1]
        if line.startswith("new"):
            file.status, file.old_path, file.new_mode = "added", None, mode
        else:
            file.status, file.new_path, file.old_mode = "deleted", None, mode
    elif line.startswith(("old mode ", "new mode ")):
        setattr(file, "old_mode" if key == "old" else "new_mode", line.rsplit(" ", 1)[1])
    elif line.startswith(("rename from ", "copy from ")):
        file.old_path = _path_field(line.split(" ", 2)[2], prefixed=False)
        file.status = "renamed" if key == "rename" else "copied"
    elif line.startswith(("rename to ", "copy to ")):
        file.new_path = _path_field(line.split(" ", 2)[2], prefixed=False)
    elif line.startswith("GIT binary patch") or (line.startswith("Binary files ")
                                                 and line.endswith(" differ")):
        file.binary = True


def _read_hunk(lines: list[str], start: int, file: FileDiff) -> int:
    match = _HUNK.match(lines[start])
    if match is None:
        raise DiffError(f"line {start + 1}: a malformed hunk header")
    old_no, new_no = int(match.group(1)), int(match.group(3))
    old_left = int(match.group(2) or "1")
    new_left = int(match.group(4) or "1")
    i = start + 1
    while old_left > 0 or new_left > 0:
        if i >= len(lines):
            raise DiffError(f"line {start + 1}: the hunk ends early")
        line = lines[i]
        kind, body = (line[:1], line[1:]) if line else (" ", "")
        if kind == " " and old_left and new_left:
            old_no, new_no, old_left, new_left = old_no + 1, new_no + 1, old_left - 1, new_left - 1
        elif kind == "-" and old_left:
            file.removed.append((old_no, body))
            old_no, old_left = old_no + 1, old_left - 1
        elif kind == "+" and new_left:
            file.added.append((new_no, body))
            new_no, new_left = new_no + 1, new_left - 1
        elif kind != "\\":  # "\ No newline at end of file"
            raise DiffError(f"line {i + 1}: does not fit the hunk that starts on line {start + 1}")
        i += 1
    while i < len(lines) and lines[i].startswith("\\"):
        i += 1
    return i


def _finish(file: FileDiff) -> None:
    if file.status == "added":
        file.old_path = None
    elif file.status == "deleted":
        file.new_path = None
    if not file.path:
        raise DiffError("a file section without a path")
