"""Avro schemas and binary bodies (no framing) for one record schema, on top of fastavro.

A generated module holds each named type's schema once, referring to the other named
types it uses by full name (``AVRO_TYPES``). :func:`self_contained` expands such a table
into the schema of one record that stands on its own: every named type defined in full at
its first use and referred to by full name afterwards, exactly as the ``.avsc`` files
beside the module hold it and as it is registered.

The Confluent wire format (magic byte + schema id) is added by the event store; this
module only turns dicts into Avro bytes and back, resolving old writer schemas into
today's reader schema (defaults, aliases, promotions).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from io import BytesIO
from typing import Any

import fastavro

from esgen.runtime.errors import DecodeError, EncodeError

AvroSchema = dict[str, Any]


def parse_schema(schema: AvroSchema) -> Any:
    """Parse one self-contained schema (fastavro keeps named types per parse)."""
    return fastavro.parse_schema(copy.deepcopy(schema), named_schemas={})


def self_contained(types: Mapping[str, AvroSchema], name: str) -> AvroSchema:
    """The schema of the named type ``name`` with every named type it uses (looked up in
    ``types`` by full name) defined at its first use, depth first in field order."""
    defined: set[str] = set()

    def named(full_name: str) -> AvroSchema:
        defined.add(full_name)
        schema = dict(types[full_name])
        if schema.get("type") == "record":
            schema["fields"] = [{**f, "type": node(f["type"])} for f in schema["fields"]]
        return schema

    def node(value: Any) -> Any:
        if isinstance(value, str):
            if value in types and value not in defined:
                return named(value)
            return value
        if isinstance(value, list):
            return [node(branch) for branch in value]
        if isinstance(value, dict):
            kind = value.get("type")
            if kind == "array":
                return {**value, "items": node(value["items"])}
            if kind == "map":
                return {**value, "values": node(value["values"])}
            return dict(value)
        return value

    return named(name)


class AvroCodec:
    """Encodes and decodes the Avro body of one record schema.

    Parsed writer schemas are cached by identity of the dict passed in, so callers that
    keep one dict per schema id (the registry client does) pay for parsing once.
    ``explain(datum)``, when given, names the field at fault when fastavro refuses a datum.
    """

    __slots__ = ("_explain", "_parsed", "_writers", "schema")

    def __init__(
        self, schema: AvroSchema, explain: Callable[[Any], str | None] | None = None
    ) -> None:
        self.schema = schema
        self._parsed = parse_schema(schema)
        self._explain = explain
        # id(dict) -> (dict, parsed); the dict is kept so its id is never reused.
        self._writers: dict[int, tuple[AvroSchema, Any]] = {}

    @property
    def parsed(self) -> Any:
        """The schema as fastavro parsed it (what schemaless readers and writers take)."""
        return self._parsed

    def encode(self, datum: dict[str, Any], value: Any = None) -> bytes:
        """The Avro body of ``datum`` (made from ``value``, which errors then explain)."""
        buffer = BytesIO()
        try:
            fastavro.schemaless_writer(buffer, self._parsed, datum)
        except Exception as exc:  # fastavro raises ValueError, TypeError, OverflowError...
            raise self.encode_error(exc, datum if value is None else value) from exc
        return buffer.getvalue()

    def encode_error(self, exc: Exception, value: Any) -> EncodeError:
        """The error for a value fastavro refused: the field at fault when it can be
        found, else fastavro's own message."""
        name = self.schema.get("name", "?")
        where = self._explain(value) if self._explain is not None else None
        if where is not None:
            return EncodeError(f"cannot encode {name}: {where}")
        return EncodeError(f"cannot encode {name}: {type(exc).__name__}: {exc}")

    def decode(self, data: bytes, writer_schema: AvroSchema | None = None) -> dict[str, Any]:
        try:
            if writer_schema is None or writer_schema is self.schema:
                result = fastavro.schemaless_reader(BytesIO(data), self._parsed, None)
            else:
                result = fastavro.schemaless_reader(
                    BytesIO(data), self.writer(writer_schema), self._parsed
                )
        except Exception as exc:  # fastavro raises EOFError, ValueError, SchemaResolutionError...
            name = self.schema.get("name", "?")
            raise DecodeError(f"cannot decode {name}: {type(exc).__name__}: {exc}") from exc
        return result  # type: ignore[return-value]  # a record schema always reads a dict

    def writer(self, writer_schema: AvroSchema) -> Any:
        """``writer_schema`` parsed (once per dict)."""
        cached = self._writers.get(id(writer_schema))
        if cached is not None and cached[0] is writer_schema:
            return cached[1]
        parsed = parse_schema(writer_schema)
        self._writers[id(writer_schema)] = (writer_schema, parsed)
        return parsed
