"""The apply step of a projection: a batch of records into its read model, no Kafka.

:class:`Applier` is what :class:`~esgen.runtime.projections.runner.ProjectionRunner`
runs on every batch it consumes, and what :class:`esgen.runtime.testing.ProjectionFeed`
runs on records a unit test makes up. A record is anything with the methods of a
consumed ``confluent_kafka.Message`` that decoding needs (:class:`~esgen.runtime.wire.
KafkaMessage`); each topic has a decoder (``record -> (events, meta)``: the runner's
decodes the wire format with the registry, :func:`~esgen.runtime.wire.decode_events`; a
record is one event, or zero or more when an upcast reads it).

One :meth:`Applier.apply` is one transaction of the model store. For each record:

1. skipped if its offset is below the model's position for its partition
   (:attr:`Applier.positions`: the model has it, redelivered after a rebalance);
2. decoded by its topic's decoder. A ``DecodeError`` is the record's fault: a
   :class:`DeadLetter` (stage ``decode``). Anything else (a ``RegistryError``: the
   registry is down, the record may be fine) rolls the transaction back and propagates;
3. skipped if the model's applied version for ``(topic, entity id)`` is at least the
   record's ``esgen.version`` (records without one rely on the offset check alone);
4. handled: ``handler(model, event, meta)`` for each of its events with the batch's
   :class:`~esgen.runtime.models.ReadModel`; a handler that raises is a dead letter
   (stage ``handle``) whose writes (those of the record's other events too) are undone,
   and the batch goes on;
5. its version recorded as applied.

Then each partition's next offset is recorded in the same transaction, ``before_commit``
is called with the batch's dead letters (the runner writes them to ``<topic>.dlq`` and
waits until Kafka has them: they must be durable before the offsets that pass their
records), and the transaction commits. Only then do :attr:`Applier.positions` advance.
Dead letters are values here: what to do with them is the caller's business.

Handlers first run without savepoints (the common case costs nothing); if one raises,
the transaction is rolled back and the batch applied again with a savepoint around each
handler, so exactly the failing event's writes are undone and the rest is kept.

**Redrives.** The model remembers, in the same transaction, each record it
dead-lettered (in its applied versions, under the stream ``<topic> dead letters`` and
the id ``<partition>@<offset>``: no store needs anything new). :meth:`Applier.redrive`
applies dead-lettered records again (a redrive request, see
:mod:`esgen.runtime.redrive`) in one transaction: a record the model does not hold as
dead-lettered is skipped, so however often a redrive is asked or delivered, a record is
applied once. A redriven record is not skipped by its entity version (later versions
were applied while it waited); its handler runs inside a savepoint, the entity's applied
version never goes down, and the model also remembers that this version of the entity
was applied by a redrive (stream ``<topic> redriven``), so a second copy of the same
version (a producer retry that was dead-lettered twice) is not applied again. A redrive
that fails again is a :class:`DeadLetter` with its request and stays dead-lettered.
A redriven event is applied after the events that followed it: a handler that needs
events in order should be fixed with a replay instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from esgen.runtime.errors import DecodeError
from esgen.runtime.meta import EventMeta
from esgen.runtime.models import ModelStore, ModelTransaction, ReadModel, TopicPartition
from esgen.runtime.projections.projection import Handler, Projection
from esgen.runtime.wire import KafkaMessage

if TYPE_CHECKING:
    from esgen.runtime.deadletter import DeadLetterEntry

Decoder = Callable[[KafkaMessage], tuple[list[Any], EventMeta]]
"""``record -> (events, meta)``; raises ``DecodeError`` when the record is at fault."""

_UNKNOWN: Any = object()


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record the projection could not apply, and why."""

    record: KafkaMessage
    stage: str  # "decode": not an event of the entity; "handle": the handler raised
    error: Exception
    redrive: DeadLetterEntry | None = None  # the redrive request that failed again, if any


@dataclass(frozen=True, slots=True)
class Redrive:
    """A dead-lettered record to apply again: ``record`` as it was at its source position
    (topic, partition, offset, key, value, headers), and the ``request`` that asks for it
    (None in tests without Kafka)."""

    record: KafkaMessage
    request: DeadLetterEntry | None = None


@dataclass(frozen=True, slots=True)
class RedriveResult:
    """What one committed :meth:`Applier.redrive` did."""

    applied: list[Redrive]
    skipped: list[tuple[Redrive, str]]  # with the reason
    dead_letters: list[DeadLetter]  # failed again


