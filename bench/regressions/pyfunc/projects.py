"""What the builder needs to know about each benchmarked project.

A project is a pure-Python repository whose regression tests are pytest test functions. Its
"own" code is the package directories listed here; test files and test-support modules are
the harness (the caller, like a user's program), never the product that crashed.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Project:
    """One benchmarked project."""

    name: str  # short name: output file suffix, server_name and deployment root
    slug: str  # GitHub owner/name, used in case records and in references
    packages: tuple[str, ...]  # top-level import packages that are the project's own code
    test_globs: tuple[str, ...]  # repository paths of test modules
    harness: tuple[str, ...] = ()  # test-support paths inside the packages (not the product)
    # Import fallbacks for grafted tests: a module that moved, old name to try second.
    moved_modules: dict[str, str] = field(default_factory=dict)
    legacy_before: str = "2021-01-01"  # commits older than this try the old interpreter first
    src_root: str = ""  # directory holding the packages ("lib" for a lib/<package> layout)
    # Issue-tracker references in commit messages besides "#N" (one group: the number), and the
    # message line that says which ticket a commit fixes: a ticket resolves to that commit.
    ticket_ref: str = ""
    ticket_line: str = ""
    # The project's pytest plugin renames test classes (ClassName_<backend>), so tests are
    # selected with -k instead of by node id.
    keyword_select: bool = False
    environment: tuple[tuple[str, str], ...] = ()  # extra variables for the pytest process
    # The test configuration turns warnings into exceptions: those are not crashes.
    warnings_are_errors: bool = False
    # Tests expand into many parametrizations and backend classes: a crash in any of them is the
    # test's outcome (otherwise the first one that did not pass is).
    crash_first: bool = False

    def is_test_file(self, path: str) -> bool:
        """True for a test module (where the regression tests live)."""
        return any(fnmatch.fnmatch(path, glob) for glob in self.test_globs)

    def is_support(self, path: str) -> bool:
        """True for test data, conftest files and test-support modules."""
        parts = path.split("/")
        in_tests = any(part in ("tests", "test", "testing") for part in parts[:-1])
        return (in_tests or parts[-1] == "conftest.py" or path.startswith(self.harness)
                or self.is_test_file(path))

    def package_path(self, path: str) -> str | None:
        """``path`` relative to the source root, or None when it lies outside it."""
        if not self.src_root:
            return path
        prefix = self.src_root.rstrip("/") + "/"
        return path[len(prefix):] if path.startswith(prefix) else None

    def is_own(self, path: str) -> bool:
        """True for the project's own, non-test code (where a crash must come from)."""
        inner = self.package_path(path)
        return (inner is not None and inner.split("/")[0] in self.packages
                and not self.is_support(path))


PROJECTS = {
    "sympy": Project(
        "sympy", "sympy/sympy", ("sympy",), ("sympy/*/tests/test_*.py", "sympy/tests/test_*.py"),
        harness=("sympy/testing/", "sympy/utilities/pytest.py", "sympy/utilities/runtests.py",
                 "sympy/utilities/randtest.py", "sympy/core/random.py"),
        moved_modules={"sympy.testing.pytest": "sympy.utilities.pytest",
                       "sympy.testing.randtest": "sympy.utilities.randtest",
                       "sympy.core.random": "sympy.utilities.randtest"},
        legacy_before="2022-01-01"),
    "astroid": Project(
        "astroid", "pylint-dev/astroid", ("astroid",),
        ("tests/test_*.py", "tests/unittest_*.py", "tests/*/test_*.py",
         "astroid/tests/unittest_*.py", "astroid/tests/test_*.py"),
        legacy_before="2022-07-01"),
    "pylint": Project(
        "pylint", "pylint-dev/pylint", ("pylint",),
        ("tests/test_*.py", "tests/*/test_*.py", "tests/*/*/test_*.py", "pylint/test/test_*.py",
         "pylint/test/unittest_*.py", "tests/*/unittest_*.py", "tests/unittest_*.py"),
        harness=("pylint/testutils/",), legacy_before="2022-07-01"),
    "sphinx": Project(
        "sphinx", "sphinx-doc/sphinx", ("sphinx",), ("tests/test_*.py", "tests/*/test_*.py"),
        harness=("sphinx/testing/",), legacy_before="2022-07-01"),
    "pytest": Project(
        "pytest", "pytest-dev/pytest", ("_pytest", "pytest"),
        ("testing/test_*.py", "testing/*/test_*.py"), legacy_before="2022-07-01"),
    "sqlalchemy": Project(
        "sqlalchemy", "sqlalchemy/sqlalchemy", ("sqlalchemy",), ("test/*test_*.py",),
        harness=("lib/sqlalchemy/testing/",), legacy_before="2022-01-01", src_root="lib",
        ticket_ref=r":ticket:`(\d{3,6})`", ticket_line=r"^(?:Fixes|Closes):\s*#(\d{3,6})\s*$",
        keyword_select=True, warnings_are_errors=True, crash_first=True,
        # Pure Python: the compiled extensions are never built in the scratch worktrees.
        environment=(("DISABLE_SQLALCHEMY_CEXT_RUNTIME", "1"),)),
}
