"""esgen's metadata headers on Kafka records (values are UTF-8 bytes).

Events
------
========================  ============================================================
``esgen.type``            full name of the event record, e.g. ``com.example.bank.MoneyDeposited``
``esgen.event_id``        the event's UUID (``8-4-4-4-12`` hex form)
``esgen.version``         entity version the event creates (1 for an entity's first), decimal
``esgen.timestamp``       event time in milliseconds since the Unix epoch, decimal
``esgen.correlation_id``  optional: the id of the whole conversation
``esgen.causation_id``    optional: the id of the message that caused this event
========================  ============================================================

Records without esgen headers (e.g. from a plain Confluent producer) still decode: the
type comes from the writer schema, the time from the record timestamp, the event id is
derived from topic/partition/offset (stable across replays) and the version is left to
the reader (the event store counts them).

Snapshots (``<topic>.snapshots``)
---------------------------------
``esgen.type`` (the state record), ``esgen.version``, ``esgen.fingerprint`` (the
descriptor's fingerprint), ``esgen.source_partition``, ``esgen.source_offset`` (the last
event offset the snapshot covers) and ``esgen.source_topic_id`` (the Kafka topic id of
the event topic the snapshot was made from; see :mod:`esgen.runtime.snapshots`).

Commands (``<topic>.commands``) and replies (``<topic>.replies``)
-----------------------------------------------------------------
A command carries ``esgen.type`` (the command record), ``esgen.command_id`` (unique per
command; a retry sends the same id), ``esgen.timestamp`` (when it was sent) and the
optional correlation and causation ids. The events a command causes carry its id as
``esgen.causation_id``. A reply (see :mod:`esgen.runtime.replies`) carries
``esgen.type: esgen.reply``, ``esgen.command_id`` and ``esgen.outcome`` (``accepted``,
``rejected`` or ``failed``).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable

from esgen.runtime.errors import EncodeError
from esgen.runtime.meta import EventMeta, uuid_from_int

H_TYPE = "esgen.type"
H_EVENT_ID = "esgen.event_id"
H_VERSION = "esgen.version"
H_TIMESTAMP = "esgen.timestamp"
H_CORRELATION_ID = "esgen.correlation_id"
H_CAUSATION_ID = "esgen.causation_id"
H_COMMAND_ID = "esgen.command_id"
H_OUTCOME = "esgen.outcome"
H_FINGERPRINT = "esgen.fingerprint"
H_SOURCE_PARTITION = "esgen.source_partition"
H_SOURCE_OFFSET = "esgen.source_offset"
H_SOURCE_TOPIC_ID = "esgen.source_topic_id"

Headers = list[tuple[str, str | bytes | None]]
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def event_headers(full_name: str | bytes, meta: EventMeta) -> Headers:
    """The esgen headers of one event (see the module docstring)."""
    if meta.event_id is None or meta.version is None or meta.timestamp is None:
        raise EncodeError("an appended event needs event_id, version and timestamp")
    headers: Headers = [
        (H_TYPE, full_name.encode() if isinstance(full_name, str) else full_name),
        (H_EVENT_ID, str(meta.event_id).encode()),
        (H_VERSION, b"%d" % meta.version),
        (H_TIMESTAMP, b"%d" % to_millis(meta.timestamp)),
    ]
    if meta.correlation_id is not None:
        headers.append((H_CORRELATION_ID, meta.correlation_id.encode()))
    if meta.causation_id is not None:
        headers.append((H_CAUSATION_ID, meta.causation_id.encode()))
    return headers


def header_map(
    headers: dict[str, str | bytes | None] | Iterable[tuple[str, str | bytes | None]] | None,
) -> dict[str, str]:
    """Headers as ``name -> text`` (the last value wins; ``None`` values are dropped)."""
    result: dict[str, str] = {}
    items = headers.items() if isinstance(headers, dict) else headers or ()
    for name, value in items:
        if value is None:
            continue
        result[name] = value.decode(errors="replace") if isinstance(value, bytes) else value
    return result


def to_millis(moment: datetime.datetime) -> int:
    return (moment - _EPOCH) // datetime.timedelta(milliseconds=1)


def from_millis(millis: int) -> datetime.datetime:
    return _EPOCH + datetime.timedelta(milliseconds=millis)


# The events of one append share their timestamp, so consecutive records mostly repeat it.
_last_moment: tuple[int, datetime.datetime] = (0, _EPOCH)


def moment(millis: int) -> datetime.datetime:
    """``from_millis``, remembering the last answer."""
    global _last_moment
    last = _last_moment
    if last[0] == millis:
        return last[1]
    found = _EPOCH + datetime.timedelta(milliseconds=millis)
    _last_moment = (millis, found)
    return found


_UUID = uuid.UUID


def parse_uuid(raw: str | bytes) -> uuid.UUID:
    """``uuid.UUID(raw)`` for the ``8-4-4-4-12`` hex form, without its general parsing;
    anything else goes through ``uuid.UUID`` (same result, same errors)."""
    digits = raw.replace(b"-", b"") if isinstance(raw, bytes) else raw.replace("-", "")
    if len(digits) == 32:
        try:
            number = int(digits, 16)
        except ValueError:
            pass
        else:
            if number >= 0:  # 32 hex digits: below 2**128
                return uuid_from_int(number)
    return _UUID(raw.decode() if isinstance(raw, bytes) else raw)
