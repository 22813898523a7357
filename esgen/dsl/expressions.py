"""Expressions: Python syntax, a small allow-list of it, type-checked into ``model.Expr``.

We parse with ``ast.parse(mode="eval")`` and walk the tree ourselves: anything the
walker does not know is an error, so nothing outside the allow-list can slip through.

The walker recurses, so an expression is first measured: longer than
``MAX_EXPRESSION_LENGTH`` characters or nested deeper than ``MAX_EXPRESSION_DEPTH``
operators is an error at its place, before anything recurses over it (here, in the code
generator, or in Python compiling the generated module). Constant parts are then computed
(``esgen.dsl.constants``): ``1 / 0`` and overflowing constants are refused.
"""

from __future__ import annotations

import ast
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, cast, get_args

from esgen import model
from esgen.dsl import typerules as tr
from esgen.dsl.constants import constant_problem
from esgen.dsl.hints import did_you_mean
from esgen.dsl.limits import MAX_EXPRESSION_DEPTH, MAX_EXPRESSION_LENGTH, too_deep
from esgen.dsl.typerules import describe
from esgen.dsl.yamlnodes import Scalar
from esgen.errors import DefinitionError, Location, quote

FUNCTIONS: tuple[str, ...] = get_args(model.FunctionName)  # the model's list, not a copy
MAX_DECIMAL_SCALE = 38  # what ``unscaled`` accepts: the largest precision a decimal has
META: dict[str, model.TypeRef] = {
    "entity_id": tr.STRING,
    "version": model.OptionalType(tr.LONG),
    "timestamp": model.OptionalType(model.Logical("timestamp-millis")),
    "event_id": model.OptionalType(model.Logical("uuid")),
    "correlation_id": model.OptionalType(tr.STRING),
    "causation_id": model.OptionalType(tr.STRING),
}
# What ``decide`` sees as ``meta`` (a ``CommandMeta``): all known when a command is decided.
COMMAND_META: dict[str, model.TypeRef] = {
    "entity_id": META["entity_id"],
    "version": tr.LONG,
    "command_id": tr.STRING,
    "timestamp": model.Logical("timestamp-millis"),
}
ROOTS = ("command", "event", "state", "meta")
_LITERALS = {"true": True, "false": False, "null": None}
_PY_LITERALS = {True: "true", False: "false", None: "null"}
_BINARY: dict[type[ast.operator], model.BinaryOp] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
}
_COMPARE: dict[type[ast.cmpop], model.CompareOp] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}
# What the user wrote, for constructs outside the allow-list.
_FORBIDDEN: dict[type[ast.AST], str] = {
    ast.Subscript: "indexing ('x[...]')",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "generator expressions",
    ast.JoinedStr: "f-strings",
    ast.NamedExpr: "':=' (assignment expressions)",
    ast.Starred: "'*' unpacking",
    ast.List: "list literals",
    ast.Tuple: "tuples",
    ast.Dict: "dict literals",
    ast.Set: "set literals",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slices",
    ast.Pow: "'**'",
    ast.MatMult: "'@'",
    ast.BitAnd: "'&'",
    ast.BitOr: "'|'",
    ast.BitXor: "'^'",
    ast.LShift: "'<<'",
    ast.RShift: "'>>'",
    ast.Invert: "'~'",
    ast.Is: "'is'",
    ast.IsNot: "'is not'",
}
_FORBIDDEN_HINTS: dict[type[ast.AST], str] = {
    ast.Is: "use '=='",
    ast.IsNot: "use '!='",
    ast.BitAnd: "use 'and'",
    ast.BitOr: "use 'or'",
    ast.Invert: "use 'not'",
}


@dataclass(frozen=True)
class Record:
    """What an expression can see of a record: its name and field types."""

    name: str
    fields: Mapping[str, model.TypeRef | None]  # None: a field whose type is broken


@dataclass(frozen=True)
class Scope:
    state: Record | None  # None: no ``state`` (upcasts read the old event alone)
    event: Record | None  # None: no ``event`` (invariants)
    meta: bool  # may ``meta.*`` be used?
    records: Mapping[str, Record]  # full name -> record, for dotted paths
    enums: Mapping[str, tuple[str, ...]]  # full name -> symbols
    short: Mapping[str, str]  # short name -> full name, as this file sees them
    where: str  # "invariants" / "fold steps" / "commands": what a forbidden root is refused in
    command: Record | None = None  # the command being decided (commands only)
    meta_fields: Mapping[str, model.TypeRef] | None = None  # None: an event's ``META``
    key_type: model.TypeRef = tr.STRING  # the type of ``meta.entity_id``: the key field's

    def roots(self) -> tuple[str, ...]:
        """The names an expression of this scope may start with."""
        return tuple(
            root
            for root, seen in zip(
                ROOTS, (self.command, self.event, self.state, self.meta), strict=True
            )
            if seen
        )


