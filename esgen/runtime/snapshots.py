"""Snapshots: an entity's state at an offset, kept on the compacted ``<topic>.snapshots``.

Loading an entity without snapshots means folding its whole history. A snapshot is the
state after every record up to ``source_offset`` of the entity's event partition,
written to the snapshot topic under the entity id as key, so log compaction keeps only
each entity's latest one. ``load`` then folds only the events after ``source_offset``.

Record on ``<topic>.snapshots`` (same partition number as the entity's event partition):

- key: the entity id; value: the state in the wire format, under the state record's
  subject for the snapshot topic (e.g. ``bank.accounts.snapshots-com.example.bank.AccountState``);
- headers: ``esgen.type`` (state record), ``esgen.version`` (entity version),
  ``esgen.fingerprint`` (the descriptor's fingerprint: state schema and fold rules),
  ``esgen.source_partition``, ``esgen.source_offset``, ``esgen.source_topic_id`` (the
  Kafka topic id of the event topic).

The same partition of the snapshot topic holds the history's manifest under a reserved
key (see :mod:`esgen.runtime.manifest`); :meth:`SnapshotLog.restore` hands it back.

When a snapshot is written
    By an append that reaches ``snapshot_every``, **in the append's own transaction**
    (see :mod:`esgen.runtime.lease`), so it is stored exactly when the events are and is
    made from a view that covers every record up to its offset; and on ``close()`` for
    entities with events past their snapshot. A snapshot that cannot be made (the
    registry does not answer for the state's schema, the snapshot topic is gone) is
    skipped before anything is sent, logged and counted (``snapshots_skipped``): never an
    error for an append whose events are stored.

When a snapshot is not used (counted in ``snapshots_ignored`` and logged; the state is
rebuilt from the events, which are the truth)
    - its fingerprint is not today's descriptor's (other definitions made it);
    - it was made from another incarnation of the event topic (another topic id: the
      topic was deleted and created again);
    - its offset is at or beyond the end of the event partition (the topic was recreated,
      or it is not the partition the snapshot came from);
    - it cannot be decoded.

The local :mod:`state store <esgen.runtime.statestore>` is restored from the snapshot
topic (from its checkpoint to the end) the first time a partition is needed, like a
Kafka Streams store restoring from its changelog.

Restore points (the command processor)
    The command processor keeps every entity of a partition in memory and restores them
    all when it takes the partition over: every snapshot of the partition, then the
    events after them. Entities without a snapshot could have events anywhere in the
    partition, so the processor records, in each of its transactions, a **restore
    point** under the reserved key ``b"\x00esgen.restore_point"`` (header ``esgen.type:
    esgen.restore_point``): JSON ``{"format": 1, "fingerprint": ..., "topic_id": ...,
    "start": m}``, meaning "every event of this partition before offset ``m`` is covered
    by the latest snapshot of its entity". A restore then reads the events from ``m``
    (:meth:`SnapshotLog.scan` reads what it needs). The point is not used (the events
    are read from the start) when it was made by other definitions or from another
    incarnation of the topic, or when an entity's latest snapshot record cannot be used
    and is newer than the point (its older snapshot may be compacted away).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from esgen.runtime import headers as h
from esgen.runtime import logs, wire
from esgen.runtime.errors import EncodeError, RegistryError
from esgen.runtime.manifest import MANIFEST_KEY
from esgen.runtime.scan import PartitionReader
from esgen.runtime.statestore import SnapshotEntry, StateStore

log = logs.store

RESTORE_POINT_KEY = b"\x00esgen.restore_point"
RESTORE_POINT_TYPE = b"esgen.restore_point"
_RESTORE_POINT_FORMAT = 1


@dataclass(frozen=True)
class RestorePoint:
    """Every event of the partition before ``start`` is covered by its entity's latest
    snapshot (made with ``fingerprint`` from the event topic ``topic_id``)."""

    fingerprint: str
    topic_id: str
    start: int

    def encode(self) -> bytes:
        data = {
            "format": _RESTORE_POINT_FORMAT,
            "fingerprint": self.fingerprint,
            "topic_id": self.topic_id,
            "start": self.start,
        }
        return json.dumps(data, sort_keys=True).encode()

    @staticmethod
    def decode(value: bytes) -> RestorePoint | None:
        """The point in ``value``; None when it is not one this esgen can read."""
        try:
            data = json.loads(value)
            if data["format"] != _RESTORE_POINT_FORMAT:
                return None
            found = RestorePoint(
                str(data["fingerprint"]), str(data["topic_id"]), int(data["start"])
            )
        except (ValueError, TypeError, KeyError, UnicodeDecodeError):
            return None
        return found if found.start >= 0 else None


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    """An entity's latest snapshot record in a partition, as :meth:`SnapshotLog.scan`
    found it; ``entry`` is None when it cannot be used (another fingerprint, another
    incarnation of the event topic, headers missing)."""

    offset: int
    entry: SnapshotEntry | None
    why: str = ""
    """Why it cannot be used."""


@dataclass
class PartitionSnapshots:
    """A whole snapshot partition, read once: what a restore of every entity needs."""

    end: int = 0
    """The snapshot partition's end when it was read."""
    manifest: bytes | None = None
    restore_point: RestorePoint | None = None
    restore_point_offset: int = -1
    latest: dict[str, SnapshotRecord] = field(default_factory=dict)
    """Entity id -> its latest snapshot record."""


