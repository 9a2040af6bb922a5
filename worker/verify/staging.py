"""Putting a patch's reproduction tests into an older version of their test module (pure).

A reproduction test appended to a busy test module rarely applies as a patch to a commit months
older: the lines around it have changed. For a Python module, the tests themselves can still be
carried over: the top-level functions or classes the reproduction test ids name are copied from
the patched module and appended to the older one, together with the patched module's imports
the older one does not have (so the test finds what it calls, or fails to import it, which says
the code is not there yet). `__future__` imports are left out: they must open a module.
"""

from __future__ import annotations

import ast


def modules_of(test_ids: list[str]) -> dict[str, set[str]]:
    """The top-level names (functions or classes) each module's test ids point at."""
    found: dict[str, set[str]] = {}
    for test_id in test_ids:
        path, _, rest = test_id.partition("::")
        top = rest.split("::", 1)[0].split("[", 1)[0]
        if path.endswith(".py") and top:
            found.setdefault(path, set()).add(top)
    return found


def stage_tests(older: str, patched: str, names: set[str]) -> str | None:
    """`older` with the definitions `names` from `patched` appended, and the imports `patched`
    has that `older` lacks; None when `patched` does not parse or defines none of them."""
    try:
        tree = ast.parse(patched)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    imports: list[str] = []
    bodies: list[str] = []
    for node in tree.body:
        text = _source(patched, node)
        if isinstance(node, ast.Import | ast.ImportFrom):
            if getattr(node, "module", None) != "__future__" and text not in older:
                imports.append(text)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) \
                and node.name in names:
            bodies.append(text)
    if not bodies:
        return None
    return "\n\n".join([older.rstrip("\n"), *imports, *bodies]) + "\n"


def _source(text: str, node: ast.stmt) -> str:
    """The statement's source, its decorators included."""
    decorators = getattr(node, "decorator_list", [])
    first = min([node.lineno, *(d.lineno for d in decorators)])
    lines = text.splitlines()
    return "\n".join(lines[first - 1:node.end_lineno])