def dead_letters_stream(topic: str) -> str:
    """Where the model remembers the records of ``topic`` it dead-lettered (no topic name
    can contain a space, so this never meets a real stream)."""
    return f"{topic} dead letters"


def redriven_stream(topic: str) -> str:
    """Where the model remembers the entity versions of ``topic`` applied by a redrive."""
    return f"{topic} redriven"


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one committed :meth:`Applier.apply` did."""

    processed: int  # events applied (handled, or recorded as seen when unhandled)
    skipped: int  # records the model had already (by offset or by entity version)
    dead_letters: list[DeadLetter]
    next_offsets: dict[TopicPartition, int]  # per partition of the batch, as committed


class _HandlerFailed(Exception):
    """A handler raised in a batch applied without savepoints: apply it again with them."""


class Applier:
    """Applies batches of records to a projection's model store (see the module doc).

    ``decoders`` maps each topic the projection reads to its decoder.
    """

    def __init__(
        self, projection: Projection, store: ModelStore, decoders: Mapping[str, Decoder]
    ) -> None:
        self.projection = projection
        self.store = store
        self.decoders = dict(decoders)
        self.positions: dict[TopicPartition, int] = {}
        """The next offset the model has, per partition: records below it are skipped.
        The caller seeds it (from ``store.offsets()`` or a consumer group's offsets);
        each commit advances it."""
        self._handlers: dict[type, Handler | None] = {}

    def setup(self) -> None:
        """Run the projection's ``setup`` hook in a transaction of its own."""
        self.in_transaction(self.projection.setup)

    def reset(self) -> None:
        """A fresh model: drop the store's contents, call the projection's ``clear`` and
        ``setup`` hooks, forget every position."""
        self.store.reset()
        self.in_transaction(self.projection.clear)
        self.setup()  # clear() may have dropped what setup() made
        self.positions = {}

    def in_transaction(self, action: Callable[[ReadModel], None]) -> None:
        """``action(model)`` in one committed transaction (rolled back if it raises)."""
        tx = self.store.begin()
        try:
            action(ReadModel(tx))
        except BaseException:
            tx.rollback()
            raise
        tx.commit()

    def apply(
        self,
        records: Sequence[KafkaMessage],
        before_commit: Callable[[list[DeadLetter]], None] | None = None,
    ) -> BatchResult:
        """Apply ``records`` (consumed in order) in one transaction and commit it.

        ``before_commit(dead_letters)`` runs just before the commit; if it raises, nothing
        of the batch is kept and the error propagates. Records must carry no Kafka error
        (the runner handles those before).
        """
        try:
            return self._apply(records, before_commit, safe=False)
        except _HandlerFailed:
            return self._apply(records, before_commit, safe=True)

    def _apply(
        self,
        records: Sequence[KafkaMessage],
        before_commit: Callable[[list[DeadLetter]], None] | None,
        *,
        safe: bool,
    ) -> BatchResult:
        processed = skipped = 0
        positions = self.positions
        batch_next: dict[TopicPartition, int] = {}
        letters: list[DeadLetter] = []
        decoders = self.decoders
        handlers = self._handlers
        tx = self.store.begin()
        try:
            if tx.preloads:
                _preload(tx, records)
            model = ReadModel(tx)
            for record in records:
                topic: str = record.topic()  # type: ignore[assignment]
                partition: int = record.partition()  # type: ignore[assignment]
                offset: int = record.offset()  # type: ignore[assignment]
                key = (topic, partition)
                if offset < positions.get(key, 0):
                    skipped += 1  # the model has it already (redelivered after a rebalance)
                    continue
                batch_next[key] = offset + 1
                try:
                    events, meta = decoders[topic](record)
                except DecodeError as exc:  # the record's fault (an unknown schema id too)
                    letters.append(DeadLetter(record, "decode", exc))
                    tx.set_applied_version(dead_letters_stream(topic), f"{partition}@{offset}", 1)
                    continue
                version = meta.version
                if version is not None and tx.applied_version(topic, meta.entity_id) >= version:
                    skipped += 1
                    continue
                handled = []  # one event, unless an upcast reads the record as several
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
                                    handler(model, event, meta)
                        except Exception as exc:  # user code: any failure is a dead letter
                            letters.append(DeadLetter(record, "handle", exc))
                            tx.set_applied_version(
                                dead_letters_stream(topic), f"{partition}@{offset}", 1
                            )
                            continue
                    else:
                        try:
                            for handler, event in handled:
                                handler(model, event, meta)
                        except Exception as exc:
                            raise _HandlerFailed from exc
                if version is not None:
                    tx.set_applied_version(topic, meta.entity_id, version)
                processed += 1
            for (topic, partition), next_offset in batch_next.items():
                tx.set_offset(topic, partition, next_offset)
            if before_commit is not None:
                before_commit(letters)
            tx.commit()
        except BaseException:
            tx.rollback()
            raise
        positions.update(batch_next)
        return BatchResult(processed, skipped, letters, batch_next)

    def redrive(
        self,
        redrives: Sequence[Redrive],
        positions: Mapping[TopicPartition, int] | None = None,
        before_commit: Callable[[list[DeadLetter]], None] | None = None,
    ) -> RedriveResult:
        """Apply dead-lettered records again, in one transaction (see the module doc).

        ``positions`` are recorded as next offsets in the same transaction (the runner's
        place in the dead-letter topics it reads requests from). ``before_commit`` is
        called with the redrives that failed again, as in :meth:`apply`.
        """
        known = {**self.store.offsets(), **self.positions}  # read before the transaction
        applied: list[Redrive] = []
        skipped: list[tuple[Redrive, str]] = []
        letters: list[DeadLetter] = []
        tx = self.store.begin()
        try:
            model = ReadModel(tx)
            for redrive in redrives:
                record = redrive.record
                topic: str = record.topic()  # type: ignore[assignment]
                partition: int = record.partition()  # type: ignore[assignment]
                offset: int = record.offset()  # type: ignore[assignment]
                waiting = dead_letters_stream(topic)
                where = f"{partition}@{offset}"
                if topic not in self.decoders:
                    skipped.append((redrive, f"{self.projection.name} does not read {topic}"))
                    continue
                if tx.applied_version(waiting, where) != 1:
                    skipped.append((redrive, _not_waiting(known, topic, partition, offset)))
                    continue
                try:
                    events, meta = self.decoders[topic](record)
                except DecodeError as exc:
                    letters.append(DeadLetter(record, "decode", exc, redrive.request))
                    continue
                version = meta.version
                copy = f"{version}:{meta.entity_id}"
                if version is not None and tx.applied_version(redriven_stream(topic), copy):
                    tx.set_applied_version(waiting, where, 0)
                    skipped.append(
                        (
                            redrive,
                            f"version {version} of {meta.entity_id} was applied by the "
                            "redrive of another copy of it",
                        )
                    )
                    continue
                handled = [(h, e) for e in events if (h := self._handler(type(e))) is not None]
                if handled:
                    try:
                        with tx.savepoint():  # a record is applied whole or not at all
                            for handler, event in handled:
                                handler(model, event, meta)
                    except Exception as exc:  # user code: any failure is a dead letter
                        letters.append(DeadLetter(record, "handle", exc, redrive.request))
                        continue
                if version is not None:
                    if tx.applied_version(topic, meta.entity_id) < version:
                        tx.set_applied_version(topic, meta.entity_id, version)
                    tx.set_applied_version(redriven_stream(topic), copy, 1)
                tx.set_applied_version(waiting, where, 0)
                applied.append(redrive)
            for (topic, partition), next_offset in (positions or {}).items():
                tx.set_offset(topic, partition, next_offset)
            if before_commit is not None:
                before_commit(letters)
            tx.commit()
        except BaseException:
            tx.rollback()
            raise
        return RedriveResult(applied, skipped, letters)

    def _handler(self, event_class: type) -> Handler | None:
        if event_class not in self._handlers:
            self._handlers[event_class] = self.projection.handler_for(event_class)
        return self._handlers[event_class]


def _not_waiting(
    known: Mapping[TopicPartition, int], topic: str, partition: int, offset: int
) -> str:
    """Why the model holds no dead letter of a record a redrive asks for."""
    if known.get((topic, partition), 0) > offset:
        return (
            "the model holds no dead letter of this record: it applied it already (a "
            "replay, or an earlier redrive of it)"
        )
    return (
        "the model has not reached this record yet: it applies it (or dead-letters it "
        "again) when it gets there"
    )


def _preload(tx: ModelTransaction, records: Sequence[KafkaMessage]) -> None:
    """One query for the batch's applied versions, not one per record."""
    ids: dict[str, list[str]] = {}
    for record in records:
        key = record.key()
        if isinstance(key, bytes):
            ids.setdefault(record.topic() or "", []).append(key.decode(errors="replace"))
        elif key is not None:
            ids.setdefault(record.topic() or "", []).append(key)
    for stream, entity_ids in ids.items():
        tx.preload_versions(stream, entity_ids)
