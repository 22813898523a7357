"""Reading a range of one partition with an assigned (group-less) consumer.

Kafka has no index by key: reading one entity means reading its partition from a start
offset (0, or just after the entity's latest snapshot) to the end and keeping the
records whose key is the entity id. :class:`PartitionReader` does the reading part, with
``read_committed`` (records of aborted or open transactions are never seen; the end is
the partition's last stable offset) and, for event topics, ``strict`` reads: a start
offset the log no longer has (retention, ``delete_records``) is a
:class:`~esgen.runtime.errors.HistoryTruncated`, never a silent skip to the first offset
that is left.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from esgen.runtime.errors import HistoryTruncated, StoreError
from esgen.runtime.kafka import KafkaClients

BATCH = 1000
# What a leader change looks like from a reader: the old leader gone (transport, a
# destroyed handle), metadata not yet everywhere (unknown partition, on a cluster just after
# the topic's creation), a new leader whose high watermark is not caught up yet.
_RETRIABLE = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError.OFFSET_NOT_AVAILABLE,
    KafkaError._TRANSPORT,
    KafkaError._DESTROY_BROKER,
    KafkaError._UNKNOWN_PARTITION,
    KafkaError._TIMED_OUT,
}
_ATTEMPT = 2.0  # seconds per offsets request before it is retried
_OUT_OF_RANGE = {KafkaError.OFFSET_OUT_OF_RANGE, KafkaError._AUTO_OFFSET_RESET}


def truncated(topic: str, partition: int, log_start: int, needed: int) -> HistoryTruncated:
    """The error for records that are needed from ``needed`` but start at ``log_start``."""
    return HistoryTruncated(
        f"{topic}[{partition}]: the records from offset {needed} are needed, but the log now "
        f"starts at offset {log_start}: offsets {needed}..{log_start - 1} were deleted "
        "(retention or delete_records), so a state built on what is left would be wrong. "
        "Restore the deleted records (from a backup or a mirror) into a topic and point the "
        "store at it; keep it from happening again with retention.ms=-1 and "
        "retention.bytes=-1 on the topic",
        topic=topic,
        partition=partition,
        log_start=log_start,
        needed=needed,
    )


class PartitionReader:
    """Reads partitions from a given offset up to their end at the time of the call."""

    def __init__(self, clients: KafkaClients, timeout: float) -> None:
        self.bootstrap = clients.bootstrap
        self.timeout = timeout
        self._consumer = clients.reader()

    def watermarks(self, topic: str, partition: int) -> tuple[int, int]:
        """``(low, end)``: the first offset kept and the last stable offset (where the
        committed records end; the high watermark when no transaction is open)."""
        deadline = time.monotonic() + self.timeout
        while True:
            # Short attempts: a request queued to a leader that just died waits for that
            # broker only; a retry goes to the leader the refreshed metadata names.
            remaining = min(_ATTEMPT, max(0.1, deadline - time.monotonic()))
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
                self._refresh_leaders(topic, deadline)
                time.sleep(0.1)

    def _refresh_leaders(self, topic: str, deadline: float) -> None:
        """Ask for the topic's metadata now: librdkafka refreshes it on its own only every
        ``topic.metadata.refresh.interval.ms`` for a reader, so after a leader died the
        offsets requests would keep going to the dead broker."""
        with contextlib.suppress(KafkaException):  # the next offsets request reports it
            self._consumer.list_topics(
                topic, timeout=min(_ATTEMPT, max(0.1, deadline - time.monotonic()))
            )

    def read(
        self,
        topic: str,
        partition: int,
        start: int,
        end: int | None = None,
        *,
        strict: bool = False,
    ) -> Iterator[Message]:
        """Every committed record of ``topic[partition]`` from ``start`` up to ``end``
        (default: the end it has now).

        ``strict``: ``HistoryTruncated`` when the log starts after ``start``; otherwise
        the read starts at the first offset kept.
        """
        low, high = self.watermarks(topic, partition)
        end = high if end is None else end
        if start < low:
            if strict:
                raise truncated(topic, partition, low, start)
            start = low
        if start >= end:
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
                                f"{start}..{end - 1})"
                            )
                        continue
                    batch = [msg]
                deadline = time.monotonic() + self.timeout
                for msg in batch:
                    error = msg.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            return
                        if error.code() in _OUT_OF_RANGE:
                            # Deleted while we read: what is left no longer starts at start.
                            low, _ = self.watermarks(topic, partition)
                            raise truncated(topic, partition, low, start)
                        raise StoreError(
                            f"reading {topic}[{partition}] from Kafka at {self.bootstrap}: {error}"
                        )
                    offset = msg.offset()
                    if offset is not None and offset >= end:
                        return
                    yield msg
                    if offset is not None and offset >= end - 1:
                        return
        finally:
            self._consumer.unassign()

    def close(self) -> None:
        self._consumer.close()
