"""How model types appear in Python: annotations and default values.

One :class:`PyTypes` per generated module: it knows which named types are local and
which are imported from another generated module (and under which name), and which
standard modules the annotations and defaults it wrote need.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

from esgen.codegen.pycode import (
    Atom,
    Call,
    DictExpr,
    Expr,
    Keyword,
    Lambda,
    ListExpr,
    Text,
    flat,
    number,
    uses_math,
)
from esgen.codegen.source import Code, bytes_literal, code, identifier, string
from esgen.model import (
    ArrayType,
    DecimalType,
    EnumDef,
    FixedDef,
    Logical,
    MapType,
    NamedRef,
    NamedType,
    NullType,
    OptionalType,
    Primitive,
    RecordDef,
    TypeRef,
)

_PRIMITIVE_HINTS = {
    "boolean": "bool",
    "int": "int",
    "long": "int",
    "float": "float",
    "double": "float",
    "string": "str",
    "bytes": "bytes",
}
_IMMUTABLE_CALLS = ("decimal.Decimal", "datetime.date", "datetime.time", "datetime.datetime")
_LOGICAL_HINTS = {
    "uuid": "uuid.UUID",
    "date": "datetime.date",
    "time-millis": "datetime.time",
    "time-micros": "datetime.time",
    "timestamp-millis": "datetime.datetime",
    "timestamp-micros": "datetime.datetime",
    "local-timestamp-millis": "datetime.datetime",
    "local-timestamp-micros": "datetime.datetime",
}


class PyTypes:
    """Python spelling of model types for one generated module."""

    def __init__(self, types: dict[str, NamedType], local_names: dict[str, str]) -> None:
        self.types = types
        # full name -> the Python name this module uses for it (local or imported)
        self.names = local_names
        self.modules: set[str] = set()  # stdlib modules the hints/defaults need

    def is_record(self, t: TypeRef) -> bool:
        return isinstance(t, NamedRef) and isinstance(self.types[t.full_name], RecordDef)

    def class_name(self, full_name: str) -> Code:
        return identifier(self.names[full_name])

    # ----------------------------------------------------------------- hints

    def hint(self, t: TypeRef) -> Code:
        return code(self._hint(t))

    def _hint(self, t: TypeRef) -> str:
        if isinstance(t, Primitive):
            return _PRIMITIVE_HINTS[t.name]
        if isinstance(t, Logical):
            self.modules.add(_LOGICAL_HINTS[t.name].partition(".")[0])
            return _LOGICAL_HINTS[t.name]
        if isinstance(t, DecimalType):
            self.modules.add("decimal")
            return "decimal.Decimal"
        if isinstance(t, ArrayType):
            return f"list[{self._hint(t.items)}]"
        if isinstance(t, MapType):
            return f"dict[str, {self._hint(t.values)}]"
        if isinstance(t, OptionalType):
            return f"{self._hint(t.inner)} | None"
        if isinstance(t, NamedRef):
            if isinstance(self.types[t.full_name], FixedDef):
                return "bytes"
            return self.class_name(t.full_name)
        if isinstance(t, NullType):
            return "None"
        raise TypeError(f"no Python type for {t!r}")

    # -------------------------------------------------------------- defaults

    def default(self, t: TypeRef, value: object) -> Expr:
        """The default of a dataclass field of type ``t``.

        Mutable values (lists, dicts, records that may hold them) need a factory so no
        two instances ever share one.
        """
        literal = self.literal(t, value)
        mutable = isinstance(t, ArrayType | MapType) or (
            self.is_record(t) or (isinstance(t, OptionalType) and self.is_record(t.inner))
        )
        # ruff (RUF009) allows only calls it knows to return immutable values in defaults
        immutable_call = isinstance(literal, Call) and flat(literal.func) in _IMMUTABLE_CALLS
        if value is None or (not mutable and (immutable_call or not isinstance(literal, Call))):
            return literal
        self.modules.add("dataclasses")
        if isinstance(literal, ListExpr | DictExpr) and not literal.items:
            factory: Expr = Atom(code("list" if isinstance(literal, ListExpr) else "dict"))
        else:
            factory = Lambda(literal)
        return Call(Atom(code("dataclasses.field")), (Keyword(code("default_factory"), factory),))

    def literal(self, t: TypeRef, value: object) -> Expr:
        """A Python expression for a validated model default ``value`` of type ``t``."""
        if value is None:
            return Atom(code("None"))
        if isinstance(t, OptionalType):
            return self.literal(t.inner, value)
        if isinstance(t, Primitive):
            if t.name == "boolean":
                return Atom(code("True" if value else "False"))
            if t.name in ("float", "double"):
                literal = number(float(value))  # type: ignore[arg-type]
                if uses_math(literal):
                    self.modules.add("math")
                return literal
            if t.name in ("int", "long"):
                return number(int(value))  # type: ignore[call-overload]
            if t.name == "bytes":
                return Atom(bytes_literal(str(value).encode("latin-1")))
            return Text(str(value))
        if isinstance(t, DecimalType):
            self.modules.add("decimal")
            text = string(str(decimal.Decimal(str(value))))
            return Call(Atom(code("decimal.Decimal")), (Atom(text),))
        if isinstance(t, Logical):
            return self._logical_literal(t.name, str(value))
        if isinstance(t, ArrayType):
            assert isinstance(value, list)
            return ListExpr(tuple(self.literal(t.items, v) for v in value))
        if isinstance(t, MapType):
            assert isinstance(value, dict)
            return DictExpr(tuple((Text(k), self.literal(t.values, v)) for k, v in value.items()))
        if isinstance(t, NamedRef):
            named = self.types[t.full_name]
            if isinstance(named, EnumDef):
                return Atom(code(f"{self.class_name(named.full_name)}.{identifier(str(value))}"))
            if isinstance(named, FixedDef):
                return Atom(bytes_literal(str(value).encode("latin-1")))
            assert isinstance(value, dict)
            args = tuple(
                Keyword(identifier(f.name), self.literal(f.type, value[f.name]))
                for f in named.fields
                if f.name in value
            )
            return Call(Atom(self.class_name(named.full_name)), args)
        raise TypeError(f"no Python literal for {t!r}")

    def _logical_literal(self, name: str, text: str) -> Expr:
        if name == "uuid":
            self.modules.add("uuid")
            return Call(Atom(code("uuid.UUID")), (Atom(string(str(uuid.UUID(text)))),))
        self.modules.add("datetime")
        parts: list[int]
        if name == "date":
            d = datetime.date.fromisoformat(text)
            return _call("datetime.date", [d.year, d.month, d.day])
        if name.startswith("time-"):
            t = datetime.time.fromisoformat(text)
            return _call("datetime.time", [t.hour, t.minute, t.second, t.microsecond])
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if not name.startswith("local-"):
            offset = moment.utcoffset()
            if offset:  # keep the instant, spell it in UTC
                moment = moment - offset
        parts = [moment.year, moment.month, moment.day, moment.hour, moment.minute]
        parts += [moment.second, moment.microsecond]
        if name.startswith("local-"):
            return _call("datetime.datetime", parts)
        return _call(
            "datetime.datetime", parts, Keyword(code("tzinfo"), Atom(code("datetime.UTC")))
        )


def _call(function: str, numbers: list[int], *extra: Keyword) -> Expr:
    args: tuple[Any, ...] = tuple(Atom(code(str(n))) for n in numbers)
    return Call(Atom(code(function)), (*args, *extra))
