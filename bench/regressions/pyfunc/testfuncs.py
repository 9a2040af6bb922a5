"""Find the test functions a fix adds or edits, and stage them into another checkout.

A regression test here is a ``test_*`` function or method in a test module. The ones a fix adds
or changes are those whose lines (decorators included) overlap the lines the fix added. To run
them at another commit, the fix's whole test modules (and other test-support files it changed)
are checked out over that worktree; when the fix's module cannot even be collected there, only
the test functions (or, for methods, their whole class) are grafted onto that commit's version
of the module, after the fix's imports, each guarded so a name the old code lacks leaves the
test to fail on its own (recorded as "feature absent").
"""

from __future__ import annotations

import ast
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from candidates import git
from projects import Project

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
MAX_TESTS = 12


@dataclass(frozen=True)
class TestRef:
    """One test function: its module, its class (or ""), its name."""

    path: str
    cls: str
    name: str

    @property
    def nodeid(self) -> str:
        """The pytest node id."""
        return "::".join(part for part in (self.path, self.cls, self.name) if part)


def changed_files(repo: str, fix: str) -> list[str]:
    """Paths the fix (against its first parent) added or modified."""
    out = git(repo, "diff", "--name-only", "--diff-filter=AM", f"{fix}^1", fix)
    return [line for line in out.splitlines() if line]


def _added_lines(repo: str, fix: str, path: str) -> set[int]:
    lines: set[int] = set()
    for line in git(repo, "diff", "-U0", f"{fix}^1", fix, "--", path).splitlines():
        match = _HUNK.match(line)
        if match:
            start, count = int(match.group(1)), int(match.group(2) or "1")
            lines.update(range(start, start + count))
    return lines


def _span(node: ast.AST) -> range:
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno] + [d.lineno for d in decorators])
    return range(start, (node.end_lineno or node.lineno) + 1)


def _tests_in(tree: ast.Module) -> list[tuple[str, ast.AST]]:
    """``(class name or "", function node)`` for every test function of a module."""
    found: list[tuple[str, ast.AST]] = []
    funcs = (ast.FunctionDef, ast.AsyncFunctionDef)
    for node in tree.body:
        if isinstance(node, funcs) and node.name.startswith("test"):
            found.append(("", node))
        elif isinstance(node, ast.ClassDef):
            found += [(node.name, item) for item in node.body
                      if isinstance(item, funcs) and item.name.startswith("test")]
    return found


def changed_tests(repo: str, project: Project, fix: str) -> list[TestRef]:
    """The test functions the fix added or edited, in file order (at most ``MAX_TESTS``)."""
    tests: list[TestRef] = []
    for path in changed_files(repo, fix):
        if not project.is_test_file(path):
            continue
        try:
            tree = ast.parse(git(repo, "show", f"{fix}:{path}"))
        except SyntaxError:
            continue
        touched = _added_lines(repo, fix, path)
        tests += [TestRef(path, cls, node.name) for cls, node in _tests_in(tree)
                  if touched.intersection(_span(node))]
    return tests[:MAX_TESTS]


def stage_whole(tree: str, project: Project, fix: str, files: list[str]) -> None:
    """Check out the fix's test modules and test-support files over the worktree."""
    paths = [p for p in files if project.is_support(p)]
    if paths:
        git(tree, "checkout", fix, "--", *paths)


def _guarded_import(stmt: str, fallback: str | None) -> str:
    inner = f"    {fallback}\n" if fallback else "    pass\n"
    if fallback:
        inner = f"    try:\n        {fallback}\n    except Exception:\n        pass\n"
    return f"try:\n    {stmt}\nexcept Exception:\n{inner}"


def _imports(tree: ast.Module, project: Project) -> list[str]:
    """The module's top-level imports, one name per statement, each guarded."""
    out = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = f" as {alias.asname}" if alias.asname else ""
                out.append(_guarded_import(f"import {alias.name}{name}", None))
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            module = "." * node.level + (node.module or "")
            moved = project.moved_modules.get(module)
            for alias in node.names:
                name = f"{alias.name} as {alias.asname}" if alias.asname else alias.name
                stmt = f"from {module} import {name}"
                out.append(_guarded_import(stmt, f"from {moved} import {name}" if moved else None))
    return out


def _wanted(node: ast.AST, wanted: set[tuple[str, str]]) -> bool:
    """A top-level class holding a wanted method, or a wanted top-level function."""
    if isinstance(node, ast.ClassDef):
        return any(cls == node.name for cls, _ in wanted)
    funcs = (ast.FunctionDef, ast.AsyncFunctionDef)
    return isinstance(node, funcs) and ("", node.name) in wanted


def graft(tree_dir: str, repo: str, project: Project, fix: str, tests: list[TestRef],
          sources: dict[str, str] | None = None) -> None:
    """Append the fix's versions of ``tests`` (with its imports) to the worktree's modules.

    ``sources`` maps a target module to the fix's module the tests come from, when they differ.
    """
    for path in sorted({t.path for t in tests}):
        source = git(repo, "show", f"{fix}:{(sources or {}).get(path, path)}")
        module = ast.parse(source)
        lines = source.splitlines()
        wanted = {(t.cls, t.name) for t in tests if t.path == path}
        blocks = [node for node in module.body if _wanted(node, wanted)]
        code = [*_imports(module, project)]
        code += ["\n".join(lines[_span(n).start - 1:_span(n).stop - 1]) + "\n" for n in blocks]
        target = Path(tree_dir, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        old = target.read_text(encoding="utf-8") if target.exists() else ""
        target.write_text(old.rstrip("\n") + "\n\n\n# grafted regression tests\n"
                          + "\n\n".join(code), encoding="utf-8")


def reset(tree_dir: str) -> None:
    """Undo any staging: back to the worktree's commit."""
    # ``git checkout <fix> -- paths`` also staged them: restore the index too, not just files.
    subprocess.run(["git", "-C", tree_dir, "reset", "-q", "--hard", "HEAD"], capture_output=True,
                   timeout=300, check=False)
    subprocess.run(["git", "-C", tree_dir, "clean", "-fdq"], capture_output=True, timeout=300,
                   check=False)
