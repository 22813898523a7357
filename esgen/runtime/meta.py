"""Metadata that travels with every event (Kafka headers) and that folds may read."""

from __future__ import annotations

import datetime
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True, unsafe_hash=True)
class EventMeta:
    """What a fold sees as ``meta``.

    ``version`` is the entity version the event creates (1 for an entity's first event).
    ``version``, ``timestamp`` and ``event_id`` are None when a fold is called without
    metadata (``fold(state, event)``); folds must handle that (e.g. ``coalesce``).

    Treat it as read-only. ``replay`` gives every fold of one replay the same object and
    moves its ``version`` on per event: building an ``EventMeta`` per event would cost
    more than most folds, and a frozen one cannot be moved on cheaply. A ``call:``
    function that wants to keep it keeps a copy (``dataclasses.replace(meta)``).
    """

    entity_id: Any  # str, uuid.UUID or int: the type of the entity's key field
    version: int | None = None
    timestamp: datetime.datetime | None = None
    event_id: uuid.UUID | None = None
    correlation_id: str | None = None
    causation_id: str | None = None


@dataclass(frozen=True, slots=True)
class CommandMeta:
    """What ``decide`` sees as ``meta``: the entity a command is decided for and when.

    ``version`` is the entity's current version (0 before its first event), the version
    the command is decided on; ``command_id`` identifies the command (a retry carries the
    same id); ``timestamp`` is when it is decided (UTC, to the millisecond).
    """

    entity_id: Any  # str, uuid.UUID or int: the type of the entity's key field
    version: int
    command_id: str
    timestamp: datetime.datetime


_META_SLOTS = tuple(
    EventMeta.__dict__[name].__set__
    for name in (
        "entity_id",
        "version",
        "timestamp",
        "event_id",
        "correlation_id",
        "causation_id",
    )
)


def make_meta(
    entity_id: Any,
    version: int | None,
    timestamp: datetime.datetime | None,
    event_id: uuid.UUID | None,
    correlation_id: str | None,
    causation_id: str | None,
    _new: Callable[[type[EventMeta]], EventMeta] = object.__new__,
    _slots: tuple[Callable[[EventMeta, Any], None], ...] = _META_SLOTS,
) -> EventMeta:
    """``EventMeta(...)`` (all fields, positional) without the dataclass's ``__init__``
    and its keyword handling: the same object, faster. For the hot paths (one per
    decoded or appended event)."""
    meta = _new(EventMeta)
    set_entity_id, set_version, set_timestamp, set_event_id, set_correlation, set_causation = (
        _slots
    )
    set_entity_id(meta, entity_id)
    set_version(meta, version)
    set_timestamp(meta, timestamp)
    set_event_id(meta, event_id)
    set_correlation(meta, correlation_id)
    set_causation(meta, causation_id)
    return meta


_UUID = uuid.UUID
_UNKNOWN_SAFETY = uuid.SafeUUID.unknown


def uuid_from_int(number: int) -> uuid.UUID:
    """``uuid.UUID(int=number)`` for a number known to be in range (0 <= n < 2**128),
    without its argument checks: what it builds (slots ``int`` and ``is_safe``)."""
    result = object.__new__(_UUID)
    object.__setattr__(result, "int", number)
    object.__setattr__(result, "is_safe", _UNKNOWN_SAFETY)
    return result


_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (4 << 76) | (0x8000 << 48)


def new_event_ids(count: int) -> list[uuid.UUID]:
    """``count`` random (version 4) UUIDs, as ``uuid.uuid4()`` makes them, from one read
    of ``os.urandom``."""
    random = os.urandom(16 * count)
    from_bytes = int.from_bytes
    return [
        uuid_from_int(from_bytes(random[start : start + 16], "big") & _V4_CLEAR | _V4_SET)
        for start in range(0, 16 * count, 16)
    ]
