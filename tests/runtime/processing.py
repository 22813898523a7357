"""Helpers of the command processor and client tests: processors in threads, the topics'
cleanup, and plain consumers that read what is on Kafka (never through the code under test)."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Iterator
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]

from esgen.runtime import CommandProcessor, EntityDescriptor
from esgen.runtime import headers as h
from esgen.runtime.replies import Reply
from esgen.runtime.subjects import (
    command_topic,
    dead_letter_topic,
    reply_topic,
    snapshot_topic,
)


def topics_of(topic: str) -> list[str]:
    """Every topic a processor of ``topic`` may create."""
    commands = command_topic(topic)
    return [
        topic,
        snapshot_topic(topic),
        commands,
        reply_topic(topic),
        dead_letter_topic(commands),
    ]


def delete_topics(bootstrap: str, names: list[str]) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=30).topics)
    names = [n for n in names if n in existing]
    if not names:
        return
    for future in admin.delete_topics(names, operation_timeout=30).values():
        with contextlib.suppress(Exception):
            future.result(timeout=30)


@dataclasses.dataclass
class Running:
    """A processor running in a thread (``failure``: what its run() raised)."""

    processor: CommandProcessor[Any, Any]
    thread: threading.Thread
    failure: list[BaseException]

    def wait_ready(self, partitions: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.processor.ready_partitions) < partitions:
            assert not self.failure, self.failure
            assert self.thread.is_alive(), "the processor stopped"
            assert time.monotonic() < deadline, (
                f"ready {self.processor.ready_partitions} of {partitions} partitions"
            )
            time.sleep(0.02)

    def stop(self) -> None:
        self.processor.stop()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "the processor did not stop"


@contextlib.contextmanager
def running(
    descriptor: EntityDescriptor[Any, Any],
    bootstrap: str,
    registry: str,
    *,
    ready: int | None = None,
    **options: Any,
) -> Iterator[Running]:
    """A processor in a thread, ready (its ``ready`` partitions restored, default all);
    stopped, closed and checked for failures after."""
    options.setdefault("auto_register", True)
    options.setdefault("partitions", 1)
    options.setdefault("timeout", 20.0)
    processor: CommandProcessor[Any, Any] = CommandProcessor(
        descriptor, bootstrap, registry, **options
    )
    failure: list[BaseException] = []

    def run() -> None:
        try:
            processor.run()
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name="processor", daemon=True)
    thread.start()
    handle = Running(processor, thread, failure)
    try:
        handle.wait_ready(processor.partitions if ready is None else ready)
        yield handle
    finally:
        if thread.is_alive():
            handle.stop()
        processor.close()
    assert not failure, failure


@dataclasses.dataclass(frozen=True)
class Stored:
    """One record as a plain read_committed consumer reads it."""

    partition: int
    offset: int
    key: str
    headers: dict[str, str]
    value: bytes

    @property
    def version(self) -> int:
        return int(self.headers[h.H_VERSION])

    @property
    def causation_id(self) -> str | None:
        return self.headers.get(h.H_CAUSATION_ID)


def read_all(bootstrap: str, topic: str, *, committed: bool = True) -> list[Stored]:
    """Every record of every partition of ``topic`` up to the end it has now."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"check-{topic}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed" if committed else "read_uncommitted",
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        partitions = sorted(consumer.list_topics(topic, timeout=30).topics[topic].partitions)
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
            for p in partitions
        }
        todo = {p for p in partitions if ends[p] > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in todo])
        records: list[Stored] = []
        deadline = time.monotonic() + 120
        while todo:
            assert time.monotonic() < deadline, f"{topic}: read {len(records)} records"
            msg = consumer.poll(0.5)
            if msg is None:
                for tp in consumer.position([TopicPartition(topic, p) for p in todo]):
                    if tp.offset >= ends[tp.partition]:
                        todo.discard(tp.partition)
                continue
            error = msg.error()
            if error is not None:
                assert error.code() == KafkaError._PARTITION_EOF, error
                p = msg.partition() or 0
                if consumer.position([TopicPartition(topic, p)])[0].offset >= ends[p]:
                    todo.discard(p)
                continue
            key, value = msg.key(), msg.value()
            records.append(
                Stored(
                    msg.partition() or 0,
                    msg.offset() or 0,
                    key.decode() if isinstance(key, bytes) else "",
                    h.header_map(msg.headers()),
                    value if isinstance(value, bytes) else b"",
                )
            )
            if (msg.offset() or 0) >= ends[msg.partition() or 0] - 1:
                todo.discard(msg.partition() or 0)
        return records
    finally:
        consumer.close()


def replies_by_id(bootstrap: str, topic: str) -> dict[str, list[Reply]]:
    """Every reply on ``<topic>.replies`` (committed), by command id, in offset order."""
    found: dict[str, list[Reply]] = {}
    for record in read_all(bootstrap, reply_topic(topic)):
        found.setdefault(record.key, []).append(Reply.decode(record.value))
    return found


def wait_reply(bootstrap: str, topic: str, command_id: str, timeout: float = 30) -> Reply:
    """The first reply to ``command_id`` once it is committed."""
    deadline = time.monotonic() + timeout
    while True:
        found = replies_by_id(bootstrap, topic).get(command_id)
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no reply to {command_id!r}"
        time.sleep(0.2)
