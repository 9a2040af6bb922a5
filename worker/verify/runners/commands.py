"""Which runner a test command calls, and `{tests}`: the chosen tests in that runner's own
selection syntax (pure).

A command may carry `{tests}` where the tests to run go (`python -m unittest -v {tests}`,
`cd tests && ./runtests.py -v 2 {tests}`, `go test -v ./... {tests}`). It is replaced by the
ids, shell-quoted, in the form the runner takes back:
- pytest: node ids as they are (`tests/test_a.py::TestC::test_x`);
- unittest and Django: dotted labels (`tests.test_a.TestC.test_x`), parametrisations dropped;
  for Django's `runtests.py` and `manage.py` relative to the directory the script is run from
  (`tests/runtests.py` or `cd tests && ./runtests.py` make `tests/basic/tests.py::T::t` the
  label `basic.tests.T.t`), since that is where their test modules are imported from;
- go: `-run '^(TestA|TestB)$'`, by top-level test name (a subtest runs with its parent);
- node, jest, vitest: the test files (`test/a.test.js`), each once; a bare title, which names
  no file, is left out.
With no ids (or none the runner can take), `{tests}` becomes nothing: the whole suite runs.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterable

from worker.verify.runners.model import aliases

PYTEST, UNITTEST, DJANGO, GO, NODE, JEST, VITEST = (
    "pytest", "unittest", "django", "go", "node", "jest", "vitest")
PLACEHOLDER = "{tests}"
_RUNNERS = (
    (DJANGO, re.compile(r"(?:^|[\s/])(?:runtests\.py|manage\.py\s+test|django-admin\s+test)\b")),
    (UNITTEST, re.compile(r"-m\s+unittest\b|(?:^|\s)unittest\s+discover\b")),
    (PYTEST, re.compile(r"(?:^|[\s/])(?:py\.test|pytest)(?:\s|$)|-m\s+pytest\b")),
    (GO, re.compile(r"(?:^|\s)go\s+test\b")),
    (VITEST, re.compile(r"(?:^|[\s/])vitest\b")),
    (JEST, re.compile(r"(?:^|[\s/])jest\b")),
    (NODE, re.compile(r"(?:^|\s)node\s+(?:[^|;&]*\s)?--test\b")),
)
_SCRIPT = re.compile(r"(?:^|\s)(?P<token>\S*(?:runtests|manage)\.py)\b")
_CD = re.compile(r"^\s*cd\s+(?P<dir>\S+)\s*&&")
_GO_PREFIX = re.compile(r"^.*?\.(?=(?:Test|Example|Fuzz|Benchmark)(?![a-z]))")


def runner_of(command: str) -> str | None:
    """The test runner `command` calls (`pytest`, `unittest`, `django`, `go`, `node`,
    `jest`, `vitest`), or None when it cannot be told."""
    return next((name for name, pattern in _RUNNERS if pattern.search(command)), None)


def expand_tests(command: str, test_ids: list[str]) -> str:
    """`command` with `{tests}` replaced by `test_ids` in its runner's form (see the module
    doc); a command without `{tests}` is returned unchanged."""
    if PLACEHOLDER not in command:
        return command
    args = selection_args(runner_of(command), test_ids, _start_dir(command))
    text = " ".join(shlex.quote(arg) for arg in args)
    return re.sub(r"[ \t]+$", "", command.replace(PLACEHOLDER, text))


def selection_args(runner: str | None, test_ids: list[str], start_dir: str = "") -> list[str]:
    """The command-line arguments that select `test_ids` for `runner`."""
    if runner in (UNITTEST, DJANGO):
        return _unique(_dotted(test_id, start_dir) for test_id in test_ids)
    if runner == GO:
        names = _unique(_GO_PREFIX.sub("", test_id).split("/", 1)[0] for test_id in test_ids)
        return ["-run", f"^({'|'.join(re.escape(n) for n in names)})$"] if names else []
    if runner in (NODE, JEST, VITEST):
        return _unique(test_id.split("::", 1)[0] for test_id in test_ids
                       if "::" in test_id or _is_file(test_id))
    return _unique(test_ids)


def _dotted(test_id: str, start_dir: str) -> str:
    """A pytest node id (or file) as the dotted label unittest takes, from `start_dir`."""
    if "::" not in test_id and not test_id.endswith(".py"):
        return test_id  # already a dotted label
    labels = list(aliases(test_id))
    depth = len([part for part in start_dir.strip("/").split("/") if part])
    return labels[min(1 + depth, len(labels) - 1)] if len(labels) > 1 else test_id


def _start_dir(command: str) -> str:
    """The directory Django's script runs from, relative to the repository root."""
    if runner_of(command) != DJANGO:
        return ""
    cd = _CD.match(command)
    if cd:
        return cd.group("dir").strip("'\"").removeprefix("./")
    script = _SCRIPT.search(command)
    return posixpath.dirname(script.group("token")).removeprefix(".").strip("/") if script else ""


def _is_file(test_id: str) -> bool:
    return bool(re.search(r"\.[cm]?[jt]sx?$", test_id))


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))
