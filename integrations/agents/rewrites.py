"""Fix templates for common Python crashes, as libcst rewrites of the crashing line.

Each template takes a module's text, the crashing line and the exception's message, finds the
expression that raised (by position, narrowed by the message) and rewrites only that expression,
or its statement when nothing smaller is safe: a None guard for attribute and subscript access on
None, `.get` with a default for a missing key, a zero guard for division. Each returns the new
text and a note per change for the transcript, or raises `NoRewrite` saying why it does not apply.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import libcst as cst

from integrations.agents.cstedit import (
    Edit,
    NoRewrite,
    Source,
    conditional,
    hoist,
    is_pure,
    literal_repr,
    literal_value,
    subscript_key,
)
from integrations.agents.fallbacks import default_for, result_default

_NONE_ATTRIBUTE = re.compile(r"'NoneType' object has no attribute '([A-Za-z_][A-Za-z0-9_]*)'")
_NOT_SUBSCRIPTABLE = "'NoneType' object is not subscriptable"
_NOT_ITERABLE = "'NoneType' object is not iterable"
_DIVISIONS = {cst.Divide: "0.0", cst.FloorDivide: "0", cst.Modulo: "0"}
_DIVIDE_ASSIGNS = (cst.DivideAssign, cst.FloorDivideAssign, cst.ModuloAssign)
_ANY_DIVISION = (cst.Divide, cst.FloorDivide, cst.Modulo)


@dataclass(frozen=True)
class Rewrite:
    """A template's result: the module's new text and what changed, and why."""

    template: str
    text: str
    notes: list[str]


def none_guard(text: str, line: int, message: str) -> Rewrite:
    """`AttributeError: 'NoneType' object has no attribute 'x'`: guard `<expr>.x` on `line`."""
    match = _NONE_ATTRIBUTE.match(message)
    if match is None:
        raise NoRewrite("only AttributeError on None has a template (the message should read "
                        "\"'NoneType' object has no attribute ...\")")
    source = Source(text)
    accesses = [node for node in source.nodes_on_line(cst.Attribute, line)
                if node.attr.value == match[1]]
    if not accesses:
        raise NoRewrite(f"line {line} has no `.{match[1]}` access")
    return _guard_accesses(source, accesses)


def none_type_error(text: str, line: int, message: str) -> Rewrite:
    """`TypeError` from subscripting or iterating None: guard the subscript or the loop."""
    source = Source(text)
    if message.startswith(_NOT_SUBSCRIPTABLE):
        accesses = [node for node in source.nodes_on_line(cst.Subscript, line)
                    if source.is_load(node)]
        if not accesses:
            raise NoRewrite(f"line {line} reads no subscript")
        return _guard_accesses(source, accesses)
    if message.startswith(_NOT_ITERABLE):
        return _guard_loops(source, line)
    raise NoRewrite("only TypeErrors from subscripting or iterating None have a template")


def key_default(text: str, line: int, message: str) -> Rewrite:
    """`KeyError: 'k'`: read the key on `line` with `.get`, defaulting where the use says how."""
    source = Source(text)
    reads = [node for node in source.nodes_on_line(cst.Subscript, line)
             if subscript_key(node) is not None and source.is_load(node)]
    if not reads:
        raise NoRewrite(f"line {line} reads no single-key subscript (the key may be written, "
                        "deleted, or looked up inside a library)")
    exact = [node for node in reads if literal_repr(subscript_key(node)) == message.strip()]
    unknown = [node for node in reads if literal_repr(subscript_key(node)) is None]
    chosen = exact or unknown
    if not chosen:
        raise NoRewrite(f"no subscript on line {line} uses the key {message.strip()[:80]}")
    if len({source.code(node).strip() for node in chosen}) > 1:
        raise NoRewrite(f"line {line} reads several keys; which one was missing is unknown")
    edit = Edit()
    for node in chosen:
        default = default_for(source, node)
        if default is None and _dereferenced(source, node):
            raise NoRewrite(f"the value of `{source.code(node).strip()[:60]}` is used at once; "
                            "None for a missing key would only move the crash")
        edit.replace[id(node)] = _to_get(default)
        edit.notes.append(f"`{source.code(node).strip()}` becomes a `.get` "
                          + (f"defaulting to `{default}` (from how the value is used)"
                             if default else "returning None when the key is missing"))
    return Rewrite("key-default", source.apply(edit), edit.notes)


def zero_guard(text: str, line: int, message: str) -> Rewrite:
    """`ZeroDivisionError`: guard each division on `line` whose divisor can be zero."""
    source = Source(text)
    operators = _operators(message)
    divisions = [node for node in source.nodes_on_line(cst.BinaryOperation, line)
                 if isinstance(node.operator, operators) and not _nonzeroliteral_value(node.right)]
    in_place = [node for node in source.nodes_on_line(cst.AugAssign, line)
                if isinstance(node.operator, _DIVIDE_ASSIGNS)
                and not _nonzeroliteral_value(node.value)]
    if not divisions and not in_place:
        raise NoRewrite(f"line {line} has no division by a value that can be zero")
    edit = Edit()
    for node in divisions:
        divisor = _divisor_test(source, edit, node.right)
        fallback = _DIVISIONS[type(node.operator)]
        edit.replace[id(node)] = _conditional(source, node, divisor, fallback)
        edit.notes.append(f"`{source.code(node).strip()}` is {fallback} when its divisor is "
                          "zero")
    for assign in in_place:
        divisor = _divisor_test(source, edit, assign.value)
        _wrap_statement(source, edit, assign, divisor)
        edit.notes.append(f"`{source.code(assign).strip()}` is skipped when its divisor is zero")
    return Rewrite("zero-guard", source.apply(edit), edit.notes)


TEMPLATES: dict[str, Callable[[str, int, str], Rewrite]] = {
    "AttributeError": none_guard,
    "KeyError": key_default,
    "ZeroDivisionError": zero_guard,
    "TypeError": none_type_error,
}


def _guard_accesses(source: Source, accesses: list[cst.Attribute] | list[cst.Subscript]) -> Rewrite:
    """Guard each access's object against None, through the whole `a.b().c[0]` chain after it."""
    for access in accesses:
        if any(other is not access and access in set(source.ancestors(other))
               for other in accesses):
            raise NoRewrite("the crashing line chains several such accesses; which object was "
                            "None is unknown")
    edit = Edit()
    for access in accesses:
        base = access.value
        test = _none_test(source, edit, base)
        _guard_chain(source, edit, access, test)
    return Rewrite("none-guard", source.apply(edit), edit.notes)


