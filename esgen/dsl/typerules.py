"""The type algebra of expressions and fold steps: promotion, assignability, unification."""

from __future__ import annotations

from esgen import model

NUMERIC_RANK = {"int": 0, "long": 1, "float": 2, "double": 3}
_FAMILIES = (
    {"timestamp-millis", "timestamp-micros"},
    {"local-timestamp-millis", "local-timestamp-micros"},
    {"time-millis", "time-micros"},
)

BOOLEAN = model.Primitive("boolean")
STRING = model.Primitive("string")
LONG = model.Primitive("long")
DOUBLE = model.Primitive("double")
INT = model.Primitive("int")
NULL = model.NullType()


def describe(t: model.TypeRef) -> str:
    """The type as a user writes it: 'decimal(18,2)', 'array<string>', 'long?'."""
    match t:
        case model.Primitive(name) | model.Logical(name):
            return name
        case model.DecimalType(p, s):
            return f"decimal({p},{s})"
        case model.ArrayType(items):
            return f"array<{describe(items)}>"
        case model.MapType(values):
            return f"map<{describe(values)}>"
        case model.OptionalType(inner):
            return f"{describe(inner)}?"
        case model.NamedRef(full):
            return full
        case _:
            return "null"


def is_optional(t: model.TypeRef) -> bool:
    return isinstance(t, model.OptionalType | model.NullType)


def strip_optional(t: model.TypeRef) -> model.TypeRef:
    return t.inner if isinstance(t, model.OptionalType) else t


def is_integer(t: model.TypeRef) -> bool:
    return isinstance(t, model.Primitive) and t.name in ("int", "long")


def is_number(t: model.TypeRef) -> bool:
    """int, long, float, double or decimal (never optional)."""
    return isinstance(t, model.DecimalType) or (
        isinstance(t, model.Primitive) and t.name in NUMERIC_RANK
    )


def is_floating(t: model.TypeRef) -> bool:
    return isinstance(t, model.Primitive) and t.name in ("float", "double")


def _family(name: str) -> set[str] | None:
    return next((f for f in _FAMILIES if name in f), None)


def promote(a: model.TypeRef, b: model.TypeRef) -> model.TypeRef | None:
    """The common numeric type of two numbers, or None (decimal never mixes with floats)."""
    if isinstance(a, model.DecimalType) or isinstance(b, model.DecimalType):
        if is_floating(a) or is_floating(b):
            return None
        if isinstance(a, model.DecimalType) and isinstance(b, model.DecimalType):
            # Only a static type: runtime arithmetic is exact and quantized on assignment.
            return model.DecimalType(max(a.precision, b.precision), max(a.scale, b.scale))
        return a if isinstance(a, model.DecimalType) else b
    if isinstance(a, model.Primitive) and isinstance(b, model.Primitive):
        return a if NUMERIC_RANK[a.name] >= NUMERIC_RANK[b.name] else b
    return None


def assignable(value: model.TypeRef, target: model.TypeRef) -> bool:
    """May a value of type ``value`` be stored in a field of type ``target``?"""
    if value == target:
        return True
    if isinstance(target, model.OptionalType):
        return isinstance(value, model.NullType) or assignable(strip_optional(value), target.inner)
    if isinstance(value, model.OptionalType | model.NullType):
        return False
    if isinstance(target, model.DecimalType):
        return isinstance(value, model.DecimalType) or is_integer(value)
    if isinstance(target, model.Primitive) and isinstance(value, model.Primitive):
        if target.name in NUMERIC_RANK and value.name in NUMERIC_RANK:
            return NUMERIC_RANK[value.name] <= NUMERIC_RANK[target.name]
        return False
    if isinstance(target, model.Logical) and isinstance(value, model.Logical):
        family = _family(target.name)
        return family is not None and value.name in family
    if isinstance(target, model.ArrayType) and isinstance(value, model.ArrayType):
        return value.items == target.items
    if isinstance(target, model.MapType) and isinstance(value, model.MapType):
        return value.values == target.values
    return False


def unify(a: model.TypeRef, b: model.TypeRef) -> model.TypeRef | None:
    """The type of ``x if c else y`` or ``coalesce(x, y)`` branches, or None."""
    if a == b:
        return a
    if isinstance(a, model.NullType):
        return b if isinstance(b, model.OptionalType) else model.OptionalType(b)
    if isinstance(b, model.NullType):
        return unify(b, a)
    if is_optional(a) or is_optional(b):
        inner = unify(strip_optional(a), strip_optional(b))
        return None if inner is None else model.OptionalType(inner)
    if is_number(a) and is_number(b):
        return promote(a, b)
    if isinstance(a, model.Logical) and isinstance(b, model.Logical):
        family = _family(a.name)
        if family is not None and b.name in family:
            return a if a.name.endswith("micros") else b
    return None


def comparable(a: model.TypeRef, b: model.TypeRef) -> bool:
    """May ``a == b`` be asked? (null only against optionals)."""
    if isinstance(a, model.NullType):
        return is_optional(b)
    if isinstance(b, model.NullType):
        return is_optional(a)
    return unify(strip_optional(a), strip_optional(b)) is not None