class ExprError(Exception):
    def __init__(self, message: str, node: ast.AST | None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.node = node
        self.hint = hint


class _Broken(Exception):
    """The expression reads a field whose type was already reported as wrong."""


# Lookups derived from a scope's mappings, built once per mapping (the last one asked for:
# every scope of a project shares one ``enums``, every scope of a file one ``short``), so
# that hints in a project of thousands of names stay linear.
_owners_cache: list[tuple[Mapping[str, tuple[str, ...]], dict[str, str]]] = []
_short_cache: list[tuple[Mapping[str, str], _ShortLookups]] = []


def _symbol_owners(enums: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """Enum symbol -> the first enum that has it."""
    if not _owners_cache or _owners_cache[0][0] is not enums:
        owners: dict[str, str] = {}
        for full, symbols in enums.items():
            for symbol in symbols:
                owners.setdefault(symbol, full)
        _owners_cache[:] = [(enums, owners)]
    return _owners_cache[0][1]


@dataclass(frozen=True)
class _ShortLookups:
    short_of: dict[str, str]  # full name -> the first short name this file gives it
    roots: tuple[str, ...]  # what a dotted name may start with: roots and enum short names


def _short_lookups(
    short: Mapping[str, str], enums: Mapping[str, tuple[str, ...]]
) -> _ShortLookups:
    if not _short_cache or _short_cache[0][0] is not short:
        short_of: dict[str, str] = {}
        for name, full in short.items():
            short_of.setdefault(full, name)
        roots = ("event", "state", "meta", *(s for s, f in short.items() if f in enums))
        _short_cache[:] = [(short, _ShortLookups(short_of, roots))]
    return _short_cache[0][1]


@functools.lru_cache(maxsize=4)
def _lines(file_text: str) -> list[str]:
    """The file's lines, split once per file (str caches its hash, so lookups are cheap)."""
    return file_text.splitlines()


class SourceMap:
    """AST positions -> file positions.

    Exact for single-line plain scalars. Quoted single-line scalars shift by the opening
    quote (escapes inside are not accounted for). Literal blocks (``|``) map line by line
    using the indentation found in the file. Other multi-line scalars are folded by YAML
    into one line, so their positions fall back to the scalar's start.
    """

    def __init__(self, scalar: Scalar, file_text: str) -> None:
        self.scalar = scalar
        self.lines = _lines(file_text)

    def location(self, line_index: int, column: int) -> Location:
        start = self.scalar.location
        style = self.scalar.style
        if style == "|":
            line = start.line + 1 + line_index
            text = self.lines[line - 1] if line <= len(self.lines) else ""
            indent = len(text) - len(text.lstrip(" "))
            return Location(start.path, line, indent + column + 1)
        if style == ">" or (style is None and self.scalar.end_line > start.line):
            return start
        shift = 1 if style in ("'", '"') else 0
        return Location(start.path, start.line, start.column + shift + column)


def parse_expression(
    scalar: Scalar,
    file_text: str,
    scope: Scope,
    expected: model.TypeRef | None = None,
    what: str = "expression",
) -> model.Expression | DefinitionError | None:
    """Parse and type-check one expression; an error comes back as a value.

    None means the expression depends on something already reported as broken.
    """
    source = scalar.text
    smap = SourceMap(scalar, file_text)
    # Newlines become spaces (same length) so the parser sees one line; ``lead`` is the
    # indentation ast.parse refuses. Offsets into ``flat`` map back through ``source``.
    flat = source.replace("\n", " ")
    body = flat.lstrip()
    lead = len(flat) - len(body)

    def flat_locate(offset: int) -> Location:
        before = source[:offset]
        line_index = before.count("\n")
        return smap.location(line_index, offset - (before.rfind("\n") + 1))

    def locate(lineno: int, col_offset: int) -> Location:
        # col_offset counts UTF-8 bytes; lineno is always 1 for the flattened text
        chars = len(body.encode()[:col_offset].decode(errors="ignore"))
        return flat_locate(lead + chars)

    if not body.strip():
        return DefinitionError(f"{what}: empty expression", scalar.location)
    if len(body) > MAX_EXPRESSION_LENGTH:
        return DefinitionError(
            f"{what}: the expression is {len(body)} characters long "
            f"(limit {MAX_EXPRESSION_LENGTH})",
            scalar.location,
            "split it over several fold steps, or use 'call'",
        )
    try:
        tree, deep = _parsed(body)
    except SyntaxError as exc:
        offset = lead + max((exc.offset or 1) - 1, 0)
        return DefinitionError(
            f"{what}: invalid expression {quote(source.strip())}: {exc.msg}",
            flat_locate(min(offset, len(source))),
        )
    except (RecursionError, MemoryError):  # Python's parser has limits of its own
        return DefinitionError(
            f"{what}: {too_deep('the expression', MAX_EXPRESSION_DEPTH)}", scalar.location
        )
    if deep is not None:
        return DefinitionError(
            f"{what}: {too_deep('the expression', MAX_EXPRESSION_DEPTH)}",
            _node_location(deep, locate, scalar),
        )
    checker = _Checker(scope, lambda n: _node_location(n, locate, scalar), body)
    try:
        expr = checker.check(tree.body, expected)
    except _Broken:
        return None
    except ExprError as exc:
        location = _node_location(exc.node, locate, scalar) if exc.node else scalar.location
        return DefinitionError(f"{what}: {exc.message}", location, exc.hint)
    checked = model.Expression(source.strip(), expr, flat_locate(lead))
    problem = constant_problem(checked, expected)
    if problem is not None:
        return DefinitionError(f"{what}: {problem.message}", problem.location)
    return checked


@functools.lru_cache(maxsize=4096)
def _parsed(body: str) -> tuple[ast.Expression, ast.AST | None]:
    """The tree of an expression's text and its first node nested too deep, parsed once
    per text: definitions repeat the same expressions (``event.amount``) many times, and
    the checker only reads the tree."""
    tree = ast.parse(body, mode="eval")
    return tree, _too_deep(tree.body)


def _too_deep(root: ast.expr) -> ast.AST | None:
    """The first node nested deeper than MAX_EXPRESSION_DEPTH expressions (iteratively)."""
    stack: list[tuple[ast.AST, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_EXPRESSION_DEPTH:
            return node
        for child in ast.iter_child_nodes(node):
            stack.append((child, depth + isinstance(child, ast.expr)))
    return None


def _node_location(
    node: ast.AST, locate: Callable[[int, int], Location], scalar: Scalar
) -> Location:
    lineno = getattr(node, "lineno", None)
    col = getattr(node, "col_offset", None)
    if lineno is None or col is None:
        return scalar.location
    return locate(lineno, col)


class _Checker:
    def __init__(self, scope: Scope, locate: Callable[[ast.AST], Location], source: str) -> None:
        self.scope = scope
        self.loc = locate
        self.source = source  # the text ``ast.parse`` saw

    def written(self, node: ast.AST) -> str:
        """A part of the expression as the user wrote it, quoted for a message."""
        return quote(ast.get_source_segment(self.source, node) or ast.unparse(node))

    # ----------------------------------------------------------------- dispatch
    def check(self, node: ast.expr, expected: model.TypeRef | None = None) -> model.Expr:
        for kind, name in _FORBIDDEN.items():
            if isinstance(node, kind):
                raise ExprError(
                    f"{name} are not allowed in expressions"
                    if name.endswith("s") and not name.startswith("'")
                    else f"{name} is not allowed in expressions",
                    node,
                    _FORBIDDEN_HINTS.get(kind),
                )
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise ExprError(f"{self.written(node)} is not allowed in expressions", node)
        return cast(model.Expr, method(node, expected))

    def _Constant(self, node: ast.Constant, expected: model.TypeRef | None) -> model.Expr:
        value = node.value
        loc = self.loc(node)
        if value is None or isinstance(value, bool):
            word = _PY_LITERALS[value]
            raise ExprError(f"'{value}' is Python spelling", node, f"write '{word}'")
        if isinstance(value, int):
            if not -(2**63) <= value < 2**63:
                raise ExprError(f"the number {value} does not fit in a long", node)
            kind = tr.INT if -(2**31) <= value < 2**31 else tr.LONG
            return model.Literal_(value, kind, loc)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ExprError(
                    f"the number {self.written(node)} is beyond the range of a double "
                    "(it would be infinity)",
                    node,
                )
            return model.Literal_(value, tr.DOUBLE, loc)
        if isinstance(value, str):
            return model.Literal_(value, tr.STRING, loc)
        raise ExprError(f"the literal {ast.unparse(node)} is not allowed in expressions", node)

    def _Name(self, node: ast.Name, expected: model.TypeRef | None) -> model.Expr:
        name = node.id
        loc = self.loc(node)
        if name in _LITERALS:
            value = _LITERALS[name]
            return model.Literal_(value, tr.NULL if value is None else tr.BOOLEAN, loc)
        if name in ROOTS:
            self._root_allowed(name, node)
            raise ExprError(
                f"{quote(name)} alone is not a value; name a field, e.g. '{name}.x'", node
            )
        enum = self._enum_of(expected)
        if enum is not None:
            return self._symbol(enum, name, node)
        if name.startswith("__"):
            raise ExprError(f"the name {quote(name)} is not allowed in expressions", node)
        if name in FUNCTIONS:
            raise ExprError(f"{quote(name)} is a function; call it: '{name}(...)'", node)
        owner = _symbol_owners(self.scope.enums).get(name)
        if owner is not None:
            short = self._short_name(owner)
            raise ExprError(
                f"unknown name {quote(name)}: a bare enum symbol is only understood "
                "where an enum is expected",
                node,
                f"write '{short}.{name}'",
            )
        raise ExprError(
            f"unknown name {quote(name)}",
            node,
            did_you_mean(name, [*self._known_roots(), *_LITERALS]),
        )

    def _Attribute(self, node: ast.Attribute, expected: model.TypeRef | None) -> model.Expr:
        parts: list[str] = []
        current: ast.expr = node
        while isinstance(current, ast.Attribute):
            parts.append(current.attr)
            current = current.value
        if not isinstance(current, ast.Name):
            raise ExprError(
                "attributes are only allowed on 'event', 'state', 'meta' and enum names", node
            )
        parts.append(current.id)
        parts.reverse()
        for part in parts:
            if part.startswith("__"):
                raise ExprError(f"the name {quote(part)} is not allowed in expressions", node)
        root = parts[0]
        if root in ROOTS:
            return self._ref(root, tuple(parts[1:]), node, current)
        enum_name = ".".join(parts[:-1])
        full = self.scope.short.get(enum_name, enum_name)
        if full in self.scope.enums:
            return self._symbol(full, parts[-1], node)
        raise ExprError(
            f"unknown name {quote(enum_name)}",
            current,
            did_you_mean(
                root,
                [*self._known_roots(), *_short_lookups(self.scope.short, self.scope.enums).roots],
            ),
        )

    def _UnaryOp(self, node: ast.UnaryOp, expected: model.TypeRef | None) -> model.Expr:
        if isinstance(node.op, ast.Not):
            operand = self._boolean(node.operand, "'not'")
            return model.Unary("not", operand, tr.BOOLEAN, self.loc(node))
        if isinstance(node.op, ast.USub | ast.UAdd):
            operand = self.check(node.operand)
            self._number(operand, node.operand, "unary '-'")
            op: model.Unary = model.Unary(
                "-" if isinstance(node.op, ast.USub) else "+",
                operand,
                operand.type,
                self.loc(node),
            )
            return op
        raise ExprError(
            f"{_FORBIDDEN.get(type(node.op), 'this operator')} is not allowed in expressions",
            node,
            _FORBIDDEN_HINTS.get(type(node.op)),
        )

    def _BinOp(self, node: ast.BinOp, expected: model.TypeRef | None) -> model.Expr:
        op = _BINARY.get(type(node.op))
        if op is None:
            raise ExprError(
                f"{_FORBIDDEN.get(type(node.op), 'this operator')} is not allowed in expressions",
                node,
                _FORBIDDEN_HINTS.get(type(node.op)),
            )
        left = self.check(node.left)
        right = self.check(node.right)
        if op == "+" and left.type == tr.STRING and right.type == tr.STRING:
            return model.Binary(op, left, right, tr.STRING, self.loc(node))
        self._number(left, node.left, f"'{op}'")
        self._number(right, node.right, f"'{op}'")
        result = tr.promote(left.type, right.type)
        if result is None:
            raise ExprError(
                f"cannot mix {describe(left.type)} and {describe(right.type)} in '{op}'",
                node,
                "decimals never mix with float or double; use a decimal or an integer",
            )
        if op == "/" and not isinstance(result, model.DecimalType):
            result = tr.DOUBLE
        elif op in ("//", "%") and tr.is_integer(result):
            result = tr.LONG
        return model.Binary(op, left, right, result, self.loc(node))

    def _BoolOp(self, node: ast.BoolOp, expected: model.TypeRef | None) -> model.Expr:
        word: Literal["and", "or"] = "and" if isinstance(node.op, ast.And) else "or"
        values = tuple(self._boolean(v, f"'{word}'") for v in node.values)
        return model.BoolOp(word, values, tr.BOOLEAN, self.loc(node))

    def _IfExp(self, node: ast.IfExp, expected: model.TypeRef | None) -> model.Expr:
        condition = self._boolean(node.test, "the condition of 'if'")
        then, otherwise = self._pair(node.body, node.orelse, expected)
        result = tr.unify(then.type, otherwise.type)
        if result is None:
            raise ExprError(
                f"the branches of 'if' have different types: "
                f"{describe(then.type)} and {describe(otherwise.type)}",
                node,
            )
        return model.IfElse(condition, then, otherwise, result, self.loc(node))

    def _Compare(self, node: ast.Compare, expected: model.TypeRef | None) -> model.Expr:
        operands = [node.left, *node.comparators]
        ops: list[model.CompareOp] = []
        for cmp in node.ops:
            op = _COMPARE.get(type(cmp))
            if op is None:
                raise ExprError(
                    f"{_FORBIDDEN.get(type(cmp), 'this operator')} is not allowed in expressions",
                    node,
                    _FORBIDDEN_HINTS.get(type(cmp)),
                )
            ops.append(op)
        checked: list[model.Expr | None] = [None] * len(operands)
        for i, op in enumerate(ops):
            a, b = operands[i], operands[i + 1]
            if op in ("in", "not in"):
                right = checked[i + 1] or self.check(b)
                left = checked[i] or self.check(a, self._in_item_type(right.type))
                self._check_in(left, right, op, a, b)
            else:
                left, right = self._pair(a, b, None, checked[i], checked[i + 1])
                self._check_compare(left, right, op, node)
            checked[i], checked[i + 1] = left, right
        first, *rest = (c for c in checked if c is not None)
        return model.Compare(first, tuple(ops), tuple(rest), tr.BOOLEAN, self.loc(node))

    def _Call(self, node: ast.Call, expected: model.TypeRef | None) -> model.Expr:
        if isinstance(node.func, ast.Attribute):
            raise ExprError(
                "method calls are not allowed; only the functions " + ", ".join(FUNCTIONS), node
            )
        if not isinstance(node.func, ast.Name):
            self.check(node.func)  # reports lambdas and the like by name
            raise ExprError("only the functions " + ", ".join(FUNCTIONS) + " can be called", node)
        name = node.func.id
        if name not in FUNCTIONS:
            raise ExprError(
                f"unknown function {quote(name)}", node.func, did_you_mean(name, FUNCTIONS)
            )
        if node.keywords:
            raise ExprError(f"{quote(name)} takes no keyword arguments", node.keywords[0])
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise ExprError("'*' unpacking is not allowed in expressions", arg)
        function = cast(model.FunctionName, name)
        args, result = getattr(self, "_fn_" + name)(node, expected)
        return model.Call(function, tuple(args), result, self.loc(node))

    # ---------------------------------------------------------------- functions
    def _arity(self, node: ast.Call, low: int, high: int | None) -> None:
        n = len(node.args)
        name = cast(ast.Name, node.func).id
        if n < low or (high is not None and n > high):
            want = (
                str(low)
                if low == high
                else f"at least {low}"
                if high is None
                else f"{low} to {high}"
            )
            raise ExprError(
                f"{quote(name)} takes {want} argument{'s' if want != '1' else ''}, got {n}", node
            )

    def _fn_len(
        self, node: ast.Call, expected: model.TypeRef | None
    ) -> tuple[list[model.Expr], model.TypeRef]:
        self._arity(node, 1, 1)
        arg = self.check(node.args[0])
        self._not_optional(arg, node.args[0], "'len'")
        if not (
            isinstance(arg.type, model.ArrayType | model.MapType)
            or arg.type in (tr.STRING, model.Primitive("bytes"))
        ):
            raise ExprError(
                f"'len' needs a string, bytes, array or map, not {describe(arg.type)}",
                node.args[0],
            )
        return [arg], tr.LONG

    def _fn_abs(
        self, node: ast.Call, expected: model.TypeRef | None
    ) -> tuple[list[model.Expr], model.TypeRef]:
        self._arity(node, 1, 1)
        arg = self.check(node.args[0])
        self._number(arg, node.args[0], "'abs'")
        return [arg], arg.type

    def _fn_min(
        self, node: ast.Call, expected: model.TypeRef | None
    ) -> tuple[list[model.Expr], model.TypeRef]:
        self._arity(node, 2, None)
        name = cast(ast.Name, node.func).id
        args = [self.check(a) for a in node.args]
        result: model.TypeRef | None = None
        for arg, raw in zip(args, node.args, strict=True):
            self._number(arg, raw, f"{quote(name)}")
            result = arg.type if result is None else tr.promote(result, arg.type)
            if result is None:
                raise ExprError(f"{quote(name)} cannot mix decimals with float or double", raw)
        assert result is not None
        return args, result

    _fn_max = _fn_min

    def _fn_lower(
        self, node: ast.Call, expected: model.TypeRef | None
    ) -> tuple[list[model.Expr], model.TypeRef]:
        self._arity(node, 1, 1)
        arg = self.check(node.args[0])
        name = cast(ast.Name, node.func).id
        self._not_optional(arg, node.args[0], f"{quote(name)}")
        if arg.type != tr.STRING:
            raise ExprError(
                f"{quote(name)} needs a string, not {describe(arg.type)}", node.args[0]
            )
        return [arg], tr.STRING

    _fn_upper = _fn_lower

    def _fn_coalesce(
        self, node: ast.Call, expected: model.TypeRef | None
    ) -> tuple[list[model.Expr], model.TypeRef]:
        self._arity(node, 2, None)
        hint = self._enum_of(expected)
        pending = [a for a in node.args if not self._bare_name(a)]
        known = {id(a): self.check(a) for a in pending}
        if hint is None:
            hint = next(
                (self._enum_of(e.type) for e in known.values() if self._enum_of(e.type)), None
            )
        enum_type = model.NamedRef(hint) if hint else expected
        args = [known.get(id(a)) or self.check(a, enum_type) for a in node.args]
        for arg, raw in zip(args[:-1], node.args[:-1], strict=True):
            if not tr.is_optional(arg.type):
                raise ExprError(
                    f"{self.written(raw)} is never null, so the arguments after it are never used",
                    raw,
                    "put it last",
                )
        result: model.TypeRef | None = args[0].type
        for arg, raw in zip(args[1:], node.args[1:], strict=True):
            assert result is not None
            result = tr.unify(tr.strip_optional(result), arg.type)
            if result is None:
                raise ExprError(
                    f"'coalesce' arguments have different types: "
                    f"{describe(args[0].type)} and {describe(arg.type)}",
                    raw,
                )
        assert result is not None
        if isinstance(result, model.NullType):
            raise ExprError("'coalesce' of nulls only is always null", node)
        return args, result

    def _fn_unscaled(
        self, node: ast.Call, expected: model.TypeRef | None
    ) -> tuple[list[model.Expr], model.TypeRef]:
        """``unscaled(n, s)``: the decimal whose unscaled value is the integer ``n`` at
        scale ``s`` (``unscaled(1234, 2)`` is 12.34), exact; ``s`` is a constant."""
        self._arity(node, 2, 2)
        number, scale = self.check(node.args[0]), self.check(node.args[1])
        self._not_optional(number, node.args[0], "'unscaled'")
        if not tr.is_integer(number.type):
            raise ExprError(
                f"'unscaled' needs an int or long (e.g. an amount in cents), not "
                f"{describe(number.type)}",
                node.args[0],
            )
        value = scale.value if isinstance(scale, model.Literal_) else None
        if type(value) is not int or not 0 <= value <= MAX_DECIMAL_SCALE:
            raise ExprError(
                f"the scale of 'unscaled' is a whole number from 0 to {MAX_DECIMAL_SCALE}, "
                f"not {self.written(node.args[1])}",
                node.args[1],
                "write it as a number, e.g. unscaled(event.amount_cents, 2)",
            )
        return [number, scale], model.DecimalType(MAX_DECIMAL_SCALE, value)

    def _fn_before(
        self, node: ast.Call, expected: model.TypeRef | None
    ) -> tuple[list[model.Expr], model.TypeRef]:
        """``before(s, sep)``: the text before the first ``sep`` (all of it without one);
        ``after(s, sep)``: the text after it ("" without one). ``sep`` is a constant."""
        self._arity(node, 2, 2)
        name = cast(ast.Name, node.func).id
        text, separator = self.check(node.args[0]), self.check(node.args[1])
        self._not_optional(text, node.args[0], quote(name))
        if text.type != tr.STRING:
            raise ExprError(
                f"{quote(name)} needs a string, not {describe(text.type)}", node.args[0]
            )
        value = separator.value if isinstance(separator, model.Literal_) else None
        if not isinstance(value, str) or not value:
            raise ExprError(
                f"the separator of {quote(name)} is a non-empty quoted string, not "
                f"{self.written(node.args[1])}",
                node.args[1],
                f"e.g. {name}(event.full_name, ' ')",
            )
        return [text, separator], tr.STRING

    _fn_after = _fn_before

    def _fn_to_long(
        self, node: ast.Call, expected: model.TypeRef | None
    ) -> tuple[list[model.Expr], model.TypeRef]:
        """``to_long(x)``: a decimal, float or double as a long, toward zero."""
        self._arity(node, 1, 1)
        arg = self.check(node.args[0])
        self._number(arg, node.args[0], "'to_long'")
        if tr.is_integer(arg.type):
            raise ExprError(
                f"{self.written(node.args[0])} is already {describe(arg.type)}",
                node.args[0],
                "drop 'to_long': an int is assignable to a long",
            )
        return [arg], tr.LONG

    def _fn_to_string(
        self, node: ast.Call, expected: model.TypeRef | None
    ) -> tuple[list[model.Expr], model.TypeRef]:
        """``to_string(x)``: an int, long or decimal in plain digits (no exponent), a uuid
        in its canonical form, an enum's symbol."""
        self._arity(node, 1, 1)
        arg = self.check(node.args[0])
        self._not_optional(arg, node.args[0], "'to_string'")
        kind = arg.type
        if not (
            tr.is_integer(kind)
            or isinstance(kind, model.DecimalType)
            or kind == model.Logical("uuid")
            or (isinstance(kind, model.NamedRef) and kind.full_name in self.scope.enums)
        ):
            raise ExprError(
                f"'to_string' needs an int, long, decimal, uuid or enum, not {describe(kind)}",
                node.args[0],
            )
        return [arg], tr.STRING

    # ------------------------------------------------------------------ helpers
    def _known_roots(self) -> list[str]:
        """Roots to suggest for a misspelt one: the fold's, plus 'command' in commands."""
        return ["event", "state", "meta", *(["command"] if self.scope.command else [])]

    def _root_allowed(self, root: str, node: ast.AST) -> None:
        roots = self.scope.roots()
        if root in roots:
            return
        seen = " and ".join(", ".join(f"'{r}'" for r in roots).rsplit(", ", 1))
        raise ExprError(
            f"'{root}' cannot be used in {self.scope.where}",
            node,
            f"{self.scope.where} see {'only ' if len(roots) == 1 else ''}{seen}",
        )

    def _ref(
        self, root: str, path: tuple[str, ...], node: ast.AST, root_node: ast.AST
    ) -> model.Expr:
        self._root_allowed(root, root_node)
        loc = self.loc(node)
        if root == "meta":
            fields = META if self.scope.meta_fields is None else self.scope.meta_fields
            if len(path) != 1 or path[0] not in fields:
                raise ExprError(
                    f"unknown metadata 'meta.{'.'.join(path)}'",
                    node,
                    did_you_mean(path[0], fields),
                )
            meta_type = self.scope.key_type if path[0] == "entity_id" else fields[path[0]]
            return model.Ref("meta", path, meta_type, loc)
        record = {"event": self.scope.event, "command": self.scope.command}.get(
            root, self.scope.state
        )
        assert record is not None
        t: model.TypeRef | None = None
        for depth, name in enumerate(path):
            if name not in record.fields:
                where = ".".join((root, *path[:depth]))
                raise ExprError(
                    f"{quote(where)} ({record.name}) has no field {quote(name)}",
                    node,
                    did_you_mean(name, record.fields),
                )
            t = record.fields[name]
            if t is None:
                raise _Broken
            if depth + 1 < len(path):
                dotted = ".".join((root, *path[: depth + 1]))
                inner = tr.strip_optional(t)
                if isinstance(inner, model.NamedRef) and inner.full_name in self.scope.records:
                    if isinstance(t, model.OptionalType):
                        raise ExprError(
                            f"{quote(dotted)} may be null, so it has no fields to read",
                            node,
                            f"test '{dotted} != null' in 'when' first",
                        )
                    record = self.scope.records[inner.full_name]
                    continue
                raise ExprError(f"{quote(dotted)} is {describe(t)} and has no fields", node)
        assert t is not None
        return model.Ref(cast(Literal["event", "state", "command"], root), path, t, loc)

    def _enum_of(self, t: model.TypeRef | None) -> str | None:
        if t is None:
            return None
        inner = tr.strip_optional(t)
        if isinstance(inner, model.ArrayType):
            return None
        if isinstance(inner, model.NamedRef) and inner.full_name in self.scope.enums:
            return inner.full_name
        return None

    def _symbol(self, enum: str, symbol: str, node: ast.AST) -> model.Expr:
        symbols = self.scope.enums[enum]
        if symbol not in symbols:
            raise ExprError(
                f"{quote(symbol)} is not a symbol of the enum {quote(enum)}",
                node,
                did_you_mean(symbol, symbols),
            )
        return model.EnumSymbol(enum, symbol, model.NamedRef(enum), self.loc(node))

    def _short_name(self, full: str) -> str:
        return _short_lookups(self.scope.short, self.scope.enums).short_of.get(full, full)

    @staticmethod
    def _bare_name(node: ast.expr) -> bool:
        return isinstance(node, ast.Name) and node.id not in _LITERALS and node.id not in ROOTS

    def _pair(
        self,
        a: ast.expr,
        b: ast.expr,
        expected: model.TypeRef | None,
        left: model.Expr | None = None,
        right: model.Expr | None = None,
    ) -> tuple[model.Expr, model.Expr]:
        """Check two operands; a bare enum symbol takes its enum from the other side."""
        if left is None and self._bare_name(a) and (right is not None or not self._bare_name(b)):
            right = right or self.check(b, expected)
            return self.check(a, self._enum_type(right.type, expected)), right
        left = left or self.check(a, expected)
        right = right or self.check(b, self._enum_type(left.type, expected))
        return left, right

    def _enum_type(self, t: model.TypeRef, fallback: model.TypeRef | None) -> model.TypeRef | None:
        enum = self._enum_of(t)
        return model.NamedRef(enum) if enum else fallback

    def _in_item_type(self, container: model.TypeRef) -> model.TypeRef | None:
        if isinstance(container, model.ArrayType):
            return container.items
        return None

    def _boolean(self, node: ast.expr, what: str) -> model.Expr:
        expr = self.check(node)
        if expr.type != tr.BOOLEAN:
            extra = " (it may be null)" if tr.strip_optional(expr.type) == tr.BOOLEAN else ""
            raise ExprError(
                f"{what} needs a boolean, not {describe(expr.type)}{extra}",
                node,
                "wrap it in coalesce(..., false)" if extra else None,
            )
        return expr

    def _not_optional(self, expr: model.Expr, node: ast.expr, what: str) -> None:
        if tr.is_optional(expr.type):
            raise ExprError(
                f"{self.written(node)} may be null ({describe(expr.type)}); "
                f"wrap it in coalesce(..., default) before {what}",
                node,
            )

    def _number(self, expr: model.Expr, node: ast.expr, what: str) -> None:
        self._not_optional(expr, node, what)
        if not tr.is_number(expr.type):
            raise ExprError(
                f"{what} needs numbers, but {self.written(node)} is {describe(expr.type)}", node
            )

    def _check_compare(
        self, left: model.Expr, right: model.Expr, op: str, node: ast.Compare
    ) -> None:
        if op in ("==", "!="):
            if not tr.comparable(left.type, right.type):
                if isinstance(right.type, model.NullType) or isinstance(left.type, model.NullType):
                    raise ExprError(
                        f"'{op} null' is always "
                        f"{'false' if op == '==' else 'true'} here: the other side "
                        "is never null",
                        node,
                    )
                raise ExprError(
                    f"cannot compare {describe(left.type)} with {describe(right.type)}",
                    node,
                    self._mix_hint(left, right),
                )
            return
        for side in (left, right):
            if tr.is_optional(side.type):
                raise ExprError(
                    f"a value that may be null ({describe(side.type)}) cannot be "
                    f"ordered with '{op}'",
                    node,
                    "wrap it in coalesce(..., default)",
                )
            if self._enum_of(side.type):
                raise ExprError(
                    f"enum values have no order; compare them with '==', '!=' or 'in', not '{op}'",
                    node,
                )
        orderable = (
            tr.is_number(left.type)
            or left.type == tr.STRING
            or (isinstance(left.type, model.Logical) and left.type.name != "uuid")
        )
        if not orderable or tr.unify(left.type, right.type) is None:
            raise ExprError(
                f"cannot order {describe(left.type)} and {describe(right.type)} with '{op}'",
                node,
                self._mix_hint(left, right),
            )

    @staticmethod
    def _mix_hint(left: model.Expr, right: model.Expr) -> str | None:
        types = (left.type, right.type)
        if any(isinstance(t, model.DecimalType) for t in types) and any(
            tr.is_floating(t) for t in types
        ):
            return "decimals never mix with float or double"
        return None

    def _check_in(
        self, left: model.Expr, right: model.Expr, op: str, a: ast.expr, b: ast.expr
    ) -> None:
        self._not_optional(right, b, f"'{op}'")
        container = right.type
        if isinstance(container, model.ArrayType):
            if not tr.comparable(left.type, container.items):
                raise ExprError(
                    f"'{op}' an {describe(container)} needs a "
                    f"{describe(container.items)}, not {describe(left.type)}",
                    a,
                )
            return
        if isinstance(container, model.MapType) or container == tr.STRING:
            if left.type != tr.STRING:
                what = "key" if isinstance(container, model.MapType) else "substring"
                raise ExprError(
                    f"'{op}' a {describe(container)} needs a string {what}, not "
                    f"{describe(left.type)}",
                    a,
                )
            return
        raise ExprError(
            f"'{op}' needs an array, map or string on the right, not {describe(container)}", b
        )