def _none_test(source: Source, edit: Edit, base: cst.BaseExpression) -> str:
    """The code that names `base` in a guard: itself when pure, else a hoisted local."""
    if is_pure(base):
        return source.code(base).strip()
    name = hoist(source, edit, base, "value")
    edit.replace[id(base)] = lambda _node: cst.Name(name)
    return name


def _guard_chain(source: Source, edit: Edit, access: cst.CSTNode, base: str) -> None:
    """Make the chain starting at `access` None-safe in the smallest way its use allows."""
    chain = _chain_top(source, access)
    parent = source.parent(chain)
    if not source.is_load(access) or isinstance(parent, cst.Expr):
        _wrap_statement(source, edit, chain, f"{base} is not None")
        edit.notes.append(f"the statement with `{source.code(chain).strip()}` runs only when "
                          f"`{base}` is not None")
    elif _boolean_use(parent, chain):
        paren = isinstance(parent, cst.UnaryOperation)
        edit.replace[id(chain)] = lambda node: cst.parse_expression(
            ("({} is not None and {})" if paren else "{} is not None and {}").format(
                base, source.module.code_for_node(node).strip()))
        edit.notes.append(f"`{source.code(chain).strip()}` counts as false when `{base}` is "
                          "None")
    else:
        fallback = default_for(source, chain) or result_default(chain) or "None"
        edit.replace[id(chain)] = _conditional(source, chain, f"{base} is not None", fallback)
        edit.notes.append(f"`{source.code(chain).strip()}` is {fallback} when `{base}` is None")


def _guard_loops(source: Source, line: int) -> Rewrite:
    """Iterate nothing instead of None in the loops whose iterable is on `line`."""
    loops: list[cst.For | cst.CompFor] = [
        *source.nodes_on_line(cst.For, line), *source.nodes_on_line(cst.CompFor, line)]
    loops = [loop for loop in loops if _covers(source, loop.iter, line)]
    if not loops:
        raise NoRewrite(f"line {line} has no loop over a value that can be None")
    edit = Edit()
    for loop in loops:
        iterable = loop.iter
        code = source.code(iterable).strip()
        if is_pure(iterable):
            edit.replace[id(iterable)] = _conditional(source, iterable, f"{code} is not None",
                                                      "()")
        else:
            # Evaluated once either way; `or ()` also skips other empty (falsy) iterables,
            # which iterate nothing anyway.
            edit.replace[id(iterable)] = lambda node: cst.parse_expression(
                f"{source.module.code_for_node(node).strip()} or ()")
        edit.notes.append(f"the loop over `{code}` iterates nothing when it is None")
    return Rewrite("none-guard", source.apply(edit), edit.notes)


