"""The event store: append an entity's events to Kafka, read them back, load its state.

::

    from generated.bank import account
    from esgen.runtime import EventStore

    with EventStore(account.ENTITY, bootstrap="127.0.0.1:9092",
                    registry="http://127.0.0.1:8081/apis/ccompat/v7") as store:
        store.append("acc-1", [account.AccountOpened(owner="Ann")], expected_version=0)
        state = store.load("acc-1")

Appending
    An entity's events go to partition ``murmur2(key) % N`` of the event topic (key =
    entity id, Java's partitioner), written only while holding that partition's lease
    (see :mod:`esgen.runtime.lease`). Every append: hold the lease; make sure the
    entity's view covers the partition up to its ``read_committed`` end (first the
    cheap check: the end offset); check ``expected_version``; fold the new events onto
    the current state and check the invariants after each; encode; then one Kafka
    transaction with the events (and the snapshot when one is due). An append that
    breaks an invariant, cannot be encoded or expects another version writes nothing.
    A multi-event append is atomic.

    If another process took the lease meanwhile, the commit fails and nothing is stored:
    the store takes the lease back, reads what the other wrote, checks again and retries
    (a few times). With ``expected_version`` a changed version is a
    ``ConcurrencyError``; without it the events go on top of the true current version,
    so two writers never fork an entity's history. A commit whose outcome is unknown
    (Kafka did not answer in time) is resolved, not guessed: the store takes the lease
    again (which completes or aborts the open transaction) and looks for the append's
    event ids in the partition; only when even that fails does it raise
    ``AppendOutcomeUnknown`` ("load again before retrying"). Nothing raises after the
    events are stored: a snapshot that cannot be made is skipped before the
    transaction.

Loading
    Kafka has no per-key index: reading an entity scans its partition. ``load`` starts
    from the entity's latest usable snapshot (see :mod:`esgen.runtime.snapshots`) and
    folds only the records after it; a snapshot is written every ``snapshot_every``
    events per entity and for every entity with unsnapshotted events on ``close()``.
    Every read goes through :mod:`esgen.runtime.history`: ``read_committed``, and a
    typed error instead of a wrong state when records the state needs were deleted
    (``HistoryTruncated``), the entity's history forked (``HistoryForked``) or the
    partition count is not the history's (``PartitionCountChanged``, checked against
    the manifest: :mod:`esgen.runtime.manifest`). ``stats`` counts the work done, so
    tests assert work, not time. Read-your-writes holds within one store.

Topics
    Created to keep events forever and checked when they exist (see
    :mod:`esgen.runtime.topics`): an event topic that can delete events is refused.

A store is not thread-safe: use one per thread (or serialise calls).
"""

from __future__ import annotations

import difflib
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Generic, Self, TypeVar

from confluent_kafka import KafkaError, Message
from confluent_kafka.schema_registry import SchemaRegistryClient

from esgen.runtime import headers as h
from esgen.runtime import logs, manifest, settings, telemetry, topics, wire
from esgen.runtime.appending import fold_new_events
from esgen.runtime.deadletter import DeadLetterError, DeadLetterWriter
from esgen.runtime.descriptor import EntityDescriptor, EntityId
from esgen.runtime.errors import (
    AppendOutcomeUnknown,
    ConcurrencyError,
    IntegrityError,
    PartitionCountChanged,
    RegistryError,
    StoreError,
)
from esgen.runtime.history import EntityView, HistoryReader, HistoryStats
from esgen.runtime.kafka import KafkaClients
from esgen.runtime.lease import (
    CommitOutcomeUnknown,
    LeaseLost,
    PartitionLease,
    Report,
    TransactionAborted,
)
from esgen.runtime.manifest import MANIFEST_KEY, MANIFEST_TYPE, Manifest
from esgen.runtime.meta import EventMeta
from esgen.runtime.partitioning import key_text, partition_for
from esgen.runtime.registry import DEFAULT_TIMEOUT, RegistryClient
from esgen.runtime.scan import PartitionReader
from esgen.runtime.snapshots import SnapshotLog, SnapshotStats
from esgen.runtime.statestore import MemoryStateStore, SqliteStateStore, StateStore
from esgen.runtime.subjects import DEFAULT_STRATEGY, SubjectStrategy, snapshot_topic
from esgen.runtime.topics import TopicAdmin, TopicInfo

