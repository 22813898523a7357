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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from esgen.runtime.errors import DecodeError
from esgen.runtime.meta import EventMeta
from esgen.runtime.models import ModelStore, ModelTransaction, ReadModel, TopicPartition
from esgen.runtime.projections.projection import Handler, Projection
from esgen.runtime.wire import KafkaMessage

Decoder = Callable[[KafkaMessage], tuple[list[Any], EventMeta]]
"""``record -> (events, meta)``; raises ``DecodeError`` when the record is at fault."""

_UNKNOWN: Any = object()


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record the projection could not apply, and why."""

    record: KafkaMessage
    stage: str  # "decode": not an event of the entity; "handle": the handler raised
    error: Exception


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
