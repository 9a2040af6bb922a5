"""The libcst ground the fix templates stand on: a parsed module with positions, parents and
expression contexts; finding nodes on the crashing line; replacing nodes by identity; hoisting an
expression into a local before its statement; and reading literals. The typed default a guarded
expression falls back to is in `integrations.agents.fallbacks`. Nothing here knows about
exceptions: `integrations.agents.rewrites` does.
"""

from __future__ import annotations

import ast
import builtins
import keyword
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import libcst as cst
from libcst.metadata import (
    ExpressionContext,
    ExpressionContextProvider,
    MetadataWrapper,
    ParentNodeProvider,
    PositionProvider,
)

N = TypeVar("N", bound=cst.CSTNode)

# Parents under which an expression may be replaced by a conditional expression without
# parentheses: the conditional is the loosest-binding expression bar lambda and `:=`.
_LOOSE_PARENTS = (cst.Return, cst.Assign, cst.AnnAssign, cst.AugAssign, cst.Arg, cst.Element,
                  cst.DictElement, cst.Index, cst.Expr)
# Ancestors that evaluate an expression conditionally, repeatedly or later: hoisting an
# expression out of them would change when (or whether) it runs.
_NO_HOIST = (cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp, cst.IfExp,
             cst.BooleanOperation)
# Prefixes of getter names that say nothing about the value: `find_customer()` -> `customer`.
_VERBS = ("get_", "find_", "load_", "fetch_", "lookup_", "read_", "compute_", "calc_", "make_")


class NoRewrite(Exception):
    """A template does not apply to this crash site; the message says why."""


