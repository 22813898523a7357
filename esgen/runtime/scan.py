"""Reading a range of one partition with an assigned (group-less) consumer.

Kafka has no index by key: reading one entity means reading its partition from a start
offset (0, or just after the entity's latest snapshot) to the end and keeping the
records whose key is the entity id. :class:`PartitionReader` does the reading part.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from esgen.runtime.errors import StoreError
from esgen.runtime.kafka import KafkaClients

BATCH = 1000
_RETRIABLE = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._TRANSPORT,
}


class PartitionReader:
    """Reads partitions from a given offset up to their end at the time of the call."""

    def __init__(self, clients: KafkaClients, timeout: float) -> None:
        self.bootstrap = clients.bootstrap
        self.timeout = timeout
        self._consumer = clients.reader()

    def watermarks(self, topic: str, partition: int) -> tuple[int, int]:
        """``(low, high)``: the first offset kept and the offset the next record gets."""
        deadline = time.monotonic() + self.timeout
        while True:
            remaining = max(0.1, deadline - time.monotonic())
            try:
                low, high = self._consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=remaining, cached=False
                )
                return int(low), int(high)
            except KafkaException as exc:
                error = exc.args[0]
                # Leaders move (new topics, broker restarts): retry those until the deadline.
                retriable = isinstance(error, KafkaError) and error.code() in _RETRIABLE
                if not retriable or time.monotonic() >= deadline:
                    raise StoreError(
                        f"cannot read the offsets of {topic}[{partition}] from Kafka at "
                        f"{self.bootstrap} within {self.timeout:g} s: {error}"
                    ) from exc
                time.sleep(0.1)

    def read(self, topic: str, partition: int, start: int) -> Iterator[Message]:
        """Every record of ``topic[partition]`` from ``start`` to the current end."""
        low, high = self.watermarks(topic, partition)
        start = max(start, low)
        if start >= high:
            return
        self._consumer.assign([TopicPartition(topic, partition, start)])
        deadline = time.monotonic() + self.timeout
        try:
            while True:
                # consume() waits until the batch is full or the timeout passes: take what
                # is already fetched without waiting, and block (poll) only when nothing is.
                batch = self._consumer.consume(BATCH, timeout=0)
                if not batch:
                    msg = self._consumer.poll(0.2)
                    if msg is None:
                        if time.monotonic() >= deadline:
                            raise StoreError(
                                f"no records from {topic}[{partition}] on Kafka at "
                                f"{self.bootstrap} within {self.timeout:g} s (reading offsets "
                                f"{start}..{high - 1})"
                            )
                        continue
                    batch = [msg]
                deadline = time.monotonic() + self.timeout
                for msg in batch:
                    error = msg.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            return
                        raise StoreError(
                            f"reading {topic}[{partition}] from Kafka at {self.bootstrap}: {error}"
                        )
                    yield msg
                    offset = msg.offset()
                    if offset is not None and offset >= high - 1:
                        return
        finally:
            self._consumer.unassign()

    def close(self) -> None:
        self._consumer.close()
