"""What one test run says about each test, and how a test id is looked up in it (pure).

Each runner names tests its own way (pytest node ids, unittest dotted labels, Go test names,
`file::title` for JavaScript), while the ids a verification asks about come from the patch:
pytest node ids for Python files. So a lookup tries the id as given, then its variants (a
parametrisation, subtest or method of it), then, for a Python node id, the dotted labels
unittest and Django print for the same test (`tests/test_a.py::C::t` is `tests.test_a.C.t`,
or `test_a.C.t` when the runner starts inside `tests/`), and last a red container of it: a
file that failed to collect, a module that failed to import, a class whose `setUpClass` broke.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
XFAIL, XPASS, MISSING = "xfailed", "xpassed", "missing"
SUITE = "<suite>"
RED = frozenset({FAILED, ERROR})
# When one id is reported twice (a pass, then a teardown error) the worse outcome stands.
RANK = {ERROR: 6, FAILED: 5, XPASS: 4, MISSING: 3, SKIPPED: 2, XFAIL: 1, PASSED: 0}


@dataclass
class Outcomes:
    """What one run says about each test: id -> outcome, id -> failure message, and the parser."""

    results: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    parser: str = "exit-code"
    # Ids of containers that failed before their tests could run: a file pytest could not
    # collect, a module unittest could not import, a class whose setUpClass raised.
    load_errors: set[str] = field(default_factory=set)

    def record(self, test_id: str, outcome: str, message: str = "", *,
               load_error: bool = False) -> None:
        """Add one result, keeping the worse of two for the same id; `load_error` marks a
        container whose tests never ran."""
        if load_error:
            self.load_errors.add(test_id)
        old = self.results.get(test_id)
        if old is None or RANK[outcome] > RANK[old]:
            self.results[test_id] = outcome
            if message:
                self.messages[test_id] = message

    def counts(self) -> dict[str, int]:
        """How many tests had each outcome."""
        counts: dict[str, int] = {}
        for outcome in self.results.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts

    def of(self, test_id: str) -> str:
        """The outcome of `test_id`: exact, or the worst over its parametrisations, subtests or
        methods (under any name its runner gives it), or its file's, module's or class's
        failure; MISSING when the run never mentions it."""
        found = [self.results[k] for k in self._keys(test_id)]
        return max(found, key=RANK.__getitem__) if found else MISSING

    def did_not_load(self, test_id: str) -> bool:
        """True when the run says nothing of `test_id` itself, only that its file, module or
        class failed to load: the test never ran."""
        keys = self._keys(test_id)
        return bool(keys) and all(key in self.load_errors for key in keys)

    def message(self, test_id: str) -> str:
        """The failure message recorded for `test_id` (or its variants), if any."""
        return next((self.messages[k] for k in self._keys(test_id) if k in self.messages), "")

    def _keys(self, test_id: str) -> list[str]:
        if test_id in self.results:
            return [test_id]
        names = list(aliases(test_id))
        for name in names:
            keys = [k for k in self.results if covers(name, k)]
            if keys:
                return keys
        return [k for k, o in self.results.items()
                if o in RED and any(contains(k, name) for name in names)]


def aliases(test_id: str) -> Iterator[str]:
    """`test_id`, then, for a pytest node id of a Python file, the dotted labels unittest could
    print for it, longest first (every start inside the file's directory path)."""
    yield test_id
    path, sep, rest = test_id.partition("::")
    if not path.endswith(".py") or "[" in path:
        return
    module = path[:-3].split("/")
    if module[-1] == "__init__":
        module.pop()
    inner = [part.split("[", 1)[0] for part in rest.split("::")] if sep else []
    for start in range(len(module)):
        yield ".".join(module[start:] + inner)


def covers(wanted: str, reported: str) -> bool:
    """Whether `reported` is `wanted` or one case of it (`t[1]` of `t`, `C::t` of `C`, `T/sub`
    of `T`, `m.C.t` of `m.C`), or the same test reported relative to another directory."""
    if reported == wanted:
        return True
    if reported.startswith(wanted) and reported[len(wanted):][:1] in ("[", ":", "/", "."):
        return True
    if "::" in reported and wanted.endswith("/" + reported):
        return True
    # node names a file that failed to load by its absolute path
    return reported.startswith("/") and reported.endswith("/" + wanted)


def contains(container: str, wanted: str) -> bool:
    """Whether `container` (a file, module or class id) holds the test `wanted`."""
    if "::" in wanted or wanted.endswith(".py"):
        file = wanted.split("::", 1)[0]
        return container == file or (container.startswith("/") and container.endswith("/" + file))
    return "/" not in wanted and wanted.startswith(container + ".")
