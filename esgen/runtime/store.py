"""The event store: append an entity's events to Kafka, read them back, load its state.

::

    from generated.bank import account
    from esgen.runtime import EventStore

    with EventStore(account.ENTITY, bootstrap="127.0.0.1:9092",
                    registry="http://127.0.0.1:8081/apis/ccompat/v7") as store:
        store.append("acc-1", [account.AccountOpened(owner="Ann")], expected_version=0)
        state = store.load("acc-1")

Appending
    The new events are folded onto the entity's current state and the invariants are
    checked after each one, and every event is encoded, *before* anything is sent: an
    append that breaks an invariant (or cannot be encoded) writes nothing. The events go
    through an idempotent producer (``acks=all``, ``enable.idempotence=true``) to the
    entity's partition (key = entity id, Java's murmur2 partitioner) and ``append`` waits
    until each is acknowledged; a delivery failure raises ``StoreError`` (nothing is
    dropped silently). Broker retries never duplicate or reorder events (idempotence).
    A multi-event append is not atomic: if delivery fails midway (after
    ``message.timeout.ms``), a prefix of the events may be stored; the error says how
    many were, and the store forgets its cached view of the entity so the next ``load``
    reads the truth from Kafka.

``expected_version``
    Compared with the entity's version as this store sees it (its cache, refreshed from
    Kafka for that call). It catches stale commands within one process and most races
    between processes, but it is **not a guarantee across processes**: Kafka has no
    conditional append, so two writers that both read version 7 can both append version
    8. Until single-writer command processing (one owner per partition) lands, run one
    writer per entity type, or accept that rare race.

Loading
    Kafka has no per-key index: reading an entity scans its partition. ``load`` starts
    from the entity's latest snapshot (see :mod:`esgen.runtime.snapshots`) and folds only
    the events after it; a snapshot is written every ``snapshot_every`` events per entity
    and for every entity with unsnapshotted events on ``close()``. ``stats`` counts the
    events folded and records scanned so tests assert work done, not time.
    Read-your-writes holds within one store: its cache is updated after each append.

A store is not thread-safe: use one per thread (or serialise calls).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Self, TypeVar

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from confluent_kafka.schema_registry import SchemaRegistryClient

from esgen.runtime import wire
from esgen.runtime.appending import fold_new_events
from esgen.runtime.descriptor import EntityDescriptor
from esgen.runtime.errors import ConcurrencyError, StoreError
from esgen.runtime.meta import EventMeta
from esgen.runtime.partitioning import partition_for
from esgen.runtime.scan import PartitionReader
from esgen.runtime.snapshots import SnapshotLog, SnapshotStats
from esgen.runtime.statestore import MemoryStateStore, SqliteStateStore, StateStore
from esgen.runtime.subjects import DEFAULT_STRATEGY, SubjectStrategy, snapshot_topic

S = TypeVar("S")
E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class Position:
    """Where an appended event was stored, and the entity version it created."""

    topic: str
    partition: int
    offset: int
    version: int


@dataclass(slots=True)
class StoreStats(SnapshotStats):
    """Work counters (cumulative), for tests and benchmarks."""

    events_appended: int = 0
    events_replayed: int = 0
    """Events of the loaded entity folded while loading or catching up."""
    records_scanned: int = 0
    """Records read from event partitions (any key) while loading."""


@dataclass(slots=True)
class _View:
    """What this store knows of one entity: its state after ``offset``."""

    state: Any
    version: int
    offset: int  # last event offset folded into ``state`` (-1: none)
    snapshot_version: int


@dataclass(frozen=True)
class StoreConfig:
    """Everything an :class:`EventStore` is configured with (besides the descriptor).

    ``kafka_config`` is passed to confluent-kafka's producer, consumer and admin client
    as is (``security.protocol``, ``sasl.*``, ``ssl.*``, ``client.id``...); it may
    override the defaults below. ``registry`` is a URL, a ``SchemaRegistryClient`` or
    its config dict (``basic.auth.user.info``, ``ssl.*``).
    """

    bootstrap: str
    registry: str | dict[str, Any] | SchemaRegistryClient
    strategy: SubjectStrategy | str = DEFAULT_STRATEGY
    auto_register: bool = False
    partitions: int = 3
    replication_factor: int = -1  # the broker's default.replication.factor
    create_topics: bool = True
    snapshot_every: int = 100
    state_dir: str | Path | None = None  # None: in-memory state store
    timeout: float = 30.0
    """Seconds to wait for metadata and reads; deliveries wait up to ``message.timeout.ms``."""
    kafka_config: dict[str, Any] = field(default_factory=dict)


class EventStore(Generic[S, E]):
    """Appends, reads and loads the entities of one descriptor on Kafka."""

    def __init__(
        self,
        descriptor: EntityDescriptor[S, E],  # type: ignore[type-var]
        bootstrap: str | None = None,
        registry: str | dict[str, Any] | SchemaRegistryClient | None = None,
        *,
        config: StoreConfig | None = None,
        **options: Any,
    ) -> None:
        if config is None:
            if bootstrap is None or registry is None:
                raise TypeError("EventStore needs bootstrap and registry (or config=)")
            kafka_config = dict(options.pop("kafka_config", {}))
            known = set(StoreConfig.__dataclass_fields__)
            # Unknown keyword options are Kafka settings: ``security_protocol="SSL"``.
            for name in [n for n in options if n not in known]:
                kafka_config[name.replace("_", ".")] = options.pop(name)
            config = StoreConfig(bootstrap, registry, kafka_config=kafka_config, **options)
        self.config = config
        self.descriptor = descriptor
        self.topic = descriptor.topic
        self.snapshot_topic = snapshot_topic(self.topic)
        self.stats = StoreStats()
        self.serde = wire.RegistrySerde(
            descriptor,
            config.registry,
            strategy=config.strategy,
            auto_register=config.auto_register,
        )
        base = {"bootstrap.servers": config.bootstrap, **config.kafka_config}
        self._admin = AdminClient(base)
        self.partitions = self._ensure_topics()
        self._producer = Producer(
            {
                "acks": "all",
                "enable.idempotence": True,
                "partitioner": "murmur2_random",
                "linger.ms": 5,
                "message.timeout.ms": 120_000,
                **base,
            }
        )
        self._reader = PartitionReader(base, config.timeout)
        state_store: StateStore = (
            MemoryStateStore()
            if config.state_dir is None
            else SqliteStateStore(config.state_dir, self.topic)
        )
        self.state_store = state_store
        self.snapshots = SnapshotLog(
            self.serde, self._producer, self._reader, state_store, self.stats
        )
        self._views: dict[str, _View] = {}
        self._closed = False

    # -- topics ------------------------------------------------------------------------

    def _partition_count(self, topic: str) -> int | None:
        try:
            metadata = self._admin.list_topics(topic, timeout=self.config.timeout)
        except KafkaException as exc:
            raise StoreError(
                f"cannot reach Kafka at {self.config.bootstrap} within "
                f"{self.config.timeout:g} s: {exc.args[0]}; is the broker running and is "
                "bootstrap right?"
            ) from exc
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            return None
        return len(found.partitions)

    def _ensure_topics(self) -> int:
        partitions = self._partition_count(self.topic)
        if partitions is None:
            partitions = self._create(self.topic, self.config.partitions, {})
        snapshots = self._partition_count(self.snapshot_topic)
        if snapshots is None:
            snapshots = self._create(
                self.snapshot_topic, partitions, {"cleanup.policy": "compact"}
            )
        if snapshots != partitions:
            raise StoreError(
                f"{self.snapshot_topic} has {snapshots} partitions but {self.topic} has "
                f"{partitions}; they must match (an entity's snapshot lives in the partition "
                "of its events): recreate the snapshot topic"
            )
        return partitions

    def _create(self, topic: str, partitions: int, config: dict[str, str]) -> int:
        if not self.config.create_topics:
            raise StoreError(
                f"topic {topic} does not exist on Kafka at {self.config.bootstrap}; create "
                "it or let the store create it (create_topics=True)"
            )
        new = NewTopic(
            topic,
            num_partitions=partitions,
            replication_factor=self.config.replication_factor,
            config=config,
        )
        future = self._admin.create_topics([new], operation_timeout=self.config.timeout)[topic]
        try:
            future.result(timeout=self.config.timeout)
        except KafkaException as exc:
            error = exc.args[0]
            if not (
                isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS
            ):
                raise StoreError(
                    f"cannot create topic {topic} on Kafka at {self.config.bootstrap}: {error}"
                ) from exc
        self._wait_for_leaders(topic)
        return partitions

    def _wait_for_leaders(self, topic: str) -> None:
        """A new topic's partitions get leaders a moment after creation; wait for them."""
        deadline = time.monotonic() + self.config.timeout
        while time.monotonic() < deadline:
            metadata = self._admin.list_topics(topic, timeout=self.config.timeout)
            found = metadata.topics.get(topic)
            if (
                found is not None
                and found.error is None
                and found.partitions
                and all(p.leader >= 0 for p in found.partitions.values())
            ):
                return
            time.sleep(0.05)
        raise StoreError(
            f"topic {topic} on Kafka at {self.config.bootstrap} has no leader for every "
            f"partition after {self.config.timeout:g} s"
        )

    def partition_of(self, entity_id: str) -> int:
        return partition_for(self.descriptor.key_text(entity_id), self.partitions)

    # -- appending ---------------------------------------------------------------------

    def append(
        self,
        entity_id: str,
        events: Iterable[E],
        expected_version: int | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> list[Position]:
        """Append ``events`` to the entity; their positions, once all are stored.

        Raises ``InvariantViolation`` or ``EncodeError`` (nothing written),
        ``ConcurrencyError`` when ``expected_version`` is not the current version
        (nothing written), ``StoreError`` when Kafka did not acknowledge them.
        """
        self._check_open()
        batch = list(events)
        view = self._view(entity_id, refresh=expected_version is not None)
        if expected_version is not None and expected_version != view.version:
            raise ConcurrencyError(self.descriptor.name, entity_id, expected_version, view.version)
        if not batch:
            return []
        state, prepared = self._prepare(
            entity_id, view.state, view.version, batch, correlation_id, causation_id
        )
        positions = self._send(entity_id, prepared, view.version)
        view.state = state
        view.version = positions[-1].version
        view.offset = positions[-1].offset
        self.stats.events_appended += len(positions)
        if view.version - view.snapshot_version >= self.config.snapshot_every:
            self._snapshot(entity_id, view)
        return positions

    def _prepare(
        self,
        entity_id: str,
        state: Any,
        version: int,
        batch: Sequence[Any],
        correlation_id: str | None,
        causation_id: str | None,
    ) -> tuple[Any, list[tuple[bytes, wire.Headers]]]:
        """The state after ``batch`` and each event's value and headers, ready to send
        (all the CPU work of an append; nothing is sent)."""
        state, metas = fold_new_events(
            self.descriptor,
            entity_id,
            state,
            version,
            batch,
            correlation_id,
            causation_id,
        )
        # The headers of wire.event_headers, with what the batch shares computed once.
        timestamp = metas[0].timestamp  # one per append
        assert timestamp is not None
        shared: wire.Headers = [(wire.H_TIMESTAMP, b"%d" % wire.to_millis(timestamp))]
        if correlation_id is not None:
            shared.append((wire.H_CORRELATION_ID, correlation_id.encode()))
        if causation_id is not None:
            shared.append((wire.H_CAUSATION_ID, causation_id.encode()))
        h_type, h_event_id, h_version = wire.H_TYPE, wire.H_EVENT_ID, wire.H_VERSION
        prepared: list[tuple[bytes, wire.Headers]] = [
            (
                value,
                [
                    (h_type, type_name),
                    (h_event_id, str(meta.event_id).encode()),
                    (h_version, b"%d" % (meta.version or 0)),
                    *shared,
                ],
            )
            for (type_name, value), meta in zip(
                self.serde.encode_events(batch), metas, strict=True
            )
        ]
        return state, prepared

    def _send(
        self, entity_id: str, prepared: Sequence[tuple[bytes, wire.Headers]], version: int
    ) -> list[Position]:
        partition = self.partition_of(entity_id)
        key = self.descriptor.key_text(entity_id).encode()
        # One callback for the batch: delivery reports of one partition arrive in order.
        reports: list[tuple[KafkaError | None, Message]] = []
        report = reports.append

        def delivered(error: KafkaError | None, msg: Message) -> None:
            report((error, msg))

        produce = self._producer.produce
        topic = self.topic
        for value, headers in prepared:
            while True:
                try:
                    produce(
                        topic,
                        value,
                        key,
                        partition=partition,
                        headers=headers,
                        on_delivery=delivered,
                    )
                    break
                except BufferError:  # local queue full: let deliveries drain it
                    self._producer.poll(0.1)
        # Without a timeout: every message is either acknowledged or failed
        # (message.timeout.ms), so none is left in an unknown state.
        self._producer.flush()
        positions: list[Position] = []
        for number in range(1, len(prepared) + 1):
            error, msg = reports[number - 1] if number <= len(reports) else (None, None)
            offset = msg.offset() if msg is not None and error is None else None
            if offset is None:
                self._views.pop(entity_id, None)  # unknown now: reload from Kafka next time
                raise StoreError(
                    f"append to {topic}[{partition}] for {self.descriptor.name} "
                    f"{entity_id!r} failed at event {number} of {len(prepared)} (version "
                    f"{version + number}) on Kafka at {self.config.bootstrap}: "
                    f"{error or 'no delivery report'}; {number - 1} earlier event(s) of this "
                    "append were stored"
                )
            positions.append(Position(topic, partition, offset, version + number))
        return positions

    def _snapshot(self, entity_id: str, view: _View) -> None:
        key = self.descriptor.key_text(entity_id)
        written = self.snapshots.write(
            key, self.partition_of(entity_id), view.state, view.version, view.offset
        )
        if written:
            view.snapshot_version = view.version

    # -- reading -----------------------------------------------------------------------

    def read(self, entity_id: str, after_offset: int = -1) -> Iterator[tuple[E, EventMeta]]:
        """Every event of the entity in order, with its metadata (scans its partition)."""
        self._check_open()
        partition = self.partition_of(entity_id)
        key = self.descriptor.key_text(entity_id).encode()
        version = 0
        for msg in self._reader.read(self.topic, partition, after_offset + 1):
            self.stats.records_scanned += 1
            if msg.key() != key:
                continue
            version += 1
            event, meta = wire.decode_message(self.serde, msg, version)
            version = meta.version or version
            yield event, meta

    def load(self, entity_id: str) -> S:
        """The entity's current state (a copy: changing it changes nothing stored)."""
        self._check_open()
        view = self._view(entity_id, refresh=True)
        return self.descriptor.copy_state(view.state)

    def version(self, entity_id: str) -> int:
        """The entity's current version (0: no events)."""
        return self._view(entity_id, refresh=True).version

    def _view(self, entity_id: str, refresh: bool) -> _View:
        view = self._views.get(entity_id)
        if view is None:
            view = self._from_snapshot(entity_id)
            refresh = True
        if refresh:
            self._catch_up(entity_id, view)
        self._views[entity_id] = view
        return view

    def _from_snapshot(self, entity_id: str) -> _View:
        key = self.descriptor.key_text(entity_id)
        entry = self.snapshots.latest(self.partition_of(entity_id), key)
        if entry is not None:
            try:
                state = self.serde.decode_state(entry.value)
            except Exception:  # an undecodable snapshot is only a missed optimisation
                self.stats.snapshots_ignored += 1
            else:
                return _View(state, entry.version, entry.source_offset, entry.version)
        return _View(self.descriptor.initial_state(entity_id), 0, -1, 0)

    def _catch_up(self, entity_id: str, view: _View) -> None:
        """Fold the entity's events after ``view.offset`` into the view."""
        apply = self.descriptor.apply
        partition = self.partition_of(entity_id)
        key = self.descriptor.key_text(entity_id).encode()
        state = view.state
        for msg in self._reader.read(self.topic, partition, view.offset + 1):
            self.stats.records_scanned += 1
            offset = msg.offset()
            if offset is not None:
                view.offset = offset
            if msg.key() != key:
                continue
            # A record without a version header gets the next one (a foreign producer).
            event, meta = wire.decode_message(self.serde, msg, view.version + 1)
            state = apply(state, event, meta)
            view.version = meta.version or view.version + 1
            self.stats.events_replayed += 1
        view.state = state

    # -- lifecycle ---------------------------------------------------------------------

    def close(self, snapshot: bool = True) -> None:
        """Snapshot every entity with events past its snapshot (unless ``snapshot=False``),
        then flush and close the clients. Closing twice does nothing."""
        if self._closed:
            return
        if snapshot:
            for entity_id, view in self._views.items():
                if view.version > view.snapshot_version:
                    self._snapshot(entity_id, view)
        self._producer.flush()
        self._reader.close()
        self.state_store.close()
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the event store of {self.descriptor.name} is closed")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close(snapshot=exc_info[0] is None)
