"""Model -> Avro schemas, as plain dicts written with ``json.dumps``.

``named`` gives the self-contained schema of a named type: every named type it uses is
defined in full at its first use and referenced by full name afterwards, so each
``.avsc`` file (and what is registered) can be parsed on its own. ``compact`` gives the
same schema with every *other* named type referenced by full name: what a generated
module holds (each named type once), from which ``esgen.runtime.serde.self_contained``
rebuilds exactly the ``named`` schema.
"""

from __future__ import annotations

import datetime
import decimal
import json
import re
import uuid
from typing import Any

from esgen.model import (
    ArrayType,
    DecimalType,
    EnumDef,
    Field,
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

AvroSchema = dict[str, Any]

_LOGICAL_BASE = {
    "uuid": "string",
    "date": "int",
    "time-millis": "int",
    "time-micros": "long",
    "timestamp-millis": "long",
    "timestamp-micros": "long",
    "local-timestamp-millis": "long",
    "local-timestamp-micros": "long",
}
_EPOCH_DATE = datetime.date(1970, 1, 1)
_EPOCH_UTC = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_EPOCH_LOCAL = datetime.datetime(1970, 1, 1)


class SchemaBuilder:
    """Builds self-contained Avro schemas for the records of a project."""

    def __init__(self, types: dict[str, NamedType]) -> None:
        self._types = types

    def named(self, named: NamedType) -> AvroSchema:
        """The schema of a named type, with every type it uses defined inline."""
        result = self._named(named, set())
        assert isinstance(result, dict)
        return result

    def compact(self, named: NamedType) -> AvroSchema:
        """The schema of a named type, with every other named type referenced by name."""
        result = self._definition(named, None)
        assert isinstance(result, dict)
        return result

    def uses(self, named: NamedType) -> list[str]:
        """Full names of the named types ``named`` uses, directly or not, in order."""
        found: dict[str, None] = {}
        pending = [named]
        while pending:
            current = pending.pop(0)
            if isinstance(current, RecordDef):
                for f in current.fields:
                    for full_name in _refs(f.type):
                        if full_name not in found and full_name != named.full_name:
                            found[full_name] = None
                            pending.append(self._types[full_name])
        return list(found)

    def _named(self, named: NamedType, defined: set[str] | None) -> Any:
        """The definition of ``named`` at its first use, its name after that (with
        ``defined`` None: always its name)."""
        if defined is None or named.full_name in defined:
            return named.full_name
        defined.add(named.full_name)
        return self._definition(named, defined)

    def _definition(self, named: NamedType, defined: set[str] | None) -> AvroSchema:
        schema: AvroSchema
        if isinstance(named, RecordDef):
            schema = {"type": "record", "name": named.name, "namespace": named.namespace}
            if named.doc:
                schema["doc"] = named.doc
            schema["fields"] = [self._field(f, defined) for f in named.fields]
        elif isinstance(named, EnumDef):
            schema = {"type": "enum", "name": named.name, "namespace": named.namespace}
            if named.doc:
                schema["doc"] = named.doc
            schema["symbols"] = list(named.symbols)
            if named.default is not None:
                schema["default"] = named.default
        else:
            schema = {"type": "fixed", "name": named.name, "namespace": named.namespace}
            if named.doc:
                schema["doc"] = named.doc
            schema["size"] = named.size
        return schema

    def _field(self, field: Field, defined: set[str] | None) -> AvroSchema:
        result: AvroSchema = {"name": field.name}
        if field.doc:
            result["doc"] = field.doc
        default_is_null = field.default is not None and field.default.value is None
        result["type"] = self._type(
            field.type, defined, null_first=field.default is None or default_is_null
        )
        if field.default is not None:
            result["default"] = self.default(field.type, field.default.value)
        elif isinstance(field.type, OptionalType):
            result["default"] = None
        if field.aliases:
            result["aliases"] = list(field.aliases)
        return result

    def _type(self, t: TypeRef, defined: set[str] | None, null_first: bool = True) -> Any:
        if isinstance(t, Primitive):
            return t.name
        if isinstance(t, Logical):
            return {"type": _LOGICAL_BASE[t.name], "logicalType": t.name}
        if isinstance(t, DecimalType):
            return {
                "type": "bytes",
                "logicalType": "decimal",
                "precision": t.precision,
                "scale": t.scale,
            }
        if isinstance(t, ArrayType):
            return {"type": "array", "items": self._type(t.items, defined)}
        if isinstance(t, MapType):
            return {"type": "map", "values": self._type(t.values, defined)}
        if isinstance(t, OptionalType):
            inner = self._type(t.inner, defined)
            # A union's default must match its first branch.
            return ["null", inner] if null_first else [inner, "null"]
        if isinstance(t, NamedRef):
            return self._named(self._types[t.full_name], defined)
        raise TypeError(f"no Avro type for {t!r}")

    def default(self, t: TypeRef, value: object) -> Any:
        """A model default as Avro JSON (the form a registry and Avro Java accept)."""
        if value is None:
            return None
        if isinstance(t, OptionalType):
            return self.default(t.inner, value)
        if isinstance(t, Primitive):
            if t.name in ("float", "double"):
                return float(value)  # type: ignore[arg-type]
            return value
        if isinstance(t, DecimalType):
            return _decimal_bytes(decimal.Decimal(str(value)), t.scale).decode("latin-1")
        if isinstance(t, Logical):
            return _logical_default(t.name, str(value))
        if isinstance(t, ArrayType):
            assert isinstance(value, list)
            return [self.default(t.items, v) for v in value]
        if isinstance(t, MapType):
            assert isinstance(value, dict)
            return {k: self.default(t.values, v) for k, v in value.items()}
        if isinstance(t, NamedRef):
            named = self._types[t.full_name]
            if isinstance(named, RecordDef):
                assert isinstance(value, dict)
                return {
                    f.name: self.default(f.type, value[f.name])
                    for f in named.fields
                    if f.name in value
                }
            return value  # enum symbol, or fixed as a string of code points
        if isinstance(t, NullType):
            return None
        raise TypeError(f"no Avro default for {t!r}")


def _refs(t: TypeRef) -> list[str]:
    if isinstance(t, NamedRef):
        return [t.full_name]
    if isinstance(t, OptionalType):
        return _refs(t.inner)
    if isinstance(t, ArrayType):
        return _refs(t.items)
    if isinstance(t, MapType):
        return _refs(t.values)
    return []


def _decimal_bytes(value: decimal.Decimal, scale: int) -> bytes:
    """Avro's decimal encoding: the unscaled value, big-endian two's complement."""
    unscaled = int(value.scaleb(scale).to_integral_value())
    length = max(1, (unscaled.bit_length() + 8) // 8)
    return unscaled.to_bytes(length, "big", signed=True)


def _logical_default(name: str, text: str) -> Any:
    if name == "uuid":
        return str(uuid.UUID(text))
    if name == "date":
        return (datetime.date.fromisoformat(text) - _EPOCH_DATE).days
    if name in ("time-millis", "time-micros"):
        t = datetime.time.fromisoformat(text)
        micros = ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond
        return micros // 1000 if name == "time-millis" else micros
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    delta = moment - (_EPOCH_LOCAL if name.startswith("local-") else _EPOCH_UTC)
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return micros // 1000 if name.endswith("millis") else micros


_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps(schema: AvroSchema) -> str:
    """The text of an ``.avsc`` file: stable key order as built, two-space indent.

    Text stays as written, except lone surrogates (which UTF-8 cannot hold): they are
    written as JSON escapes (``\\udc80``), which JSON parsers read back as the same
    string."""
    text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