S = TypeVar("S")
E = TypeVar("E")

log = logs.store

_ATTEMPTS = 8
"""Appends tried while other writers keep taking the lease (each try reads their events)."""


@dataclass(frozen=True, slots=True)
class Position:
    """Where an appended event was stored, and the entity version it created."""

    topic: str
    partition: int
    offset: int
    version: int


@dataclass
class StoreStats(HistoryStats, SnapshotStats):
    """Work counters (cumulative), for tests, benchmarks and operators."""

    events_appended: int = 0
    append_retries: int = 0
    """Appends tried again: the lease moved, a transaction aborted, an outcome resolved."""
    lease_acquisitions: int = 0
    """Partition leases taken (the first append to a partition, and after each fencing)."""


@dataclass(slots=True)
class _Partition:
    """What the store knows of one event partition it uses."""

    lease: PartitionLease | None = None
    since: int | None = None
    """From this offset on, every record of the partition is this store's own ..."""
    end: int = -1
    """... as long as the partition ends here (the end after this store's last commit)."""

    def covers(self, view: EntityView, end: int) -> bool:
        """Whether ``view`` is current without reading: it was current at or after
        ``since`` and nobody but this store wrote since (the end is where ours left it)."""
        return self.since is not None and end == self.end and view.next_offset >= self.since

    def committed(self, first: int, last: int, checked_end: int) -> None:
        """Our transaction wrote ``first..last`` right after ``checked_end``: the end is
        just past its commit marker. A gap means someone else wrote in between."""
        if self.since is not None and first == checked_end == self.end:
            self.end = last + 2  # the marker takes offset last + 1
        else:
            self.since = None

    def lost(self) -> None:
        self.since = None


Registry = RegistryClient | SchemaRegistryClient | Mapping[str, Any] | str


@dataclass(frozen=True)
class StoreConfig:
    """Everything an :class:`EventStore` is configured with (besides the descriptor).

    ``bootstrap`` and ``registry`` left as None are found by the rule of
    :mod:`esgen.runtime.settings` (``ESGEN_BOOTSTRAP``/``ESGEN_REGISTRY_URL``, then
    ``[tool.esgen]``). ``registry`` is a URL, a config dict for ``SchemaRegistryClient``,
    a ``SchemaRegistryClient`` or a :class:`~esgen.runtime.registry.RegistryClient`.
    ``kafka_config`` goes to every Kafka client the store makes (``security.protocol``,
    ``sasl.*``, ``ssl.*``, ``client.id``...; see :mod:`esgen.runtime.kafka`).
    ``topic_config``/``snapshot_topic_config`` are added to the configs of the topics the
    store creates.
    """

    bootstrap: str | None = None
    registry: Registry | None = None
    strategy: SubjectStrategy | str = DEFAULT_STRATEGY
    auto_register: bool = False
    partitions: int = 3
    replication_factor: int = -1  # the broker's default.replication.factor
    create_topics: bool = True
    topic_config: Mapping[str, str] = field(default_factory=dict)
    snapshot_topic_config: Mapping[str, str] = field(default_factory=dict)
    snapshot_every: int = 100
    state_dir: str | Path | None = None  # None: in-memory state store
    timeout: float = 30.0
    """Seconds to wait for metadata, reads, leases and commits (registry calls: up to 10)."""
    kafka_config: Mapping[str, Any] = field(default_factory=dict)
    allow_deleting_events: bool = False
    """Use an existing event topic even if its configs let Kafka delete events (logged)."""


C = TypeVar("C")


def config_from(
    kind: type[C],
    owner: str,
    bootstrap: str | None,
    registry: Registry | None,
    options: dict[str, Any],
) -> C:
    """A ``kind`` config dataclass from ``owner``'s keyword options (``EventStore``,
    ``CommandProcessor``); an unknown one is a ``TypeError`` naming it (never a Kafka
    setting: those go in ``kafka_config``)."""
    known = tuple(f.name for f in fields(kind))  # type: ignore[arg-type]
    for name in options:
        if name not in known or name in ("bootstrap", "registry"):
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(
                f"{owner} got an unknown option {name!r}{hint}; Kafka settings go in "
                "kafka_config={...}"
            )
    return kind(bootstrap=bootstrap, registry=registry, **options)  # type: ignore[call-arg]


