"""Smoke tests of the real Kafka broker: what esgen's runtime relies on."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, KafkaError, Producer

pytestmark = pytest.mark.kafka


def _consume_all(
    bootstrap: str,
    topic: str,
    expected: int,
    isolation: str = "read_committed",
    timeout: float = 30.0,
) -> list[tuple[bytes | None, bytes | None]]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"g-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": isolation,
            "enable.partition.eof": True,
        }
    )
    consumer.subscribe([topic])
    seen: list[tuple[bytes | None, bytes | None]] = []
    deadline = time.monotonic() + timeout
    at_eof = False
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                if at_eof and len(seen) >= expected:
                    break
                continue
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    at_eof = True
                    if len(seen) >= expected:
                        break
                    continue
                raise AssertionError(message.error())
            seen.append((message.key(), message.value()))
    finally:
        consumer.close()
    return seen


def test_idempotent_producer_round_trip(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("idem")
    producer = Producer(
        {"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True, "acks": "all"}
    )
    delivered: list[int] = []

    def on_delivery(err: KafkaError | None, message: object) -> None:
        assert err is None, err
        delivered.append(message.offset())  # type: ignore[attr-defined]

    for i in range(20):
        producer.produce(
            topic, key=f"k{i % 3}".encode(), value=f"v{i}".encode(), on_delivery=on_delivery
        )
    assert producer.flush(30) == 0
    assert delivered == list(range(20))
    records = _consume_all(kafka_bootstrap, topic, 20)
    assert [value for _, value in records] == [f"v{i}".encode() for i in range(20)]


def test_aborted_transaction_is_invisible_to_read_committed(
    kafka_bootstrap: str, new_topic: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    topic = new_topic("tx")
    producer = Producer(
        {"bootstrap.servers": kafka_bootstrap, "transactional.id": unique_name("txid")}
    )
    producer.init_transactions(30)

    producer.begin_transaction()
    producer.produce(topic, key=b"a", value=b"aborted-1")
    producer.produce(topic, key=b"a", value=b"aborted-2")
    producer.flush(30)
    producer.abort_transaction(30)

    producer.begin_transaction()
    producer.produce(topic, key=b"a", value=b"committed")
    producer.commit_transaction(30)

    committed = _consume_all(kafka_bootstrap, topic, 1, "read_committed")
    assert [value for _, value in committed] == [b"committed"]
    uncommitted = _consume_all(kafka_bootstrap, topic, 3, "read_uncommitted")
    assert [value for _, value in uncommitted] == [b"aborted-1", b"aborted-2", b"committed"]


def test_compacted_topic_keeps_latest_value_per_key(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic(
        "snap",
        config={
            "cleanup.policy": "compact",
            "segment.ms": "100",
            "min.cleanable.dirty.ratio": "0.01",
            "min.compaction.lag.ms": "0",
            "delete.retention.ms": "100",
        },
    )
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True})
    for version in range(1, 6):
        for key in ("a", "b", "c"):
            producer.produce(topic, key=key.encode(), value=f"{key}{version}".encode())
        producer.flush(30)
        time.sleep(0.2)  # let segments roll
    latest = {b"a": b"a5", b"b": b"b5", b"c": b"c5"}

    deadline = time.monotonic() + 90
    records: list[tuple[bytes | None, bytes | None]] = []
    while time.monotonic() < deadline:
        # an append after segment.ms rolls the active segment, making the rest cleanable
        producer.produce(topic, key=b"roll", value=b"x")
        producer.flush(30)
        records = _consume_all(kafka_bootstrap, topic, 1, timeout=15)
        per_key = [r for r in records if r[0] != b"roll"]
        if len(per_key) == len(latest):
            break
        time.sleep(1.0)
    per_key = [r for r in records if r[0] != b"roll"]
    assert dict(per_key) == latest
    assert len(per_key) == len(latest), f"not compacted: {per_key}"
