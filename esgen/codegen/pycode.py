"""The Python that generated modules say, as a small tree: expressions and statements.

The generator builds these nodes (never strings of code) from the model; the only
leaves are :class:`~esgen.codegen.source.Code` fragments (names, literals) made by
:mod:`esgen.codegen.source`. :mod:`esgen.codegen.layout` prints them the way
``ruff format`` does; :func:`flat` gives their one-line text (for fingerprints).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypeAlias

from esgen.codegen.source import Code, string

# ------------------------------------------------------------------ expressions


@dataclass(frozen=True)
class Atom:
    """A name, a dotted name, a literal: text that never breaks."""

    text: Code


@dataclass(frozen=True)
class Text:
    """A string literal of user text: split into implicitly concatenated parts, one per
    line, when it does not fit (as people write long strings)."""

    value: str


@dataclass(frozen=True)
class Attr:
    """``value.name`` on something that is not an atom (e.g. a call's result)."""

    value: Expr
    name: Code


@dataclass(frozen=True)
class Keyword:
    """``name=value`` in a call."""

    name: Code
    value: Expr


@dataclass(frozen=True)
class Call:
    func: Expr
    args: tuple[Expr | Keyword, ...] = ()


@dataclass(frozen=True)
class Subscript:
    value: Expr
    index: Expr


@dataclass(frozen=True)
class BinOp:
    left: Expr
    op: str  # + - * / // % |
    right: Expr


@dataclass(frozen=True)
class Compare:
    left: Expr
    ops: tuple[str, ...]  # == != < <= > >= in "not in" is "is not"
    comparators: tuple[Expr, ...]


@dataclass(frozen=True)
class BoolOp:
    op: str  # and | or
    values: tuple[Expr, ...]


@dataclass(frozen=True)
class UnaryOp:
    op: str  # not | - | +
    operand: Expr


@dataclass(frozen=True)
class IfExp:
    body: Expr
    test: Expr
    orelse: Expr


@dataclass(frozen=True)
class Paren:
    """Parentheses the precedence needs (kept as they are)."""

    inner: Expr


@dataclass(frozen=True)
class Starred:
    """``*value`` in a list or ``**value`` in a dict (``double``)."""

    value: Expr
    double: bool = False


@dataclass(frozen=True)
class ListExpr:
    items: tuple[Expr, ...]
    explode: bool = False  # one item per line even when it would fit


@dataclass(frozen=True)
class DictExpr:
    items: tuple[tuple[Expr, Expr] | Starred, ...]
    explode: bool = False


@dataclass(frozen=True)
class Comprehension:
    """``[element for target in source if condition]`` or the dict form."""

    element: Expr | tuple[Expr, Expr]  # a pair for a dict comprehension
    target: Code
    source: Expr
    condition: Expr | None = None


@dataclass(frozen=True)
class NamedExpr:
    """``name := value`` (always inside ``Paren``)."""

    name: Code
    value: Expr


@dataclass(frozen=True)
class Lambda:
    body: Expr


Expr: TypeAlias = (
    Atom
    | Text
    | Attr
    | Call
    | Subscript
    | BinOp
    | Compare
    | BoolOp
    | UnaryOp
    | IfExp
    | Paren
    | Starred
    | ListExpr
    | DictExpr
    | Comprehension
    | NamedExpr
    | Lambda
)

# ------------------------------------------------------------------- statements


@dataclass(frozen=True)
class Assign:
    """``target = value``, ``target += value``, or ``target: annotation = value``."""

    target: Expr  # a name, an attribute path or a subscript
    value: Expr | None
    op: str = "="
    annotation: Expr | None = None


@dataclass(frozen=True)
class ExprStmt:
    value: Expr


@dataclass(frozen=True)
class Return:
    value: Expr


@dataclass(frozen=True)
class Raise:
    value: Expr


@dataclass(frozen=True)
class If:
    test: Expr
    body: tuple[Stmt, ...]


Stmt: TypeAlias = Assign | ExprStmt | Return | Raise | If


def number(value: int | float) -> Expr:
    """A number literal (``math.inf``, ``-math.inf``, ``math.nan`` for what has none)."""
    if isinstance(value, float) and not math.isfinite(value):
        text = "math.nan" if math.isnan(value) else ("-math.inf" if value < 0 else "math.inf")
        return Atom(Code(text))
    return Atom(Code(repr(value)))


def uses_math(expr: Expr) -> bool:
    """Whether an expression :func:`number` made needs ``import math``."""
    return isinstance(expr, Atom) and "math." in expr.text


def data(value: Any) -> Expr:
    """JSON-like data (str, numbers, bool, None, lists, dicts) as a Python literal."""
    if isinstance(value, dict):
        return DictExpr(tuple((Atom(string(k)), data(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ListExpr(tuple(data(v) for v in value))
    if isinstance(value, str):
        return Text(value)
    if value is None or isinstance(value, bool):
        return Atom(Code({None: "None", True: "True", False: "False"}[value]))
    assert isinstance(value, int | float)
    return number(value)


def spine(node: BinOp) -> tuple[Expr, list[tuple[str, Expr]]]:
    """``a + b - c`` as ``(a, [("+", b), ("-", c)])``, without recursion (the union of a
    thousand events is a chain a thousand deep)."""
    pairs: list[tuple[str, Expr]] = []
    left: Expr = node
    while isinstance(left, BinOp):
        pairs.append((left.op, left.right))
        left = left.left
    pairs.reverse()
    return left, pairs


def flat(node: Expr | Keyword | tuple[Expr, Expr] | Stmt) -> str:
    """The node on one line."""
    if isinstance(node, tuple):
        return f"{flat(node[0])}: {flat(node[1])}"
    if isinstance(node, Atom):
        return node.text
    if isinstance(node, Text):
        return string(node.value)
    if isinstance(node, Attr):
        return f"{flat(node.value)}.{node.name}"
    if isinstance(node, Keyword):
        return f"{node.name}={flat(node.value)}"
    if isinstance(node, Call):
        return f"{flat(node.func)}({', '.join(flat(a) for a in node.args)})"
    if isinstance(node, Subscript):
        return f"{flat(node.value)}[{flat(node.index)}]"
    if isinstance(node, BinOp):
        left, pairs = spine(node)
        return " ".join([flat(left), *(f"{op} {flat(right)}" for op, right in pairs)])
    if isinstance(node, Compare):
        parts = [flat(node.left)]
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            parts.append(f"{op} {flat(comparator)}")
        return " ".join(parts)
    if isinstance(node, BoolOp):
        return f" {node.op} ".join(flat(v) for v in node.values)
    if isinstance(node, UnaryOp):
        return f"{node.op}{' ' if node.op == 'not' else ''}{flat(node.operand)}"
    if isinstance(node, IfExp):
        return f"{flat(node.body)} if {flat(node.test)} else {flat(node.orelse)}"
    if isinstance(node, Paren):
        return f"({flat(node.inner)})"
    if isinstance(node, Starred):
        return f"{'**' if node.double else '*'}{flat(node.value)}"
    if isinstance(node, ListExpr):
        return f"[{', '.join(flat(i) for i in node.items)}]"
    if isinstance(node, DictExpr):
        return "{" + ", ".join(flat(i) for i in node.items) + "}"
    if isinstance(node, Comprehension):
        if isinstance(node.element, tuple):
            text = "{" + flat(node.element)
            close = "}"
        else:
            text = "[" + flat(node.element)
            close = "]"
        text += f" for {node.target} in {flat(node.source)}"
        if node.condition is not None:
            text += f" if {flat(node.condition)}"
        return text + close
    if isinstance(node, NamedExpr):
        return f"{node.name} := {flat(node.value)}"
    if isinstance(node, Lambda):
        return f"lambda: {flat(node.body)}"
    if isinstance(node, Assign):
        head = flat(node.target)
        if node.annotation is not None:
            head += f": {flat(node.annotation)}"
        return head if node.value is None else f"{head} {node.op} {flat(node.value)}"
    if isinstance(node, ExprStmt):
        return flat(node.value)
    if isinstance(node, Return):
        return f"return {flat(node.value)}"
    if isinstance(node, Raise):
        return f"raise {flat(node.value)}"
    assert isinstance(node, If)
    return f"if {flat(node.test)}: " + "; ".join(flat(s) for s in node.body)
