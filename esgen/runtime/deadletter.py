"""Dead letters: records a consumer could not decode or handle, kept with the reason.

A dead letter is the original record (same key, same value bytes, original headers
first) written to ``<topic>.dlq`` with these headers added (values are UTF-8):

========================  ==========================================================
``esgen.dlq.stage``       ``decode`` (the bytes are not an event of the entity) or
                          ``handle`` (the projection's handler raised)
``esgen.dlq.error_type``  the exception's class name, e.g. ``DecodeError``
``esgen.dlq.error``       the exception's message
``esgen.dlq.topic``       source topic
``esgen.dlq.partition``   source partition, decimal
``esgen.dlq.offset``      source offset, decimal
``esgen.dlq.consumer``    who gave up on it (the projection's name and consumer group)
========================  ==========================================================

Writing is idempotent (``enable.idempotence``, ``acks=all``). :meth:`DeadLetterWriter.flush`
waits for every dead letter of a batch and raises :class:`DeadLetterError` if any could not
be written; the caller must not commit its offsets then, so nothing is lost.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from esgen.runtime.errors import EsgenError
from esgen.runtime.kafka import KafkaClients
from esgen.runtime.subjects import dead_letter_topic

H_STAGE = "esgen.dlq.stage"
H_ERROR_TYPE = "esgen.dlq.error_type"
H_ERROR = "esgen.dlq.error"
H_TOPIC = "esgen.dlq.topic"
H_PARTITION = "esgen.dlq.partition"
H_OFFSET = "esgen.dlq.offset"
H_CONSUMER = "esgen.dlq.consumer"

_MAX_MESSAGE = 4000  # keep headers small even when an exception message is huge


class DeadLetterError(EsgenError):
    """A dead letter could not be written; processing must stop."""


class DeadLetterWriter:
    """Writes dead letters, creating ``<topic>.dlq`` (one partition) when it is missing."""

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
        self.written = 0
        self._clients = clients
        self._producer_config = {
            "message.timeout.ms": int(timeout * 1000),
            **(producer_config or {}),
        }
        self._producer: Producer | None = None
        self._admin: AdminClient | None = None
        self._topics: set[str] = set()
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
    ) -> None:
        """Queue one dead letter; :meth:`flush` says whether it was written."""
        target = dead_letter_topic(topic)
        self._ensure_topic(target)
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
        producer.poll(0)

    def _delivered(self, err: KafkaError | None, msg: Any) -> None:
        with self._lock:
            self._pending -= 1
            if err is None:
                self.written += 1
            else:
                self._failures.append(f"{msg.topic()}: {err.str()}")

    def flush(self) -> None:
        """Wait until every queued dead letter is written; raise if any was not."""
        if self._producer is None:
            return
        remaining = self._producer.flush(self.timeout)
        with self._lock:
            failures, self._failures = self._failures, []
            pending = self._pending
        if failures or remaining or pending:
            reason = "; ".join(failures[:3]) or f"{max(remaining, pending)} still unsent"
            raise DeadLetterError(f"dead letters could not be written: {reason}")

    def _producer_instance(self) -> Producer:
        if self._producer is None:
            self._producer = self._clients.producer(self._producer_config)
        return self._producer

    def _ensure_topic(self, target: str) -> None:
        if target in self._topics:
            return
        if self._admin is None:
            self._admin = self._clients.admin()
        try:
            listed = self._admin.list_topics(target, timeout=self.timeout)
            meta = listed.topics.get(target)
            if meta is None or meta.error is not None:
                futures = self._admin.create_topics(
                    [NewTopic(target, num_partitions=1, replication_factor=-1)],
                    operation_timeout=self.timeout,
                )
                try:
                    futures[target].result(timeout=self.timeout)
                except KafkaException as exc:
                    if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                        raise
        except KafkaException as exc:
            raise DeadLetterError(f"cannot create dead-letter topic {target}: {exc}") from exc
        self._topics.add(target)

    def close(self) -> None:
        """Flush (raising if something was not written) and let go of the producer."""
        try:
            self.flush()
        finally:
            self._producer = None
            self._admin = None
