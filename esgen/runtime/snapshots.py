"""Snapshots: an entity's state at an offset, kept on the compacted ``<topic>.snapshots``.

Loading an entity without snapshots means folding its whole history. A snapshot is the
state after the event at ``source_offset`` (in the event topic's partition), written to
the snapshot topic under the entity id as key, so log compaction keeps only each
entity's latest one. ``load`` then folds only the events after ``source_offset``.

Record on ``<topic>.snapshots`` (same partition number as the entity's event partition):

- key: the entity id; value: the state in the wire format, under the state record's
  subject for the snapshot topic (e.g. ``bank.accounts.snapshots-com.example.bank.AccountState``);
- headers: ``esgen.type`` (state record), ``esgen.version`` (entity version),
  ``esgen.fingerprint`` (the descriptor's fingerprint: state schema and fold rules),
  ``esgen.source_partition``, ``esgen.source_offset``.

A snapshot whose fingerprint differs from today's descriptor was made by other
definitions (another fold, another state schema): it is ignored and the state is rebuilt
from the events, which are the truth. Snapshots are an optimisation only: a failed
snapshot write is logged, never raised to the appender whose events are already stored.

The local :mod:`state store <esgen.runtime.statestore>` is restored from the snapshot
topic (from its checkpoint to the end) the first time a partition is needed, like a
Kafka Streams store restoring from its changelog.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from esgen.runtime import headers as h
from esgen.runtime import wire
from esgen.runtime.scan import PartitionReader
from esgen.runtime.statestore import SnapshotEntry, StateStore

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SnapshotStats:
    snapshots_written: int = 0
    snapshots_restored: int = 0
    """Snapshot records read from the snapshot topic into the state store."""
    snapshots_ignored: int = 0
    """Snapshots skipped because their fingerprint is not today's."""


class SnapshotLog:
    """Writes snapshots to the snapshot topic and restores the state store from it."""

    def __init__(
        self,
        serde: wire.RegistrySerde,
        producer: Producer,
        reader: PartitionReader,
        state_store: StateStore,
        stats: SnapshotStats,
    ) -> None:
        self.serde = serde
        self.topic = serde.snapshot_topic
        self.fingerprint = serde.descriptor.fingerprint
        self.producer = producer
        self.reader = reader
        self.state_store = state_store
        self.stats = stats
        self._restored: set[int] = set()

    def write(
        self, entity_id: str, partition: int, state: Any, version: int, source_offset: int
    ) -> bool:
        """Store a snapshot (topic, then local store); False when it could not be written."""
        value = self.serde.encode_state(state)
        headers: h.Headers = [
            (h.H_TYPE, self.serde.descriptor.state.full_name.encode()),
            (h.H_VERSION, str(version).encode()),
            (h.H_FINGERPRINT, self.fingerprint.encode()),
            (h.H_SOURCE_PARTITION, str(partition).encode()),
            (h.H_SOURCE_OFFSET, str(source_offset).encode()),
        ]
        failures: list[KafkaError] = []

        def delivered(error: KafkaError | None, _msg: Message) -> None:
            if error is not None:
                failures.append(error)

        self.producer.produce(
            self.topic,
            value,
            entity_id.encode(),
            partition=partition,
            headers=headers,
            on_delivery=delivered,
        )
        self.producer.flush()
        if failures:
            log.warning(
                "snapshot of %s %r at version %d not written to %s: %s",
                self.serde.descriptor.name,
                entity_id,
                version,
                self.topic,
                failures[0],
            )
            return False
        entry = SnapshotEntry(entity_id, version, source_offset, self.fingerprint, value)
        self.state_store.put(partition, entry)
        self.stats.snapshots_written += 1
        return True

    def latest(self, partition: int, entity_id: str) -> SnapshotEntry | None:
        """The entity's latest usable snapshot (restoring the partition on first use)."""
        if partition not in self._restored:
            self.restore(partition)
        entry = self.state_store.get(partition, entity_id)
        if entry is None:
            return None
        if entry.fingerprint != self.fingerprint:
            self.stats.snapshots_ignored += 1
            return None
        return entry

    def restore(self, partition: int) -> None:
        """Bring the state store's partition up to date with the snapshot topic."""
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

    def _restore_one(self, partition: int, msg: Message) -> None:
        key, value = msg.key(), msg.value()
        if key is None or value is None:
            return
        headers = h.header_map(msg.headers())
        entity_id = key.decode() if isinstance(key, bytes) else key
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
        current = self.state_store.get(partition, entity_id)
        if (
            current is not None
            and current.fingerprint == self.fingerprint
            and current.source_offset >= source_offset
        ):
            return
        if isinstance(value, str):
            value = value.encode()
        entry = SnapshotEntry(entity_id, version, source_offset, self.fingerprint, value)
        self.state_store.put(partition, entry)
        self.stats.snapshots_restored += 1
