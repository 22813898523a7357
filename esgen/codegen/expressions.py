"""Typed expression trees -> Python source.

The DSL has already checked every expression, so rendering is mechanical; the only
decisions are parentheses (by Python precedence), numeric conversions the checker
allowed (an int where a Decimal is expected) and ``coalesce``.
"""

from __future__ import annotations

from esgen.codegen.pytypes import PyTypes, py_str
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


class ExpressionRenderer:
    """Renders checked expressions of one module."""

    def __init__(self, types: PyTypes) -> None:
        self.types = types
        self.scales: set[int] = set()  # decimal scales that need a quantum constant
        self._walrus = 0

    def render(self, expr: Expr) -> str:
        return self._render(expr)[0]

    def convert(self, expr: Expr, target: TypeRef) -> str:
        """``expr`` as a value of type ``target`` (the checker proved it assignable)."""
        if isinstance(target, OptionalType) and not isinstance(expr.type, NullType | OptionalType):
            target = target.inner
        if isinstance(target, DecimalType) and is_int(expr.type):
            self.types.modules.add("decimal")
            return f"decimal.Decimal({self.render(expr)})"
        if isinstance(target, DecimalType):
            scale = max_scale(expr)
            if scale is None or scale > target.scale:
                self.scales.add(target.scale)
                return f"{self._wrap(expr, _ATOM)}.quantize({quantum_name(target.scale)})"
        return self.render(expr)

    def _wrap(self, expr: Expr, at_least: int) -> str:
        source, precedence = self._render(expr)
        return source if precedence >= at_least else f"({source})"

    def _render(self, expr: Expr) -> tuple[str, int]:
        if isinstance(expr, Literal_):
            return _literal(expr.value), _ATOM
        if isinstance(expr, EnumSymbol):
            return f"{self.types.class_name(expr.enum)}.{expr.symbol}", _ATOM
        if isinstance(expr, Ref):
            return ".".join((expr.root, *expr.path)), _ATOM
        if isinstance(expr, Unary):
            if expr.op == "not":
                return f"not {self._wrap(expr.operand, _NOT)}", _NOT
            return f"{expr.op}{self._wrap(expr.operand, _UNARY)}", _UNARY
        if isinstance(expr, Binary):
            precedence = _BINARY_PRECEDENCE[expr.op]
            left = self._wrap(expr.left, precedence)
            right = self._wrap(expr.right, precedence + 1)
            return f"{left} {expr.op} {right}", precedence
        if isinstance(expr, Compare):
            parts = [self._wrap(expr.left, _COMPARE + 1)]
            for op, comparator in zip(expr.ops, expr.comparators, strict=True):
                if isinstance(comparator, Literal_) and (
                    comparator.value is None or isinstance(comparator.value, bool)
                ):  # singletons: ``x is False`` (``== False`` is what ruff's E712 refuses)
                    op = "is" if op == "==" else "is not"  # type: ignore[assignment]
                parts.append(f"{op} {self._wrap(comparator, _COMPARE + 1)}")
            return " ".join(parts), _COMPARE
        if isinstance(expr, BoolOp):
            precedence = _AND if expr.op == "and" else _OR
            values = [self._wrap(v, precedence + 1) for v in expr.values]
            return f" {expr.op} ".join(values), precedence
        if isinstance(expr, IfElse):
            then = self._wrap(expr.then, _OR)
            condition = self._wrap(expr.condition, _OR)
            otherwise = self._wrap(expr.otherwise, _IF)
            return f"{then} if {condition} else {otherwise}", _IF
        if isinstance(expr, Call):
            return self._call(expr)
        raise TypeError(f"cannot render {expr!r}")

    def _call(self, expr: Call) -> tuple[str, int]:
        name = expr.function
        if name in ("lower", "upper"):
            return f"{self._wrap(expr.args[0], _ATOM)}.{name}()", _ATOM
        if name == "coalesce":
            return self._coalesce(expr.args), _IF
        args = list(expr.args)
        if name in ("min", "max") and (is_decimal(expr.type) or is_float(expr.type)):
            # mypy cannot join Decimal and int (or float and int): convert the ints.
            wrapper = "decimal.Decimal" if is_decimal(expr.type) else "float"
            if is_decimal(expr.type):
                self.types.modules.add("decimal")
            rendered = [
                f"{wrapper}({self.render(a)})" if is_int(a.type) else self.render(a) for a in args
            ]
            return f"{name}({', '.join(rendered)})", _ATOM
        return f"{name}({', '.join(self.render(a) for a in args)})", _ATOM

    def _coalesce(self, args: tuple[Expr, ...]) -> str:
        *optional, last = args
        result = self._wrap(last, _IF)
        for arg in reversed(optional):
            if isinstance(arg, Ref):
                source = self.render(arg)
                result = f"{source} if {source} is not None else {result}"
            else:  # evaluate once; the walrus also lets mypy narrow the type
                self._walrus += 1
                name = f"_c{self._walrus}"
                result = f"{name} if ({name} := {self.render(arg)}) is not None else {result}"
        return result


def quantum_name(scale: int) -> str:
    """Module constant holding ``Decimal("1e-<scale>")`` for quantizing."""
    return f"_SCALE_{scale}"


def _literal(value: object) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return py_str(value)
    return repr(value)