@dataclass
class SnapshotStats:
    snapshots_written: int = 0
    snapshots_restored: int = 0
    """Snapshot records read from the snapshot topic into the state store."""
    snapshots_ignored: int = 0
    """Snapshots not used (another fingerprint, another topic incarnation, beyond the end)."""
    snapshots_skipped: int = 0
    """Snapshots due but not written (registry or snapshot topic unavailable)."""


class SnapshotLog:
    """Makes snapshot records, keeps the state store in step and restores it."""

    def __init__(
        self,
        serde: wire.RegistrySerde,
        reader: PartitionReader,
        state_store: StateStore,
        stats: SnapshotStats,
    ) -> None:
        self.serde = serde
        self.topic = serde.snapshot_topic
        self.fingerprint = serde.descriptor.fingerprint
        self.reader = reader
        self.state_store = state_store
        self.stats = stats
        self._restored: set[int] = set()

    # -- writing -----------------------------------------------------------------------

    def encode(self, entity_id: str, state: Any, version: int) -> bytes | None:
        """The state's wire-format value; None (logged, counted) when it cannot be made."""
        try:
            return self.serde.encode_state(state)
        except (RegistryError, EncodeError) as exc:
            self.skipped(entity_id, version, f"{type(exc).__name__}: {exc}")
            return None

    def skipped(self, entity_id: str, version: int, reason: str) -> None:
        self.stats.snapshots_skipped += 1
        log.warning(
            "snapshot of %s %r at version %d skipped (the events are stored; loading "
            "folds more of them until the next snapshot): %s",
            self.serde.descriptor.name,
            entity_id,
            version,
            reason,
        )

    def headers(
        self, version: int, partition: int, source_offset: int, topic_id: str
    ) -> h.Headers:
        return [
            (h.H_TYPE, self.serde.descriptor.state.full_name.encode()),
            (h.H_VERSION, b"%d" % version),
            (h.H_FINGERPRINT, self.fingerprint.encode()),
            (h.H_SOURCE_PARTITION, b"%d" % partition),
            (h.H_SOURCE_OFFSET, b"%d" % source_offset),
            (h.H_SOURCE_TOPIC_ID, topic_id.encode()),
        ]

    def remember(
        self,
        partition: int,
        entity_id: str,
        version: int,
        source_offset: int,
        value: bytes,
        topic_id: str,
    ) -> None:
        """Keep a stored snapshot in the local state store too (a cache: never raises)."""
        entry = SnapshotEntry(entity_id, version, source_offset, self.fingerprint, value, topic_id)
        try:
            self.state_store.put(partition, entry)
        except Exception as exc:  # a full disk must not fail an append that is stored
            log.warning("state store: snapshot of %r not kept locally: %s", entity_id, exc)
        self.stats.snapshots_written += 1

    def write(
        self,
        producer: Producer,
        entity_id: str,
        partition: int,
        state: Any,
        version: int,
        source_offset: int,
        topic_id: str,
        timeout: float,
    ) -> bool:
        """Store a snapshot outside any transaction (``close()``); False (logged, counted)
        when it could not be written. Never raises."""
        value = self.encode(entity_id, state, version)
        if value is None:
            return False
        failures: list[str] = []

        def delivered(error: KafkaError | None, _msg: Message) -> None:
            if error is not None:
                failures.append(str(error))

        try:
            producer.produce(
                self.topic,
                value,
                entity_id.encode(),
                partition=partition,
                headers=self.headers(version, partition, source_offset, topic_id),
                on_delivery=delivered,
            )
            if producer.flush(timeout):
                failures.append(f"not delivered within {timeout:g} s")
        except Exception as exc:  # KafkaException, BufferError: the snapshot is optional
            failures.append(f"{type(exc).__name__}: {exc}")
        if failures:
            self.skipped(entity_id, version, f"not written to {self.topic}: {failures[0]}")
            return False
        self.remember(partition, entity_id, version, source_offset, value, topic_id)
        return True

    # -- reading -----------------------------------------------------------------------

    def latest(self, partition: int, entity_id: str) -> SnapshotEntry | None:
        """The entity's latest snapshot by today's definitions (restoring the partition on
        first use); whether it fits the event topic is the caller's to check."""
        if partition not in self._restored:
            self.restore(partition)
        entry = self.state_store.get(partition, entity_id)
        if entry is None:
            return None
        if entry.fingerprint != self.fingerprint:
            self.ignored(entity_id, "it was made by other definitions (another fingerprint)")
            return None
        return entry

    def ignored(self, entity_id: str, why: str) -> None:
        self.stats.snapshots_ignored += 1
        log.info(
            "snapshot of %s %r not used, the state is rebuilt from its events: %s",
            self.serde.descriptor.name,
            entity_id,
            why,
        )

    def restore(self, partition: int) -> bytes | None:
        """Bring the state store's partition up to date with the snapshot topic; the
        partition's manifest record (None: it has none)."""
        start = self.state_store.checkpoint(partition)
        _low, high = self.reader.watermarks(self.topic, partition)
        if start > high:
            # The topic is younger than the store (recreated, or a fresh dev broker).
            self.state_store.clear(partition)
            start = 0
        for msg in self.reader.read(self.topic, partition, start):
            self._restore_one(partition, msg)
        self.state_store.set_checkpoint(partition, high)
        self._restored.add(partition)
        return self.state_store.manifest(partition)

    def _restore_one(self, partition: int, msg: Message) -> None:
        key, value = msg.key(), msg.value()
        if key is None or value is None:
            return
        if isinstance(value, str):
            value = value.encode()
        if key == MANIFEST_KEY:
            self.state_store.set_manifest(partition, value)
            return
        if key == RESTORE_POINT_KEY:  # the command processor's, read by scan()
            return
        headers = h.header_map(msg.headers())
        entity_id = _entity_text(key)
        if entity_id is None:  # no snapshot the store wrote: no load looks it up
            self.stats.snapshots_ignored += 1
            return
        if headers.get(h.H_FINGERPRINT) != self.fingerprint:
            self.stats.snapshots_ignored += 1
            return
        try:
            version = int(headers[h.H_VERSION])
            source_offset = int(headers[h.H_SOURCE_OFFSET])
        except (KeyError, ValueError):
            log.warning(
                "%s[%d]@%s: snapshot without valid headers", self.topic, partition, msg.offset()
            )
            return
        topic_id = headers.get(h.H_SOURCE_TOPIC_ID, "")
        current = self.state_store.get(partition, entity_id)
        if (
            current is not None
            and current.fingerprint == self.fingerprint
            and current.topic_id == topic_id
            and current.source_offset >= source_offset
        ):
            return
        entry = SnapshotEntry(entity_id, version, source_offset, self.fingerprint, value, topic_id)
        self.state_store.put(partition, entry)
        self.stats.snapshots_restored += 1

    def scan(self, partition: int, topic_id: str) -> PartitionSnapshots:
        """Read the whole snapshot partition (committed records): its manifest, its
        latest restore point and every entity's latest snapshot record, judged against
        today's fingerprint and the event topic's id. The state store is left alone."""
        found = PartitionSnapshots()
        _low, found.end = self.reader.watermarks(self.topic, partition)
        for msg in self.reader.read(self.topic, partition, 0, found.end):
            key, value = msg.key(), msg.value()
            offset = msg.offset() or 0
            if key is None or value is None:
                continue
            if isinstance(key, str):
                key = key.encode()
            if isinstance(value, str):
                value = value.encode()
            if key == MANIFEST_KEY:
                found.manifest = value
            elif key == RESTORE_POINT_KEY:
                found.restore_point = RestorePoint.decode(value)
                found.restore_point_offset = offset
            else:
                entity_id = _entity_text(key)
                if entity_id is not None:
                    found.latest[entity_id] = self._judge(entity_id, offset, value, msg, topic_id)
        return found

    def _judge(
        self, entity_id: str, offset: int, value: bytes, msg: Message, topic_id: str
    ) -> SnapshotRecord:
        headers = h.header_map(msg.headers())
        if headers.get(h.H_FINGERPRINT) != self.fingerprint:
            return SnapshotRecord(offset, None, "it was made by other definitions")
        made_from = headers.get(h.H_SOURCE_TOPIC_ID, "")
        if made_from and topic_id and made_from != topic_id:
            return SnapshotRecord(offset, None, f"it was made from another topic ({made_from})")
        try:
            version = int(headers[h.H_VERSION])
            source_offset = int(headers[h.H_SOURCE_OFFSET])
        except (KeyError, ValueError):
            return SnapshotRecord(offset, None, "its headers are missing or invalid")
        entry = SnapshotEntry(
            entity_id, version, source_offset, self.fingerprint, value, made_from
        )
        return SnapshotRecord(offset, entry)

    def restore_point_record(self, point: RestorePoint) -> tuple[bytes, bytes, h.Headers]:
        """``(key, value, headers)`` of a restore point record."""
        return RESTORE_POINT_KEY, point.encode(), [(h.H_TYPE, RESTORE_POINT_TYPE)]


def _entity_text(key: str | bytes) -> str | None:
    """The entity id text of a snapshot's key; None for bytes that are not UTF-8 (the
    store writes every key as an id's text, so such a record is not a snapshot of ours and
    must not stand in for the id its replacement characters would spell)."""
    if isinstance(key, str):
        return key
    try:
        return key.decode()
    except UnicodeDecodeError:
        return None
