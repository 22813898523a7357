"""Typed expression trees -> Python expressions (:mod:`esgen.codegen.pycode`).

The DSL has already checked every expression, so rendering is mechanical; the only
decisions are parentheses (by Python precedence), numeric conversions the checker
allowed (an int where a Decimal is expected) and ``coalesce``. Every name and literal goes
through :mod:`esgen.codegen.source`.
"""

from __future__ import annotations

from esgen.codegen import pycode as py
from esgen.codegen.pycode import number, uses_math
from esgen.codegen.pytypes import PyTypes
from esgen.codegen.source import Code, code, identifier, string
from esgen.model import (
    Binary,
    BoolOp,
    Call,
    Compare,
    DecimalType,
    EnumSymbol,
    Expr,
    IfElse,
    Literal_,
    NullType,
    OptionalType,
    Primitive,
    Ref,
    TypeRef,
    Unary,
)

# Python operator precedence, lowest first (the parts expressions can produce).
_IF = 1
_OR = 2
_AND = 3
_NOT = 4
_COMPARE = 5
_ADD = 10
_MUL = 11
_UNARY = 12
_ATOM = 16
_BINARY_PRECEDENCE = {"+": _ADD, "-": _ADD, "*": _MUL, "/": _MUL, "//": _MUL, "%": _MUL}
_FLOATS = ("float", "double")
# Single comparisons whose negation is another operator (exactly, for every type).
_NEGATED = {"==": "!=", "!=": "==", "in": "not in", "not in": "in", "is": "is not"}
_NEGATED["is not"] = "is"
_INTS = ("int", "long")


def is_decimal(t: TypeRef) -> bool:
    return isinstance(t, DecimalType)


def is_int(t: TypeRef) -> bool:
    return isinstance(t, Primitive) and t.name in _INTS


def is_float(t: TypeRef) -> bool:
    return isinstance(t, Primitive) and t.name in _FLOATS


def max_scale(expr: Expr) -> int | None:
    """The largest decimal scale ``expr`` can produce, or None when unbounded.

    Sums keep the larger scale of their operands; products and quotients do not, so
    their results must be quantized before they are stored in a decimal field.
    """
    if is_int(expr.type):
        return 0
    if isinstance(expr, Literal_) and isinstance(expr.value, int):
        return 0
    if isinstance(expr, Ref) and isinstance(expr.type, DecimalType):
        return expr.type.scale
    if isinstance(expr, Ref) and isinstance(expr.type, OptionalType):
        inner = expr.type.inner
        return inner.scale if isinstance(inner, DecimalType) else None
    if isinstance(expr, Binary) and expr.op in ("+", "-"):
        left, right = max_scale(expr.left), max_scale(expr.right)
        return None if left is None or right is None else max(left, right)
    if isinstance(expr, Unary):
        return max_scale(expr.operand)
    parts: tuple[Expr, ...] = ()
    if isinstance(expr, Call) and expr.function in ("abs", "min", "max", "coalesce"):
        parts = expr.args
    elif isinstance(expr, IfElse):
        parts = (expr.then, expr.otherwise)
    scales = [max_scale(p) for p in parts]
    if not parts or any(s is None for s in scales):
        return None
    return max(s for s in scales if s is not None)


def quantum_name(scale: int) -> Code:
    """Module constant holding ``Decimal("1e-<scale>")`` for quantizing."""
    return code(f"_SCALE_{scale}")


def reference(expr: Ref) -> py.Atom:
    """``state.address.city`` and friends."""
    return py.Atom(code(".".join([expr.root, *(identifier(p) for p in expr.path)])))


