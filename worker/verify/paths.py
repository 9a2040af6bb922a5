"""What a path is, for verification: glob matching, and which files are tests or test machinery.

Globs follow gitignore's shape: a pattern without `/` matches a file name at any depth, one with
`/` is anchored at the repository root unless matched `anywhere`, `**` spans directories and `*`
stays within one. A test file is one a test runner would collect or that lives with tests;
"test machinery" is what decides how tests run (conftest, runner configuration, interpreter
start-up hooks), which a patch could change to make failing tests look green.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import PurePosixPath

# pytest's default modules, Django's `tests.py`, Go's `_test.go`, JavaScript's `.test.`/`.spec.`
_TEST_NAME = re.compile(
    r"^test_.*\.py$|_test\.py$|^tests\.py$|_test\.go$|\.(?:test|spec)\.[cm]?[jt]sx?$"
    r"|^conftest\.py$"
)
_TEST_DIRS = frozenset({"tests", "__tests__"})

TEST_MACHINERY = [
    "conftest.py", "pytest.ini", "tox.ini", "noxfile.py", "sitecustomize.py", "usercustomize.py",
    "*.pth", "jest.config.*", "vitest.config.*", "karma.conf.*", ".mocharc*", "phpunit.xml*",
    "Makefile", "makefile", "GNUmakefile", "justfile", "Taskfile.yml",
]


def glob_match(pattern: str, path: str, *, anywhere: bool = False,
               ignore_case: bool = False) -> bool:
    """Whether `path` (relative, `/`-separated) matches `pattern`."""
    if "/" not in pattern.strip("/"):
        target = PurePosixPath(path).name if pattern not in ("**", "**/") else path
        return _compiled(pattern.strip("/"), False, ignore_case).fullmatch(target) is not None
    return _compiled(pattern.strip("/"), anywhere, ignore_case).fullmatch(path) is not None


def matches_any(patterns: list[str], path: str, *, anywhere: bool = False,
                ignore_case: bool = False) -> str | None:
    """The first of `patterns` that `path` matches, if any."""
    for pattern in patterns:
        if glob_match(pattern, path, anywhere=anywhere, ignore_case=ignore_case):
            return pattern
    return None


def is_test_path(path: str, python_files: list[str] | None = None) -> bool:
    """Whether `path` is a test file or lives with tests (`tests/**`, `src/test/**`, ...);
    `python_files`, the runner's globs for Python test modules (`runners.testfiles`), adds
    the modules it names."""
    parts = PurePosixPath(path).parts
    if not parts:
        return False
    if _TEST_NAME.search(parts[-1]) or _TEST_DIRS.intersection(parts[:-1]):
        return True
    if python_files and is_python_test_module(path, python_files):
        return True
    return any(a == "src" and b == "test" for a, b in zip(parts, parts[1:], strict=False))


def is_python_test_module(path: str, python_files: list[str] | None = None) -> bool:
    """Whether `path` is a Python test module: one `python_files` (the runner's globs) names,
    or by default one pytest collects by default, or a Django app's `tests.py`."""
    name = PurePosixPath(path).name
    if not name.endswith(".py"):
        return False
    if python_files is not None:
        return matches_any(python_files, path) is not None
    return name.startswith("test_") or name.endswith("_test.py") or name == "tests.py"


def unsafe_reason(path: str) -> str | None:
    """Why `path` may not appear in a patch at all, or None when it may."""
    parts = path.split("/")
    if not path or path.startswith("/") or "\\" in path or "\x00" in path:
        return "is not a plain relative path"
    if any(part in ("", ".", "..") for part in parts):
        return "has an empty, '.' or '..' component"
    return None


def in_git_dir(path: str) -> bool:
    """Whether `path` is inside a `.git` directory (at any depth, in any letter case)."""
    return any(part.lower() == ".git" for part in path.split("/"))


@lru_cache(maxsize=512)
def _compiled(pattern: str, anywhere: bool, ignore_case: bool) -> re.Pattern[str]:
    body = _translate(pattern)
    if anywhere and not pattern.startswith("**"):
        body = "(?:.*/)?" + body
    return re.compile(body, re.IGNORECASE if ignore_case else 0)


def _translate(pattern: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] in "*?":
            out.append("[^/]*" if pattern[i] == "*" else "[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2:]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1:end]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)
