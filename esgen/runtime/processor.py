"""The command processor: the single writer of the event partitions it owns, exactly once.

::

    from generated.bank import account
    from esgen.runtime import CommandProcessor

    with CommandProcessor(account.ENTITY, group_id="accounts") as processor:
        processor.run()  # until stop(), SIGTERM or SIGINT

Topics (created like the event store's, see :mod:`esgen.runtime.topics`)
    ``<topic>.commands`` (commands: key = entity id, value = the command record in the
    wire format, headers ``esgen.type``, ``esgen.command_id``, ``esgen.timestamp``,
    correlation and causation ids) and ``<topic>.replies`` (one reply per command, see
    :mod:`esgen.runtime.replies`), both with the event topic's partition count: a command,
    its entity's events and its reply share a partition number. Other counts are refused
    (:class:`~esgen.runtime.errors.TopicsNotCoPartitioned`).

Ownership and fencing
    Processors of one ``group_id`` share the command topic's partitions (a consumer group,
    ``read_committed``, offsets committed only in transactions, cooperative-sticky
    assignment). For each partition ``p`` it is assigned, a processor takes the
    partition's **lease** (:mod:`esgen.runtime.lease`): a transactional producer whose
    id, ``esgen.<topic>.<p>``, is the one the event store uses for direct appends. Taking
    it fences every earlier holder (a processor that lost ``p``, a zombie, a direct
    writer) and aborts the transaction it left open, at once. Every write of ``p`` is a
    transaction of the holder; a fenced holder's commit fails and stores nothing. The
    group coordinator also refuses the offsets of a member of an older generation
    (KIP-447). librdkafka has neither KIP-890 part 2 nor KIP-939: this is the classic
    transaction protocol.

State (:mod:`esgen.runtime.partition_state`)
    Before it decides any command of ``p``, the processor restores every entity of
    ``p`` into memory: the latest snapshots, then the events after the restore point,
    ``read_committed``, with the event store's integrity checks; and the outcomes of the
    idempotency window from the reply partition. Deciding never reads Kafka.

Per batch of commands of one partition (up to ``batch_size`` commands, or what arrived
within ``commit_interval`` of the batch's first command)
    For each command in offset order: a command id with an outcome (committed, or earlier
    in the batch) gets that outcome again (its reply is written again, nothing else);
    a command sent more than ``idempotency_window`` ago is refused (``failed``: its first
    outcome may be forgotten); otherwise ``decide`` on the entity's current state (its
    preconditions, then the invariants), fold, encode. Then **one transaction**: the
    events (``esgen.causation_id`` = command id, correlation id carried over), snapshots
    (every ``snapshot_every`` events of an entity, and of the entities that hold the
    restore point more than ``restore_tail`` records back), the restore point, the
    replies and the command offsets. A command whose ``decide`` code raises, whose events
    cannot be encoded or that cannot be decoded gets a ``failed`` reply (nothing
    written; undecodable records also go to ``<topic>.commands.dlq``).

Failures
    A transaction that fails (fenced, aborted, outcome unknown) or a restore that fails
    (Kafka or the registry unreachable) never leaves a decision visible: the batch is
    aborted, the partition's memory dropped, and the partition paused; after a back-off
    the processor takes the lease again (which completes or aborts the open transaction),
    restores, seeks the consumer back to the committed offset and decides the commands
    again; the back-off doubles (0.2 s to 5 s) until a commit succeeds. A zombie that
    takes a lease back fences the partition's new owner once, but cannot commit: the
    group coordinator refuses its offsets (an older generation), and its consumer soon
    learns the partition is gone. A history that cannot be folded (``IntegrityError``)
    stops the processor.

Rebalances
    On revoke, each revoked partition's open batch is committed (or aborted) before the
    callback returns; lost partitions are aborted. On assign, partitions are paused until
    restored.

Shutdown
    :meth:`stop` (any thread), SIGTERM or SIGINT (while :meth:`run` runs in the main
    thread): the open batches are committed, the consumer leaves the group, :meth:`run`
    returns.

A processor is not thread-safe: run it in one thread; :meth:`stop` may be called from any.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Self, TypeVar

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from esgen.runtime import headers as h
from esgen.runtime import logs, replies, signals, telemetry, topics
from esgen.runtime.appending import fold_new_events, now_millis
from esgen.runtime.deadletter import PROCESSOR_PREFIX, DeadLetterError, DeadLetterWriter
from esgen.runtime.descriptor import EntityDescriptor
from esgen.runtime.errors import (
    CommandRejected,
    DecodeError,
    EsgenError,
    IntegrityError,
    InvariantViolation,
    RegistryError,
    StoreError,
    TopicsNotCoPartitioned,
)
from esgen.runtime.framing import is_framed
from esgen.runtime.history import EntityView
from esgen.runtime.kafka import take
from esgen.runtime.lease import CommitOutcomeUnknown, LeaseLost, PartitionLease, TransactionAborted
from esgen.runtime.meta import CommandMeta
from esgen.runtime.partition_state import PartitionRestorer, PartitionState
from esgen.runtime.partitioning import partition_for
from esgen.runtime.replies import Reply, ReplyEvent, command_digest
from esgen.runtime.snapshots import RestorePoint
from esgen.runtime.store import EventStore, Registry, StoreConfig, config_from
from esgen.runtime.subjects import DEFAULT_STRATEGY, SubjectStrategy, command_topic, reply_topic
from esgen.runtime.topics import TopicAdmin

S = TypeVar("S")
E = TypeVar("E")

log = logs.processor

DEFAULT_COMMIT_INTERVAL = 0.02
"""Seconds a decided command waits at most for its transaction (measured in
``benchmarks/runtime_commands.py``; see docs/commands.md)."""
_LAGGING_PER_BATCH = 100
"""Entities snapshotted per transaction to keep the restore tail short."""


class ProcessorError(EsgenError):
    """The command processor cannot go on (the message says why and what to do)."""


@dataclass(frozen=True)
class ProcessorConfig:
    """Everything a :class:`CommandProcessor` is configured with (besides the descriptor).

    ``bootstrap``, ``registry``, ``strategy``, ``auto_register``, ``partitions``,
    ``replication_factor``, ``create_topics``, ``topic_config``,
    ``snapshot_topic_config``, ``snapshot_every``, ``timeout``, ``kafka_config`` and
    ``allow_deleting_events`` mean what they mean for the event store
    (:class:`~esgen.runtime.store.StoreConfig`).
    """

    bootstrap: str | None = None
    registry: Registry | None = None
    group_id: str | None = None
    """The consumer group of the processors of this entity (default
    ``esgen-processor.<topic>``)."""
    commit_interval: float = DEFAULT_COMMIT_INTERVAL
    batch_size: int = 500
    """Commands decided in one transaction at most."""
    idempotency_window: float = 3600.0
    """Seconds: a command id gets its first outcome again if sent again within it;
    replies are kept twice as long; commands sent longer ago are refused."""
    snapshot_every: int = 100
    restore_tail: int = 10_000
    """Records of a partition a restore may have to read after its snapshots at most
    (roughly): entities holding the restore point further back are snapshotted."""
    session_timeout: float = 6.0
    """The consumer group's session timeout: how long a dead processor keeps its
    partitions (Kafka's minimum by default: group.min.session.timeout.ms=6000)."""
    instance_id: str | None = None
    """A static group member id (``group.instance.id``, KIP-345) for processors restarted
    in place (a StatefulSet): a restarted instance takes its partitions back at once
    instead of after the session timeout. A stopped static member does not leave the
    group: its partitions wait for it (up to the session timeout) before moving."""
    strategy: SubjectStrategy | str = DEFAULT_STRATEGY
    auto_register: bool = False
    partitions: int = 3
    replication_factor: int = -1
    create_topics: bool = True
    topic_config: Mapping[str, str] = field(default_factory=dict)
    snapshot_topic_config: Mapping[str, str] = field(default_factory=dict)
    command_topic_config: Mapping[str, str] = field(default_factory=dict)
    reply_topic_config: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 30.0
    kafka_config: Mapping[str, Any] = field(default_factory=dict)
    consumer_config: Mapping[str, Any] = field(default_factory=dict)
    producer_config: Mapping[str, Any] = field(default_factory=dict)
    """Settings of the partition leases' transactional producers."""
    allow_deleting_events: bool = False

    def store_config(self) -> StoreConfig:
        return StoreConfig(
            bootstrap=self.bootstrap,
            registry=self.registry,
            strategy=self.strategy,
            auto_register=self.auto_register,
            partitions=self.partitions,
            replication_factor=self.replication_factor,
            create_topics=self.create_topics,
            topic_config=self.topic_config,
            snapshot_topic_config=self.snapshot_topic_config,
            snapshot_every=self.snapshot_every,
            timeout=self.timeout,
            kafka_config=self.kafka_config,
            allow_deleting_events=self.allow_deleting_events,
        )


@dataclass
class ProcessorStats:
    """What the processor has committed so far (and what it had to do again)."""

    commands: int = 0
    """Commands whose outcome is committed (each counted once, duplicates included)."""
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    duplicates: int = 0
    """Commands whose id had an outcome already: answered with it, nothing written."""
    events: int = 0
    transactions: int = 0
    snapshots: int = 0
    aborted: int = 0
    """Transactions aborted (their commands were decided again after a restore)."""
    fenced: int = 0
    """Transactions refused because another process had taken the partition's lease."""
    restores: int = 0
    restore_seconds: float = 0.0


@dataclass
class _Pending:
    """One command of the open batch and its reply (sent at commit)."""

    reply: Reply
    first: int = 0
    """Index of its first event among the batch's events."""
    count: int = 0
    again: bytes | None = None
    """A committed outcome sent again."""
    same_as: _Pending | None = None
    """An outcome decided earlier in this batch, sent again."""
    value: bytes = b""
    """The reply as written (set at commit)."""


@dataclass
class _Batch:
    """The open transaction of one partition."""

    began: float
    next_offset: int = 0
    commands: int = 0
    events: list[tuple[str, str]] = field(default_factory=list)
    """(entity id, event type) of each event produced, in order."""
    event_values: list[bytes] = field(default_factory=list)
    pending: list[_Pending] = field(default_factory=list)
    by_id: dict[str, _Pending] = field(default_factory=dict)
    touched: dict[str, EntityView] = field(default_factory=dict)


@dataclass
class _Owned:
    """A partition this processor is assigned."""

    partition: int
    lease: PartitionLease
    state: PartitionState | None = None
    """None until restored (and again after a failure)."""
    batch: _Batch | None = None
    position: int = -1
    """The offset of the next command to decide (-1: the first one delivered)."""
    retry_at: float = 0.0
    failures: int = 0
    point: int = -1
    """The start of the last restore point written (-1: none since the restore)."""


class CommandProcessor(Generic[S, E]):
    """Decides the commands of one entity type on Kafka (see the module docstring)."""

    def __init__(
        self,
        descriptor: EntityDescriptor[S, E],  # type: ignore[type-var]
        bootstrap: str | None = None,
        registry: Registry | None = None,
        *,
        config: ProcessorConfig | None = None,
        **options: Any,
    ) -> None:
        if config is None:
            config = config_from(ProcessorConfig, "CommandProcessor", bootstrap, registry, options)
        elif bootstrap is not None or registry is not None or options:
            raise TypeError("CommandProcessor takes either config= or the options, not both")
        if not descriptor.commands:
            raise ProcessorError(
                f"entity {descriptor.name} declares no commands: there is nothing to process "
                "(add a commands: section to its definition and run esgen generate)"
            )
        for name, value in (
            ("commit_interval", config.commit_interval),
            ("idempotency_window", config.idempotency_window),
            ("session_timeout", config.session_timeout),
        ):
            if value < 0:
                raise ValueError(f"CommandProcessor: {name} must be >= 0, got {value!r}")
        if config.batch_size < 1 or config.snapshot_every < 1:
            raise ValueError("CommandProcessor: batch_size and snapshot_every must be >= 1")
        self.config = config
        self.descriptor = descriptor
        self.topic = descriptor.topic
        self.command_topic = command_topic(self.topic)
        self.reply_topic = reply_topic(self.topic)
        self.group_id = config.group_id or f"esgen-processor.{self.topic}"
        self.stats = ProcessorStats()
        self._window_millis = int(config.idempotency_window * 1000)
        self._stop = threading.Event()
        self._owned: dict[int, _Owned] = {}
        self._homes: dict[bytes, int] = {}  # entity key -> its partition (murmur2 once)
        self._consumer: Consumer | None = None
        self._failure: BaseException | None = None
        self.store: EventStore[S, E] = EventStore(descriptor, config=config.store_config())
        try:
            self.partitions = self.store.partitions
            self._ensure_topics()
            self._restorer = PartitionRestorer(
                self.store, self.reply_topic, 2 * self._window_millis
            )
            self._serde = self.store.serde
            self._parse_key = descriptor.parse_key
            self._topic_id = self.store.topic_info.topic_id or ""
            self._dead_letters = DeadLetterWriter(
                self.store.clients,
                f"{PROCESSOR_PREFIX}{descriptor.name} (group {self.group_id})",
                timeout=config.timeout,
            )
        except BaseException:
            self.store.close(snapshot=False)
            raise

    # -- topics --------------------------------------------------------------------------

    def _ensure_topics(self) -> None:
        """The command and reply topics, created or checked, co-partitioned with events."""
        config = self.config
        admin = TopicAdmin(self.store.clients.admin(), self.store.bootstrap, config.timeout)
        replication = self.store.topic_info.replication_factor
        window = 2 * self._window_millis
        for topic, made, problems_of in (
            (
                self.command_topic,
                topics.command_topic_config(replication, config.command_topic_config),
                topics.command_topic_problems,
            ),
            (
                self.reply_topic,
                topics.reply_topic_config(replication, window, config.reply_topic_config),
                lambda c: topics.reply_topic_problems(c, window),
            ),
        ):
            found = admin.describe(topic)
            if found is None:
                if not config.create_topics:
                    raise StoreError(
                        f"topic {topic} does not exist on Kafka at {self.store.bootstrap}; "
                        "create it or let the processor create it (create_topics=True)"
                    )
                admin.create(topic, self.partitions, config.replication_factor, made)
                found = admin.describe_created(topic)
            else:
                configs = admin.configs(topic)
                problems = problems_of(configs)
                if problems:
                    raise topics.unsafe_topic(
                        topic,
                        self.store.bootstrap,
                        configs,
                        problems,
                        what="would break the command processor's guarantees",
                        fixes=[f"{name}={made[name]}" for name in problems if name in made],
                        instead="",
                    )
            if found.partitions != self.partitions:
                raise TopicsNotCoPartitioned(
                    f"{topic} has {found.partitions} partitions but {self.topic} has "
                    f"{self.partitions} on Kafka at {self.store.bootstrap}: a command must be "
                    "decided by the owner of its entity's event partition, so both need the "
                    f"same count. Create {topic} again with {self.partitions} partitions (it "
                    "holds no history: let running clients drain first)",
                    topic=topic,
                    expected=self.partitions,
                    actual=found.partitions,
                )

    # -- control -------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask :meth:`run` to commit what it decided and return; safe from any thread."""
        self._stop.set()

    @property
    def ready_partitions(self) -> list[int]:
        """The partitions this processor owns and has restored (it decides their commands)."""
        return sorted(p for p, owned in self._owned.items() if owned.state is not None)

    def run(
        self, *, max_commands: int | None = None, idle_timeout: float | None = None
    ) -> ProcessorStats:
        """Decide commands until :meth:`stop`, SIGTERM/SIGINT (in the main thread), or a
        limit: ``max_commands`` committed in this call, ``idle_timeout`` seconds without a
        command. Open batches are committed and the group is left before it returns.
        Raises ``IntegrityError`` when a history cannot be folded, ``ProcessorError``
        when Kafka refuses the processor (authorization, a topic gone)."""
        start = self.stats.commands
        with signals.StopSignals(self.stop):
            consumer = self._open_consumer()
            last_command = time.monotonic()
            try:
                while not self._stop.is_set():
                    self._raise_failure()
                    self._restore_due(consumer)
                    messages = take(consumer, self.config.batch_size, self._wait())
                    self._raise_failure()
                    if messages:
                        last_command = time.monotonic()
                        self._take(consumer, messages)
                    self._commit_due(consumer)
                    self._forget_old()
                    if max_commands is not None and self.stats.commands - start >= max_commands:
                        break
                    if (
                        idle_timeout is not None
                        and not any(o.batch for o in self._owned.values())
                        and time.monotonic() - last_command >= idle_timeout
                    ):
                        break
                self._commit_due(consumer, everything=True)
            finally:
                self._stop.clear()
                self._close_consumer()
        return self.stats

    def close(self) -> None:
        """Let go of every partition and client (after :meth:`run` returned)."""
        self._close_consumer()
        for owned in self._owned.values():
            owned.lease.release()
        self._owned.clear()
        try:
            self._dead_letters.close()
        except DeadLetterError as exc:
            log.error("%s", exc)
        self.store.close(snapshot=False)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the consumer group --------------------------------------------------------------

    def _open_consumer(self) -> Consumer:
        session_ms = int(self.config.session_timeout * 1000)
        overrides = {
            "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": session_ms,
            "heartbeat.interval.ms": max(100, session_ms // 3),
            **self.config.consumer_config,
        }
        if self.config.instance_id:
            overrides["group.instance.id"] = self.config.instance_id
        consumer = self.store.clients.group_consumer(self.group_id, overrides)
        self._consumer = consumer
        consumer.subscribe(
            [self.command_topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        return consumer

    def _close_consumer(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is None:
            return
        try:
            consumer.close()  # leaves the group (revoking: open batches are committed)
        except (KafkaException, RuntimeError) as exc:
            log.warning("closing the consumer of %s: %s", self.command_topic, exc)
        for owned in self._owned.values():
            self._abort(owned)
            owned.lease.release()
        self._owned.clear()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            if tp.partition not in self._owned:
                self._owned[tp.partition] = _Owned(
                    tp.partition,
                    PartitionLease(
                        self.store.clients,
                        self.topic,
                        tp.partition,
                        timeout=self.config.timeout,
                        producer_config=self.config.producer_config,
                    ),
                )
        log.info("%s: assigned %s", self.group_id, sorted(tp.partition for tp in partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Runs inside consume(): finish each revoked partition's transaction before the
        # partition goes to its next owner.
        for tp in partitions:
            owned = self._owned.pop(tp.partition, None)
            if owned is None:
                continue
            if owned.batch is not None and owned.state is not None:
                try:
                    self._commit(consumer, owned)
                except Exception as exc:  # the next owner decides its commands again
                    log.warning(
                        "%s[%d]: not committed on revoke: %s", self.topic, tp.partition, exc
                    )
                    self._abort(owned)
            owned.lease.release()
        log.info("%s: revoked %s", self.group_id, sorted(tp.partition for tp in partitions))

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Lost (the session expired): another processor may own them already. Abort.
        for tp in partitions:
            owned = self._owned.pop(tp.partition, None)
            if owned is not None:
                self._abort(owned)
                owned.lease.release()
        log.warning("%s: lost %s", self.group_id, sorted(tp.partition for tp in partitions))

    def _raise_failure(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    # -- restoring -----------------------------------------------------------------------

    def _restore_due(self, consumer: Consumer) -> None:
        now = time.monotonic()
        for owned in list(self._owned.values()):
            if owned.state is not None or owned.retry_at > now:
                continue
            p = owned.partition
            tp = TopicPartition(self.command_topic, p)
            try:
                consumer.pause([tp])
                if not owned.lease.held:
                    owned.lease.acquire()
                began = time.monotonic()
                state = self._restorer.restore(p, h.to_millis(now_millis()))
                self.stats.restores += 1
                self.stats.restore_seconds += time.monotonic() - began
                committed = consumer.committed([tp], timeout=self.config.timeout)[0].offset
                # Commands delivered before the restore were skipped: read from the
                # committed offset (the group's start when there is none).
                start = committed if committed >= 0 else OFFSET_BEGINNING
                consumer.seek(TopicPartition(self.command_topic, p, start))
                owned.position = max(committed, 0)
                owned.state = state
                owned.point = -1
                consumer.resume([tp])
            except IntegrityError:
                raise
            except (StoreError, RegistryError, KafkaException, LeaseLost) as exc:
                self._back_off(owned, exc, "cannot restore")

    def _back_off(self, owned: _Owned, cause: BaseException, what: str) -> None:
        owned.failures += 1
        delay = min(5.0, 0.1 * 2 ** min(owned.failures, 6))
        owned.retry_at = time.monotonic() + delay
        log.warning(
            "%s[%d]: %s (%s: %s); trying again in %.1f s",
            self.topic,
            owned.partition,
            what,
            type(cause).__name__,
            cause,
            delay,
        )

    def _reset(self, consumer: Consumer, owned: _Owned, cause: BaseException) -> None:
        """Abort the partition's batch and forget its state: it is restored and its
        commands decided again (after a back-off)."""
        fenced = isinstance(cause, LeaseLost)
        if fenced:
            self.stats.fenced += 1
        self._abort(owned)
        owned.state = None
        if isinstance(cause, CommitOutcomeUnknown):
            owned.lease.release()  # acquiring again completes or aborts that transaction
        with contextlib.suppress(KafkaException):  # a partition being lost
            consumer.pause([TopicPartition(self.command_topic, owned.partition)])
        # The back-off grows until a commit succeeds: a processor that keeps being fenced
        # (a zombie whose group has moved on, fenced again by the new owner and refused
        # by the group coordinator) waits longer and longer, and meanwhile its consumer
        # learns from the group that the partition is gone.
        self._back_off(owned, cause, "batch aborted, deciding it again")

    def _abort(self, owned: _Owned) -> None:
        if owned.batch is None:
            return
        owned.batch = None
        self.stats.aborted += 1
        if owned.lease.held:
            owned.lease.abort()

    # -- deciding ------------------------------------------------------------------------

    def _wait(self) -> float:
        """How long consume() may wait: until the first open batch is due."""
        wait = 0.1
        interval = self.config.commit_interval
        now = time.monotonic()
        for owned in self._owned.values():
            if owned.batch is not None:
                wait = min(wait, max(0.0, owned.batch.began + interval - now))
            elif owned.state is None:
                wait = min(wait, max(0.0, owned.retry_at - now))
        return wait

    def _take(self, consumer: Consumer, messages: list[Message]) -> None:
        now = now_millis()  # when these commands are decided
        now_ms = h.to_millis(now)
        for msg in messages:
            error = msg.error()
            if error is not None:
                self._consume_error(error)
                continue
            owned = self._owned.get(msg.partition() or 0)
            if owned is None or owned.state is None:
                continue  # not ready: read again from the committed offset once restored
            offset = msg.offset() or 0
            if offset < owned.position:
                continue  # decided already (in the open batch, or committed)
            owned.position = offset + 1
            try:
                self._decide(owned, msg, now, now_ms)
                if owned.batch is not None and owned.batch.commands >= self.config.batch_size:
                    self._commit(consumer, owned)
            except IntegrityError:
                raise
            except (
                LeaseLost,
                TransactionAborted,
                CommitOutcomeUnknown,
                RegistryError,
                StoreError,
                KafkaException,
            ) as exc:
                self._reset(consumer, owned, exc)

    def _consume_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._PARTITION_EOF:
            return
        if error.fatal() or error.code() in (
            KafkaError.TOPIC_AUTHORIZATION_FAILED,
            KafkaError.GROUP_AUTHORIZATION_FAILED,
            KafkaError.UNKNOWN_TOPIC_OR_PART,
        ):
            raise ProcessorError(f"the consumer of {self.command_topic}: {error.str()}")
        log.debug("consumer of %s: %s", self.command_topic, error.str())  # librdkafka retries

    @telemetry.traced_decide
    def _decide(self, owned: _Owned, msg: Message, now: datetime.datetime, now_ms: int) -> None:
        """Decide one command into the partition's open batch (see the module doc)."""
        state = owned.state
        assert state is not None
        batch = owned.batch
        if batch is None:
            owned.lease.begin()
            batch = owned.batch = _Batch(time.monotonic())
        offset = msg.offset() or 0
        p = owned.partition
        batch.next_offset = offset + 1
        batch.commands += 1
        key, value = msg.key(), msg.value()
        if isinstance(key, str):
            key = key.encode()
        if isinstance(value, str):
            value = value.encode()
        found = _command_headers(msg)
        type_name = found.get(h.H_TYPE, "")
        command_id = found.get(h.H_COMMAND_ID) or str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"kafka:{self.command_topic}[{p}]@{offset}")
        )
        # for messages only: the entity is parsed from the bytes (UTF-8 strictly) below
        entity_id = key.decode(errors="replace") if key is not None else ""
        refused = _Refusal(batch, command_id, entity_id, p, type_name, key, value, now_ms)
        if key is None or value is None or not is_framed(value):
            what = "no key" if key is None else "a value without the wire-format framing"
            self._dead_letter(msg, DecodeError(f"not a command of {self.descriptor.name}: {what}"))
            refused.add(f"DecodeError: the record has {what}")
            return
        home = self._homes.get(key)
        if home is None:
            if len(self._homes) > 100_000:
                self._homes.clear()
            home = self._homes[key] = partition_for(key, self.partitions)
        if home != p:
            error = (
                f"the command for {entity_id!r} arrived in partition {p} of "
                f"{self.command_topic}, but the entity lives in partition {home}: produce "
                "commands with the entity id as key and Kafka's default (murmur2) partitioner"
            )
            self._dead_letter(msg, DecodeError(error))
            refused.add(f"DecodeError: {error}")
            return
        try:
            entity = self._parse_key(key)  # in the key field's type (str, UUID, int)
        except DecodeError as exc:
            self._dead_letter(msg, exc)
            refused.add(f"DecodeError: {exc}")
            return
        earlier = batch.by_id.get(command_id)
        if earlier is not None:
            batch.pending.append(_Pending(earlier.reply, same_as=earlier))
            return
        known = state.outcomes.get(command_id)
        if known is not None:
            batch.pending.append(_Pending(Reply.decode(known[1]), again=known[1]))
            return
        sent = found.get(h.H_TIMESTAMP)
        sent_ms = int(sent) if sent and sent.isdigit() else msg.timestamp()[1]
        if now_ms - sent_ms > self._window_millis:
            refused.add(
                f"expired: the command was sent {(now_ms - sent_ms) / 1000:.0f} s ago, longer "
                f"ago than the idempotency window ({self.config.idempotency_window:g} s), so "
                "its first outcome may be forgotten; send a new command if it is still wanted"
            )
            return
        try:
            command = self._serde.decode_command(value, type_name or None)
        except DecodeError as exc:
            self._dead_letter(msg, exc)
            refused.add(f"DecodeError: {exc}")
            return
        refused.type_name = type_name = self.descriptor.command_type(command).full_name
        view = state.view(entity_id, entity)
        meta = CommandMeta(entity, view.version, command_id, now)
        outcome, reason = replies.ACCEPTED, ""
        try:
            events = self.descriptor.decide(view.state, command, meta)
            if events:
                after, metas = fold_new_events(
                    self.descriptor,
                    entity,
                    view.state,
                    view.version,
                    events,
                    found.get(h.H_CORRELATION_ID),
                    command_id,
                    now,
                )
                encoded = self._serde.encode_events(events)
        except CommandRejected as rejected:
            outcome, reason = replies.REJECTED, rejected.reason
        except InvariantViolation as violation:  # folded with the stored event ids
            outcome, reason = replies.REJECTED, violation.invariant
        except RegistryError:
            raise  # not the command's fault: decided again later
        except Exception as exc:  # the decide code, or events the wire cannot carry
            refused.add(f"{type(exc).__name__}: {exc}", view.version)
            return
        first, count = len(batch.events), 0
        if outcome == replies.ACCEPTED and events:
            lease = owned.lease
            topic = self.topic
            traced = telemetry.trace_headers()  # the command's span, when traced
            for (full_name, event_value), event_meta in zip(encoded, metas, strict=True):
                headers = h.event_headers(full_name, event_meta) + traced
                lease.produce(topic, event_value, key, p, headers)
                batch.events.append((entity_id, full_name.decode()))
                batch.event_values.append(event_value)
            count = len(events)
            view.state = after
            view.version += count
            view.last_event_id = metas[-1].event_id
            batch.touched[entity_id] = view
        reply = Reply(
            command_id,
            entity_id,
            p,
            type_name,
            command_digest(key, type_name, value),
            outcome,
            view.version,
            now_ms,
            reason=reason,
        )
        pending = _Pending(reply, first, count)
        batch.pending.append(pending)
        batch.by_id[command_id] = pending

    def _dead_letter(self, msg: Message, error: BaseException) -> None:
        key, value = msg.key(), msg.value()
        self._dead_letters.send(
            self.command_topic,
            msg.partition() or 0,
            msg.offset() or 0,
            key.encode() if isinstance(key, str) else key,
            value.encode() if isinstance(value, str) else value,
            msg.headers(),
            "decode",
            error,
        )

    # -- committing ----------------------------------------------------------------------

    def _commit_due(self, consumer: Consumer, *, everything: bool = False) -> None:
        now = time.monotonic()
        interval = self.config.commit_interval
        for owned in list(self._owned.values()):
            batch = owned.batch
            if batch is None or owned.state is None:
                continue
            if everything or now - batch.began >= interval:
                try:
                    self._commit(consumer, owned)
                except IntegrityError:
                    raise
                except (
                    LeaseLost,
                    TransactionAborted,
                    CommitOutcomeUnknown,
                    RegistryError,
                    StoreError,
                    KafkaException,
                    DeadLetterError,
                ) as exc:
                    self._reset(consumer, owned, exc)

    @telemetry.traced_commit
    def _commit(self, consumer: Consumer, owned: _Owned) -> None:
        """The batch's transaction: events (produced already), snapshots, the restore
        point, replies and the command offsets; then its effects on the state."""
        batch, state, lease = owned.batch, owned.state, owned.lease
        assert batch is not None and state is not None
        p = owned.partition
        offsets = [msg.offset() or 0 for _, msg in lease.flush()] if batch.events else []
        for (entity_id, _), offset in zip(batch.events, offsets, strict=True):
            view = state.views[entity_id]
            view.last_offset = offset
            state.uncovered(entity_id, offset)
        if offsets:
            state.end = offsets[-1] + 1
        now_ms = h.to_millis(now_millis())
        remembered: list[tuple[str, bytes]] = []
        for pending in batch.pending:
            if pending.again is not None:
                pending.value = pending.again
            elif pending.same_as is not None:
                pending.value = pending.same_as.value
            else:
                reply = pending.reply
                if pending.count:
                    reply = reply.with_events(
                        tuple(
                            ReplyEvent(offsets[i], batch.events[i][1], batch.event_values[i])
                            for i in range(pending.first, pending.first + pending.count)
                        )
                    )
                pending.value = reply.encode()
                if reply.outcome != replies.FAILED:
                    remembered.append((reply.command_id, pending.value))
            lease.produce(
                self.reply_topic,
                pending.value,
                pending.reply.command_id.encode(),
                p,
                pending.reply.headers(),
            )
        snapshotted = self._snapshots(owned, state, batch)
        start = state.restore_start()
        if start != owned.point or snapshotted:
            key, value, headers = self.store.snapshots.restore_point_record(
                RestorePoint(self.descriptor.fingerprint, self._topic_id, start)
            )
            lease.produce(self.store.snapshot_topic, value, key, p, headers)
        self._dead_letters.flush()  # durable before the offsets that pass their records
        lease.send_offsets(
            [TopicPartition(self.command_topic, p, batch.next_offset)],
            consumer.consumer_group_metadata(),
        )
        lease.commit()
        owned.batch = None
        owned.point = start
        owned.failures = 0
        for command_id, value in remembered:
            state.remember(command_id, now_ms, value)
        stats = self.stats
        stats.transactions += 1
        stats.events += len(batch.events)
        stats.snapshots += snapshotted
        for pending in batch.pending:
            stats.commands += 1
            if pending.again is not None or pending.same_as is not None:
                stats.duplicates += 1
            elif pending.reply.outcome == replies.ACCEPTED:
                stats.accepted += 1
            elif pending.reply.outcome == replies.REJECTED:
                stats.rejected += 1
            else:
                stats.failed += 1

    def _snapshots(self, owned: _Owned, state: PartitionState, batch: _Batch) -> int:
        """Produce the snapshots due in this transaction; how many."""
        every = self.config.snapshot_every
        due = [
            (key, view)
            for key, view in batch.touched.items()
            if view.version - view.snapshot_version >= every
        ]
        if state.end - state.restore_start() > self.config.restore_tail:
            chosen = {key for key, _ in due}
            for key in state.oldest_unsnapshotted(_LAGGING_PER_BATCH):
                if key not in chosen:
                    due.append((key, state.views[key]))
        snapshots = self.store.snapshots
        written = 0
        for key, view in due:
            value = snapshots.encode(key, view.state, view.version)
            if value is None:
                continue  # logged and counted: the events are the truth
            owned.lease.produce(
                self.store.snapshot_topic,
                value,
                key.encode(),
                owned.partition,
                snapshots.headers(view.version, owned.partition, view.last_offset, self._topic_id),
            )
            view.snapshot_version = view.version
            state.covered(key)
            written += 1
        return written

    def _forget_old(self) -> None:
        cutoff = h.to_millis(now_millis()) - 2 * self._window_millis
        for owned in self._owned.values():
            if owned.state is not None:
                owned.state.forget_before(cutoff)


_COMMAND_HEADERS = frozenset(
    {h.H_TYPE, h.H_COMMAND_ID, h.H_TIMESTAMP, h.H_CORRELATION_ID, h.H_CAUSATION_ID}
)


def _command_headers(msg: Message) -> dict[str, str]:
    found: dict[str, str] = {}
    headers: list[tuple[str, bytes | None]] = msg.headers() or []  # type: ignore[assignment]
    for name, value in headers:
        if name in _COMMAND_HEADERS and value is not None:
            found[name] = value.decode(errors="replace") if isinstance(value, bytes) else value
    return found


@dataclass
class _Refusal:
    """What a ``failed`` reply to the command being decided needs."""

    batch: _Batch
    command_id: str
    entity_id: str
    partition: int
    type_name: str
    key: bytes | None
    value: bytes | None
    decided_at: int

    def add(self, error: str, version: int = 0) -> None:
        """The command fails: nothing is written; the reply says why."""
        key, value = self.key, self.value
        digest = "" if key is None or value is None else command_digest(key, self.type_name, value)
        reply = Reply(
            self.command_id,
            self.entity_id,
            self.partition,
            self.type_name,
            digest,
            replies.FAILED,
            version,
            self.decided_at,
            error=error,
        )
        self.batch.pending.append(_Pending(reply))
