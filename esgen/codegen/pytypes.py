"""How model types appear in Python: hints, default literals and Avro conversions.

One :class:`PyTypes` per generated module: it knows which named types are local and
which are imported from another generated module (and under which name).
"""

from __future__ import annotations

import datetime
import decimal
import json
import uuid

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


def py_str(text: str) -> str:
    """A double-quoted Python string literal (the quote style ruff format keeps)."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'  # the common case, without json's overhead
    return json.dumps(text, ensure_ascii=False)


def py_bytes(data: bytes) -> str:
    out = []
    for byte in data:
        char = chr(byte)
        if char in '"\\' or not (32 <= byte < 127):
            out.append(f"\\x{byte:02x}")
        else:
            out.append(char)
    return 'b"' + "".join(out) + '"'


class PyTypes:
    """Python spelling of model types for one generated module."""

    def __init__(self, types: dict[str, NamedType], local_names: dict[str, str]) -> None:
        self.types = types
        # full name -> the Python name this module uses for it (local or imported)
        self.names = local_names
        self.modules: set[str] = set()  # stdlib modules the hints/defaults need

    def named(self, full_name: str) -> NamedType:
        return self.types[full_name]

    def is_class(self, t: TypeRef) -> bool:
        """Named types that become Python classes (records and enums; fixed is bytes)."""
        return isinstance(t, NamedRef) and not isinstance(self.types[t.full_name], FixedDef)

    def is_record(self, t: TypeRef) -> bool:
        return isinstance(t, NamedRef) and isinstance(self.types[t.full_name], RecordDef)

    def is_enum(self, t: TypeRef) -> bool:
        return isinstance(t, NamedRef) and isinstance(self.types[t.full_name], EnumDef)

    def class_name(self, full_name: str) -> str:
        return self.names[full_name]

    # ----------------------------------------------------------------- hints

    def hint(self, t: TypeRef) -> str:
        if isinstance(t, Primitive):
            return _PRIMITIVE_HINTS[t.name]
        if isinstance(t, Logical):
            self.modules.add(_LOGICAL_HINTS[t.name].partition(".")[0])
            return _LOGICAL_HINTS[t.name]
        if isinstance(t, DecimalType):
            self.modules.add("decimal")
            return "decimal.Decimal"
        if isinstance(t, ArrayType):
            return f"list[{self.hint(t.items)}]"
        if isinstance(t, MapType):
            return f"dict[str, {self.hint(t.values)}]"
        if isinstance(t, OptionalType):
            return f"{self.hint(t.inner)} | None"
        if isinstance(t, NamedRef):
            if isinstance(self.types[t.full_name], FixedDef):
                return "bytes"
            return self.class_name(t.full_name)
        if isinstance(t, NullType):
            return "None"
        raise TypeError(f"no Python type for {t!r}")

    # -------------------------------------------------------------- defaults

    def default(self, t: TypeRef, value: object) -> tuple[str, bool]:
        """``(source, needs_factory)`` for a field default of type ``t``.

        Mutable values (lists, dicts, records that may hold them) need a factory so no
        two instances ever share one.
        """
        source = self.literal(t, value)
        mutable = isinstance(t, ArrayType | MapType) or (
            self.is_record(t) or (isinstance(t, OptionalType) and self.is_record(t.inner))
        )
        if mutable and value is not None:
            if source in ("[]", "{}"):
                return ("list" if source == "[]" else "dict"), True
            return f"lambda: {source}", True
        return source, False

    def literal(self, t: TypeRef, value: object) -> str:
        """A Python expression for a validated model default ``value`` of type ``t``."""
        if value is None:
            return "None"
        if isinstance(t, OptionalType):
            return self.literal(t.inner, value)
        if isinstance(t, Primitive):
            if t.name == "boolean":
                return "True" if value else "False"
            if t.name in ("float", "double"):
                return repr(float(value))  # type: ignore[arg-type]
            if t.name in ("int", "long"):
                return repr(int(value))  # type: ignore[call-overload]
            if t.name == "bytes":
                return py_bytes(str(value).encode("latin-1"))
            return py_str(str(value))
        if isinstance(t, DecimalType):
            self.modules.add("decimal")
            return f"decimal.Decimal({py_str(str(decimal.Decimal(str(value))))})"
        if isinstance(t, Logical):
            return self._logical_literal(t.name, str(value))
        if isinstance(t, ArrayType):
            assert isinstance(value, list)
            return "[" + ", ".join(self.literal(t.items, v) for v in value) + "]"
        if isinstance(t, MapType):
            assert isinstance(value, dict)
            items = (f"{py_str(k)}: {self.literal(t.values, v)}" for k, v in value.items())
            return "{" + ", ".join(items) + "}"
        if isinstance(t, NamedRef):
            named = self.types[t.full_name]
            if isinstance(named, EnumDef):
                return f"{self.class_name(named.full_name)}.{value}"
            if isinstance(named, FixedDef):
                return py_bytes(str(value).encode("latin-1"))
            assert isinstance(value, dict)
            args = ", ".join(
                f"{f.name}={self.literal(f.type, value[f.name])}"
                for f in named.fields
                if f.name in value
            )
            return f"{self.class_name(named.full_name)}({args})"
        raise TypeError(f"no Python literal for {t!r}")

    def _logical_literal(self, name: str, text: str) -> str:
        if name == "uuid":
            self.modules.add("uuid")
            return f"uuid.UUID({py_str(str(uuid.UUID(text)))})"
        self.modules.add("datetime")
        if name == "date":
            d = datetime.date.fromisoformat(text)
            return f"datetime.date({d.year}, {d.month}, {d.day})"
        if name.startswith("time-"):
            t = datetime.time.fromisoformat(text)
            return f"datetime.time({t.hour}, {t.minute}, {t.second}, {t.microsecond})"
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        parts = [moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second]
        args = ", ".join(str(p) for p in [*parts, moment.microsecond])
        if name.startswith("local-"):
            return f"datetime.datetime({args})"
        offset = moment.utcoffset()
        if offset:  # keep the instant, spell it in UTC
            moment = (moment - offset).replace(tzinfo=None)
            utc = [
                moment.year,
                moment.month,
                moment.day,
                moment.hour,
                moment.minute,
                moment.second,
            ]
            args = ", ".join(str(p) for p in [*utc, moment.microsecond])
        return f"datetime.datetime({args}, tzinfo=datetime.UTC)"

    # ---------------------------------------------------- Avro conversions

    def needs_conversion(self, t: TypeRef) -> bool:
        """Whether values of ``t`` differ between Python and fastavro's dict form."""
        if isinstance(t, OptionalType):
            return self.needs_conversion(t.inner)
        if isinstance(t, ArrayType):
            return self.needs_conversion(t.items)
        if isinstance(t, MapType):
            return self.needs_conversion(t.values)
        return self.is_class(t)

    def holds_records(self, t: TypeRef) -> bool:
        """Whether values of ``t`` contain records (enums are StrEnums: no conversion)."""
        if isinstance(t, OptionalType):
            return self.holds_records(t.inner)
        if isinstance(t, ArrayType):
            return self.holds_records(t.items)
        if isinstance(t, MapType):
            return self.holds_records(t.values)
        return self.is_record(t)

    def to_avro(self, t: TypeRef, expr: str, depth: int = 0) -> str:
        """Expression turning the Python value ``expr`` into fastavro's datum."""
        if not self.holds_records(t):
            return expr
        var = f"v{depth}" if depth else "v"
        if isinstance(t, OptionalType):
            return f"None if {expr} is None else {self.to_avro(t.inner, expr, depth)}"
        if isinstance(t, ArrayType):
            return f"[{self.to_avro(t.items, var, depth + 1)} for {var} in {expr}]"
        if isinstance(t, MapType):
            inner = self.to_avro(t.values, var, depth + 1)
            return f"{{k{depth}: {inner} for k{depth}, {var} in {expr}.items()}}"
        return f"{expr}.to_avro()"

    def from_avro(self, t: TypeRef, expr: str, depth: int = 0) -> str:
        """Expression turning fastavro's datum ``expr`` into the Python value."""
        if not self.needs_conversion(t):
            return expr
        var = f"v{depth}" if depth else "v"
        if isinstance(t, OptionalType):
            return f"None if {expr} is None else {self.from_avro(t.inner, expr, depth)}"
        if isinstance(t, ArrayType):
            return f"[{self.from_avro(t.items, var, depth + 1)} for {var} in {expr}]"
        if isinstance(t, MapType):
            inner = self.from_avro(t.values, var, depth + 1)
            return f"{{k{depth}: {inner} for k{depth}, {var} in {expr}.items()}}"
        assert isinstance(t, NamedRef)
        name = self.class_name(t.full_name)
        if self.is_enum(t):
            return f"{name}({expr})"
        return f"{name}.from_avro({expr})"
