"""Every layout decision of generated code, in one place: statements printed as
``ruff format`` prints them, so the output passes ``ruff format --check`` as written.

Two parts:

- a printer for a small document language (text, groups, soft line breaks, indents,
  if-breaks), the algorithm of Wadler's "prettier printer" that ruff's formatter uses: a
  group is printed on one line when it fits (measured up to the next possible line
  break), else its line breaks are taken, and its inner groups are tried in turn;
- the documents ruff builds for the expressions and statements esgen generates (see
  ``crates/ruff_python_formatter``): a binary chain splits before its lowest-precedence
  operators, each higher-precedence run being a group of its own; a call, list, dict or
  comprehension splits inside its brackets, one item per line with a trailing comma; the
  value of an assignment, ``return``, ``raise`` or ``if`` gets parentheses only when it
  cannot split on its own (``can_omit_parentheses`` is ruff's rule for when it can).

The tests check the output with ``ruff format --check`` (golden cases and generated
stress definitions).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Any, TypeAlias

from esgen.codegen.pycode import (
    Assign,
    Atom,
    Attr,
    BinOp,
    BoolOp,
    Call,
    Compare,
    Comprehension,
    DictExpr,
    Expr,
    ExprStmt,
    If,
    IfExp,
    Keyword,
    Lambda,
    ListExpr,
    NamedExpr,
    Paren,
    Raise,
    Return,
    Starred,
    Stmt,
    Subscript,
    Text,
    UnaryOp,
    flat,
    number,
    spine,
)
from esgen.codegen.source import INDENT, LINE_LENGTH, Code, string, width

__all__ = [
    "LINE_LENGTH",
    "block",
    "can_omit_parentheses",
    "expression",
    "function_header",
    "render",
    "split_string",
    "statement",
    "table",
]

# ------------------------------------------------------------------ documents


_IDS = count()  # group ids, for IfBreak and IndentIfBreak


@dataclass(frozen=True)
class Line:
    """A line break in a broken group; in a flat one nothing (``soft``) or a space."""

    soft: bool


@dataclass(frozen=True)
class Hard:
    """A line break, always."""


@dataclass
class Group:
    contents: Doc
    expand: bool = False  # always broken
    id: int = field(default_factory=lambda: next(_IDS))


@dataclass(frozen=True)
class Indent:
    contents: Doc


@dataclass(frozen=True)
class IfBreak:
    """``broken`` if the group (``group``, or the enclosing one) is broken, else ``flat``."""

    broken: Doc
    flat: Doc = ""
    group: int | None = None


@dataclass(frozen=True)
class IndentIfBreak:
    contents: Doc
    group: int


@dataclass(frozen=True)
class Parts:
    """A string in parentheses, as implicitly concatenated literals that each fit their
    line (split where the printer finds it, since the width depends on the indent).
    Without ``parenthesized`` the literals stand alone, one per line: the sole argument of
    a call, whose own parentheses hold them (ruff's UP034 refuses a second pair)."""

    value: str
    parenthesized: bool = True


Doc: TypeAlias = str | list["Doc"] | Line | Hard | Group | Indent | IfBreak | IndentIfBreak | Parts

SOFT = Line(soft=True)
SPACE = Line(soft=False)
_FLAT, _BREAK = 0, 1


def _forces_break(doc: Doc) -> bool:
    if isinstance(doc, Hard):
        return True
    if isinstance(doc, list):
        return any(_forces_break(d) for d in doc)
    if isinstance(doc, Group):
        return doc.expand
    if isinstance(doc, Indent | IndentIfBreak):
        return _forces_break(doc.contents)
    return False


def group(contents: Doc, expand: bool = False) -> Group:
    """A group; it is broken when it must be (``expand``, or a forced break inside)."""
    return Group(contents, expand or _forces_break(contents))


def render(doc: Doc, depth: int) -> list[str]:
    """``doc`` printed at indentation ``depth``: its lines, each indented."""
    out: list[str] = [INDENT * depth]
    position = len(out[0])
    modes: dict[int, int] = {}
    stack: list[tuple[int, int, Doc]] = [(depth, _BREAK, doc)]
    while stack:
        indent, mode, item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            position += width(item)
        elif isinstance(item, list):
            stack.extend((indent, mode, part) for part in reversed(item))
        elif isinstance(item, Indent):
            stack.append((indent + 1, mode, item.contents))
        elif isinstance(item, IndentIfBreak):
            stack.append((indent + (modes.get(item.group) == _BREAK), mode, item.contents))
        elif isinstance(item, Group):
            if mode == _FLAT and not item.expand:
                modes[item.id] = _FLAT
                stack.append((indent, _FLAT, item.contents))
                continue
            modes[item.id] = _FLAT
            attempt = (indent, _FLAT, item.contents)
            if not item.expand and _fits(attempt, stack, LINE_LENGTH - position, modes):
                stack.append(attempt)
            else:
                modes[item.id] = _BREAK
                stack.append((indent, _BREAK, item.contents))
        elif isinstance(item, IfBreak):
            broken = (modes.get(item.group) if item.group is not None else mode) == _BREAK
            stack.append((indent, mode, item.broken if broken else item.flat))
        elif isinstance(item, Parts) and not item.parenthesized:
            literals = split_string(item.value, LINE_LENGTH - len(INDENT) * indent)
            out.append(("\n" + INDENT * indent).join(literals))
            position = len(INDENT) * indent + width(literals[-1])
        elif isinstance(item, Parts):
            inner = "\n" + INDENT * (indent + 1)
            literals = split_string(item.value, LINE_LENGTH - len(INDENT) * (indent + 1))
            out.append("(" + inner + inner.join(literals) + "\n" + INDENT * indent + ")")
            position = len(INDENT) * indent + 1
        elif isinstance(item, Line | Hard):
            if mode == _FLAT and isinstance(item, Line):
                if not item.soft:
                    out.append(" ")
                    position += 1
                continue
            while out and out[-1].endswith(" "):
                out[-1] = out[-1].rstrip(" ")
            out.append("\n" + INDENT * indent)
            position = len(INDENT) * indent
    return "".join(out).split("\n")


def _fits(
    attempt: tuple[int, int, Doc],
    rest: list[tuple[int, int, Doc]],
    room: int,
    modes: dict[int, int],
) -> bool:
    """Whether ``attempt`` and what follows it, up to the next line break, fit."""
    pending = [attempt]
    rest_index = len(rest)
    while room >= 0:
        if not pending:
            if rest_index == 0:
                return True
            rest_index -= 1
            pending.append(rest[rest_index])
            continue
        indent, mode, item = pending.pop()
        if isinstance(item, str):
            room -= width(item)
        elif isinstance(item, list):
            pending.extend((indent, mode, part) for part in reversed(item))
        elif isinstance(item, Indent | IndentIfBreak):
            pending.append((indent, mode, item.contents))
        elif isinstance(item, Group):
            pending.append((indent, _BREAK if item.expand else mode, item.contents))
        elif isinstance(item, IfBreak):
            group_mode = modes.get(item.group, _FLAT) if item.group is not None else mode
            pending.append((indent, mode, item.broken if group_mode == _BREAK else item.flat))
        elif isinstance(item, Hard | Parts) or (isinstance(item, Line) and mode == _BREAK):
            return True  # a line ends here (Parts: after its opening parenthesis)
        elif isinstance(item, Line) and not item.soft:
            room -= 1
    return False


def split_string(text: str, limit: int) -> list[Code]:
    """String literals of consecutive pieces of ``text``, each at most ``limit`` columns:
    split before spaces where possible (the space starts the next piece), else anywhere."""
    pieces: list[str] = []
    current = ""
    for word in re.split(r"(?= )", text):
        if current and width(string(current + word)) > limit:
            pieces.append(current)
            current = ""
        current += word
        while width(string(current)) > limit and len(current) > 1:
            cut = len(current) - 1
            while cut > 1 and width(string(current[:cut])) > limit:
                cut -= 1
            pieces.append(current[:cut])
            current = current[cut:]
    pieces.append(current)
    return [string(piece) for piece in pieces if piece] or [string("")]


def _fit(lines: Sequence[str]) -> bool:
    return all(width(line) <= LINE_LENGTH for line in lines)


# ---------------------------------------------------------------- expressions

# The contexts of ruff's "in parentheses only" breaks: inside brackets they are line
# breaks of the enclosing group; outside any brackets they are spaces.
_TOP, _PARENTHESIZED = "top", "parenthesized"

# ruff's OperatorPrecedence: a higher number binds more loosely and splits first.
_PRECEDENCE = {
    "*": 4,
    "/": 4,
    "//": 4,
    "%": 4,
    "+": 5,
    "-": 5,
    "|": 9,
}
_COMPARATOR, _BOOLEAN, _CONDITIONAL, _ATTRIBUTE = 10, 11, 12, 1


def _chain_group(contents: Doc, context: str) -> Doc:
    return group(contents) if context == _PARENTHESIZED else contents


def _chain_break(context: str) -> Doc:
    return SPACE if context == _PARENTHESIZED else " "


def _brackets(opening: str, items: Sequence[Doc], closing: str, inner: bool, expand: bool) -> Doc:
    """``(a, b)`` or, broken, one item per line with a trailing comma (when there are
    several). With ``inner`` (call arguments, parameters) the items are a group of their
    own: broken brackets may still hold them on one line."""
    if not items:
        return opening + closing
    body: list[Doc] = []
    for index, item in enumerate(items):
        if index:
            body.extend([",", SPACE])
        body.append(item)
    if len(items) > 1 or expand:
        body.append(IfBreak(","))
    contents: Doc = group(body) if inner else body
    return group([opening, Indent([SOFT, contents]), SOFT, closing], expand)


def expression(node: Expr, context: str = _PARENTHESIZED) -> Doc:
    """The document of an expression in a context (inside brackets or not)."""
    if isinstance(node, Atom):
        return str(node.text)
    if isinstance(node, Text):
        return group(IfBreak(Parts(node.value), string(node.value)))
    if isinstance(node, Attr | Call) and _fluent(node):
        return _chain_group(_call_chain(node, context), context)
    if isinstance(node, Attr):
        return [expression(node.value, context), ".", node.name]
    if isinstance(node, Call):
        return [expression(node.func, context), _arguments(node)]
    if isinstance(node, Subscript):
        index = group(["[", Indent([SOFT, expression(node.index)]), SOFT, "]"])
        return [expression(node.value, context), index]
    if isinstance(node, BinOp | Compare | BoolOp):
        return _chain_group(_slice(_flatten(node), context), context)
    if isinstance(node, UnaryOp):
        space = " " if node.op == "not" else ""
        return [node.op, space, expression(node.operand, context)]
    if isinstance(node, IfExp):
        gap = _chain_break(context)
        parts: list[Doc] = [expression(node.body, context)]
        while True:  # ``a if b else c if d else e`` is one chain
            parts += [gap, "if ", expression(node.test), gap, "else "]
            if not isinstance(node.orelse, IfExp):
                break
            node = node.orelse
            parts.append(expression(node.body, context))
        parts.append(expression(node.orelse, context))
        return _chain_group(parts, context)
    if isinstance(node, Paren):
        return group(["(", Indent([SOFT, expression(node.inner)]), SOFT, ")"])
    if isinstance(node, Starred):
        return ["**" if node.double else "*", expression(node.value, context)]
    if isinstance(node, ListExpr):
        items = [expression(i) for i in node.items]
        return _brackets("[", items, "]", False, node.explode)
    if isinstance(node, DictExpr):
        entries: list[Doc] = [
            expression(i) if isinstance(i, Starred) else [expression(i[0]), ": ", expression(i[1])]
            for i in node.items
        ]
        return _brackets("{", entries, "}", False, node.explode)
    if isinstance(node, Comprehension):
        if isinstance(node.element, tuple):
            opening, closing = "{", "}"
            element: Doc = [expression(node.element[0]), ": ", expression(node.element[1])]
        else:
            opening, closing = "[", "]"
            element = expression(node.element)
        clauses: list[Doc] = [element, SPACE, f"for {node.target} in ", expression(node.source)]
        if node.condition is not None:
            clauses += [SPACE, "if ", expression(node.condition)]
        return group([opening, Indent([SOFT, group(clauses)]), SOFT, closing])
    if isinstance(node, NamedExpr):
        return [node.name, " := ", expression(node.value)]
    assert isinstance(node, Lambda)
    return ["lambda: ", expression(node.body, context)]


def _arguments(node: Call) -> Doc:
    if len(node.args) == 1 and isinstance(node.args[0], Text):  # the call's parentheses
        text = node.args[0].value  # hold the parts of a long string
        parts = group(IfBreak(Parts(text, parenthesized=False), string(text)))
        return group(["(", Indent([SOFT, parts]), SOFT, ")"])
    return _brackets("(", [_argument(a) for a in node.args], ")", True, False)


def _fluent(node: Expr) -> bool:
    """ruff's fluent call chains: two or more ``.name`` after a call's parentheses."""
    after_calls = 0
    while isinstance(node, Attr | Call):
        if isinstance(node, Attr):
            after_calls += isinstance(node.value, Call | Paren)
            node = node.value
        else:
            node = node.func
    return after_calls >= 2


def _call_chain(node: Expr, context: str) -> Doc:
    """A fluent chain: a line break (in brackets) before every ``.name`` after a call."""
    if isinstance(node, Attr):
        value = _call_chain(node.value, context)
        if isinstance(node.value, Call | Paren):
            gap: Doc = SOFT if context == _PARENTHESIZED else ""
            return [value, gap, ".", node.name]
        return [value, ".", node.name]
    if isinstance(node, Call):
        return [_call_chain(node.func, context), _arguments(node)]
    return expression(node, context)


def _argument(node: Expr | Keyword) -> Doc:
    if isinstance(node, Keyword):
        return [node.name, "=", expression(node.value)]
    return expression(node)


def _flatten(node: Expr) -> list[Expr | str]:
    """Operands and operators of a binary-like chain, left to right (ruff flattens
    arithmetic, comparisons and boolean operators alike; parentheses stop it)."""
    parts: list[Expr | str]
    if isinstance(node, BinOp):
        left, pairs = spine(node)
        parts = _flatten(left)
        for op, right in pairs:
            parts += [op, *_flatten(right)]
        return parts
    if isinstance(node, Compare):
        parts = [*_flatten(node.left)]
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            parts += [op, *_flatten(comparator)]
        return parts
    if isinstance(node, BoolOp):
        parts = [*_flatten(node.values[0])]
        for value in node.values[1:]:
            parts += [node.op, *_flatten(value)]
        return parts
    return [node]


def _precedence(op: str) -> int:
    if op in ("and", "or"):
        return _BOOLEAN
    return _PRECEDENCE.get(op, _COMPARATOR)


def _slice(parts: list[Expr | str], context: str) -> Doc:
    """ruff's ``FlatBinaryExpressionSlice``: break before the lowest-precedence operators,
    each run between them a group of its own."""
    if len(parts) == 1:
        operand = parts[0]
        assert not isinstance(operand, str)
        return expression(operand, context)
    lowest = max(_precedence(p) for p in parts[1::2] if isinstance(p, str))
    doc: list[Doc] = []
    start = 0
    for index in range(1, len(parts), 2):
        op = parts[index]
        assert isinstance(op, str)
        if _precedence(op) != lowest:
            continue
        doc += [_run(parts[start:index], context), _chain_break(context), op, " "]
        start = index + 1
    doc.append(_run(parts[start:], context))
    return doc


def _run(parts: list[Expr | str], context: str) -> Doc:
    if len(parts) == 1:
        return _slice(parts, context)
    return _chain_group(_slice(parts, context), context)


# ------------------------------------------------------------------- can omit


@dataclass
class _Visit:
    """ruff's ``CanOmitOptionalParenthesesVisitor``."""

    max_precedence: int = 0
    count: int = 0
    any_parenthesized: bool = False
    first: Expr | str | None = None  # "token" when the expression starts with one
    last: Expr | None = None

    def update(self, precedence: int, times: int = 1) -> None:
        if precedence > self.max_precedence:
            self.max_precedence, self.count = precedence, times
        elif precedence == self.max_precedence:
            self.count += times

    def visit(self, node: Expr) -> None:
        self.last = node
        if isinstance(node, Paren):
            self.any_parenthesized = True
        else:
            self.sub(node)
        if self.first is None:
            self.first = node

    def sub(self, node: Expr) -> None:
        if isinstance(node, ListExpr | DictExpr | Comprehension):
            self.any_parenthesized = True
            return
        if isinstance(node, BoolOp):
            self.update(_BOOLEAN, len(node.values) - 1)
            children: Iterable[Expr] = node.values
        elif isinstance(node, BinOp):
            left, pairs = spine(node)
            for op, _ in pairs:
                self.update(_PRECEDENCE[op])
            children = (left, *(right for _, right in pairs))
        elif isinstance(node, IfExp):
            self.update(_CONDITIONAL, 2)
            children = (node.body, node.test, node.orelse)
        elif isinstance(node, Compare):
            self.update(_COMPARATOR, len(node.ops))
            children = (node.left, *node.comparators)
        elif isinstance(node, Call):
            self.any_parenthesized = True
            self.visit(node.func)
            self.last = node
            return
        elif isinstance(node, Subscript):
            self.any_parenthesized = True
            self.visit(node.value)
            self.last = node
            return
        elif isinstance(node, Attr):
            self.visit(node.value)
            if isinstance(node.value, Call | Paren | Subscript | ListExpr | DictExpr):
                self.update(_ATTRIBUTE)  # brackets of its own, even empty ones
            self.last = node
            return
        elif isinstance(node, UnaryOp | Lambda | Starred):
            if self.first is None:
                self.first = "token"
            children = (node.operand,) if isinstance(node, UnaryOp) else ()
        elif isinstance(node, NamedExpr):
            children = (node.value,)
        else:
            return
        for child in children:
            self.visit(child)


def _own_brackets(node: Expr | str | None) -> bool:
    """Whether the expression ends in non-empty brackets of its own (not a subscript)."""
    if isinstance(node, Call):
        return bool(node.args)
    return isinstance(node, Paren | ListExpr | DictExpr | Comprehension) and bool(
        getattr(node, "items", True)
    )


def can_omit_parentheses(node: Expr) -> bool:
    """ruff's ``can_omit_optional_parentheses``: whether the value of a statement splits
    better inside its own brackets than inside added parentheses."""
    visit = _Visit()
    visit.sub(node)
    if not visit.any_parenthesized or visit.count > 1:
        return False
    if visit.max_precedence in (0, _ATTRIBUTE):
        return True
    return _own_brackets(visit.last) or _own_brackets(visit.first)


# ------------------------------------------------------------------- statements


def _value(head: str, value: Expr, tail: str, depth: int) -> list[str]:
    """The lines of ``head value tail`` (an assignment, ``return``, ``if ...:``)."""
    line = f"{INDENT * depth}{head}{flat(value)}{tail}"
    if width(line) <= LINE_LENGTH and not _exploded(value):
        return [line]

    def parenthesized() -> list[str]:
        inner = expression(value)
        return render([head, "(", Indent([Hard(), inner]), Hard(), ")", tail], depth)

    if isinstance(value, ListExpr | DictExpr | Comprehension | Text) or (
        isinstance(value, Call) and not _fluent(value)
    ):
        own = render([head, expression(value, _TOP), tail], depth)
        return own if width(own[0]) <= LINE_LENGTH else parenthesized()
    if isinstance(value, Atom) or (isinstance(value, Attr) and not _splits(value)):
        wrapped = parenthesized()
        return wrapped if _fit(wrapped) else [line]
    if can_omit_parentheses(value):
        own = render([head, expression(value, _TOP), tail], depth)
        if _fit(own):
            return own
    return parenthesized()


def _exploded(node: Expr | Keyword) -> bool:
    """Whether a list or dict in ``node`` is one item per line whatever its length."""
    if isinstance(node, ListExpr | DictExpr):
        if node.explode:
            return True
        items = [i for item in node.items for i in (item if isinstance(item, tuple) else (item,))]
        return any(_exploded(i) for i in items)
    if isinstance(node, Keyword | Starred):
        return _exploded(node.value)
    if isinstance(node, Call):
        return any(_exploded(a) for a in node.args)
    return False


def _splits(node: Expr) -> bool:
    if isinstance(node, Attr):
        return _splits(node.value)
    return not isinstance(node, Atom)


def _unary_primary(node: Expr) -> bool | None:
    """For unary operators on a primary (``not x``, ``-x.f()[i]``, ``not not x.lower()``):
    whether the primary holds brackets with something inside (where it could split).
    None when ``node`` is not a unary operator on a primary that is not a fluent chain."""
    if not isinstance(node, UnaryOp):
        return None
    operand: Expr = node
    while isinstance(operand, UnaryOp):
        operand = operand.operand
    if _fluent(operand):  # ruff parenthesizes a fluent chain like any other value
        return None
    splittable = False
    while not isinstance(operand, Atom):
        if isinstance(operand, Attr):
            operand = operand.value
        elif isinstance(operand, Call):
            splittable = splittable or bool(operand.args)
            operand = operand.func
        elif isinstance(operand, Subscript):
            splittable = True
            operand = operand.value
        else:
            return None
    return splittable


def statement(node: Stmt, depth: int) -> list[str]:
    """The lines of one statement at indentation ``depth``."""
    if isinstance(node, Assign):
        head = flat(node.target)
        if node.annotation is not None:
            head += f": {flat(node.annotation)}"
        if node.value is None:
            return render(head, depth)
        value = node.value
        brackets = _unary_primary(value)
        if isinstance(node.target, Subscript) and brackets is not None:
            lines = render([head, f" {node.op} ", flat(node.value)], depth)
            if _fit(lines):
                return lines
            if brackets:  # split inside the value's own brackets when that fits
                lines = render([head, f" {node.op} ", expression(value, _TOP)], depth)
                if _fit(lines):
                    return lines
            # else ruff splits the subscript rather than parenthesize a unary value,
            # and the value's brackets too if its line is still too long
            target = node.target
            split_target: list[Doc] = [
                flat(target.value),
                "[",
                Indent([Hard(), flat(target.index)]),
            ]
            lines = render([*split_target, Hard(), "]", f" {node.op} ", flat(value)], depth)
            if brackets and not _fit(lines):
                lines = render(
                    [*split_target, Hard(), "]", f" {node.op} ", expression(value, _TOP)], depth
                )
            return lines
        return _value(f"{head} {node.op} ", node.value, "", depth)
    if isinstance(node, ExprStmt):
        return render(expression(node.value, _TOP), depth)
    if isinstance(node, Return):
        return _value("return ", node.value, "", depth)
    if isinstance(node, Raise):
        return _value("raise ", node.value, "", depth)
    assert isinstance(node, If)
    lines = _value("if ", node.test, ":", depth)
    for inner in node.body:
        lines.extend(statement(inner, depth + 1))
    return lines


def block(statements: Iterable[Stmt], depth: int) -> Code:
    """Statements as source lines at indentation ``depth`` (first line indented too)."""
    lines: list[str] = []
    for node in statements:
        lines.extend(statement(node, depth))
    return Code("\n".join(lines))


def table(head: str, entries: Mapping[str, Any], depth: int) -> Code:
    """``head{`` one ``"key": value,`` per line ``}``: a dict of JSON-like data (str,
    numbers, bool, None, lists, dicts), always exploded at the top."""
    lines = [f"{INDENT * depth}{head}{{"]
    texts: dict[int, str] = {}
    for key, value in entries.items():
        _data(f"{string(key)}: ", value, ",", depth + 1, lines, texts)
    lines.append(f"{INDENT * depth}}}")
    return Code("\n".join(lines))


def _data(
    prefix: str, value: Any, suffix: str, depth: int, out: list[str], texts: dict[int, str]
) -> None:
    """The lines of ``prefix value suffix`` for JSON-like data: what :func:`render` makes
    of the same literal, computed directly (schema tables are large). ``texts`` caches
    the one-line text of each list and dict by id."""
    indent = INDENT * depth
    text = _data_text(value, texts)
    if width(indent + prefix + text + suffix) <= LINE_LENGTH:
        out.append(indent + prefix + text + suffix)
    elif isinstance(value, dict) and value:
        out.append(f"{indent}{prefix}{{")
        comma = "," if len(value) > 1 else ""
        for key, item in value.items():
            _data(f"{string(key)}: ", item, comma, depth + 1, out, texts)
        out.append(f"{indent}}}{suffix}")
    elif isinstance(value, list) and value:
        out.append(f"{indent}{prefix}[")
        comma = "," if len(value) > 1 else ""
        for item in value:
            _data("", item, comma, depth + 1, out, texts)
        out.append(f"{indent}]{suffix}")
    elif isinstance(value, str):
        out.append(f"{indent}{prefix}(")
        inner = INDENT * (depth + 1)
        out.extend(inner + part for part in split_string(value, LINE_LENGTH - len(inner)))
        out.append(f"{indent}){suffix}")
    else:
        out.append(indent + prefix + text + suffix)  # a number: it cannot split


def _data_text(value: Any, texts: dict[int, str]) -> str:
    if isinstance(value, str):
        return string(value)
    if isinstance(value, dict | list):
        cached = texts.get(id(value))
        if cached is not None:
            return cached
        if isinstance(value, dict):
            items = ", ".join(f"{string(k)}: {_data_text(v, texts)}" for k, v in value.items())
            text = "{" + items + "}"
        else:
            text = "[" + ", ".join(_data_text(v, texts) for v in value) + "]"
        texts[id(value)] = text  # the values live as long as the table: ids stay theirs
        return text
    if value is None or isinstance(value, bool):
        return {None: "None", True: "True", False: "False"}[value]
    return flat(number(value))


def function_header(name: Code, parameters: Sequence[Code], returns: Code, depth: int) -> Code:
    """``def name(parameters) -> returns:``, split inside the parentheses when too long.
    A lone parameter gets a trailing comma when split (ruff's rule for definitions; calls
    with one argument get none)."""
    joined = ", ".join(parameters)
    line = f"{INDENT * depth}def {name}({joined}) -> {returns}:"
    if width(line) <= LINE_LENGTH:
        return Code(line)
    comma = "," if len(parameters) == 1 else ""
    # the usual split, without building a document: the parameters on a line of their own
    lines = (
        f"{INDENT * depth}def {name}(",
        f"{INDENT * (depth + 1)}{joined}{comma}",
        f"{INDENT * depth}) -> {returns}:",
    )
    if parameters and all(width(x) <= LINE_LENGTH for x in lines):
        return Code("\n".join(lines))
    if comma:
        params: Doc = group(["(", Indent([SOFT, parameters[0], IfBreak(",")]), SOFT, ")"])
    else:
        params = _brackets("(", list(parameters), ")", True, False)
    return Code("\n".join(render(["def ", name, params, " -> ", returns, ":"], depth)))
