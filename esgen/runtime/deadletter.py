"""Dead letters: records a consumer could not decode or handle, kept with the reason.

``<topic>.dlq`` is the log of everything that happened to the records of ``<topic>``
that a consumer gave up on. It holds three kinds of records, told apart by
``esgen.dlq.kind`` (absent on a dead letter):

**A dead letter** is the original record (same key, same value bytes, original headers
first) with these headers added (values are UTF-8):

==========================  ========================================================
``esgen.dlq.stage``         ``decode`` (the bytes are not an event of the entity) or
                            ``handle`` (the projection's handler raised)
``esgen.dlq.error_type``    the exception's class name, e.g. ``DecodeError``
``esgen.dlq.error``         the exception's message
``esgen.dlq.topic``         source topic
``esgen.dlq.topic_id``      source topic's Kafka topic id (absent on brokers without ids)
``esgen.dlq.partition``     source partition, decimal
``esgen.dlq.offset``        source offset, decimal
``esgen.dlq.timestamp``     the source record's timestamp, ms since the epoch
``esgen.dlq.consumer``      who gave up on it: ``projection <name>``, ``event store
                            of <entity>`` or ``command processor of <entity> (group
                            <group>)``
``esgen.dlq.redrive``       only on the letter of a redrive that failed again: the
                            id of that redrive request
==========================  ========================================================

**A redrive request** (``esgen.dlq.kind: redrive``, written by ``esgen dlq redrive``,
see :mod:`esgen.runtime.redrive`) is a copy of a dead letter addressed to the consumer
that wrote it: the original key, value and headers, the place headers above, and
``esgen.dlq.requested_by``. The projection's runner reads the record at that place from
the event topic again (the copy is never applied) and applies it through its apply
step, once (its model remembers which records it dead-lettered); it answers with

**an outcome** (``esgen.dlq.kind: outcome``, no value): ``esgen.dlq.redrive`` (the
request's id), ``esgen.dlq.outcome`` (``applied`` or ``skipped``), ``esgen.dlq.detail``
(why it was skipped), and the place headers. A redrive that fails again is answered by
a new dead letter carrying ``esgen.dlq.redrive`` instead.

A record's id in ``<topic>.dlq`` is ``<partition>@<offset>`` (:attr:`DeadLetterEntry.id`).

**Once per record and consumer.** A record is dead-lettered at most once by each
consumer (identified by ``esgen.dlq.consumer``), however many times it is met: a
replay, a second process, a redelivery after a crash; and once more per redrive of it
that fails. Before the first dead letter to a topic, the writer reads that
``<topic>.dlq`` (headers only) for the letters this consumer wrote; before each later
batch it reads what was added since. A record already there is counted in
:attr:`DeadLetterWriter.already` and not written again (the dead letter keeps the
reason it first failed for). The record's place includes the source topic's id, so a
topic deleted and created again starts afresh. Two processes that meet the same record
at the same moment may both write it; what the topic's retention deleted is written
again.

``<topic>.dlq`` is created when missing with one partition and the event topic's
configs (:func:`~esgen.runtime.topics.dead_letter_topic_config`: kept until deleted
explicitly); an existing one is used as it is. Writing is idempotent
(``enable.idempotence``, ``acks=all``). :meth:`DeadLetterWriter.flush` waits for every
record queued and raises :class:`DeadLetterError` if any could not be written; the
caller must not commit its offsets then, so nothing is lost.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from confluent_kafka import KafkaError, KafkaException, Producer

from esgen.runtime import logs, telemetry
from esgen.runtime.errors import EsgenError, StoreError
from esgen.runtime.headers import header_map
from esgen.runtime.kafka import KafkaClients
from esgen.runtime.scan import PartitionReader
from esgen.runtime.subjects import dead_letter_topic
from esgen.runtime.topics import TopicAdmin, dead_letter_topic_config

log = logs.dlq

PREFIX = "esgen.dlq."
H_KIND = "esgen.dlq.kind"
H_STAGE = "esgen.dlq.stage"
H_ERROR_TYPE = "esgen.dlq.error_type"
H_ERROR = "esgen.dlq.error"
H_TOPIC = "esgen.dlq.topic"
H_TOPIC_ID = "esgen.dlq.topic_id"
H_PARTITION = "esgen.dlq.partition"
H_OFFSET = "esgen.dlq.offset"
H_TIMESTAMP = "esgen.dlq.timestamp"
H_CONSUMER = "esgen.dlq.consumer"
H_REDRIVE = "esgen.dlq.redrive"
H_REQUESTED_BY = "esgen.dlq.requested_by"
H_OUTCOME = "esgen.dlq.outcome"
H_DETAIL = "esgen.dlq.detail"

LETTER = "letter"  # a dead letter (no esgen.dlq.kind header)
REDRIVE = "redrive"
OUTCOME = "outcome"
APPLIED = "applied"
SKIPPED = "skipped"

PROJECTION_PREFIX = "projection "
"""``esgen.dlq.consumer`` of a projection: ``projection <name>``; only those redrive."""
PROCESSOR_PREFIX = "command processor of "
"""``esgen.dlq.consumer`` of a command processor: ``command processor of <entity> (group
<group>)``. Its letters are records of the command topic that are no commands of the
entity; each was answered ``failed``, so the fix is a corrected command, sent again."""

_MAX_MESSAGE = 4000  # keep headers small even when an exception message is huge

RawHeaders = Sequence[tuple[str, str | bytes | None]]


class Place(NamedTuple):
    """Where a record was: source topic, its topic id ("" if none), partition, offset."""

    topic: str
    topic_id: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


class DeadLetterError(EsgenError):
    """A dead letter could not be written; processing must stop."""


def place_headers(place: Place, consumer: str) -> list[tuple[str, bytes]]:
    """The headers that say whose record a dead-letter topic's record is about."""
    headers = [
        (H_TOPIC, place.topic.encode()),
        (H_PARTITION, str(place.partition).encode()),
        (H_OFFSET, str(place.offset).encode()),
        (H_CONSUMER, consumer.encode()),
    ]
    if place.topic_id:
        headers.append((H_TOPIC_ID, place.topic_id.encode()))
    return headers


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class DeadLetterEntry:
    """One record of a dead-letter topic, as esgen wrote it (see the module doc)."""

    kind: str  # LETTER, REDRIVE or OUTCOME
    dlq_topic: str
    dlq_partition: int
    dlq_offset: int
    place: Place
    consumer: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]  # all of them, as on Kafka
    timestamp: int  # when it was written, ms since the epoch
    stage: str = ""
    error_type: str = ""
    error: str = ""
    redrive: str = ""  # the redrive request an outcome or a letter answers
    outcome: str = ""
    detail: str = ""
    requested_by: str = ""
    source_timestamp: int | None = None

    @property
    def id(self) -> str:
        """``<partition>@<offset>`` in the dead-letter topic."""
        return f"{self.dlq_partition}@{self.dlq_offset}"

    @property
    def entity_id(self) -> str:
        """The record's key as text (the entity id of an event)."""
        return _text(self.key)

    def source_headers(self) -> list[tuple[str, bytes | None]]:
        """The headers the original record had."""
        return [(k, v) for k, v in self.headers if not k.startswith(PREFIX)]

    @classmethod
    def parse(cls, msg: Any) -> DeadLetterEntry | None:
        """The entry of a consumed record of a dead-letter topic; None when esgen did not
        write it (it lacks the place headers)."""
        raw: list[tuple[str, Any]] = list(msg.headers() or [])
        found = header_map(raw)
        try:
            place = Place(
                found[H_TOPIC],
                found.get(H_TOPIC_ID, ""),
                int(found[H_PARTITION]),
                int(found[H_OFFSET]),
            )
            consumer = found[H_CONSUMER]
            source_timestamp = int(found[H_TIMESTAMP]) if H_TIMESTAMP in found else None
        except (KeyError, ValueError):
            return None
        kind = found.get(H_KIND, LETTER)
        if kind not in (LETTER, REDRIVE, OUTCOME):
            return None
        key, value = msg.key(), msg.value()
        return cls(
            kind=kind,
            dlq_topic=msg.topic() or "",
            dlq_partition=msg.partition() or 0,
            dlq_offset=msg.offset() or 0,
            place=place,
            consumer=consumer,
            key=key.encode() if isinstance(key, str) else key,
            value=value.encode() if isinstance(value, str) else value,
            headers=tuple((k, v.encode() if isinstance(v, str) else v) for k, v in raw),
            timestamp=msg.timestamp()[1],
            stage=found.get(H_STAGE, ""),
            error_type=found.get(H_ERROR_TYPE, ""),
            error=found.get(H_ERROR, ""),
            redrive=found.get(H_REDRIVE, ""),
            outcome=found.get(H_OUTCOME, ""),
            detail=found.get(H_DETAIL, ""),
            requested_by=found.get(H_REQUESTED_BY, ""),
            source_timestamp=source_timestamp,
        )


