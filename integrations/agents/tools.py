"""The tools a chat model may call while fixing a crash, confined to one worktree.

Six tools: `list_files`, `read_file`, `search`, `edit_file`, `write_file` and `run`. File tools
read and write directly, but every path is resolved inside the worktree first and refused when
it is absolute, climbs with `..`, lands in `.git` or suture's private `.suture/` area, or follows
a symlink out of the tree: the model's arguments are as untrusted as the event data it was shown.
`run` goes through the `Sandbox` port only. Every result is text, truncated, and a bad call
(unknown tool, malformed JSON, a refused path) becomes an error message for the model instead of
an exception. What changed is read by `integrations.git.worktree_patch`, not here.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from integrations.git.worktrees import PRIVATE_DIR
from worker.fix.models import SandboxPolicy
from worker.ports import Sandbox

RESULT_LIMIT = 8_000
_HIDDEN_DIRS = frozenset({".git", PRIVATE_DIR})
_MAX_LIST = 500
_MAX_MATCHES = 200
_MAX_READ_BYTES = 2_000_000


class ToolError(Exception):
    """A tool call the model got wrong; its message goes back to the model."""


def truncate(text: str, limit: int = RESULT_LIMIT) -> str:
    """`text` cut to about `limit` characters, keeping its head and tail (errors sit at the end)."""
    if len(text) <= limit:
        return text
    head, tail = text[: limit * 2 // 3], text[-(limit // 3):]
    return f"{head}\n[... {len(text) - len(head) - len(tail)} characters truncated ...]\n{tail}"


def _schema(name: str, description: str, properties: dict[str, Any],
            required: list[str]) -> dict[str, Any]:
    return {"type": "function", "function": {
        "name": name, "description": description,
        "parameters": {"type": "object", "properties": properties, "required": required,
                       "additionalProperties": False}}}


_PATH = {"type": "string", "description": "Path relative to the repository root."}
TOOL_SCHEMAS: list[dict[str, Any]] = [
    _schema("list_files", "List files under a directory of the repository (recursively).",
            {"path": _PATH}, ["path"]),
    _schema("read_file", "Read a text file; optionally only lines start..end (1-based, inclusive).",
            {"path": _PATH, "start": {"type": "integer"}, "end": {"type": "integer"}}, ["path"]),
    _schema("search", "Search file contents with a Python regular expression; prints "
            "path:line: text for each match.",
            {"pattern": {"type": "string"}, "path": _PATH}, ["pattern"]),
    _schema("edit_file", "Replace the exact text `old` with `new` in a file; `old` must occur "
            "exactly once.",
            {"path": _PATH, "old": {"type": "string"}, "new": {"type": "string"}},
            ["path", "old", "new"]),
    _schema("write_file", "Create or overwrite a file with `content`.",
            {"path": _PATH, "content": {"type": "string"}}, ["path", "content"]),
    _schema("run", "Run a shell command in the repository root, in a sandbox without network; "
            "prints the exit code, stdout and stderr.",
            {"command": {"type": "string"}}, ["command"]),
]


class WorktreeTools:
    """The tool implementations bound to one worktree and sandbox."""

    def __init__(self, worktree: Path, sandbox: Sandbox, policy: SandboxPolicy | None = None,
                 remaining_seconds: Callable[[], float] | None = None) -> None:
        self.root = worktree.resolve()
        self.sandbox = sandbox
        self.policy = policy or SandboxPolicy()
        self._remaining = remaining_seconds or (lambda: self.policy.limits.wall_seconds)
        self._tools: dict[str, Callable[..., str]] = {
            "list_files": self.list_files, "read_file": self.read_file, "search": self.search,
            "edit_file": self.edit_file, "write_file": self.write_file, "run": self.run,
        }

    def call(self, name: str, arguments: str) -> tuple[str, bool]:
        """Run tool `name` with JSON `arguments`: (result text, ok). Never raises."""
        tool = self._tools.get(name)
        if tool is None:
            return f"error: unknown tool {name!r}; tools: {', '.join(self._tools)}", False
        try:
            parsed = json.loads(arguments or "{}")
        except ValueError as exc:
            return f"error: arguments are not valid JSON ({exc}); send a JSON object", False
        if not isinstance(parsed, dict):
            return "error: arguments must be a JSON object", False
        try:
            return truncate(tool(**parsed)), True
        except ToolError as exc:
            return f"error: {exc}", False
        except TypeError as exc:  # missing or unexpected arguments
            return f"error: bad arguments for {name}: {exc}", False
        except (OSError, UnicodeError, ValueError) as exc:
            return f"error: {name} failed: {exc}", False

    def resolve(self, path: str) -> Path:
        """The real path of `path` inside the worktree; ToolError when it would leave it."""
        if not isinstance(path, str) or "\x00" in path:
            raise ToolError("refused: path must be a string")
        if os.path.isabs(path) or path.startswith("~"):
            raise ToolError(f"refused: {path!r} is absolute; use a path relative to the "
                            "repository root")
        parts = Path(path).parts
        if ".." in parts:
            raise ToolError(f"refused: {path!r} climbs out with '..'")
        if parts and parts[0] in _HIDDEN_DIRS:
            raise ToolError(f"refused: {path!r} is outside the editable tree")
        # realpath follows every symlink, including one the model made with `run`.
        real = Path(os.path.realpath(self.root / path))
        if real != self.root and not real.is_relative_to(self.root):
            raise ToolError(f"refused: {path!r} resolves outside the repository (symlink)")
        inside = real.relative_to(self.root).parts
        if inside and inside[0] in _HIDDEN_DIRS:
            raise ToolError(f"refused: {path!r} resolves into {inside[0]}")
        return real

    def list_files(self, path: str = ".") -> str:
        """Files under `path`, relative to the root, one per line."""
        base = self.resolve(path)
        if base.is_file():
            return str(base.relative_to(self.root))
        if not base.is_dir():
            raise ToolError(f"{path!r} does not exist")
        found: list[str] = []
        for folder, dirs, files in os.walk(base):  # does not descend into symlinked folders
            dirs[:] = sorted(d for d in dirs if d not in _HIDDEN_DIRS)
            for name in sorted(files):
                found.append(str((Path(folder) / name).relative_to(self.root)))
                if len(found) >= _MAX_LIST:
                    return "\n".join(found) + f"\n[listing stopped at {_MAX_LIST} files]"
        return "\n".join(found) or "(no files)"

    def read_file(self, path: str, start: int | None = None, end: int | None = None) -> str:
        """The file's text, or lines `start`..`end` of it."""
        text = self._read(path)
        if start is None and end is None:
            return text
        lines = text.splitlines(keepends=True)
        first = max(int(start or 1), 1)
        last = min(int(end or len(lines)), len(lines))
        return "".join(lines[first - 1:last]) or f"(no lines {first}..{last}; {len(lines)} lines)"

    def search(self, pattern: str, path: str = ".") -> str:
        """`path:line: text` for every line matching the regular expression."""
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ToolError(f"bad regular expression: {exc}") from exc
        hits: list[str] = []
        for name in self.list_files(path).splitlines():
            target = self.root / name
            if name.startswith("[") or target.is_symlink() or not target.is_file():
                continue
            try:
                text = target.read_bytes()[:_MAX_READ_BYTES].decode("utf-8")
            except UnicodeDecodeError:
                continue  # binary files hold no source to search
            for number, line in enumerate(text.splitlines(), start=1):
                if regex.search(line):
                    hits.append(f"{name}:{number}: {line[:300]}")
                    if len(hits) >= _MAX_MATCHES:
                        return "\n".join(hits) + f"\n[stopped at {_MAX_MATCHES} matches]"
        return "\n".join(hits) or "(no matches)"

    def edit_file(self, path: str, old: str, new: str) -> str:
        """Replace the one occurrence of `old` with `new`."""
        text = self._read(path)
        count = text.count(old) if old else 0
        if count != 1:
            found = "not found" if count == 0 else f"found {count} times"
            raise ToolError(f"`old` must match exactly once in {path}; it was {found}")
        self.resolve(path).write_text(text.replace(old, new, 1), encoding="utf-8")
        return f"edited {path}"

    def write_file(self, path: str, content: str) -> str:
        """Create or overwrite `path` (and its folders) with `content`."""
        target = self.resolve(path)
        if target.is_dir():
            raise ToolError(f"{path!r} is a directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        return f"wrote {path} ({len(content)} characters)"

    def run(self, command: str) -> str:
        """The command's exit code and output, run by the sandbox in the worktree root."""
        wall = max(1.0, min(self.policy.limits.wall_seconds, self._remaining()))
        limits = self.policy.limits.model_copy(update={"wall_seconds": wall})
        policy = self.policy.model_copy(update={"limits": limits})
        result = self.sandbox.run(self.root, ["sh", "-c", command], policy)
        status = f"exit code {result.exit_code}"
        if result.timed_out or result.killed:
            status += f" (stopped: {result.killed or 'timed out'})"
        return (f"{status}\n--- stdout ---\n{truncate(result.stdout, RESULT_LIMIT // 2)}"
                f"\n--- stderr ---\n{truncate(result.stderr, RESULT_LIMIT // 3)}")

    def _read(self, path: str) -> str:
        target = self.resolve(path)
        if not target.is_file():
            raise ToolError(f"{path!r} is not a file")
        data = target.read_bytes()[:_MAX_READ_BYTES]
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ToolError(f"{path!r} is not UTF-8 text") from exc
