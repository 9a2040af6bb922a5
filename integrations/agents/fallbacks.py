"""The typed value a guarded expression falls back to, as source text for the fix templates.

`default_for` reads it from where the expression is used (0 in arithmetic, "" when a string
method is called on it, the return annotation's empty value when it is returned) and
`result_default` from the expression's own shape. Either answers None when the code says
nothing; each template decides what no opinion means for it.
"""

from __future__ import annotations

import libcst as cst

from integrations.agents.cstedit import Source

_ARITHMETIC = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.FloorDivide, cst.Modulo,
               cst.Power)
_ARITHMETIC_ASSIGN = (cst.AddAssign, cst.SubtractAssign, cst.MultiplyAssign, cst.DivideAssign,
                      cst.FloorDivideAssign, cst.ModuloAssign, cst.PowerAssign)
_TYPED_DEFAULTS = {"int": "0", "float": "0.0", "str": '""', "bool": "False", "list": "[]",
                   "dict": "{}", "tuple": "()", "List": "[]", "Dict": "{}", "Tuple": "()"}
# Methods only one built-in type has: a value whose method is called at once is of that type,
# and its empty value keeps the call working (`headers["accept"].lower()`).
_METHOD_DEFAULTS = {
    **dict.fromkeys(("lower", "upper", "casefold", "strip", "lstrip", "rstrip", "title",
                     "capitalize", "startswith", "endswith", "splitlines", "isdigit",
                     "isalpha", "isalnum", "isspace", "format", "encode"), '""'),
    **dict.fromkeys(("items", "keys", "values"), "{}"),
}
# String methods that return a string: a call of one that cannot be made stands for "".
_STRING_RESULTS = frozenset({"lower", "upper", "casefold", "strip", "lstrip", "rstrip", "title",
                             "capitalize", "swapcase"})


def default_for(source: Source, expr: cst.CSTNode) -> str | None:
    """The value a guarded expression should fall back to, from where it is used: 0 in
    arithmetic, "" when a string method is called on it, the return annotation's empty value
    when returned, else None (no opinion)."""
    parent = source.parent(expr)
    if isinstance(parent, cst.BinaryOperation):
        return _operand_default(parent, expr)
    if (isinstance(parent, cst.Attribute) and parent.value is expr
            and isinstance(source.parent(parent), cst.Call)):
        return _METHOD_DEFAULTS.get(parent.attr.value)
    if isinstance(parent, cst.AugAssign) and isinstance(parent.operator, _ARITHMETIC_ASSIGN):
        return "0"
    if isinstance(parent, cst.UnaryOperation) and isinstance(parent.operator,
                                                             (cst.Minus, cst.Plus)):
        return "0"
    if isinstance(parent, cst.Return):
        function = source.function(parent)
        if function is not None and function.returns is not None:
            return _annotation_default(function.returns.annotation)
    return None


def result_default(expr: cst.CSTNode) -> str | None:
    """The empty value of what `expr` evaluates to, when its own shape says: "" for a call of a
    string method that returns a string (`value.strip().lower()`); else None."""
    if (isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute)
            and expr.func.attr.value in _STRING_RESULTS):
        return '""'
    return None


def _operand_default(operation: cst.BinaryOperation, operand: cst.CSTNode) -> str | None:
    """An empty string beside a string being added, 0 in arithmetic, else None."""
    other = operation.right if operation.left is operand else operation.left
    if isinstance(other, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
        return '""' if isinstance(operation.operator, cst.Add) else None
    return "0" if isinstance(operation.operator, _ARITHMETIC) else None


def _annotation_default(annotation: cst.BaseExpression) -> str | None:
    """The empty value of a plain annotation (`int`, `list[str]`); None for optionals or
    anything else, where None itself is the honest fallback."""
    if isinstance(annotation, cst.Subscript):
        annotation = annotation.value
    if isinstance(annotation, cst.Name):
        return _TYPED_DEFAULTS.get(annotation.value)
    if isinstance(annotation, cst.SimpleString):
        inner = annotation.evaluated_value
        if isinstance(inner, str) and inner.isidentifier():
            return _TYPED_DEFAULTS.get(inner)
    return None