@dataclass
class Edit:
    """Changes to a module: node replacements and statements to insert before a statement, both
    keyed by the original node's identity, plus a note per change for the transcript."""

    replace: dict[int, Callable[[cst.CSTNode], cst.CSTNode]] = field(default_factory=dict)
    before: dict[int, list[cst.BaseStatement]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    names: set[str] = field(default_factory=set)  # locals this edit introduces


class _Apply(cst.CSTTransformer):
    """Applies an `Edit`; replacements see the already-updated children."""

    def __init__(self, edit: Edit) -> None:
        super().__init__()
        self.edit = edit

    def on_leave(self, original_node, updated_node):  # type: ignore[no-untyped-def]
        key = id(original_node)
        node = updated_node
        if key in self.edit.replace:
            node = self.edit.replace[key](node)
        if key in self.edit.before:
            return cst.FlattenSentinel([*self.edit.before[key], node])
        return node


class Source:
    """One Python module, parsed once, with the metadata the templates ask about."""

    def __init__(self, text: str) -> None:
        try:
            self.wrapper = MetadataWrapper(cst.parse_module(text))
        except cst.ParserSyntaxError as exc:
            raise NoRewrite(f"the crashing file does not parse: {exc.message}") from exc
        self.module = self.wrapper.module
        self.positions = self.wrapper.resolve(PositionProvider)
        self.parents = self.wrapper.resolve(ParentNodeProvider)
        self.contexts = self.wrapper.resolve(ExpressionContextProvider)

    def code(self, node: cst.CSTNode) -> str:
        """The source text of `node`."""
        return self.module.code_for_node(node)

    def nodes_on_line(self, kind: type[N], line: int) -> list[N]:
        """Nodes of `kind` whose span covers `line`, in source order."""
        found = [node for node, where in self.positions.items()
                 if isinstance(node, kind) and where.start.line <= line <= where.end.line]
        return sorted(found, key=lambda node: (self.positions[node].start.line,
                                               self.positions[node].start.column))

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """The node's parent, None for the module."""
        return self.parents.get(node)

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        """The node's ancestors, nearest first."""
        current = self.parents.get(node)
        while current is not None:
            yield current
            current = self.parents.get(current)

    def is_load(self, node: cst.CSTNode) -> bool:
        """True when the expression is read, not assigned to or deleted."""
        return self.contexts.get(node, ExpressionContext.LOAD) == ExpressionContext.LOAD

    def statement(self, node: cst.CSTNode) -> cst.CSTNode:
        """The statement line (or compound statement) the expression belongs to."""
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                return ancestor
        raise NoRewrite("the crashing expression is not inside a statement")

    def function(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        """The innermost function the node is in."""
        return next((a for a in self.ancestors(node) if isinstance(a, cst.FunctionDef)), None)

    def apply(self, edit: Edit) -> str:
        """The module's text with `edit` applied."""
        return self.module.visit(_Apply(edit)).code

    def names(self) -> set[str]:
        """Every identifier the module binds or reads (attribute names excluded)."""
        taken: set[str] = set()
        for node in self.positions:
            if isinstance(node, cst.Name) and not _is_attribute_name(self.parent(node), node):
                taken.add(node.value)
        return taken


def _is_attribute_name(parent: cst.CSTNode | None, node: cst.Name) -> bool:
    return (isinstance(parent, cst.Attribute) and parent.attr is node) or (
        isinstance(parent, cst.Arg) and parent.keyword is node)


def is_pure(node: cst.BaseExpression) -> bool:
    """True for expressions cheap and safe to evaluate twice: names, attribute chains, literal
    subscripts of those, and literals."""
    if isinstance(node, (cst.Name, cst.Integer, cst.Float, cst.SimpleString)):
        return True
    if isinstance(node, cst.Attribute):
        return is_pure(node.value)
    if isinstance(node, cst.Subscript) and len(node.slice) == 1:
        index = node.slice[0].slice
        return (isinstance(index, cst.Index)
                and isinstance(index.value, (cst.Integer, cst.SimpleString))
                and is_pure(node.value))
    return False


def needs_parens(source: Source, node: cst.CSTNode) -> bool:
    """Whether a conditional expression put in `node`'s place needs parentheses."""
    parent = source.parent(node)
    if isinstance(parent, cst.Arg) and parent.star:
        return True
    return not isinstance(parent, _LOOSE_PARENTS)


def conditional(source: Source, original: cst.CSTNode, body: cst.BaseExpression,
                test: cst.BaseExpression, orelse: str) -> cst.BaseExpression:
    """`body if test else orelse`, parenthesised when `original`'s place needs it."""
    parens = needs_parens(source, original)
    return cst.IfExp(test=test, body=body, orelse=cst.parse_expression(orelse),
                     lpar=[cst.LeftParen()] if parens else [],
                     rpar=[cst.RightParen()] if parens else [])


def hoist(source: Source, edit: Edit, expr: cst.BaseExpression, stem: str) -> str:
    """Move `expr` into a fresh local assigned just before its statement; the local's name.

    Only for an expression that runs exactly once, unconditionally, in a plain statement: the
    hoisted value is then the same, though it is computed before the rest of the statement."""
    statement = source.statement(expr)
    if not isinstance(statement, cst.SimpleStatementLine):
        raise NoRewrite(f"cannot move `{source.code(expr)}` out of a compound statement's header")
    for ancestor in source.ancestors(expr):
        if ancestor is statement:
            break
        if isinstance(ancestor, _NO_HOIST):
            raise NoRewrite(f"`{source.code(expr)}` runs conditionally or repeatedly; "
                            "it cannot be evaluated once before its statement")
    name = fresh_name(source, local_stem(expr) or stem, edit.names)
    edit.names.add(name)
    assign = cst.parse_statement(f"{name} = {source.code(expr).strip()}")
    edit.before.setdefault(id(statement), []).append(assign)
    edit.notes.append(f"`{source.code(expr).strip()}` is computed once into `{name}` just "
                      "before its statement, so the guard can test it without computing it twice")
    return name


def local_stem(expr: cst.BaseExpression) -> str:
    """A readable local name for the value of `expr`, from the function it calls."""
    if not isinstance(expr, cst.Call):
        return ""
    func = expr.func
    name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
    if not isinstance(name, str):
        return ""
    for verb in _VERBS:
        if name.startswith(verb) and len(name) > len(verb):
            return name[len(verb):]
    return "length" if name == "len" else name


def fresh_name(source: Source, stem: str, chosen: set[str] | frozenset[str] = frozenset()) -> str:
    """`stem`, or `stem_value`, `stem_value2`... whichever neither the module nor `chosen`
    uses yet."""
    taken = source.names() | set(chosen) | set(dir(builtins)) | set(keyword.kwlist)
    candidates = [stem, f"{stem}_value", *(f"{stem}_value{n}" for n in range(2, 100))]
    return next(name for name in candidates if name not in taken)


def subscript_key(node: cst.Subscript) -> cst.BaseExpression | None:
    """The key of a one-key subscript (`d[k]`), None for slices and `d[a, b]`."""
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return None
    index = node.slice[0].slice
    return None if index.star else index.value


def literal_value(node: cst.BaseExpression | None) -> object:
    """The value of a literal in the (trusted) source, `...` when it is not a literal."""
    if node is None:
        return ...
    try:
        return ast.literal_eval(cst.Module(body=[]).code_for_node(node).strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return ...


def literal_repr(node: cst.BaseExpression | None) -> str | None:
    """`repr` of a literal's value, None when `node` is not a literal."""
    value = literal_value(node)
    return None if value is ... else repr(value)