def _chain_top(source: Source, node: cst.CSTNode) -> cst.CSTNode:
    """The outermost expression of the attribute/call/subscript chain that continues `node`."""
    current = node
    while True:
        parent = source.parent(current)
        continues = (
            (isinstance(parent, (cst.Attribute, cst.Subscript)) and parent.value is current)
            or (isinstance(parent, cst.Call) and parent.func is current))
        if not continues or parent is None:
            return current
        current = parent


def _boolean_use(parent: cst.CSTNode | None, node: cst.CSTNode) -> bool:
    """True when `node`'s value is only tested for truth."""
    if isinstance(parent, (cst.If, cst.While, cst.IfExp)):
        return parent.test is node
    if isinstance(parent, cst.UnaryOperation):
        return isinstance(parent.operator, cst.Not)
    return isinstance(parent, cst.BooleanOperation)


def _conditional(source: Source, original: cst.CSTNode, test: str,
                 fallback: str) -> Callable[[cst.CSTNode], cst.CSTNode]:
    def build(node: cst.CSTNode) -> cst.CSTNode:
        assert isinstance(node, cst.BaseExpression)
        return conditional(source, original, node, cst.parse_expression(test), fallback)
    return build


def _wrap_statement(source: Source, edit: Edit, node: cst.CSTNode, test: str) -> None:
    """Run `node`'s statement only when `test` holds."""
    statement = source.statement(node)
    if not isinstance(statement, cst.SimpleStatementLine):
        raise NoRewrite("the crashing statement is a compound statement's header")

    def wrap(updated: cst.CSTNode) -> cst.CSTNode:
        assert isinstance(updated, cst.SimpleStatementLine)
        return cst.If(test=cst.parse_expression(test),
                      body=cst.IndentedBlock(body=[updated.with_changes(leading_lines=[])]),
                      leading_lines=updated.leading_lines)
    edit.replace[id(statement)] = wrap


def _divisor_test(source: Source, edit: Edit, divisor: cst.BaseExpression) -> str:
    if is_pure(divisor):
        return source.code(divisor).strip()
    name = hoist(source, edit, divisor, "divisor")
    edit.replace[id(divisor)] = lambda _node: cst.Name(name)
    return name


def _operators(message: str) -> tuple[type[cst.BaseBinaryOp], ...]:
    """Which operators can raise this message (CPython's wording for int and float)."""
    if "floor" in message:
        return (cst.FloorDivide,)
    if "division or modulo" in message:
        return (cst.FloorDivide, cst.Modulo)
    if "modulo" in message:
        return (cst.Modulo,)
    if "division by zero" in message:
        return (cst.Divide,)
    return _ANY_DIVISION


def _nonzeroliteral_value(node: cst.BaseExpression) -> bool:
    value = literal_value(node)
    return isinstance(value, int | float) and bool(value)


def _dereferenced(source: Source, node: cst.CSTNode) -> bool:
    """True when `node`'s value has an attribute read or is subscripted right away."""
    parent = source.parent(node)
    return ((isinstance(parent, cst.Attribute) and parent.value is node)
            or (isinstance(parent, cst.Subscript) and parent.value is node))


def _to_get(default: str | None) -> Callable[[cst.CSTNode], cst.CSTNode]:
    def build(node: cst.CSTNode) -> cst.CSTNode:
        assert isinstance(node, cst.Subscript)
        key = subscript_key(node)
        assert key is not None
        args = [cst.Arg(key)] + ([cst.Arg(cst.parse_expression(default))] if default else [])
        return cst.Call(func=cst.Attribute(value=node.value, attr=cst.Name("get")), args=args,
                        lpar=node.lpar, rpar=node.rpar)
    return build


def _covers(source: Source, node: cst.CSTNode, line: int) -> bool:
    where = source.positions[node]
    return where.start.line <= line <= where.end.line
