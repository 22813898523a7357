"""The Kafka loop of a projection: consume in a group, apply, commit, hand over cleanly.

:class:`ProjectionRunner` consumes the projection's topics in a consumer group
(``read_committed``, no auto-commit) and gives each batch to the transport-free apply
step (:class:`~esgen.runtime.projections.apply.Applier`), which applies it in one model
transaction that also records, per entity, the last applied entity version and, per
partition, the next offset. Only after that transaction commits are the Kafka offsets
committed. An event whose version was already applied is skipped, so redelivery (a
crash between the model commit and the offset commit, a rebalance, a producer retry
that wrote an event twice) never applies an event twice: at-least-once delivery plus
idempotent application gives effectively-once application per entity version.

On partition assignment the runner resumes from the model's own offsets when it has
them (they are at least as recent as Kafka's), otherwise from the group's committed
offsets, otherwise from the beginning. Every member of a group must share one model
store (e.g. one SQLite file or one database): a partition moving to another member
must find its entities' state there.

The apply step's dead letters (undecodable records, handlers that raised) are written
to ``<topic>.dlq`` (see :mod:`esgen.runtime.deadletter`: once per record) and flushed
before the batch commits; a dead letter that cannot be written stops the runner with
the batch uncommitted. **Redrives** (:mod:`esgen.runtime.redrive`): when :meth:`run`
starts, and every ``redrive_interval`` seconds while it runs, the runner reads the
redrive requests addressed to it in those topics (from where its model says it got to)
and applies them through the apply step (:meth:`~esgen.runtime.projections.apply.
Applier.redrive`: once per record), records how far it read in the same model
transaction, then appends an outcome for each. A redrive that fails again is a new dead
letter, written before that transaction commits. Kafka or the registry being away
postpones the redrives to the next interval; it never stops the runner.

A schema registry that cannot be reached or fails (``RegistryError``: not the record's
fault) makes a batch be applied again after a pause, a few times, then stops the runner
(``ProjectionError``) with nothing dead-lettered or committed for that batch.

**Stopping.** :meth:`ProjectionRunner.stop` (from any thread), or SIGTERM/SIGINT while
:meth:`~ProjectionRunner.run` or :meth:`~ProjectionRunner.replay` runs in the main thread
(:mod:`esgen.runtime.signals`), ends the loop after the current batch: it commits, the
group's offsets are committed, and the consumer leaves the group, so its partitions go
to the other members at once (not after ``session.timeout.ms``). :meth:`lag` reads only
what the loop measured after its last batch, so any thread may call it at any time.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from confluent_kafka.schema_registry import SchemaRegistryClient

from esgen.runtime import logs, settings, telemetry
from esgen.runtime.deadletter import (
    APPLIED,
    PROJECTION_PREFIX,
    SKIPPED,
    DeadLetterError,
    DeadLetterWriter,
)
from esgen.runtime.descriptor import EntityDescriptor
from esgen.runtime.errors import ConfigurationError, RegistryError, StoreError
from esgen.runtime.kafka import KafkaClients
from esgen.runtime.models import ModelStore
from esgen.runtime.projections.apply import Applier, BatchResult, DeadLetter, Decoder
from esgen.runtime.projections.projection import Projection, ProjectionError
from esgen.runtime.redrive import RedriveInbox, batches
from esgen.runtime.registry import RegistryClient
from esgen.runtime.signals import StopSignals
from esgen.runtime.subjects import DEFAULT_STRATEGY, SubjectStrategy
from esgen.runtime.wire import RegistrySerde, decode_events

log = logs.projections

_FATAL_CODES = frozenset(
    {
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        KafkaError.SASL_AUTHENTICATION_FAILED,
    }
)
_TRANSIENT_TRIES = 4  # applications of a batch while the registry cannot be reached or fails


@dataclass
class RunnerStats:
    """What a runner has done so far (counted when a batch commits)."""

    processed: int = 0  # events applied (handled, or recorded as seen when unhandled)
    skipped: int = 0  # events already applied (redelivered), not applied again
    dead_lettered: int = 0  # records that went to a dead-letter topic (now or before)
    batches: int = 0
    redriven: int = 0  # dead letters applied on a redrive request
    redrive_failed: int = 0  # redriven records that failed again (new dead letters)
    elapsed: float = 0.0  # seconds spent in run() / replay()
    stopped_by: str | None = None
    """The signal (``"SIGTERM"``, ``"SIGINT"``) that ended the last run() or replay()
    before it was done (for replay(): before it reached the end), else None."""

    @property
    def records(self) -> int:
        return self.processed + self.skipped + self.dead_lettered


class ProjectionRunner:
    """Runs a :class:`Projection` against Kafka: consume, apply, commit; see the module doc.

    ``topics`` overrides an entity's topic (by descriptor). ``registry`` is a URL, a
    ``SchemaRegistryClient``, its config dict or a ``RegistryClient``. ``bootstrap`` and
    ``registry`` are found by the rule of :mod:`esgen.runtime.settings` when not given
    (``ESGEN_BOOTSTRAP``/``ESGEN_REGISTRY_URL``, then ``[tool.esgen]``). ``kafka_config``
    goes to every Kafka client; ``consumer_config``/``producer_config`` to one of them.
    ``redrive_interval``: seconds between two looks for redrive requests while
    :meth:`run` runs (None: only when it starts).
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
        redrive_interval: float | None = 5.0,
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
        decoders: dict[str, Decoder] = {}
        for descriptor in projection.entities:
            topic = topics.get(descriptor, descriptor.topic)
            serde = RegistrySerde(descriptor, client, strategy=strategy, topic=topic)
            decoders[topic] = functools.partial(decode_events, serde)
        self._applier = Applier(projection, store, decoders)
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.on_batch = on_batch
        self.stats = RunnerStats()
        # read_committed (pinned by the factory): never see events of aborted appends.
        self._consumer_config = dict(consumer_config or {})
        self.redrive_interval = redrive_interval
        self._dead_letters = DeadLetterWriter(
            self._clients,
            PROJECTION_PREFIX + projection.name,
            producer_config=dict(producer_config or {}),
        )
        self._inbox: RedriveInbox | None = None
        self._consumer: Consumer | None = None
        self._member = False  # subscribed in the group (run), not assigned (replay)
        self._assigned: set[tuple[str, int]] = set()
        self._ends: dict[tuple[str, int], int] = {}  # high watermarks, for "caught up"
        self._lag: int | None = None  # measured by the loop after each batch
        self._stop = threading.Event()
        self._setup_done = False
        telemetry.watch_lag(self)

    @property
    def topics(self) -> list[str]:
        return list(self._applier.decoders)

    # -- control -------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask :meth:`run` (or :meth:`replay`) to return after the current batch; safe from
        any thread (and from a signal handler), and before the run has started."""
        self._stop.set()

    def run(
        self,
        *,
        max_events: int | None = None,
        until_caught_up: bool = False,
        idle_timeout: float | None = None,
        handle_signals: bool = True,
    ) -> RunnerStats:
        """Consume and apply until :meth:`stop`, SIGTERM/SIGINT, or one of the limits.

        ``max_events``: return once this many records were handled in this call (checked
        after each batch). ``until_caught_up``: return once every assigned partition is
        at the high watermark it had when assigned. ``idle_timeout``: return after that
        many seconds without records. ``handle_signals``: in the main thread, SIGTERM and
        SIGINT stop the run after the current batch (a second one acts as it did before);
        ``stats.stopped_by`` names the signal.
        """
        began = time.monotonic()
        start_records = self.stats.records
        self.stats.stopped_by = None
        finished = False
        signals = StopSignals(self.stop)
        with signals if handle_signals else contextlib.nullcontext(signals):
            consumer = self._open_consumer()
            try:
                self._redrive()
                interval = self.redrive_interval
                next_redrive = None if interval is None else time.monotonic() + interval
                self._member = True
                consumer.subscribe(
                    self.topics,
                    on_assign=self._on_assign,
                    on_revoke=self._on_revoke,
                    on_lost=self._on_lost,
                )
                last_record = time.monotonic()
                while not self._stop.is_set():
                    messages = consumer.consume(self.batch_size, self.poll_timeout)
                    if messages:
                        last_record = time.monotonic()
                        self._process(consumer, messages)
                    self._measure_lag(consumer)
                    if next_redrive is not None and time.monotonic() >= next_redrive:
                        self._redrive()
                        next_redrive = time.monotonic() + (interval or 0.0)
                    handled = self.stats.records - start_records
                    idle = time.monotonic() - last_record
                    finished = (
                        (max_events is not None and handled >= max_events)
                        or (until_caught_up and self._caught_up())
                        or (idle_timeout is not None and idle >= idle_timeout)
                    )
                    if finished:
                        break
            finally:
                self.stats.elapsed += time.monotonic() - began
                self._stop.clear()  # a stop() asked for this run, not for the next one
                self._close_consumer()
        if signals.received is not None and not finished:
            self.stats.stopped_by = signals.received.name
        return self.stats

    def replay(self, *, handle_signals: bool = True) -> RunnerStats:
        """Rebuild the model from the beginning of every topic into a fresh model.

        Drops the store's contents, reads every partition from its first record up to the
        high watermark it has now, and returns. The group's committed offsets are not
        touched; a later :meth:`run` resumes from the model's offsets. Stop the group's
        other runners first: they would write into the model being rebuilt. A stop
        (or SIGTERM/SIGINT, see :meth:`run`) ends it after the current batch, with the
        model as far as it got (``stats.stopped_by`` names the signal).
        """
        began = time.monotonic()
        self.stats.stopped_by = None
        finished = False
        signals = StopSignals(self.stop)
        with signals if handle_signals else contextlib.nullcontext(signals):
            consumer = self._open_consumer(setup=False)  # the topics exist: now reset
            try:
                self._applier.reset()
                self._setup_done = True
                partitions = self._all_partitions(consumer)
                self._ends = self._watermarks(consumer, partitions)
                consumer.assign(
                    [TopicPartition(t, p, OFFSET_BEGINNING) for (t, p) in sorted(partitions)]
                )
                self._assigned = set(partitions)
                while not self._stop.is_set() and not self._caught_up():
                    messages = consumer.consume(self.batch_size, self.poll_timeout)
                    if messages:
                        self._process(consumer, messages, commit_kafka=False)
                    self._measure_lag(consumer)
                finished = self._caught_up()
            finally:
                self.stats.elapsed += time.monotonic() - began
                self._stop.clear()  # a stop() asked for this run, not for the next one
                self._close_consumer()
        if signals.received is not None and not finished:
            self.stats.stopped_by = signals.received.name
        return self.stats

    def lag(self) -> int | None:
        """Records not yet applied on the partitions this runner owns, as measured after
        its last batch or poll (None: not running, or nothing measured yet). Safe from
        any thread: it never touches the consumer."""
        return self._lag

    def close(self) -> None:
        """Close the consumer and flush dead letters (raising if one was not written)."""
        self._close_consumer()
        inbox, self._inbox = self._inbox, None
        if inbox is not None:
            inbox.close()
        self._dead_letters.close()

    def __enter__(self) -> ProjectionRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- Kafka ---------------------------------------------------------------------------

    def _open_consumer(self, *, setup: bool = True) -> Consumer:
        self._applier.positions = {}
        self._assigned = set()
        self._ends = {}
        self._lag = None
        try:
            self._consumer = self._clients.group_consumer(self.group_id, self._consumer_config)
        except ConfigurationError as exc:
            raise ProjectionError(f"cannot create a Kafka consumer: {exc}") from exc
        try:
            self._check_topics(self._consumer)
            if setup and not self._setup_done:
                self._applier.setup()
                self._setup_done = True
        except BaseException:
            self._consumer.close()
            self._consumer = None
            raise
        return self._consumer

    def _close_consumer(self) -> None:
        consumer, self._consumer = self._consumer, None
        member, self._member = self._member, False
        self._lag = None
        if consumer is not None:
            try:
                if member:  # a replay never touches the group's offsets
                    self._commit_kafka(
                        consumer,
                        [TopicPartition(t, p) for t, p in self._assigned],
                        asynchronous=False,
                    )
            except (ProjectionError, KafkaException) as exc:
                # Never hides the error that stopped the run; the model keeps the offsets.
                log.warning("offsets not committed to Kafka on close: %s", exc)
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
        positions = self._applier.positions
        elsewhere = []
        for tp in partitions:
            key = (tp.topic, tp.partition)
            self._assigned.add(key)
            if key in stored:
                tp.offset = stored[key]  # the model's own position wins
                positions[key] = stored[key]
            else:
                elsewhere.append(TopicPartition(tp.topic, tp.partition))
        if elsewhere:  # the group's committed offsets (or none: from the beginning)
            for tp in consumer.committed(elsewhere, timeout=10):
                if tp.offset >= 0:
                    positions[(tp.topic, tp.partition)] = tp.offset
                else:
                    positions.pop((tp.topic, tp.partition), None)
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
        positions = self._applier.positions
        offsets = [
            TopicPartition(tp.topic, tp.partition, positions[(tp.topic, tp.partition)])
            for tp in partitions
            if (tp.topic, tp.partition) in positions
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
        positions = self._applier.positions
        behind = [k for k in self._assigned if positions.get(k, 0) < self._ends.get(k, 0)]
        if behind and self._consumer is not None:
            # A transaction's commit marker takes the offset after its last record: the
            # consumer's position passes it (it is never delivered), the model's cannot.
            for tp in self._consumer.position([TopicPartition(*key) for key in behind]):
                key = (tp.topic, tp.partition)
                if tp.offset >= self._ends.get(key, 0) and tp.offset >= 0:
                    behind.remove(key)
        return not behind

    def _measure_lag(self, consumer: Consumer) -> None:
        """What :meth:`lag` reports: high watermarks from the last fetches (no request:
        one would queue behind the fetch long-poll) minus where the model and the consumer
        are (the consumer passes commit markers, which the model never sees)."""
        if not self._assigned:
            self._lag = None
            return
        positions = self._applier.positions
        total = 0
        try:
            for tp in consumer.position([TopicPartition(*key) for key in self._assigned]):
                key = (tp.topic, tp.partition)
                _, high = consumer.get_watermark_offsets(tp, cached=True)
                if high < 0:
                    high = self._ends.get(key, 0)
                total += max(0, high - max(positions.get(key, 0), tp.offset))
        except KafkaException:
            self._lag = None
            return
        self._lag = total

    # -- applying ------------------------------------------------------------------------

    @telemetry.traced_projection_batch
    def _process(
        self, consumer: Consumer, messages: list[Message], *, commit_kafka: bool = True
    ) -> None:
        """Apply one batch (through the apply step), then commit its offsets to Kafka."""
        if any(msg.error() is not None for msg in messages):
            for msg in messages:
                error = msg.error()
                if error is not None:
                    self._consume_error(error)
            messages = [msg for msg in messages if msg.error() is None]
            if not messages:
                return
        result = self._apply(messages)
        if result is None:  # stopped while the registry was away: nothing was committed
            return
        stats = self.stats
        stats.processed += result.processed
        stats.skipped += result.skipped
        stats.dead_lettered += len(result.dead_letters)
        stats.batches += 1
        if commit_kafka and result.next_offsets:
            self._commit_kafka(
                consumer,
                [TopicPartition(t, p) for (t, p) in result.next_offsets],
                asynchronous=True,
            )
        if self.on_batch is not None:
            self.on_batch(self)

    def _apply(self, messages: list[Message]) -> BatchResult | None:
        """The apply step, again after a pause while the registry cannot be reached or
        fails (nothing of a failed attempt is kept); ``ProjectionError`` after the last
        try, None when asked to stop while waiting."""
        delay = 0.5
        for attempt in range(1, _TRANSIENT_TRIES + 1):
            try:
                return self._applier.apply(messages, self._write_dead_letters)
            except RegistryError as exc:
                if attempt == _TRANSIENT_TRIES:
                    raise ProjectionError(str(exc)) from exc
                log.warning("batch not applied (try %d): %s", attempt, exc)
                if self._stop.wait(delay):
                    return None
                delay *= 2
        raise AssertionError("unreachable")

    def _write_dead_letters(self, letters: list[DeadLetter]) -> None:
        """Dead letters must be durable before the offsets that pass their records are."""
        if not letters:
            return
        writer = self._dead_letters
        for letter in letters:
            record = letter.record
            key = record.key()
            value = record.value()
            writer.send(
                record.topic() or "",
                record.partition() or 0,
                record.offset() or 0,
                key.encode() if isinstance(key, str) else key,
                value.encode() if isinstance(value, str) else value,
                record.headers(),
                letter.stage,
                letter.error,
                timestamp=record.timestamp()[1],
                redrive=letter.redrive,
            )
        writer.flush()

    # -- redrives ------------------------------------------------------------------------

    def _redrive(self) -> None:
        """Apply the redrive requests addressed to this projection that the model has not
        read yet (see the module doc); Kafka or the registry being away postpones them."""
        if self._inbox is None:
            self._inbox = RedriveInbox(
                self._clients, self._dead_letters.consumer, self._dead_letters.timeout
            )
        read = self.store.offsets()
        for topic in self.topics:
            try:
                inbox = self._inbox.read(topic, read)
            except StoreError as exc:
                log.warning("redrive requests of %s not read: %s", topic, exc)
                continue
            if inbox is None:
                continue
            for request, reason in inbox.unusable:
                self._dead_letters.report(request, SKIPPED, reason)
            for redrives, positions in batches(inbox, self.batch_size):
                try:
                    result = self._applier.redrive(redrives, positions, self._write_dead_letters)
                except RegistryError as exc:
                    log.warning("redrives of %s postponed: %s", topic, exc)
                    break
                self.stats.redriven += len(result.applied)
                self.stats.redrive_failed += len(result.dead_letters)
                for applied in result.applied:
                    if applied.request is not None:
                        self._dead_letters.report(applied.request, APPLIED)
                for skipped, reason in result.skipped:
                    if skipped.request is not None:
                        self._dead_letters.report(skipped.request, SKIPPED, reason)
                if result.applied or result.skipped or result.dead_letters:
                    log.info(
                        "%s: %d redriven records applied, %d skipped, %d failed again",
                        topic,
                        len(result.applied),
                        len(result.skipped),
                        len(result.dead_letters),
                    )
            try:
                self._dead_letters.flush()
            except DeadLetterError as exc:  # the model has them; only the answers are missing
                log.warning("outcomes of redrives of %s not written: %s", topic, exc)

    def _consume_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._PARTITION_EOF:
            return
        if error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            raise ProjectionError(f"a topic of {self.projection.name} is gone: {error.str()}")
        if error.fatal() or error.code() in _FATAL_CODES:
            raise ProjectionError(f"Kafka consumer error: {error.str()}")
        # Anything else (a broker away, a timeout) librdkafka recovers from by itself;
        # no record was consumed, so no offset moves and nothing is lost.
