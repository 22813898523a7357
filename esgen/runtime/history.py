"""Reading entities' histories from an event partition, with the checks that make a read
right or an error.

A state is only as right as the records it is folded from. Every read of an event
partition (``load``, ``read``, an append's catch-up; and the command processor's restore
of a whole partition) goes through :class:`HistoryReader`, which reads ``read_committed``
and checks, for each entity, what it folds:

- **Truncation.** The log must still start at or before the first offset the state needs
  (0 without a snapshot, the snapshot's offset + 1 with one):
  :class:`~esgen.runtime.errors.HistoryTruncated` otherwise.
- **Versions.** Each event of an entity must carry the version after the previous one
  (``esgen.version``; a record without the header takes the next one). Two records with
  one version, or a gap, mean the history was written by a writer that did not hold the
  partition's lease (an older esgen, a foreign producer): a
  :class:`~esgen.runtime.errors.HistoryForked` naming both offsets. A record that repeats
  the previous event exactly (same version, same event id) is a redelivery and skipped.
- **Foreign records.** A record under an entity's key that is not an event at all (a
  tombstone, a value without the wire-format framing) is skipped and handed to
  ``on_foreign`` (the store dead-letters it with the reason), so the entity stays usable.
- **Undecodable events.** A framed record that cannot be decoded (unknown schema id, a
  type that is not an event of the entity, a schema mismatch) stops the read with a
  ``DecodeError`` naming topic, partition, offset and type, and saying what to do: the
  entity cannot be folded without it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Message

from esgen.runtime import headers as h
from esgen.runtime import wire
from esgen.runtime.errors import DecodeError, HistoryForked
from esgen.runtime.framing import is_framed
from esgen.runtime.meta import EventMeta
from esgen.runtime.scan import PartitionReader


@dataclass(slots=True)
class EntityView:
    """What a reader knows of one entity: its state after every record before ``next_offset``."""

    entity_id: Any  # str, uuid.UUID or int: the type of the entity's key field
    state: Any
    version: int
    next_offset: int
    """Every record of the partition before this offset is folded (or is another entity's)."""
    snapshot_version: int = 0
    last_event_id: uuid.UUID | None = None
    last_offset: int = -1
    """Offset of the event that made ``version`` (-1: unknown, e.g. from a snapshot)."""


@dataclass
class HistoryStats:
    records_scanned: int = 0
    """Records read from event partitions (any key)."""
    events_replayed: int = 0
    """Events of the loaded entities folded while loading or catching up."""
    foreign_records: int = 0
    """Records under an entity's key that are not events (skipped, dead-lettered)."""
    redeliveries: int = 0
    """Records that repeat the previous event exactly (skipped)."""


ForeignHandler = Callable[[Message, str], None]


class HistoryReader:
    """Reads an event partition and checks each entity's events (see the module doc)."""

    def __init__(
        self,
        serde: wire.RegistrySerde,
        reader: PartitionReader,
        stats: HistoryStats,
        on_foreign: ForeignHandler,
    ) -> None:
        self.serde = serde
        self.topic = serde.topic
        self.descriptor = serde.descriptor
        self.reader = reader
        self.stats = stats
        self.on_foreign = on_foreign

    def records(self, partition: int, start: int, end: int) -> Iterator[Message]:
        """Every committed record of the partition in ``[start, end)``; the log must still
        start at ``start`` (``HistoryTruncated`` otherwise)."""
        stats = self.stats
        for msg in self.reader.read(self.topic, partition, start, end, strict=True):
            stats.records_scanned += 1
            yield msg

    def event(
        self, view: EntityView, msg: Message, *, check_versions: bool = True
    ) -> tuple[Any, EventMeta] | None:
        """The event of ``msg`` (a record under ``view``'s key), checked against the view;
        None when the record is to be skipped (foreign, or a redelivery)."""
        value = msg.value()
        if not is_framed(value):
            self.stats.foreign_records += 1
            reason = (
                "a tombstone (no value)"
                if value is None
                else f"a value of {len(value)} byte(s) without the Confluent wire-format framing"
            )
            self.on_foreign(msg, f"not an event of {self.descriptor.name}: {reason}")
            return None
        try:
            event, meta = wire.decode_message(self.serde, msg, view.version + 1)
        except DecodeError as exc:
            raise self._undecodable(view, msg, exc) from exc
        version = meta.version or view.version + 1
        if check_versions and version != view.version + 1:
            if version == view.version and meta.event_id == view.last_event_id:
                self.stats.redeliveries += 1
                return None
            raise self._forked(view, msg, version)
        return event, meta

    def fold(self, view: EntityView, msg: Message, event: Any, meta: EventMeta) -> None:
        """Apply a checked event to the view."""
        view.state = self.descriptor.apply(view.state, event, meta)
        view.version = meta.version or view.version + 1
        view.last_event_id = meta.event_id
        view.last_offset = msg.offset() or 0
        self.stats.events_replayed += 1

    def _where(self, msg: Message) -> str:
        return f"{self.topic}[{msg.partition()}]@{msg.offset()}"

    def _undecodable(self, view: EntityView, msg: Message, exc: DecodeError) -> DecodeError:
        kind = h.header_map(msg.headers()).get(h.H_TYPE, "unknown type")
        return DecodeError(
            f"{exc} [{kind}]. This record is an event of {self.descriptor.name} "
            f"{view.entity_id!r} (framed, under its key), so the entity cannot be folded "
            "without it: make today's definitions read it (the event type, an alias or an "
            "upcast for an old one, the writer schema registered in this registry), or "
            f"inspect it with `esgen tail <module> --from-beginning --entity {view.entity_id}`"
        )

    def _forked(self, view: EntityView, msg: Message, version: int) -> HistoryForked:
        expected = view.version + 1
        partition = msg.partition() or 0
        offset = msg.offset() or 0
        before = (
            f" after version {view.version} at offset {view.last_offset}"
            if view.last_offset >= 0
            else f" after version {view.version}"
        )
        if version <= view.version:
            what = f"a second version {version}"
        else:
            what = f"version {version} (versions {expected}..{version - 1} are missing)"
        return HistoryForked(
            f"{self._where(msg)}: {self.descriptor.name} {view.entity_id!r} has {what}"
            f"{before}: its history was written by a writer that did not hold the "
            "partition's lease (an esgen release without leases, or a foreign producer), or "
            "events were deleted. No state is built on it. Decide which events are right, write "
            "them in order to a new topic (`esgen tail <module> --from-beginning --entity "
            f"{view.entity_id}` lists them) and point the store at it",
            topic=self.topic,
            partition=partition,
            entity_id=view.entity_id,
            offset=offset,
            version=version,
            expected=expected,
        )
