"""Constant parts of expressions, evaluated at validation so that they cannot fail later.

``1 / 0`` in a fold would raise on every event it folds; ``9223372036854775807 + 1``
would fold into a state that can never be encoded; ``1e308 * 10`` would become infinity.
Each part of an expression built only from number literals is computed here, exactly as
the generated Python would (ints are unbounded there), and refused when it divides by
zero, leaves the 64-bit range of a long, or is not a finite double. A divisor that is a
constant zero is refused even when the dividend is not constant (``event.x // 0``).

The whole expression, when constant, must also fit the field it is assigned to:
``int`` (32-bit), ``long``, ``float`` (32-bit), ``double`` or ``decimal(P,S)``.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from esgen import model
from esgen.dsl import typerules as tr
from esgen.errors import Location, shorten

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

Number = int | float


@dataclass(frozen=True)
class ConstantProblem:
    message: str
    location: Location


def _value(expr: model.Expr, values: dict[int, Number]) -> Number | None:
    """The value of ``expr`` when its operands' values are known, else None."""
    match expr:
        case model.Literal_(value=bool()):
            return None
        case model.Literal_(value=int() | float() as number):
            return number
        case model.Unary(op="-" | "+" as op, operand=operand) if id(operand) in values:
            return -values[id(operand)] if op == "-" else values[id(operand)]
        case model.Binary(left=left, right=right) if id(left) in values and id(right) in values:
            return _binary(expr.op, values[id(left)], values[id(right)])
        case model.Call(function="abs" | "min" | "max" as name, args=args) if all(
            id(a) in values for a in args
        ):
            numbers = [values[id(a)] for a in args]
            return abs(numbers[0]) if name == "abs" else (min if name == "min" else max)(numbers)
    return None


def _binary(op: str, a: Number, b: Number) -> Number:
    try:
        return _compute(op, a, b)
    except OverflowError:  # float arithmetic past a double's range
        return math.inf


def _compute(op: str, a: Number, b: Number) -> Number:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return a / b
    if op == "//":
        return a // b
    return a % b


def _out_of_range(value: Number) -> str | None:
    """Why a constant cannot be what the generated code computes."""
    if isinstance(value, float):
        if math.isfinite(value):
            return None
        return "is beyond the range of a double (it would be infinity)"
    if not INT64[0] <= value <= INT64[1]:
        return f"{shorten(str(value))} is outside the range of a long ({INT64[0]} to {INT64[1]})"
    return None


def _fits(value: Number, target: model.TypeRef) -> str | None:
    """Why the constant ``value`` does not fit a field of type ``target``."""
    target = tr.strip_optional(target)
    if isinstance(target, model.Primitive) and target.name == "int":
        if not INT32[0] <= value <= INT32[1]:
            return f"does not fit 'int' ({INT32[0]} to {INT32[1]})"
    elif isinstance(target, model.Primitive) and target.name == "float":
        try:
            struct.pack("<f", value)
        except OverflowError:
            return "does not fit 'float' (at most 3.4028235e+38 either side of 0)"
    elif isinstance(target, model.DecimalType) and isinstance(value, int):
        digits = len(str(abs(value))) if value else 0
        if digits > target.precision - target.scale:
            return (
                f"does not fit '{tr.describe(target)}' (at most "
                f"{target.precision - target.scale} digits before the point)"
            )
    return None


def constant_problem(
    expr: model.Expression, target: model.TypeRef | None = None
) -> ConstantProblem | None:
    """The first constant part of ``expr`` that would fail or overflow, if any."""
    values: dict[int, Number] = {}
    # Reversed pre-order visits every operand before the expression that uses it.
    for part in reversed(list(model.subexpressions(expr.tree))):
        if (
            isinstance(part, model.Binary)
            and part.op in ("/", "//", "%")
            and values.get(id(part.right), 1) == 0
        ):
            return ConstantProblem(
                f"division by zero: the divisor of '{part.op}' is always 0", part.location
            )
        value = _value(part, values)
        if value is None:
            continue
        if problem := _out_of_range(value):
            return ConstantProblem(f"the constant value {problem}", part.location)
        values[id(part)] = value
    whole = values.get(id(expr.tree))
    if whole is not None and target is not None and (problem := _fits(whole, target)):
        return ConstantProblem(
            f"the constant value {shorten(str(whole))} {problem}", expr.tree.location
        )
    return None
