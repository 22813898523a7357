"""Which partition an entity lives in: Kafka's default (Java) partitioner for keyed records.

``partition_for(key, n)`` is ``toPositive(murmur2(key)) % n``, the partition Java's
producers (and librdkafka with ``partitioner=murmur2_random``) choose for a key. The
store sends each event to this partition explicitly and reads an entity from it, so a
topic written by Java applications and by esgen keeps one entity in one partition.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from esgen.runtime.descriptor import EntityDescriptor

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's 32-bit murmur2 (seed 0x9747b28c), as an unsigned int."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    rest = length % 4
    if rest == 3:
        h ^= data[whole + 2] << 16
    if rest >= 2:
        h ^= data[whole + 1] << 8
    if rest >= 1:
        h ^= data[whole]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_for(key: str | bytes, partitions: int) -> int:
    """The partition of ``key`` among ``partitions`` (Java's default partitioner).

    ``key`` is the message key: an entity id's canonical text
    (``EntityDescriptor.key_text``), so a UUID or an integer id lands where other
    languages' producers put it."""
    data = key.encode() if isinstance(key, str) else key
    return (murmur2(data) & 0x7FFFFFFF) % partitions


def key_text(descriptor: EntityDescriptor[Any, Any], entity_id: object) -> str:
    """The Kafka key of an entity id, as text (the one place ids become keys): its
    canonical text (``EntityDescriptor.key_text``; ``EncodeError`` for an id that is not of
    the key's type). ``ValueError`` for an id with control characters (keys starting with
    ``\\x00`` are reserved for esgen's own records, e.g. the manifest)."""
    text = descriptor.key_text(entity_id)
    if _CONTROL.search(text):
        raise ValueError(
            f"{descriptor.name} id {text!r} contains control characters; entity ids cannot "
            "(keys starting with \\x00 are reserved for esgen's records)"
        )
    return text
