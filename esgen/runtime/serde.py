"""Avro binary bodies (no framing) for one record schema, on top of fastavro.

The Confluent wire format (magic byte + schema id) is added by the event store; this
module only turns dicts into Avro bytes and back, resolving old writer schemas into
today's reader schema (defaults, aliases, promotions).
"""

from __future__ import annotations

import copy
from io import BytesIO
from typing import Any

import fastavro

from esgen.runtime.errors import DecodeError, EncodeError

AvroSchema = dict[str, Any]


def parse_schema(schema: AvroSchema) -> Any:
    """Parse one self-contained schema (fastavro keeps named types per parse)."""
    return fastavro.parse_schema(copy.deepcopy(schema), named_schemas={})


class AvroCodec:
    """Encodes and decodes the Avro body of one record schema.

    Parsed writer schemas are cached by identity of the dict passed in, so callers that
    keep one dict per schema id (the registry client does) pay for parsing once.
    """

    __slots__ = ("_parsed", "_writers", "schema")

    def __init__(self, schema: AvroSchema) -> None:
        self.schema = schema
        self._parsed = parse_schema(schema)
        # id(dict) -> (dict, parsed); the dict is kept so its id is never reused.
        self._writers: dict[int, tuple[AvroSchema, Any]] = {}

    @property
    def parsed(self) -> Any:
        """The schema as fastavro parsed it (what schemaless readers and writers take)."""
        return self._parsed

    def encode(self, datum: dict[str, Any]) -> bytes:
        buffer = BytesIO()
        try:
            fastavro.schemaless_writer(buffer, self._parsed, datum)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            name = self.schema.get("name", "?")
            raise EncodeError(f"cannot encode {name}: {type(exc).__name__}: {exc}") from exc
        return buffer.getvalue()

    def decode(self, data: bytes, writer_schema: AvroSchema | None = None) -> dict[str, Any]:
        try:
            if writer_schema is None or writer_schema is self.schema:
                result = fastavro.schemaless_reader(BytesIO(data), self._parsed, None)
            else:
                result = fastavro.schemaless_reader(
                    BytesIO(data), self._writer(writer_schema), self._parsed
                )
        except Exception as exc:  # fastavro raises EOFError, ValueError, SchemaResolutionError...
            name = self.schema.get("name", "?")
            raise DecodeError(f"cannot decode {name}: {type(exc).__name__}: {exc}") from exc
        return result  # type: ignore[return-value]  # a record schema always reads a dict

    def _writer(self, writer_schema: AvroSchema) -> Any:
        cached = self._writers.get(id(writer_schema))
        if cached is not None and cached[0] is writer_schema:
            return cached[1]
        parsed = parse_schema(writer_schema)
        self._writers[id(writer_schema)] = (writer_schema, parsed)
        return parsed
