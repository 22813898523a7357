"""The Confluent wire format of a record value: magic byte, schema id, Avro body.

::

    byte 0      magic byte, always 0
    bytes 1-4   schema id, 4-byte big-endian, as the schema registry assigned it
    bytes 5-    Avro binary body written with that schema

Under TopicNameStrategy the schema id names a union and the body starts with the union
branch index, Avro's zig-zag varint (:func:`write_varint`, :func:`read_varint`), exactly
as Confluent's serializers write it.
"""

from __future__ import annotations

import struct

from esgen.runtime.errors import DecodeError

MAGIC_BYTE = 0
HEADER = struct.Struct(">bI")
"""Magic byte and schema id: the first ``HEADER.size`` (5) bytes of a framed value."""


def frame(schema_id: int, body: bytes) -> bytes:
    """``body`` in the Confluent wire format under ``schema_id``."""
    return HEADER.pack(MAGIC_BYTE, schema_id) + body


def unframe(value: bytes) -> tuple[int, bytes]:
    """``(schema id, Avro body)`` of a wire-format value; ``DecodeError`` if it is not one."""
    if len(value) < HEADER.size:
        raise DecodeError(f"value of {len(value)} bytes is too short for the wire format")
    magic, schema_id = HEADER.unpack_from(value)
    if magic != MAGIC_BYTE:
        raise DecodeError(f"unknown magic byte {magic} (the Confluent wire format starts with 0)")
    return schema_id, value[HEADER.size :]


def is_framed(value: bytes | None) -> bool:
    """Whether ``value`` can be a wire-format value at all (not a tombstone, not too
    short, magic byte 0): what tells an event from a record that is not one."""
    return value is not None and len(value) >= HEADER.size and value[0] == MAGIC_BYTE


def write_varint(n: int) -> bytes:
    """Avro's zig-zag varint of a long (the union branch index)."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_varint(data: bytes) -> tuple[int, int]:
    """``(value, bytes consumed)`` of the zig-zag varint at the start of ``data``."""
    result = shift = 0
    for i, byte in enumerate(data[:10]):
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), i + 1
        shift += 7
    raise DecodeError("truncated union branch index")
