"""One event partition in the command processor's memory: every entity's state, and the
outcomes of recent commands; and how both are restored from Kafka.

The processor decides each command on its entity's current state without reading Kafka,
so for every partition it owns it keeps a :class:`PartitionState`:

``views``
    key (the entity id's canonical text, as on Kafka) ->
    :class:`~esgen.runtime.history.EntityView` (the id in its key type, state, version,
    where its last event and latest snapshot are), for every entity of the partition.
``unsnapshotted``
    entity id -> offset of its first event that its latest snapshot does not cover, for
    the entities that have such events, in ascending order of that offset (a dict keeps
    insertion order, and events arrive in offset order). The first value is where a
    restore must start reading events: the partition's **restore point** (see
    :mod:`esgen.runtime.snapshots`), written in every transaction.
``outcomes``
    command id -> ``(ms since the epoch, reply bytes)`` of every command accepted or
    rejected within the idempotency window, oldest first: a command id seen again gets
    these bytes again and nothing else is written.

Restoring (:meth:`PartitionRestorer.restore`), always while holding the partition's
lease (so nobody writes meanwhile) and before any command of the partition is decided:

1. read the whole snapshot partition once (:meth:`SnapshotLog.scan
   <esgen.runtime.snapshots.SnapshotLog.scan>`): the manifest (checked as the event store
   checks it), every entity's latest snapshot, the latest restore point;
2. decode each usable snapshot into its entity's view;
3. read the events from the restore point (from the log's start when there is no usable
   point) to the partition's committed end, ``read_committed`` and with the event store's
   integrity checks (:class:`~esgen.runtime.history.HistoryReader`: truncation, forks,
   foreign records), folding each event its entity's snapshot does not cover;
4. read the reply partition (what retention kept of it) into ``outcomes``.

A restore is right or raises: ``HistoryTruncated``, ``HistoryForked``,
``PartitionCountChanged`` (integrity: the processor stops), ``StoreError`` or
``RegistryError`` (the processor tries again later).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from esgen.runtime import logs, replies
from esgen.runtime.errors import DecodeError
from esgen.runtime.headers import H_OUTCOME
from esgen.runtime.history import EntityView
from esgen.runtime.snapshots import PartitionSnapshots, RestorePoint
from esgen.runtime.store import EventStore

log = logs.processor


@dataclass
class PartitionState:
    """What the processor knows of one event partition (see the module docstring)."""

    partition: int
    initial_state: Any
    """``descriptor.initial_state``: the state of an entity without events."""
    views: dict[str, EntityView] = field(default_factory=dict)
    unsnapshotted: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    end: int = 0
    """Every record of the event partition before this offset is folded into ``views``."""

    def view(self, key: str, entity_id: Any) -> EntityView:
        """The view of the entity under ``key`` (its id ``entity_id`` in the key's type);
        a new entity's (version 0) the first time it is asked for."""
        view = self.views.get(key)
        if view is None:
            view = self.views[key] = EntityView(
                entity_id, self.initial_state(entity_id), 0, self.end
            )
        return view

    def restore_start(self) -> int:
        """Where a restore must start reading events: the offset of the oldest event that
        no snapshot covers, else the end."""
        return next(iter(self.unsnapshotted.values()), self.end)

    def covered(self, entity_id: str) -> None:
        """The entity's latest snapshot now covers all its events."""
        self.unsnapshotted.pop(entity_id, None)

    def uncovered(self, entity_id: str, offset: int) -> None:
        """The entity has an event at ``offset`` (events arrive in offset order)."""
        if entity_id not in self.unsnapshotted:
            self.unsnapshotted[entity_id] = offset

    def oldest_unsnapshotted(self, count: int) -> Iterator[str]:
        """Up to ``count`` entities holding the restore point back, oldest first."""
        for number, entity_id in enumerate(self.unsnapshotted):
            if number >= count:
                return
            yield entity_id

    def remember(self, command_id: str, at_millis: int, reply: bytes) -> None:
        self.outcomes[command_id] = (at_millis, reply)

    def forget_before(self, cutoff_millis: int) -> int:
        """Drop the outcomes older than ``cutoff_millis``; how many were dropped."""
        outcomes = self.outcomes
        dropped = 0
        while outcomes:
            command_id, (at, _) = next(iter(outcomes.items()))
            if at >= cutoff_millis:
                break
            del outcomes[command_id]
            dropped += 1
        return dropped


@dataclass
class RestoreStats:
    restores: int = 0
    restore_seconds: float = 0.0
    """Time spent restoring partitions, in all."""
    last_restore_seconds: float = 0.0
    snapshots_loaded: int = 0
    """Entity snapshots decoded into views by restores."""
    restore_events: int = 0
    """Event records read by restores (any entity's)."""
    replies_loaded: int = 0
    """Outcomes read back from the reply topic by restores."""
    full_restores: int = 0
    """Restores that read the events from the log's start (no usable restore point)."""


class PartitionRestorer:
    """Restores :class:`PartitionState` from the event, snapshot and reply topics."""

    def __init__(self, store: EventStore[Any, Any], reply_topic: str, window_millis: int) -> None:
        self.store = store
        self.reply_topic = reply_topic
        self.window_millis = window_millis
        self.topic_id = store.topic_info.topic_id or ""
        self.stats = RestoreStats()

    def restore(self, partition: int, now_millis: int) -> PartitionState:
        """The partition's state as Kafka has it now (see the module docstring)."""
        began = time.monotonic()
        store = self.store
        _, end = store.history.reader.watermarks(store.topic, partition)
        snapshots = store.snapshots.scan(partition, self.topic_id)
        store.check_manifest(
            partition,
            lambda: snapshots.manifest,
            lambda: store.snapshots.scan(0, self.topic_id).manifest,
        )
        state = PartitionState(partition, store.descriptor.initial_state)
        start = self._load_snapshots(state, snapshots, end)
        self._fold_events(state, start, end)
        self._load_outcomes(state, now_millis)
        seconds = time.monotonic() - began
        stats = self.stats
        stats.restores += 1
        stats.restore_seconds += seconds
        stats.last_restore_seconds = seconds
        log.info(
            "restored %s[%d]: %d entities, events %d..%d, %d outcomes in %.2f s",
            store.topic,
            partition,
            len(state.views),
            start,
            end,
            len(state.outcomes),
            seconds,
        )
        return state

    def _load_snapshots(self, state: PartitionState, found: PartitionSnapshots, end: int) -> int:
        """Put every usable snapshot into ``state``; the offset to read events from."""
        store = self.store
        point = found.restore_point
        trusted = point is not None and self._fits(point, end)
        parse_key = store.descriptor.parse_key
        for key, record in found.latest.items():
            entry = record.entry
            why = record.why
            try:
                entity_id = parse_key(key)
            except DecodeError as exc:
                entry, why = None, f"its key is not an id of {store.descriptor.name}: {exc}"
            if entry is not None and entry.source_offset >= end:
                why = f"its offset {entry.source_offset} is beyond the end ({end})"
                entry = None
            if entry is not None:
                try:
                    snapshot_state = store.serde.decode_state(entry.value)
                except DecodeError as exc:
                    entry, why = None, f"it cannot be decoded: {exc}"
                    trusted = False  # its maker could decode it: it counted on it
                else:
                    state.views[key] = EntityView(
                        entity_id,
                        snapshot_state,
                        entry.version,
                        entry.source_offset + 1,
                        entry.version,
                        None,
                        entry.source_offset,
                    )
                    self.stats.snapshots_loaded += 1
                    continue
            store.snapshots.ignored(key, why)
            if record.offset > found.restore_point_offset:
                trusted = False  # newer than the point: an older snapshot may be gone
        if trusted:
            assert point is not None
            return point.start
        self.stats.full_restores += 1
        return 0

    def _fits(self, point: RestorePoint, end: int) -> bool:
        fingerprint = self.store.descriptor.fingerprint
        return (
            point.fingerprint == fingerprint
            and (not point.topic_id or not self.topic_id or point.topic_id == self.topic_id)
            and point.start <= end
        )

    def _fold_events(self, state: PartitionState, start: int, end: int) -> None:
        history = self.store.history
        views = state.views
        initial_state = state.initial_state
        parse_key = self.store.descriptor.parse_key
        for msg in history.records(state.partition, start, end):
            self.stats.restore_events += 1
            key = msg.key()
            offset = msg.offset() or 0
            if key is None:
                continue  # no entity's record (the store would never write it)
            try:
                text = key.decode() if isinstance(key, bytes) else key
            except UnicodeDecodeError as exc:  # no id's canonical text (the store's keys are)
                history.on_foreign(
                    msg, f"the key is not an id of {history.descriptor.name}: not UTF-8 ({exc})"
                )
                continue
            view = views.get(text)
            if view is None:
                try:
                    entity_id = parse_key(text)
                except DecodeError as exc:  # no entity of ours: what the store never reads
                    history.on_foreign(
                        msg, f"the key is not an id of {history.descriptor.name}: {exc}"
                    )
                    continue
                view = views[text] = EntityView(entity_id, initial_state(entity_id), 0, 0)
            if offset < view.next_offset:
                continue  # covered by the entity's snapshot
            checked = history.event(view, msg)
            view.next_offset = offset + 1
            if checked is None:
                continue
            events, meta = checked  # an upcast record may be several events, or none
            history.fold(view, msg, events, meta)
            state.uncovered(text, offset)
        state.end = max(end, start)

    def _load_outcomes(self, state: PartitionState, now_millis: int) -> None:
        reader = self.store.history.reader
        remembered = replies.REMEMBERED
        cutoff = now_millis - self.window_millis
        for msg in reader.read(self.reply_topic, state.partition, 0):
            key, value = msg.key(), msg.value()
            if key is None or value is None:
                continue
            headers: list[tuple[str, bytes]] = msg.headers() or []  # type: ignore[assignment]
            outcome = next((v for n, v in headers if n == H_OUTCOME), None)
            if outcome not in remembered:
                continue  # failed: not an outcome, the id stays free
            at = msg.timestamp()[1]
            if at < cutoff:
                continue
            command_id = key.decode(errors="replace") if isinstance(key, bytes) else key
            if command_id not in state.outcomes:  # the first outcome is the outcome
                state.outcomes[command_id] = (
                    at,
                    value if isinstance(value, bytes) else value.encode(),
                )
                self.stats.replies_loaded += 1