class EventStore(Generic[S, E]):
    """Appends, reads and loads the entities of one descriptor on Kafka."""

    def __init__(
        self,
        descriptor: EntityDescriptor[S, E],  # type: ignore[type-var]
        bootstrap: str | None = None,
        registry: Registry | None = None,
        *,
        config: StoreConfig | None = None,
        **options: Any,
    ) -> None:
        if config is None:
            config = config_from(StoreConfig, "EventStore", bootstrap, registry, options)
        elif bootstrap is not None or registry is not None or options:
            raise TypeError("EventStore takes either config= or the options, not both")
        self.config = config
        self.bootstrap = settings.bootstrap_servers(config.bootstrap)
        self.descriptor = descriptor
        self.topic = descriptor.topic
        self.snapshot_topic = snapshot_topic(self.topic)
        self.stats = StoreStats()
        self.registry = RegistryClient.connect(
            settings.registry_setting(config.registry),
            timeout=min(config.timeout, DEFAULT_TIMEOUT),
        )
        self.serde = wire.RegistrySerde(
            descriptor,
            self.registry,
            strategy=config.strategy,
            auto_register=config.auto_register,
        )
        self.clients = KafkaClients(self.bootstrap, config.kafka_config)
        self._closed = True  # until everything below exists: close() is then a no-op
        self._admin = TopicAdmin(self.clients.admin(), self.bootstrap, config.timeout)
        self.topic_info = self._ensure_topics()
        self.partitions = self.topic_info.partitions
        self._topic_id = self.topic_info.topic_id or ""
        self._reader = PartitionReader(self.clients, config.timeout)
        self.history = HistoryReader(self.serde, self._reader, self.stats, self._foreign)
        state_store: StateStore = (
            MemoryStateStore()
            if config.state_dir is None
            else SqliteStateStore(config.state_dir, self.topic)
        )
        self.state_store = state_store
        self.snapshots = SnapshotLog(self.serde, self._reader, state_store, self.stats)
        self._views: dict[EntityId, EntityView] = {}
        self._partition_state: dict[int, _Partition] = {}
        self._plain_producer: Any = None  # manifests and close()'s snapshots, on demand
        self._dead_letters: DeadLetterWriter | None = None
        self._dead_lettered: set[tuple[int, int]] = set()
        self._closed = False

    # -- topics ------------------------------------------------------------------------

    def _ensure_topics(self) -> TopicInfo:
        """The event topic as it is (created, or checked, with its snapshot topic)."""
        admin, config = self._admin, self.config
        events = admin.describe(self.topic)
        replication = config.replication_factor
        if events is None:
            self._require_create(self.topic)
            if replication < 1:
                replication = admin.default_replication_factor()
            admin.create(
                self.topic,
                config.partitions,
                config.replication_factor,
                topics.event_topic_config(replication, config.topic_config),
            )
            events = admin.describe_created(self.topic)
        else:
            replication = events.replication_factor
            self._check(events, topics.event_topic_problems)
        snapshots = admin.describe(self.snapshot_topic)
        if snapshots is None:
            self._require_create(self.snapshot_topic)
            admin.create(
                self.snapshot_topic,
                events.partitions,
                config.replication_factor,
                topics.snapshot_topic_config(replication, config.snapshot_topic_config),
            )
        else:
            self._check(snapshots, topics.snapshot_topic_problems)
            if snapshots.partitions != events.partitions:
                raise PartitionCountChanged(
                    f"{self.snapshot_topic} has {snapshots.partitions} partitions but "
                    f"{self.topic} has {events.partitions} on Kafka at {self.bootstrap}; they "
                    "must match (an entity's snapshot lives in the partition of its events). "
                    f"If {self.topic} gained partitions, its history was written with "
                    f"{snapshots.partitions}: see PartitionCountChanged in docs/runtime.md",
                    topic=self.topic,
                    recorded=snapshots.partitions,
                    actual=events.partitions,
                )
        return events

    def _require_create(self, topic: str) -> None:
        if not self.config.create_topics:
            raise StoreError(
                f"topic {topic} does not exist on Kafka at {self.bootstrap}; create it or "
                "let the store create it (create_topics=True)"
            )

    def _check(
        self, topic: TopicInfo, problems_of: Callable[[Mapping[str, str]], dict[str, str]]
    ) -> None:
        """Refuse an existing topic that can delete what the store keeps (or warn, when
        the user allowed it); warn about a replicated topic with min.insync.replicas=1."""
        configs = self._admin.configs(topic.name)
        problems = problems_of(configs)
        if problems:
            error = topics.unsafe_topic(topic.name, self.bootstrap, configs, problems)
            if not self.config.allow_deleting_events:
                raise error
            log.warning("allow_deleting_events=True: %s", error)
        if topic.replication_factor > 1 and configs.get("min.insync.replicas", "1") == "1":
            log.warning(
                "topic %s has %d replicas but min.insync.replicas=1: an acknowledged event "
                "may live on one broker only; set min.insync.replicas=2",
                topic.name,
                topic.replication_factor,
            )

    # -- keys and partitions -----------------------------------------------------------

    def _key_text(self, entity_id: EntityId) -> str:
        """The Kafka key of an entity id, as text (the one place ids become keys): its
        canonical text (``EntityDescriptor.key_text``; ``EncodeError`` for an id that is not
        of the key's type). Snapshots are kept under the same text."""
        return key_text(self.descriptor, entity_id)

    def _key(self, entity_id: EntityId) -> bytes:
        """The Kafka key of an entity id (see :meth:`_key_text`)."""
        return self._key_text(entity_id).encode()

    def partition_of(self, entity_id: EntityId) -> int:
        return partition_for(self._key(entity_id), self.partitions)

    def _open(self, partition: int) -> _Partition:
        """The partition, ready to read: its snapshots restored and its manifest checked
        (see :mod:`esgen.runtime.manifest`)."""
        state = self._partition_state.get(partition)
        if state is not None:
            return state
        self.check_manifest(
            partition,
            lambda: self.snapshots.restore(partition),
            lambda: self.snapshots.restore(0),
        )
        state = self._partition_state[partition] = _Partition()
        return state

    def check_manifest(
        self,
        partition: int,
        recorded: Callable[[], bytes | None],
        recorded_first: Callable[[], bytes | None],
    ) -> None:
        """Check the history's manifest before the partition is used (writing it where it
        is missing): ``recorded()`` gives the partition's manifest record, and
        ``recorded_first()`` partition 0's (asked for only when the partition has none).
        ``PartitionCountChanged`` when the history was written with another count. The
        command processor calls it with what its own read of the partition found."""
        if not self._admin.exists(self.snapshot_topic):
            raise StoreError(
                f"{self.snapshot_topic} does not exist on Kafka at {self.bootstrap} (deleted "
                f"while the store ran?): it holds the manifest of {self.topic}'s history, "
                "which must be read before the partition is used. A new EventStore creates it "
                "again (and records today's partition count)"
            )
        current = Manifest(self.topic, self.topic_info.topic_id, self.partitions)
        where = f"{self.snapshot_topic}[{partition}]"
        found = self._recorded(recorded())
        if found is None and partition != 0:
            where = f"{self.snapshot_topic}[0]"
            found = self._recorded(recorded_first())
        if found is None or not manifest.check(
            found, current, bootstrap=self.bootstrap, where=where
        ):
            if found is not None:
                log.warning(
                    "%s was created again (topic id %s, the history recorded in %s was "
                    "written to %s): its old history is gone; snapshots of the old topic "
                    "are ignored",
                    self.topic,
                    current.topic_id,
                    where,
                    found.topic_id,
                )
            self._write_manifest(current, range(self.partitions))
        elif where != f"{self.snapshot_topic}[{partition}]":
            self._write_manifest(current, [partition])  # a partition written before manifests

    @staticmethod
    def _recorded(value: bytes | None) -> Manifest | None:
        return None if value is None else Manifest.decode(value)

    def _producer(self) -> Any:
        if self._plain_producer is None:
            self._plain_producer = self.clients.producer()
        return self._plain_producer

    def _write_manifest(self, current: Manifest, partitions: Iterable[int]) -> None:
        value = current.encode()
        producer = self._producer()
        failures: list[str] = []

        def delivered(error: KafkaError | None, _msg: Message) -> None:
            if error is not None:
                failures.append(str(error))

        written = list(partitions)
        for partition in written:
            producer.produce(
                self.snapshot_topic,
                value,
                MANIFEST_KEY,
                partition=partition,
                headers=[(h.H_TYPE, MANIFEST_TYPE)],
                on_delivery=delivered,
            )
        if producer.flush(self.config.timeout) or failures:
            raise StoreError(
                f"cannot record the history's manifest in {self.snapshot_topic} on Kafka at "
                f"{self.bootstrap}: {failures[0] if failures else 'not acknowledged in time'};"
                " nothing was read or written"
            )
        for partition in written:
            self.state_store.set_manifest(partition, value)

    # -- appending ---------------------------------------------------------------------

    @telemetry.traced_append
    def append(
        self,
        entity_id: EntityId,
        events: Iterable[E],
        expected_version: int | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> list[Position]:
        """Append ``events`` to the entity atomically; their positions, once stored.

        Raises ``InvariantViolation`` or ``EncodeError`` (nothing written),
        ``ConcurrencyError`` when ``expected_version`` is not the current version
        (nothing written), ``AppendOutcomeUnknown`` when Kafka could not say whether the
        events were stored (load again before retrying), ``StoreError`` for anything else
        (nothing written).
        """
        self._check_open()
        batch = list(events)
        text = self._key_text(entity_id)
        key = text.encode()
        partition = partition_for(key, self.partitions)
        snapshots_allowed = True
        for attempt in range(_ATTEMPTS):
            if attempt:
                self.stats.append_retries += 1
            part = self._open(partition)
            lease = self._lease(part, partition)
            view, end, _ = self._view(entity_id, key, partition)
            if expected_version is not None and expected_version != view.version:
                raise ConcurrencyError(self.descriptor.name, text, expected_version, view.version)
            if not batch:
                return []
            state, prepared, event_ids = self._prepare(
                entity_id, view.state, view.version, batch, correlation_id, causation_id
            )
            version = view.version + len(batch)
            snapshot = None
            if snapshots_allowed and version - view.snapshot_version >= self.config.snapshot_every:
                snapshot = self._snapshot_value(text, state, version)
            try:
                reports, snapshot_offset = self._transact(
                    lease, key, partition, prepared, snapshot, version, end
                )
            except LeaseLost:
                part.lost()
                continue  # another writer took it: take it back, read, check again
            except TransactionAborted as exc:
                part.lost()
                log.warning("append to %s[%d] aborted, retrying: %s", self.topic, partition, exc)
                snapshots_allowed = snapshot is None and snapshots_allowed
                continue
            except CommitOutcomeUnknown as exc:
                part.lost()
                found = self._resolve(part, partition, entity_id, key, event_ids, exc)
                if found is None:
                    continue  # not stored: the open transaction was aborted; try again
                self.stats.events_appended += len(found)
                return found
            positions = [
                Position(self.topic, partition, msg.offset() or 0, view.version + number)
                for number, (_, msg) in enumerate(reports, start=1)
            ]
            part.committed(positions[0].offset, positions[-1].offset, end)
            self._await_visible(partition, positions[-1].offset)
            view.state = state
            view.version = version
            view.next_offset = positions[-1].offset + 1
            view.last_offset = positions[-1].offset
            view.last_event_id = event_ids[-1]
            if snapshot is not None and snapshot_offset is not None:
                view.snapshot_version = version
                self.snapshots.remember(
                    partition, text, version, snapshot_offset, snapshot, self._topic_id
                )
            self.stats.events_appended += len(positions)
            return positions
        raise StoreError(
            f"append to {self.topic}[{partition}] for {self.descriptor.name} {entity_id!r} "
            f"gave up after {_ATTEMPTS} tries: other writers took the partition's lease "
            "each time (nothing of this append was stored). Writers that contend for one "
            "partition should go through a command processor"
        )

    def _prepare(
        self,
        entity_id: EntityId,
        state: Any,
        version: int,
        batch: Sequence[Any],
        correlation_id: str | None,
        causation_id: str | None,
    ) -> tuple[Any, list[tuple[bytes, h.Headers]], list[uuid.UUID]]:
        """The state after ``batch``, each event's value and headers, ready to send, and
        the events' ids (all the CPU work of an append; nothing is sent)."""
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
        shared: h.Headers = [(h.H_TIMESTAMP, b"%d" % h.to_millis(timestamp))]
        shared += telemetry.trace_headers()  # the append's span, when traced
        if correlation_id is not None:
            shared.append((h.H_CORRELATION_ID, correlation_id.encode()))
        if causation_id is not None:
            shared.append((h.H_CAUSATION_ID, causation_id.encode()))
        h_type, h_event_id, h_version = h.H_TYPE, h.H_EVENT_ID, h.H_VERSION
        prepared: list[tuple[bytes, h.Headers]] = [
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
        return state, prepared, [meta.event_id for meta in metas if meta.event_id is not None]

    def _await_visible(self, partition: int, last: int) -> None:
        """Wait until readers of the partition see the committed append: the coordinator
        writes the commit marker after the commit returns, and ``read_committed`` readers
        see records only once it is written. Then a load in any process that starts after
        ``append`` returned sees it. Never raises (the events are stored)."""
        deadline = time.monotonic() + self.config.timeout
        try:
            while self._reader.watermarks(self.topic, partition)[1] <= last + 1:
                if time.monotonic() >= deadline:
                    raise StoreError(f"no commit marker after {self.config.timeout:g} s")
                time.sleep(0.001)
        except StoreError as exc:
            log.warning(
                "append to %s[%d] is stored but not yet visible to readers: %s",
                self.topic,
                partition,
                exc,
            )

    def _lease(self, part: _Partition, partition: int) -> PartitionLease:
        lease = part.lease
        if lease is None:
            lease = part.lease = PartitionLease(
                self.clients, self.topic, partition, timeout=self.config.timeout
            )
        if not lease.held:
            lease.acquire()
            part.since = None
            self.stats.lease_acquisitions += 1
        return lease

    def _snapshot_topic_exists(self) -> bool:
        try:
            return self._admin.exists(self.snapshot_topic)
        except StoreError as exc:
            log.warning("cannot tell whether %s exists: %s", self.snapshot_topic, exc)
            return False

    def _snapshot_value(self, key_text: str, state: Any, version: int) -> bytes | None:
        """The snapshot an append will carry (under the entity's ``key_text``), made before
        its transaction; None (logged, counted) when it cannot be made now."""
        if not self._snapshot_topic_exists():
            self.snapshots.skipped(
                key_text, version, f"{self.snapshot_topic} does not exist (deleted?)"
            )
            return None
        return self.snapshots.encode(key_text, state, version)

    def _transact(
        self,
        lease: PartitionLease,
        key: bytes,
        partition: int,
        prepared: Sequence[tuple[bytes, h.Headers]],
        snapshot: bytes | None,
        version: int,
        end: int,
    ) -> tuple[list[Report], int | None]:
        """One transaction: the events, and the snapshot if given and still right; the
        events' delivery reports and the snapshot's source offset (None: not written)."""
        lease.begin()
        for value, headers in prepared:
            lease.produce(self.topic, value, key, partition, headers)
        snapshot_offset = None
        if snapshot is not None:
            reports = lease.flush()  # the events' offsets, for the snapshot's headers
            first, last = reports[0][1].offset(), reports[-1][1].offset()
            if first == end and last is not None:  # nothing foreign between view and events
                snapshot_offset = last
                headers = self.snapshots.headers(version, partition, last, self._topic_id)
                lease.produce(self.snapshot_topic, snapshot, key, partition, headers)
        reports = lease.commit()
        return reports[: len(prepared)], snapshot_offset

    def _resolve(
        self,
        part: _Partition,
        partition: int,
        entity_id: EntityId,
        key: bytes,
        event_ids: Sequence[uuid.UUID],
        cause: Exception,
    ) -> list[Position] | None:
        """After a commit whose outcome is unknown: what is stored of the append (all its
        positions, or None for nothing); ``AppendOutcomeUnknown`` when Kafka cannot say."""
        lease = part.lease
        assert lease is not None
        try:
            # Taking the lease again completes or aborts the open transaction.
            lease.acquire()
            self.stats.lease_acquisitions += 1
            _, _, found = self._view(entity_id, key, partition, look_for=set(event_ids))
        except IntegrityError:
            raise  # the history itself is wrong: that, not the append, is the news
        except (StoreError, RegistryError) as exc:
            self._views.pop(entity_id, None)
            raise AppendOutcomeUnknown(
                f"append to {self.topic}[{partition}] for {self.descriptor.name} "
                f"{entity_id!r}: Kafka at {self.bootstrap} did not answer the commit ({cause}) "
                f"and could not be asked again ({exc}); its {len(event_ids)} event(s) are "
                "either all stored or none is. Load the entity again before retrying, or "
                "the retry may store them twice",
                topic=self.topic,
                partition=partition,
                entity_id=key.decode(),
            ) from exc
        if not found:
            log.warning(
                "append to %s[%d] for %r was not stored (%s); retrying",
                self.topic,
                partition,
                entity_id,
                cause,
            )
            return None
        if len(found) != len(event_ids):
            raise IntegrityError(
                f"{self.topic}[{partition}]: {len(found)} of the {len(event_ids)} events of "
                f"one append for {entity_id!r} are stored; a transaction is all or nothing",
                topic=self.topic,
                partition=partition,
            )
        return found

    # -- reading -----------------------------------------------------------------------

    def read(self, entity_id: EntityId, after_offset: int = -1) -> Iterator[tuple[E, EventMeta]]:
        """Every event of the entity in order, with its metadata (scans its partition),
        checked like ``load`` (see :mod:`esgen.runtime.history`). With ``after_offset``
        only the events after that offset, whose versions then start where they start.
        Events an upcast reads from one record all carry that record's metadata."""
        self._check_open()
        key = self._key(entity_id)
        partition = partition_for(key, self.partitions)
        self._open(partition)
        _, end = self._reader.watermarks(self.topic, partition)
        view = EntityView(entity_id, None, 0, after_offset + 1)
        history = self.history
        whole = after_offset < 0
        for msg in history.records(partition, after_offset + 1, end):
            if msg.key() != key:
                continue
            checked = history.event(view, msg, check_versions=whole or view.last_offset >= 0)
            if checked is None:
                continue
            events, meta = checked
            view.version = meta.version or view.version + 1
            view.last_event_id = meta.event_id
            view.last_offset = msg.offset() or 0
            for event in events:  # an upcast record's events share its metadata
                yield event, meta
        self._flush_dead_letters()

    @telemetry.traced_load
    def load(self, entity_id: EntityId) -> S:
        """The entity's current state (a copy: changing it changes nothing stored)."""
        self._check_open()
        key = self._key(entity_id)
        view, _, _ = self._view(entity_id, key, partition_for(key, self.partitions))
        return self.descriptor.copy_state(view.state)

    def version(self, entity_id: EntityId) -> int:
        """The entity's current version (0: no events)."""
        self._check_open()
        key = self._key(entity_id)
        return self._view(entity_id, key, partition_for(key, self.partitions))[0].version

    def _view(
        self,
        entity_id: EntityId,
        key: bytes,
        partition: int,
        look_for: set[uuid.UUID] | None = None,
    ) -> tuple[EntityView, int, list[Position]]:
        """The entity's view, covering its partition up to the end it has now; that end;
        and the positions of the events read now whose ids are in ``look_for``."""
        part = self._open(partition)
        low, end = self._reader.watermarks(self.topic, partition)
        if part.lease is not None and part.lease.held and part.since is None:
            part.since = part.end = end  # from here on, while we hold the lease, only we write
        view = self._views.get(entity_id)
        if view is None:
            view = self._from_snapshot(entity_id, partition, low, end)
        found: list[Position] = []
        if view.next_offset < end and not part.covers(view, end):
            try:
                found = self._catch_up(view, key, partition, end, look_for)
            except BaseException:
                self._views.pop(entity_id, None)  # half folded: read it afresh next time
                raise
        view.next_offset = max(view.next_offset, end)
        self._views[entity_id] = view
        return view, end, found

    def _from_snapshot(
        self, entity_id: EntityId, partition: int, low: int, end: int
    ) -> EntityView:
        """The entity's view from its latest usable snapshot, else from its first record."""
        text = self._key_text(entity_id)
        entry = self.snapshots.latest(partition, text)
        if entry is not None:
            why = None
            if entry.topic_id != self._topic_id and entry.topic_id and self._topic_id:
                why = f"it was made from another {self.topic} (topic id {entry.topic_id})"
            elif entry.source_offset >= end:
                why = (
                    f"its offset {entry.source_offset} is beyond the end of "
                    f"{self.topic}[{partition}] ({end})"
                )
            if why is not None:
                self.snapshots.ignored(text, why)
            else:
                try:
                    state = self.serde.decode_state(entry.value)
                except Exception as exc:  # an undecodable snapshot is only a missed optimisation
                    self.snapshots.ignored(text, f"it cannot be decoded: {exc}")
                else:
                    return EntityView(
                        entity_id, state, entry.version, entry.source_offset + 1, entry.version
                    )
        return EntityView(entity_id, self.descriptor.initial_state(entity_id), 0, 0)

    def _catch_up(
        self,
        view: EntityView,
        key: bytes,
        partition: int,
        end: int,
        look_for: set[uuid.UUID] | None,
    ) -> list[Position]:
        """Fold the entity's records in ``[view.next_offset, end)`` into the view."""
        history = self.history
        found: list[Position] = []
        try:
            for msg in history.records(partition, view.next_offset, end):
                if msg.key() != key:
                    continue
                checked = history.event(view, msg)
                if checked is None:
                    continue
                events, meta = checked
                history.fold(view, msg, events, meta)
                if look_for is not None and meta.event_id in look_for:
                    found.append(Position(self.topic, partition, view.last_offset, view.version))
        finally:
            self._flush_dead_letters()
        return found

    def _foreign(self, msg: Message, reason: str) -> None:
        """A record under an entity's key that is not an event: skipped, dead-lettered once
        per store (it stays in the event log; the dead letter says why it was skipped)."""
        where = (msg.partition() or 0, msg.offset() or 0)
        log.warning("%s[%d]@%d: skipped: %s", self.topic, where[0], where[1], reason)
        if where in self._dead_lettered:
            return
        self._dead_lettered.add(where)
        if self._dead_letters is None:
            self._dead_letters = DeadLetterWriter(
                self.clients, f"event store of {self.descriptor.name}", timeout=self.config.timeout
            )
        key, value = msg.key(), msg.value()
        try:
            self._dead_letters.send(
                self.topic,
                where[0],
                where[1],
                key.encode() if isinstance(key, str) else key,
                value.encode() if isinstance(value, str) else value,
                msg.headers(),
                "decode",
                ForeignRecord(reason),
            )
        except DeadLetterError as exc:
            log.error("%s[%d]@%d: dead letter not written: %s", self.topic, *where, exc)

    def _flush_dead_letters(self) -> None:
        if self._dead_letters is None:
            return
        try:
            self._dead_letters.flush()
        except DeadLetterError as exc:
            # The record is still in the event log; only the notice of it is missing.
            log.error("dead letters of %s not written: %s", self.topic, exc)

    # -- lifecycle ---------------------------------------------------------------------

    def close(self, snapshot: bool = True) -> None:
        """Snapshot every entity with events past its snapshot (unless ``snapshot=False``),
        then close the clients. Never raises for a snapshot; closing twice does nothing."""
        if self._closed:
            return
        self._closed = True
        due = [v for v in self._views.values() if v.version > v.snapshot_version]
        if snapshot and due and not self._snapshot_topic_exists():
            for view in due:
                self.snapshots.skipped(
                    self._key_text(view.entity_id),
                    view.version,
                    f"{self.snapshot_topic} does not exist",
                )
        elif snapshot:
            for view in due:
                entity_id = view.entity_id
                if view.next_offset > 0:
                    self.snapshots.write(
                        self._producer(),
                        self._key_text(entity_id),
                        self.partition_of(entity_id),
                        view.state,
                        view.version,
                        view.next_offset - 1,
                        self._topic_id,
                        self.config.timeout,
                    )
        for part in self._partition_state.values():
            if part.lease is not None:
                part.lease.release()
        if self._plain_producer is not None:
            self._plain_producer.flush(self.config.timeout)
        self._flush_dead_letters()
        self._reader.close()
        self.state_store.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the event store of {self.descriptor.name} is closed")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close(snapshot=exc_info[0] is None)


class ForeignRecord(Exception):
    """Why a record under an entity's key was skipped (the dead letter's error type)."""