class ExpressionRenderer:
    """Renders checked expressions of one module."""

    def __init__(self, types: PyTypes) -> None:
        self.types = types
        self.scales: set[int] = set()  # decimal scales that need a quantum constant
        self._walrus = 0

    def render(self, expr: Expr) -> py.Expr:
        return self._render(expr)[0]

    def convert(self, expr: Expr, target: TypeRef) -> py.Expr:
        """``expr`` as a value of type ``target`` (the checker proved it assignable)."""
        if isinstance(target, OptionalType) and not isinstance(expr.type, NullType | OptionalType):
            target = target.inner
        if isinstance(target, DecimalType) and is_int(expr.type):
            self.types.modules.add("decimal")
            return py.Call(py.Atom(code("decimal.Decimal")), (self.render(expr),))
        if isinstance(target, DecimalType):
            scale = max_scale(expr)
            if scale is None or scale > target.scale:
                return self.quantize(expr, target.scale)
        return self.render(expr)

    def negation(self, expr: Expr) -> py.Expr:
        """``not expr`` (a broken invariant, a failed precondition), as plainly as Python
        allows: ``not x`` loses its ``not``, a single comparison is inverted where that is
        exact for every type (``!=`` for ``==``, ``not in`` for ``in``; never ``>=`` for
        ``<``, which differs for NaN)."""
        if isinstance(expr, Unary) and expr.op == "not":
            return self.render(expr.operand)
        condition = self.render(expr)
        if isinstance(condition, py.Compare) and len(condition.ops) == 1:
            negated = _NEGATED.get(condition.ops[0])
            if negated is not None:
                return py.Compare(condition.left, (negated,), condition.comparators)
        if isinstance(condition, py.Atom | py.Attr | py.Call):
            return py.UnaryOp("not", condition)
        return py.UnaryOp("not", py.Paren(condition))

    def operand(self, expr: Expr, op: str) -> py.Expr:
        """``expr`` as the right operand of ``op`` (parenthesized where Python needs it)."""
        return self._wrap(expr, _BINARY_PRECEDENCE[op] + 1)

    def quantize(self, expr: Expr, scale: int) -> py.Expr:
        """``(expr).quantize(_SCALE_<scale>)``."""
        self.scales.add(scale)
        self.types.modules.add("decimal")
        method = py.Attr(self._wrap(expr, _ATOM), code("quantize"))
        return py.Call(method, (py.Atom(quantum_name(scale)),))

    def _wrap(self, expr: Expr, at_least: int) -> py.Expr:
        rendered, precedence = self._render(expr)
        return rendered if precedence >= at_least else py.Paren(rendered)

    def _render(self, expr: Expr) -> tuple[py.Expr, int]:
        if isinstance(expr, Literal_):
            literal = _literal(expr.value)
            if uses_math(literal):
                self.types.modules.add("math")
            return literal, _ATOM
        if isinstance(expr, EnumSymbol):
            name = f"{self.types.class_name(expr.enum)}.{identifier(expr.symbol)}"
            return py.Atom(code(name)), _ATOM
        if isinstance(expr, Ref):
            return reference(expr), _ATOM
        if isinstance(expr, Unary):
            if expr.op == "not":
                return py.UnaryOp("not", self._wrap(expr.operand, _NOT)), _NOT
            return py.UnaryOp(expr.op, self._wrap(expr.operand, _UNARY)), _UNARY
        if isinstance(expr, Binary):
            precedence = _BINARY_PRECEDENCE[expr.op]
            left = self._wrap(expr.left, precedence)
            right = self._wrap(expr.right, precedence + 1)
            return py.BinOp(left, expr.op, right), precedence
        if isinstance(expr, Compare):
            ops: list[str] = []
            for op, comparator in zip(expr.ops, expr.comparators, strict=True):
                if isinstance(comparator, Literal_) and (
                    comparator.value is None or isinstance(comparator.value, bool)
                ):  # singletons: ``x is False`` (``== False`` is what ruff's E712 refuses)
                    ops.append("is" if op == "==" else "is not")
                else:
                    ops.append(op)
            comparators = tuple(self._wrap(c, _COMPARE + 1) for c in expr.comparators)
            left = self._wrap(expr.left, _COMPARE + 1)
            return py.Compare(left, tuple(ops), comparators), _COMPARE
        if isinstance(expr, BoolOp):
            precedence = _AND if expr.op == "and" else _OR
            values = tuple(self._wrap(v, precedence + 1) for v in expr.values)
            return py.BoolOp(expr.op, values), precedence
        if isinstance(expr, IfElse):
            then = self._wrap(expr.then, _OR)
            condition = self._wrap(expr.condition, _OR)
            otherwise = self._wrap(expr.otherwise, _IF)
            return py.IfExp(then, condition, otherwise), _IF
        if isinstance(expr, Call):
            return self._call(expr)
        raise TypeError(f"cannot render {expr!r}")

    def _call(self, expr: Call) -> tuple[py.Expr, int]:
        name = expr.function
        if name in ("lower", "upper"):
            method = py.Attr(self._wrap(expr.args[0], _ATOM), code(name))
            return py.Call(method), _ATOM
        if name == "coalesce":
            return self._coalesce(expr.args), _IF
        args: list[py.Expr] = []
        for arg in expr.args:
            if name in ("min", "max") and is_int(arg.type) and is_decimal(expr.type):
                # mypy cannot join Decimal and int (or float and int): convert the ints.
                self.types.modules.add("decimal")
                args.append(py.Call(py.Atom(code("decimal.Decimal")), (self.render(arg),)))
            elif name in ("min", "max") and is_int(arg.type) and is_float(expr.type):
                args.append(py.Call(py.Atom(code("float")), (self.render(arg),)))
            else:
                args.append(self.render(arg))
        return py.Call(py.Atom(code(name)), tuple(args)), _ATOM

    def _coalesce(self, args: tuple[Expr, ...]) -> py.Expr:
        *optional, last = args
        result = self._wrap(last, _IF)
        for arg in reversed(optional):
            if isinstance(arg, Ref):
                source = self.render(arg)
                test: py.Expr = py.Compare(source, ("is not",), (py.Atom(code("None")),))
                result = py.IfExp(source, test, result)
            else:  # evaluate once; the walrus also lets mypy narrow the type
                self._walrus += 1
                name = code(f"_c{self._walrus}")
                walrus = py.Paren(py.NamedExpr(name, self.render(arg)))
                test = py.Compare(walrus, ("is not",), (py.Atom(code("None")),))
                result = py.IfExp(py.Atom(name), test, result)
        return result


def _literal(value: object) -> py.Expr:
    if value is None:
        return py.Atom(code("None"))
    if isinstance(value, bool):
        return py.Atom(code("True" if value else "False"))
    if isinstance(value, str):
        return py.Atom(string(value))  # inside an expression: one literal, as written
    assert isinstance(value, int | float)
    return number(value)