_Known = tuple[Place, str]  # a letter's place and the redrive it answers ("" for none)


class _Target:
    """What the writer knows of one ``<topic>.dlq``: the letters this consumer wrote in
    it, and where its reading of each partition stopped."""

    __slots__ = ("next_offsets", "places", "topic_id")

    def __init__(self, partitions: int, topic_id: str) -> None:
        self.topic_id = topic_id  # of the source topic
        self.places: set[_Known] = set()
        self.next_offsets = dict.fromkeys(range(partitions), 0)


class DeadLetterWriter:
    """Writes the dead letters of one ``consumer``, each record once (see the module doc),
    and the outcomes of the redrive requests it answers."""

    def __init__(
        self,
        clients: KafkaClients,
        consumer: str,
        *,
        producer_config: Mapping[str, Any] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.consumer = consumer
        self.timeout = timeout
        self.written = 0  # records Kafka confirmed (letters and outcomes)
        self.already = 0  # records met again whose dead letter was there already
        self._clients = clients
        self._producer_config = {
            "message.timeout.ms": int(timeout * 1000),
            **(producer_config or {}),
        }
        self._producer: Producer | None = None
        self._admin: TopicAdmin | None = None
        self._reader: PartitionReader | None = None
        self._targets: dict[str, _Target] = {}
        self._read_since_flush: set[str] = set()
        self._queued: set[_Known] = set()  # since the last flush
        self._failures: list[str] = []
        self._pending = 0
        self._lock = threading.Lock()

    def send(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        headers: Any,
        stage: str,
        error: BaseException,
        *,
        timestamp: int | None = None,
        redrive: DeadLetterEntry | None = None,
    ) -> bool:
        """Queue the dead letter of ``topic[partition]@offset`` (``timestamp``: the
        record's); False (nothing queued) when this consumer's dead letter of that record
        is there already. ``redrive``: the request whose application failed again.
        :meth:`flush` says whether it was written."""
        target = dead_letter_topic(topic)
        known = self._target(target, topic)
        place = Place(topic, known.topic_id, partition, offset)
        answer = (place, redrive.id if redrive is not None else "")
        if answer in known.places or answer in self._queued:
            self.already += 1
            log.info("%s: dead-lettered already", place)
            return False
        message = str(error)
        if len(message) > _MAX_MESSAGE:
            message = message[:_MAX_MESSAGE] + "…"
        added = [
            (H_STAGE, stage.encode()),
            (H_ERROR_TYPE, type(error).__name__.encode()),
            (H_ERROR, message.encode()),
            *place_headers(place, self.consumer),
        ]
        if timestamp is not None:
            added.append((H_TIMESTAMP, str(timestamp).encode()))
        if redrive is not None:
            added.append((H_REDRIVE, redrive.id.encode()))
        self._produce(
            target,
            f"a dead letter for {place}",
            key=key,
            value=value,
            headers=list(headers or []) + added,
            # Beside its request, so that one partition orders what happened to a record.
            partition=redrive.dlq_partition if redrive is not None else None,
        )
        self._queued.add(answer)
        telemetry.dead_letter(topic, partition, offset, stage, error, self.consumer)
        return True

    def report(self, request: DeadLetterEntry, outcome: str, detail: str = "") -> None:
        """Queue the outcome of a redrive request (``APPLIED`` or ``SKIPPED``)."""
        headers = [
            (H_KIND, OUTCOME.encode()),
            (H_REDRIVE, request.id.encode()),
            (H_OUTCOME, outcome.encode()),
            (H_DETAIL, detail[:_MAX_MESSAGE].encode()),
            *place_headers(request.place, self.consumer),
        ]
        self._produce(
            request.dlq_topic,
            f"the outcome of redrive {request.id}",
            key=request.key,
            value=None,
            headers=headers,
            partition=request.dlq_partition,
        )

    def _produce(self, target: str, what: str, *, partition: int | None, **record: Any) -> None:
        producer = self._producer_instance()
        with self._lock:
            self._pending += 1
        try:
            if partition is None:
                producer.produce(target, on_delivery=self._delivered, **record)
            else:
                producer.produce(
                    target, partition=partition, on_delivery=self._delivered, **record
                )
        except (KafkaException, BufferError) as exc:
            with self._lock:
                self._pending -= 1
            raise DeadLetterError(f"cannot write {what} to {target}: {exc}") from exc
        producer.poll(0)

    def _delivered(self, err: KafkaError | None, msg: Any) -> None:
        with self._lock:
            self._pending -= 1
            if err is None:
                self.written += 1
            else:
                self._failures.append(f"{msg.topic()}: {err.str()}")

    def flush(self) -> None:
        """Wait until every queued record is written; raise if any was not."""
        self._read_since_flush.clear()  # the next batch reads what others added meanwhile
        queued, self._queued = self._queued, set()
        if self._producer is None:
            return
        remaining = self._producer.flush(self.timeout)
        with self._lock:
            failures, self._failures = self._failures, []
            pending = self._pending
        if failures or remaining or pending:
            # Not known to be written: a retry sends them again (those that did arrive are
            # found when the topic is read next).
            reason = "; ".join(failures[:3]) or f"{max(remaining, pending)} still unsent"
            raise DeadLetterError(f"dead letters could not be written: {reason}")
        for answer in queued:
            self._targets[dead_letter_topic(answer[0].topic)].places.add(answer)

    def _producer_instance(self) -> Producer:
        if self._producer is None:
            self._producer = self._clients.producer(self._producer_config)
        return self._producer

    def _target(self, target: str, source: str) -> _Target:
        """``target`` as known now: created if missing, read up to its end once per batch."""
        known = self._targets.get(target)
        if known is not None and target in self._read_since_flush:
            return known
        try:
            if known is None:
                known = self._targets[target] = self._prepare(target, source)
            self._read(target, known)
        except StoreError as exc:
            raise DeadLetterError(f"dead-letter topic {target}: {exc}") from exc
        self._read_since_flush.add(target)
        return known

    def _prepare(self, target: str, source: str) -> _Target:
        if self._admin is None:
            self._admin = TopicAdmin(self._clients.admin(), self._clients.bootstrap, self.timeout)
        admin = self._admin
        found = admin.describe(target)
        if found is None:
            replication = admin.default_replication_factor()
            admin.create(target, 1, replication, dead_letter_topic_config(replication, {}))
            partitions = 1
        else:
            partitions = found.partitions
        described = admin.describe(source)
        topic_id = described.topic_id if described is not None and described.topic_id else ""
        return _Target(partitions, topic_id)

    def _read(self, target: str, known: _Target) -> None:
        """Add the places of this consumer's dead letters written since the last read."""
        if self._reader is None:
            self._reader = PartitionReader(self._clients, self.timeout)
        consumer = self.consumer
        for partition, start in known.next_offsets.items():
            for msg in self._reader.read(target, partition, start):
                known.next_offsets[partition] = (msg.offset() or 0) + 1
                entry = DeadLetterEntry.parse(msg)
                # Records esgen did not write say nothing of ours; requests and outcomes
                # are no dead letters.
                if entry is not None and entry.kind == LETTER and entry.consumer == consumer:
                    known.places.add((entry.place, entry.redrive))

    def close(self) -> None:
        """Flush (raising if something was not written) and let go of the clients."""
        try:
            self.flush()
        finally:
            self._producer = None
            self._admin = None
            reader, self._reader = self._reader, None
            if reader is not None:
                reader.close()
