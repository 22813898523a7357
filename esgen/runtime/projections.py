"""Projections: fold the events of one or more entity types into a read model.

A projection is a subclass of :class:`Projection` whose methods, marked with
:func:`handles`, are called with the model transaction, the event and its metadata::

    class Balances(Projection):
        entities = (account.ENTITY,)

        @handles(account.MoneyDeposited)
        def deposited(self, model, event, meta):
            model.put(meta.entity_id, model.get(meta.entity_id, Decimal(0)) + event.amount)

:class:`ProjectionRunner` consumes the entities' topics in a consumer group and applies
each batch of records in one model transaction that also records, per entity, the last
applied entity version (``esgen.version`` header) and, per partition, the next offset.
Only after that transaction commits are the Kafka offsets committed. An event whose
version was already applied is skipped, so redelivery (a crash between the model commit
and the offset commit, a rebalance, a producer retry that wrote an event twice) never
applies an event twice: at-least-once delivery plus idempotent application gives
effectively-once application per entity version.

On partition assignment the runner resumes from the model's own offsets when it has
them (they are at least as recent as Kafka's), otherwise from the group's committed
offsets, otherwise from the beginning. Every member of a group must share one model
store (e.g. one SQLite file or one database): a partition moving to another member
must find its entities' state there.

Records that cannot be decoded (an unknown schema id among them), and records whose
handler raises, go to ``<topic>.dlq`` (see :mod:`esgen.runtime.deadletter`) and
processing continues; a dead letter that cannot be written stops the runner before the
batch commits. A schema registry that cannot be reached or fails (``RegistryError``:
not the record's fault) is retried a few times, then stops the runner
(``ProjectionError``) with nothing dead-lettered or committed for that batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, cast

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from confluent_kafka.schema_registry import SchemaRegistryClient

from esgen.runtime import settings
from esgen.runtime.deadletter import DeadLetterError, DeadLetterWriter
from esgen.runtime.descriptor import EntityDescriptor
from esgen.runtime.errors import ConfigurationError, DecodeError, EsgenError, RegistryError
from esgen.runtime.kafka import KAFKA_LOGGER, KafkaClients
from esgen.runtime.meta import EventMeta
from esgen.runtime.models import ModelStore, ModelTransaction
from esgen.runtime.registry import RegistryClient
from esgen.runtime.subjects import DEFAULT_STRATEGY, SubjectStrategy
from esgen.runtime.wire import RegistrySerde, decode_events

__all__ = [
    "DeadLetterError",
    "Handler",
    "Projection",
    "ProjectionError",
    "ProjectionRunner",
    "RunnerStats",
    "handles",
]

Handler = Callable[[Any, ModelTransaction, Any, EventMeta], None]
F = TypeVar("F", bound=Callable[..., None])

_HANDLES_ATTR = "__esgen_handles__"


class ProjectionError(EsgenError):
    """The projection cannot go on (Kafka, the registry or the model store failed)."""


def handles(*event_classes: type) -> Callable[[F], F]:
    """Mark a method of a :class:`Projection` as the handler of these event classes.

    The method is called as ``method(model, event, meta)``.
    """
    if not event_classes:
        raise TypeError("handles() needs at least one event class")

    def mark(method: F) -> F:
        setattr(method, _HANDLES_ATTR, (*getattr(method, _HANDLES_ATTR, ()), *event_classes))
        return method

    return mark


class Projection:
    """Base class of projections; subclass it, list ``entities`` and mark handlers.

    ``name`` (default: the class name) identifies the projection in dead letters and in
    the CLI. Events without a handler are recorded as applied and otherwise ignored.
    Handlers must be deterministic and touch only the model they are given: the model
    transaction is what makes their effect atomic with the bookkeeping.
    """

    name: ClassVar[str] = ""
    entities: ClassVar[Sequence[EntityDescriptor[Any, Any]]] = ()
    _handlers: ClassVar[dict[type, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):
            cls.name = cls.__name__
        handlers: dict[type, str] = {}
        for klass in reversed(cls.__mro__):
            for attribute, value in vars(klass).items():
                for event_class in getattr(value, _HANDLES_ATTR, ()):
                    handlers[event_class] = attribute
        known = {e.cls for entity in cls.entities for e in entity.events}
        unknown = [c.__name__ for c in handlers if c not in known]
        if unknown and cls.entities:
            raise TypeError(
                f"{cls.__name__} handles {', '.join(unknown)}, which are events of none of "
                f"its entities ({', '.join(e.name for e in cls.entities)})"
            )
        cls._handlers = handlers

    def handler_for(
        self, event_class: type
    ) -> Callable[[ModelTransaction, Any, EventMeta], None] | None:
        """The bound handler of an event class, or None."""
        attribute = self._handlers.get(event_class)
        return None if attribute is None else getattr(self, attribute)

    def setup(self, model: ModelTransaction) -> None:
        """Called in a transaction before the runner consumes (e.g. create SQL tables)."""

    def clear(self, model: ModelTransaction) -> None:
        """Called when a replay starts, after the store's own data was dropped: drop what
        the projection keeps outside the key-value model (e.g. its SQL tables)."""


@dataclass
class RunnerStats:
    """What a runner has done so far (counted when a batch commits)."""

    processed: int = 0  # events applied (handled, or recorded as seen when unhandled)
    skipped: int = 0  # events already applied (redelivered), not applied again
    dead_lettered: int = 0  # records written to a dead-letter topic
    batches: int = 0
    elapsed: float = 0.0  # seconds spent in run() / replay()

    @property
    def records(self) -> int:
        return self.processed + self.skipped + self.dead_lettered


@dataclass(frozen=True)
class _Source:
    descriptor: EntityDescriptor[Any, Any]
    serde: RegistrySerde
    topic: str


_UNKNOWN: Any = object()


class _HandlerFailed(Exception):
    """A handler raised in a batch applied without savepoints: apply it again with them."""


_FATAL_CODES = frozenset(
    {
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        KafkaError.SASL_AUTHENTICATION_FAILED,
    }
)
_TRANSIENT_TRIES = 4  # decodes tried while the registry cannot be reached or fails


class ProjectionRunner:
    """Runs a :class:`Projection` against Kafka: consume, apply, commit; see the module doc.

    ``topics`` overrides an entity's topic (by descriptor). ``registry`` is a URL, a
    ``SchemaRegistryClient``, its config dict or a ``RegistryClient``. ``bootstrap`` and
    ``registry`` are found by the rule of :mod:`esgen.runtime.settings` when not given
    (``ESGEN_BOOTSTRAP``/``ESGEN_REGISTRY_URL``, then ``[tool.esgen]``). ``kafka_config``
    goes to every Kafka client; ``consumer_config``/``producer_config`` to one of them.
    """

    def __init__(
        self,
        projection: Projection,
        store: ModelStore,
        *,
        group_id: str,
        bootstrap: str | None = None,
        registry: str | SchemaRegistryClient | Mapping[str, Any] | RegistryClient | None = None,
        topics: Mapping[EntityDescriptor[Any, Any], str] | None = None,
        strategy: SubjectStrategy | str = DEFAULT_STRATEGY,
        kafka_config: Mapping[str, Any] | None = None,
        consumer_config: Mapping[str, Any] | None = None,
        producer_config: Mapping[str, Any] | None = None,
        batch_size: int = 500,
        poll_timeout: float = 0.5,
        on_batch: Callable[[ProjectionRunner], None] | None = None,
    ) -> None:
        if not projection.entities:
            raise ProjectionError(f"projection {projection.name} lists no entities")
        self.projection = projection
        self.store = store
        self.group_id = group_id
        try:
            self.bootstrap = settings.bootstrap_servers(bootstrap)
            client = RegistryClient.connect(settings.registry_setting(registry))
            self._clients = KafkaClients(self.bootstrap, kafka_config)
        except ConfigurationError as exc:
            raise ProjectionError(str(exc)) from exc
        topics = topics or {}
        self._sources: dict[str, _Source] = {}
        for descriptor in projection.entities:
            topic = topics.get(descriptor, descriptor.topic)
            serde = RegistrySerde(descriptor, client, strategy=strategy, topic=topic)
            self._sources[topic] = _Source(descriptor, serde, topic)
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.on_batch = on_batch
        self.stats = RunnerStats()
        # read_committed (pinned by the factory): never see events of aborted appends.
        self._consumer_config = dict(consumer_config or {})
        self._dead_letters = DeadLetterWriter(
            self._clients,
            f"{projection.name} (group {group_id})",
            producer_config=dict(producer_config or {}),
        )
        self._consumer: Consumer | None = None
        self._assigned: set[tuple[str, int]] = set()
        self._positions: dict[tuple[str, int], int] = {}  # next offset the model has
        self._ends: dict[tuple[str, int], int] = {}  # high watermarks, for "caught up"
        self._stop = threading.Event()
        self._setup_done = False
        self._handler_cache: dict[type, Any] = {}

    @property
    def topics(self) -> list[str]:
        return list(self._sources)

    # -- control -------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask :meth:`run` (or :meth:`replay`) to return after the current batch; safe from
        any thread, and before the run has started."""
        self._stop.set()

    def run(
        self,
        *,
        max_events: int | None = None,
        until_caught_up: bool = False,
        idle_timeout: float | None = None,
    ) -> RunnerStats:
        """Consume and apply until :meth:`stop`, or until one of the limits is met.

        ``max_events``: return once this many records were handled in this call (checked
        after each batch). ``until_caught_up``: return once every assigned partition is
        at the high watermark it had when assigned. ``idle_timeout``: return after that
        many seconds without records.
        """
        began = time.monotonic()
        start_records = self.stats.records
        consumer = self._open_consumer()
        consumer.subscribe(
            self.topics,
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        last_record = time.monotonic()
        try:
            while not self._stop.is_set():
                messages = consumer.consume(self.batch_size, self.poll_timeout)
                if messages:
                    last_record = time.monotonic()
                    self._process(consumer, messages)
                if max_events is not None and self.stats.records - start_records >= max_events:
                    break
                if until_caught_up and self._caught_up():
                    break
                if idle_timeout is not None and time.monotonic() - last_record >= idle_timeout:
                    break
        finally:
            self.stats.elapsed += time.monotonic() - began
            self._stop.clear()  # a stop() asked for this run, not for the next one
            self._close_consumer()
        return self.stats

    def replay(self) -> RunnerStats:
        """Rebuild the model from the beginning of every topic into a fresh model.

        Drops the store's contents, reads every partition from its first record up to the
        high watermark it has now, and returns. The group's committed offsets are not
        touched; a later :meth:`run` resumes from the model's offsets. Stop the group's
        other runners first: they would write into the model being rebuilt.
        """
        began = time.monotonic()
        self.store.reset()
        self._in_transaction(self.projection.clear)
        self._setup_done = False  # clear() may have dropped what setup() made
        self._setup()
        consumer = self._open_consumer()
        try:
            partitions = self._all_partitions(consumer)
            self._ends = self._watermarks(consumer, partitions)
            consumer.assign(
                [TopicPartition(t, p, OFFSET_BEGINNING) for (t, p) in sorted(partitions)]
            )
            self._assigned = set(partitions)
            self._positions = {}
            while not self._stop.is_set() and not self._caught_up():
                messages = consumer.consume(self.batch_size, self.poll_timeout)
                if messages:
                    self._process(consumer, messages, commit_kafka=False)
        finally:
            self.stats.elapsed += time.monotonic() - began
            self._stop.clear()  # a stop() asked for this run, not for the next one
            self._close_consumer()
        return self.stats

    def lag(self) -> int | None:
        """Records not yet applied on the partitions this runner owns (None: unknown)."""
        consumer = self._consumer
        if consumer is None or not self._assigned:
            return None
        total = 0
        try:
            for key in list(self._assigned):
                # The watermark the last fetch brought, not a new request: a request would
                # queue behind the fetch long-poll on the same connection (up to 500 ms).
                _, high = consumer.get_watermark_offsets(TopicPartition(*key), cached=True)
                if high < 0:
                    high = self._ends.get(key, 0)
                total += max(0, high - self._positions.get(key, 0))
        except KafkaException:
            return None
        return total

    def close(self) -> None:
        """Close the consumer and flush dead letters (raising if one was not written)."""
        self._close_consumer()
        self._dead_letters.close()

    def __enter__(self) -> ProjectionRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- Kafka ---------------------------------------------------------------------------

    def _open_consumer(self) -> Consumer:
        self._setup()
        self._positions = {}
        self._assigned = set()
        self._ends = {}
        try:
            self._consumer = self._clients.group_consumer(self.group_id, self._consumer_config)
        except ConfigurationError as exc:
            raise ProjectionError(f"cannot create a Kafka consumer: {exc}") from exc
        try:
            self._check_topics(self._consumer)
        except BaseException:
            self._consumer.close()
            self._consumer = None
            raise
        return self._consumer

    def _close_consumer(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                self._commit_kafka(
                    consumer, [TopicPartition(t, p) for t, p in self._assigned], asynchronous=False
                )
            except (ProjectionError, KafkaException) as exc:
                # Never hides the error that stopped the run; the model keeps the offsets.
                KAFKA_LOGGER.warning("offsets not committed to Kafka on close: %s", exc)
            finally:
                consumer.close()  # leaves the group: its partitions go to the other members
        self._assigned = set()

    def _check_topics(self, consumer: Consumer) -> None:
        try:
            metadata = consumer.list_topics(timeout=10)
        except KafkaException as exc:
            raise ProjectionError(
                f"cannot reach Kafka at {self.bootstrap}: {exc.args[0].str()}"
            ) from exc
        missing = [t for t in self.topics if t not in metadata.topics]
        if missing:
            raise ProjectionError(
                f"topic {', '.join(missing)} does not exist on {self.bootstrap} "
                "(projections never create entity topics)"
            )

    def _all_partitions(self, consumer: Consumer) -> set[tuple[str, int]]:
        metadata = consumer.list_topics(timeout=10)
        return {
            (topic, partition)
            for topic in self.topics
            for partition in metadata.topics[topic].partitions
        }

    def _watermarks(
        self, consumer: Consumer, partitions: Iterable[tuple[str, int]]
    ) -> dict[tuple[str, int], int]:
        ends = {}
        for topic, partition in partitions:
            _, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=10, cached=False
            )
            ends[(topic, partition)] = high
        return ends

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        stored = self.store.offsets()
        elsewhere = []
        for tp in partitions:
            key = (tp.topic, tp.partition)
            self._assigned.add(key)
            if key in stored:
                tp.offset = stored[key]  # the model's own position wins
                self._positions[key] = stored[key]
            else:
                elsewhere.append(TopicPartition(tp.topic, tp.partition))
        if elsewhere:  # the group's committed offsets (or none: from the beginning)
            for tp in consumer.committed(elsewhere, timeout=10):
                if tp.offset >= 0:
                    self._positions[(tp.topic, tp.partition)] = tp.offset
                else:
                    self._positions.pop((tp.topic, tp.partition), None)
        self._ends.update(self._watermarks(consumer, self._assigned))
        consumer.assign(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Callbacks run inside consume(), between batches: the last batch is committed
        # in the model already; bring the group's offsets up to date before handing over.
        self._commit_kafka(consumer, partitions, asynchronous=False)
        for tp in partitions:
            self._assigned.discard((tp.topic, tp.partition))
            self._ends.pop((tp.topic, tp.partition), None)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Lost (not revoked): another member may own them already; do not commit.
        for tp in partitions:
            self._assigned.discard((tp.topic, tp.partition))

    def _commit_kafka(
        self, consumer: Consumer, partitions: Iterable[TopicPartition], *, asynchronous: bool
    ) -> None:
        offsets = [
            TopicPartition(tp.topic, tp.partition, self._positions[(tp.topic, tp.partition)])
            for tp in partitions
            if (tp.topic, tp.partition) in self._positions
        ]
        if not offsets:
            return
        try:
            if asynchronous:
                consumer.commit(offsets=offsets, asynchronous=True)
            else:
                consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Not fatal: the model holds the offsets and is what assignment resumes from.
            if exc.args[0].code() not in (
                KafkaError._NO_OFFSET,
                KafkaError.REBALANCE_IN_PROGRESS,
                KafkaError.ILLEGAL_GENERATION,
                KafkaError.UNKNOWN_MEMBER_ID,
            ):
                raise ProjectionError(f"cannot commit offsets: {exc.args[0].str()}") from exc

    def _caught_up(self) -> bool:
        if not self._assigned:
            return False
        behind = [k for k in self._assigned if self._positions.get(k, 0) < self._ends.get(k, 0)]
        if behind and self._consumer is not None:
            # A transaction's commit marker takes the offset after its last record: the
            # consumer's position passes it (it is never delivered), the model's cannot.
            for tp in self._consumer.position([TopicPartition(*key) for key in behind]):
                key = (tp.topic, tp.partition)
                if tp.offset >= self._ends.get(key, 0) and tp.offset >= 0:
                    behind.remove(key)
        return not behind

    # -- applying ------------------------------------------------------------------------

    def _setup(self) -> None:
        if not self._setup_done:
            self._in_transaction(self.projection.setup)
            self._setup_done = True

    def _in_transaction(self, action: Callable[[ModelTransaction], None]) -> None:
        tx = self.store.begin()
        try:
            action(tx)
        except BaseException:
            tx.rollback()
            raise
        tx.commit()

    def _process(
        self, consumer: Consumer, messages: list[Message], *, commit_kafka: bool = True
    ) -> None:
        """Apply one batch in one model transaction, then commit the offsets.

        Handlers run without savepoints first (the common case costs nothing); if one
        raises, the transaction is rolled back and the batch applied again with a
        savepoint around each handler, so only the failing event's writes are undone.
        """
        try:
            counts, batch_next = self._apply(messages, safe=False)
        except _HandlerFailed:
            counts, batch_next = self._apply(messages, safe=True)
        self._positions.update(batch_next)
        stats = self.stats
        stats.processed += counts[0]
        stats.skipped += counts[1]
        stats.dead_lettered += counts[2]
        stats.batches += 1
        if commit_kafka and batch_next:
            self._commit_kafka(
                consumer, [TopicPartition(t, p) for (t, p) in batch_next], asynchronous=True
            )
        if self.on_batch is not None:
            self.on_batch(self)

    def _apply(
        self, messages: list[Message], *, safe: bool
    ) -> tuple[tuple[int, int, int], dict[tuple[str, int], int]]:
        processed = skipped = 0
        positions = self._positions
        batch_next: dict[tuple[str, int], int] = {}
        letters: list[tuple[Message, str, BaseException]] = []
        sources = self._sources
        handlers = self._handler_cache
        decode = decode_events
        tx = self.store.begin()
        try:
            if tx.preloads:  # one query for the batch's applied versions, not one per record
                ids: dict[str, list[str]] = {}
                for msg in messages:
                    key_bytes = msg.key()
                    if isinstance(key_bytes, bytes) and msg.error() is None:
                        ids.setdefault(msg.topic() or "", []).append(
                            key_bytes.decode(errors="replace")
                        )
                for stream, entity_ids in ids.items():
                    tx.preload_versions(stream, entity_ids)
            for msg in messages:
                error = msg.error()
                if error is not None:
                    self._consume_error(error)
                    continue
                topic: str = msg.topic()  # type: ignore[assignment]
                partition: int = msg.partition()  # type: ignore[assignment]
                offset: int = msg.offset()  # type: ignore[assignment]
                key = (topic, partition)
                if offset < positions.get(key, 0):
                    skipped += 1  # the model has it already (redelivered after a rebalance)
                    continue
                batch_next[key] = offset + 1
                source = sources[topic]
                try:
                    try:
                        # cast: wire.KafkaMessage is what confluent's Message offers.
                        events, meta = decode(source.serde, cast(Any, msg))
                    except RegistryError as exc:  # not the record's fault: retry, then stop
                        events, meta = self._decode_after_outage(source, msg, exc)
                except DecodeError as exc:  # the record's fault (an unknown schema id too)
                    letters.append((msg, "decode", exc))
                    continue
                version = meta.version
                if version is not None and tx.applied_version(topic, meta.entity_id) >= version:
                    skipped += 1
                    continue
                handled = []  # (handler, event) of the record's events: several if upcast
                for event in events:
                    event_class = type(event)
                    handler = handlers.get(event_class, _UNKNOWN)
                    if handler is _UNKNOWN:
                        handler = handlers[event_class] = self.projection.handler_for(event_class)
                    if handler is not None:
                        handled.append((handler, event))
                if handled:
                    if safe:
                        try:
                            with tx.savepoint():  # a record is applied whole or not at all
                                for handler, event in handled:
                                    handler(tx, event, meta)
                        except Exception as exc:  # user code: any failure is a dead letter
                            letters.append((msg, "handle", exc))
                            continue
                    else:
                        try:
                            for handler, event in handled:
                                handler(tx, event, meta)
                        except Exception as exc:
                            raise _HandlerFailed from exc
                if version is not None:
                    tx.set_applied_version(topic, meta.entity_id, version)
                processed += 1
            for (topic, partition), next_offset in batch_next.items():
                tx.set_offset(topic, partition, next_offset)
            # Dead letters must be durable before the offsets that pass their records are.
            for letter in letters:
                self._dead_letter(*letter)
            self._dead_letters.flush()
            tx.commit()
        except BaseException:
            tx.rollback()
            raise
        return (processed, skipped, len(letters)), batch_next

    def _decode_after_outage(
        self, source: _Source, msg: Message, error: RegistryError
    ) -> tuple[list[Any], EventMeta]:
        """Decode ``msg`` again while the schema registry is down or failing, with growing
        pauses; ``ProjectionError`` once it stayed so for every try."""
        delay = 0.5
        for _ in range(_TRANSIENT_TRIES - 1):
            time.sleep(delay)
            delay *= 2
            try:
                return decode_events(source.serde, cast(Any, msg))
            except RegistryError as exc:
                error = exc
        raise ProjectionError(str(error)) from error

    def _dead_letter(self, msg: Message, stage: str, error: BaseException) -> None:
        key = msg.key()
        value = msg.value()
        self._dead_letters.send(
            msg.topic() or "",
            msg.partition() or 0,
            msg.offset() or 0,
            key.encode() if isinstance(key, str) else key,
            value.encode() if isinstance(value, str) else value,
            msg.headers(),
            stage,
            error,
        )

    def _consume_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._PARTITION_EOF:
            return
        if error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            raise ProjectionError(f"a topic of {self.projection.name} is gone: {error.str()}")
        if error.fatal() or error.code() in _FATAL_CODES:
            raise ProjectionError(f"Kafka consumer error: {error.str()}")
        # Anything else (a broker away, a timeout) librdkafka recovers from by itself;
        # no record was consumed, so no offset moves and nothing is lost.
