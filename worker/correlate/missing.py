"""Errors that name something missing, and the commits that removed it or made its class.

"'Engine' object has no attribute '_connect'", "cannot import name 'load' from 'app.io'",
"name 'helper' is not defined", "this.render is not a function": the program looked for a
definition that is not there. A commit that deleted that definition (and did not write it again)
is as direct a lead as the one that wrote the crashing line, even when it changed no file on
the stack: the definition lived in the class's or the module's own file.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from worker.ports import Repository
from worker.vcs import Hunk

_PATTERNS = (
    # Python: AttributeError on an instance, a class or a module.
    re.compile(r"'(?P<owner>[\w.]+)' object has no attribute '(?P<name>\w+)'"),
    re.compile(r"type object '(?P<owner>[\w.]+)' has no attribute '(?P<name>\w+)'"),
    re.compile(r"module '(?P<module>[\w.]+)' has no attribute '(?P<name>\w+)'"),
    re.compile(r"cannot import name '(?P<name>\w+)' from '(?P<module>[\w.]+)'"),
    re.compile(r"cannot import name '(?P<name>\w+)'"),
    re.compile(r"name '(?P<name>\w+)' is not defined"),
    # JavaScript: a method that is gone.
    re.compile(r"\.(?P<name>\w+) is not a function"),
)
# Messages are attacker-controlled and may be huge: only their head is read for names (what
# names a missing definition comes first; sentry-sdk cuts values at 1024 characters anyway).
MESSAGE_HEAD = 1000
# A value of these types lacks the attribute because the value is wrong, not the class.
_VALUE_TYPES = frozenset({
    "NoneType", "str", "bytes", "int", "float", "bool", "list", "dict", "tuple", "set",
    "frozenset", "function", "method", "builtin_function_or_method", "generator", "coroutine",
    "module", "type", "object",
})


@dataclass(frozen=True)
class Missing:
    """What the error says is missing: a name, and where it was looked for when it says."""

    name: str
    owner: str = ""  # the class whose instances lack it
    module: str = ""  # the dotted module that lacks it


def missing_name(message: str) -> Missing | None:
    """The missing definition an error message names, if it names one."""
    head = message[:MESSAGE_HEAD]
    for pattern in _PATTERNS:
        found = pattern.search(head)
        if not found:
            continue
        groups = found.groupdict()
        owner = (groups.get("owner") or "").split(".")[-1]
        if owner in _VALUE_TYPES:
            return None
        return Missing(name=groups["name"], owner=owner, module=groups.get("module") or "")
    return None


def defines(name: str, line: str) -> bool:
    """Whether a line of code defines `name`: a function, method or class of that name, or an
    assignment to it (plain, annotated, on `self` or `this`)."""
    word = re.escape(name)
    return bool(re.search(
        rf"^\s*(?:export\s+)?(?:async\s+)?(?:def|class|function)\s+{word}\b"
        rf"|^\s*(?:(?:self|this|cls)\.)?{word}\s*(?::[^=]*)?=(?!=)"
        rf"|^\s*(?:static\s+)?(?:async\s+)?{word}\s*\([^)]*\)\s*\{{", line))


def removed_definitions(name: str, hunks: list[Hunk]) -> set[str]:
    """The commits whose hunks removed more definitions of `name` than they added."""
    return {sha for sha, count in _net_added(hunks, lambda line: defines(name, line)).items()
            if count < 0}


def created_classes(owner: str, hunks: list[Hunk]) -> set[str]:
    """The commits whose hunks wrote more definitions of class `owner` than they removed: a
    class made in the window that lacks what its callers look up is as direct a lead as a
    definition deleted from it."""
    return {sha for sha, count in _net_added(hunks, lambda line: defines_class(owner, line))
            .items() if count > 0}


def _net_added(hunks: list[Hunk], matches: Callable[[str], bool]) -> Counter[str]:
    """Per commit, how many more matching lines its hunks added than removed (a move nets 0)."""
    net: Counter[str] = Counter()
    for hunk in hunks:
        net[hunk.sha] += sum(1 for line in hunk.added if matches(line))
        net[hunk.sha] -= sum(1 for line in hunk.removed if matches(line))
    return net


def defines_class(owner: str, line: str) -> bool:
    """Whether a line of code defines class (or Go struct type) `owner`."""
    word = re.escape(owner)
    return bool(re.search(rf"^\s*(?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\s+{word}\b"
                          rf"|^type\s+{word}\s+struct\b", line))


def module_paths(module: str, files: list[str]) -> list[str]:
    """The repository files a dotted module name can be (`a.b` → `…/a/b.py`, `…/a/b/__init__.py`),
    matched by path suffix so source roots like `src/` or `lib/` do not matter."""
    stem = module.replace(".", "/")
    ends = (f"{stem}.py", f"{stem}/__init__.py")
    return [path for path in files
            if any(path == end or path.endswith("/" + end) for end in ends)]


MAX_OWNER_FILES = 3
# What `git grep` is asked, once per release, to find class definitions: every line that may
# start one. The adapter caches the answer by release, so later events there read it for free
# (a grep of one class name alone costs as much as the whole history query of an event).
DEFINITION_TEXTS = ["class ", "type "]


def owner_files(repo: Repository, release: str, missing: Missing | None) -> list[str]:
    """The files that define the class or module the error looked the missing name up on
    (none when there are more than a few: a common class name points nowhere)."""
    if missing and missing.owner:
        paths = sorted({path for path, _number, line in repo.grep(release, DEFINITION_TEXTS)
                        if missing.owner in line and defines_class(missing.owner, line)})
    elif missing and missing.module:
        paths = module_paths(missing.module, repo.files(release))
    else:
        return []
    return paths if len(paths) <= MAX_OWNER_FILES else []
