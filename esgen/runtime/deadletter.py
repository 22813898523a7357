"""Dead letters: records a consumer could not decode or handle, kept with the reason.

A dead letter is the original record (same key, same value bytes, original headers
first) written to ``<topic>.dlq`` with these headers added (values are UTF-8):

========================  ==========================================================
``esgen.dlq.stage``       ``decode`` (the bytes are not an event of the entity) or
                          ``handle`` (the projection's handler raised)
``esgen.dlq.error_type``  the exception's class name, e.g. ``DecodeError``
``esgen.dlq.error``       the exception's message
``esgen.dlq.topic``       source topic
``esgen.dlq.topic_id``    source topic's Kafka topic id (absent on brokers without ids)
``esgen.dlq.partition``   source partition, decimal
``esgen.dlq.offset``      source offset, decimal
``esgen.dlq.consumer``    who gave up on it: ``projection <name>`` or ``event store of
                          <entity>``
========================  ==========================================================

**Once per record and consumer.** A record is dead-lettered at most once by each
consumer (identified by ``esgen.dlq.consumer``), however many times it is met: a
replay, a second process, a redelivery after a crash. Before the first dead letter to a
topic, the writer reads that ``<topic>.dlq`` (headers only) for the ones this consumer
wrote; before each later batch it reads what was added since. A record already there is
counted in :attr:`DeadLetterWriter.already` and not written again (the dead letter
keeps the reason it first failed for). The record's place includes the source topic's
id, so a topic deleted and created again starts afresh. Two processes that meet the
same record at the same moment may both write it; what the topic's retention deleted
is written again.

``<topic>.dlq`` is created when missing with one partition and the event topic's
configs (:func:`~esgen.runtime.topics.dead_letter_topic_config`: kept until deleted
explicitly); an existing one is used as it is. Writing is idempotent
(``enable.idempotence``, ``acks=all``). :meth:`DeadLetterWriter.flush` waits for every
dead letter queued and raises :class:`DeadLetterError` if any could not be written; the
caller must not commit its offsets then, so nothing is lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from esgen.runtime.errors import EsgenError, StoreError
from esgen.runtime.headers import header_map
from esgen.runtime.kafka import KafkaClients
from esgen.runtime.scan import PartitionReader
from esgen.runtime.subjects import dead_letter_topic
from esgen.runtime.topics import TopicAdmin, dead_letter_topic_config

log = logging.getLogger(__name__)

H_STAGE = "esgen.dlq.stage"
H_ERROR_TYPE = "esgen.dlq.error_type"
H_ERROR = "esgen.dlq.error"
H_TOPIC = "esgen.dlq.topic"
H_TOPIC_ID = "esgen.dlq.topic_id"
H_PARTITION = "esgen.dlq.partition"
H_OFFSET = "esgen.dlq.offset"
H_CONSUMER = "esgen.dlq.consumer"

_MAX_MESSAGE = 4000  # keep headers small even when an exception message is huge

_Place = tuple[str, str, int, int]  # source topic, its topic id ("" if none), partition, offset


class DeadLetterError(EsgenError):
    """A dead letter could not be written; processing must stop."""


class _Target:
    """What the writer knows of one ``<topic>.dlq``: the places of this consumer's dead
    letters in it, and where its reading of each partition stopped."""

    __slots__ = ("next_offsets", "places", "topic_id")

    def __init__(self, partitions: int, topic_id: str) -> None:
        self.topic_id = topic_id  # of the source topic
        self.places: set[_Place] = set()
        self.next_offsets = dict.fromkeys(range(partitions), 0)


class DeadLetterWriter:
    """Writes the dead letters of one ``consumer``, each record once (see the module doc)."""

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
        self.written = 0  # dead letters Kafka confirmed
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
        self._queued: set[_Place] = set()  # since the last flush
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
    ) -> bool:
        """Queue the dead letter of ``topic[partition]@offset``; False (nothing queued)
        when this consumer's dead letter of that record is there already.
        :meth:`flush` says whether it was written."""
        target = dead_letter_topic(topic)
        known = self._target(target, topic)
        place = (topic, known.topic_id, partition, offset)
        if place in known.places or place in self._queued:
            self.already += 1
            log.info("%s[%d]@%d: dead-lettered already", topic, partition, offset)
            return False
        message = str(error)
        if len(message) > _MAX_MESSAGE:
            message = message[:_MAX_MESSAGE] + "…"
        added = [
            (H_STAGE, stage.encode()),
            (H_ERROR_TYPE, type(error).__name__.encode()),
            (H_ERROR, message.encode()),
            (H_TOPIC, topic.encode()),
            (H_PARTITION, str(partition).encode()),
            (H_OFFSET, str(offset).encode()),
            (H_CONSUMER, self.consumer.encode()),
        ]
        if known.topic_id:
            added.append((H_TOPIC_ID, known.topic_id.encode()))
        producer = self._producer_instance()
        with self._lock:
            self._pending += 1
        try:
            producer.produce(
                target,
                value=value,
                key=key,
                headers=list(headers or []) + added,
                on_delivery=self._delivered,
            )
        except (KafkaException, BufferError) as exc:
            with self._lock:
                self._pending -= 1
            raise DeadLetterError(
                f"cannot write a dead letter for {topic}[{partition}]@{offset} to {target}: {exc}"
            ) from exc
        self._queued.add(place)
        producer.poll(0)
        return True

    def _delivered(self, err: KafkaError | None, msg: Any) -> None:
        with self._lock:
            self._pending -= 1
            if err is None:
                self.written += 1
            else:
                self._failures.append(f"{msg.topic()}: {err.str()}")

    def flush(self) -> None:
        """Wait until every queued dead letter is written; raise if any was not."""
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
        for place in queued:
            self._targets[dead_letter_topic(place[0])].places.add(place)

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
                found = header_map(msg.headers())
                if found.get(H_CONSUMER) != consumer:
                    continue
                try:
                    place = (
                        found[H_TOPIC],
                        found.get(H_TOPIC_ID, ""),
                        int(found[H_PARTITION]),
                        int(found[H_OFFSET]),
                    )
                except (KeyError, ValueError):
                    continue  # not a dead letter esgen wrote: it says nothing of ours
                known.places.add(place)

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
