"""Tests a patch adds to a base or mixin class, named through the classes that run them (pure).

A `def test_x` added to `class CheckMixin:` runs only as `TestA.test_x` in each collected
class that inherits it (`class TestA(CheckMixin, TestCase)`), and runners report it under that
class. Given the parsed modules a patch touches (and any others the caller can show), this finds
every collected subclass, through any depth of inheritance, in the same module or importing the
base from another one (`from pkg.mixins import CheckMixin`, `from .mixins import CheckMixin as
M`, `import pkg.mixins` then `pkg.mixins.CheckMixin`), and names the test there:
`tests/test_a.py::TestA::test_x`. A subclass that defines the method itself is not running the
added one, so it is left out. Classes are matched by name within a module; only top-level
classes count.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from worker.verify.diffparse import FileDiff
from worker.verify.weakening import defined_tests

ClassKey = tuple[str, str]  # (module path, class name)
_MAX_CANDIDATES = 3000  # bounds the reads on a huge repository; Django's own tests are ~2000
_Chain = Iterator[tuple[ClassKey, tuple[ClassKey, ...]]]


@dataclass
class _Class:
    path: str
    name: str
    bases: list[str]  # as written: `CheckMixin`, `mixins.CheckMixin`
    methods: set[str]
    parents: list[ClassKey] = field(default_factory=list)


def inherited_from_diff(files: list[FileDiff], read: Callable[[str], str | None],
                        is_test_module: Callable[[str], bool],
                        candidates: Iterable[str] = ()) -> list[str]:
    """Ids of the test methods the diff adds to classes, as run by their subclasses in the
    diff's Python files and in `candidates` (more of the repository's modules, by path);
    `read(path)` gives a file's patched text."""
    modules: dict[str, ast.Module] = {}
    added: dict[ClassKey, set[str]] = {}
    for file in files:
        path = file.new_path
        if path is None or not path.endswith(".py"):
            continue
        tree = _parse(read(path), path)
        if tree is None:
            continue
        modules[path] = tree
        for name, methods in _added_methods(file, tree).items():
            added[(path, name)] = methods
    if not added:
        return []
    # Other test modules are read (one `git show` each) only for a class no runner collects
    # by itself, a mixin: a collected base already runs, and is named, on its own.
    known = _classes(modules)
    if any(not is_test_module(key[0]) or not _collected(key, known) for key in added):
        wanted = [p for p in candidates if p not in modules and is_test_module(p)]
        for path in wanted[:_MAX_CANDIDATES]:
            tree = _parse(read(path), path)
            if tree is not None:
                modules[path] = tree
    return inherited_tests(modules, added, is_test_module)


def inherited_tests(modules: dict[str, ast.Module], added: dict[ClassKey, set[str]],
                    is_test_module: Callable[[str], bool]) -> list[str]:
    """Node ids of the added methods (`added`: class -> method names) as every collected
    subclass in `modules` (path -> parsed module) that runs them would be reported."""
    classes = _classes(modules)
    found: list[str] = []
    for key, cls in classes.items():
        if not is_test_module(cls.path) or not _collected(key, classes):
            continue
        for ancestor, between in _ancestors(key, classes):
            for method in sorted(added.get(ancestor, ())):
                if all(method not in classes[k].methods for k in (key, *between)):
                    found.append(f"{cls.path}::{cls.name}::{method}")
    return list(dict.fromkeys(found))


def _added_methods(file: FileDiff, tree: ast.Module) -> dict[str, set[str]]:
    """Top-level class -> the test methods whose `def` line the diff adds (all of them in an
    added file), leaving out names the diff also removes (a moved method is not new)."""
    lines = {number for number, _ in file.added}
    existed = defined_tests(file.removed)
    whole = file.status in ("added", "copied")
    found: dict[str, set[str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        methods = {n.name for n in node.body
                   if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                   and n.name.startswith("test")
                   and (whole or (n.lineno in lines and n.name not in existed))}
        if methods:
            found[node.name] = methods
    return found


def _parse(text: str | None, path: str) -> ast.Module | None:
    if text is None:
        return None
    try:
        return ast.parse(text, filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _classes(modules: dict[str, ast.Module]) -> dict[ClassKey, _Class]:
    classes: dict[ClassKey, _Class] = {}
    for path, tree in modules.items():
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                methods = {n.name for n in node.body
                           if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
                classes[(path, node.name)] = _Class(
                    path, node.name, [_dotted_name(b) for b in node.bases], methods)
    dotted = {path: _module_name(path) for path in modules}
    for cls in classes.values():
        imports = _imports(modules[cls.path], dotted[cls.path])
        for base in cls.bases:
            parent = _resolve(base, cls.path, imports, dotted, classes)
            if parent is not None:
                cls.parents.append(parent)
    return classes


def _ancestors(key: ClassKey, classes: dict[ClassKey, _Class],
               between: tuple[ClassKey, ...] = ()) -> _Chain:
    """Every ancestor of `key` with the classes between them, nearest first."""
    if len(between) > 20:  # a cycle of same-named classes; real hierarchies are shallow
        return
    for parent in classes[key].parents:
        yield parent, between
        yield from _ancestors(parent, classes, (*between, parent))


def _collected(key: ClassKey, classes: dict[ClassKey, _Class], depth: int = 0) -> bool:
    """Whether a runner collects the class: named `Test*` (pytest), or a `TestCase` by any
    base, seen or not (unittest, Django)."""
    cls = classes[key]
    if depth == 0 and cls.name.startswith("Test"):
        return True
    if any(base.rsplit(".", 1)[-1].endswith("TestCase") for base in cls.bases):
        return True
    return depth < 20 and any(_collected(p, classes, depth + 1) for p in cls.parents)


def _resolve(base: str, path: str, imports: dict[str, str], dotted: dict[str, str],
             classes: dict[ClassKey, _Class]) -> ClassKey | None:
    """The class a base expression names, when it is one of `classes`."""
    if "." not in base and (path, base) in classes:
        return path, base
    head, _, rest = base.partition(".")
    target = imports.get(head)
    if target is None:
        return None
    full = f"{target}.{rest}" if rest else target
    module, _, name = full.rpartition(".")
    for other, name_of in dotted.items():
        if (other, name) in classes and _same_module(name_of, module):
            return other, name
    return None


def _imports(tree: ast.Module, module: str) -> dict[str, str]:
    """Local name -> the dotted name it stands for, from the module's top-level imports."""
    found: dict[str, str] = {}
    package = module.rsplit(".", 1)[0] if "." in module else ""
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[:len(parts) - (node.level - 1)] if node.level > 1 else parts
                source = ".".join(p for p in (*parts, source) if p)
            for alias in node.names:
                found[alias.asname or alias.name] = f"{source}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".", 1)[0]
                found[local] = alias.name if alias.asname else local
    return found


def _same_module(path_module: str, imported: str) -> bool:
    """Whether a module known by its path (`src/pkg/mixins`) is the one imported as
    `pkg.mixins`: equal, or the path's dotted form ends with it (a `src/` or test root)."""
    return path_module == imported or path_module.endswith("." + imported)


def _module_name(path: str) -> str:
    parts = path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _dotted_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted_name(node.value)}.{node.attr}"
    return ""
