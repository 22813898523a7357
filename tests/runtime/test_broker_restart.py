"""A broker restart in the middle of a long append: nothing lost, nothing duplicated.

Runs on a private broker (its own ports and folder, started with the ``esgen.dev`` API)
so the shared broker other tests use is never disturbed. The registry is the shared one.
"""

from __future__ import annotations

import dataclasses
import decimal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from esgen.runtime import EventStore
from esgen.runtime import headers as hdr
from generated.bank import account
from tests.runtime.brokers import PrivateBroker

D = decimal.Decimal
BATCH = 20


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    broker = PrivateBroker(tmp_path / "kafka")
    yield broker
    broker.kill()


def test_broker_restart_during_a_long_append_loses_and_duplicates_nothing(
    private_broker: PrivateBroker, registry_url: str, unique_name: Any
) -> None:
    entity = dataclasses.replace(account.ENTITY, topic=unique_name("restart"))
    store: EventStore[Any, Any] = EventStore(
        entity,
        private_broker.bootstrap,
        registry_url,
        auto_register=True,
        partitions=1,
        snapshot_every=10_000,
    )
    store.append("acc-1", [account.AccountOpened(owner="Ann")])
    deposit = account.MoneyDeposited(amount=D("1.00"))
    appended = [1]
    durations: list[float] = []
    failures: list[BaseException] = []
    restarted = threading.Event()
    stop = threading.Event()

    def append_forever() -> None:
        after_restart = 0
        while not stop.is_set() and after_restart < 20:
            began = time.monotonic()
            try:
                positions = store.append("acc-1", [deposit] * BATCH)
            except BaseException as exc:  # the test fails on any
                failures.append(exc)
                return
            appended.append(len(positions))
            durations.append(time.monotonic() - began)
            if restarted.is_set():
                after_restart += 1
            time.sleep(0.01)

    appender = threading.Thread(target=append_forever)
    appender.start()
    try:
        time.sleep(1.0)
        private_broker.stop()  # mid-append: the producer retries until the broker is back
        time.sleep(1.0)
        private_broker.start()
        restarted.set()
        appender.join(timeout=240)
    finally:
        stop.set()
        appender.join(timeout=60)
    assert not failures, failures
    total = sum(appended)
    assert total > 200
    assert max(durations) > 1.0, "no append waited for the broker: it was not restarted mid-append"

    # Count and compare with a plain (read_committed) consumer: every version once, in order.
    consumer = Consumer({"bootstrap.servers": private_broker.bootstrap, "group.id": "esgen-t"})
    consumer.assign([TopicPartition(entity.topic, 0, 0)])
    versions_seen: list[int] = []
    event_ids: set[str] = set()
    try:
        while len(versions_seen) < total:
            msg = consumer.poll(15)
            assert msg is not None, f"{len(versions_seen)} of {total} events found"
            headers = hdr.header_map(msg.headers())
            versions_seen.append(int(headers[hdr.H_VERSION]))
            event_ids.add(headers[hdr.H_EVENT_ID])
        assert consumer.poll(2) is None, "more events than appended"
    finally:
        consumer.close()
    assert versions_seen == list(range(1, total + 1))
    assert len(event_ids) == total
    fresh: EventStore[Any, Any] = EventStore(entity, private_broker.bootstrap, registry_url)
    try:
        assert fresh.load("acc-1").balance == D(total - 1)
    finally:
        fresh.close(snapshot=False)
        store.close(snapshot=False)


def test_a_lease_is_let_go_at_once_while_the_broker_is_down(
    private_broker: PrivateBroker, unique_name: Any
) -> None:
    """Letting go of a lease whose transaction is open must not wait for the transaction
    coordinator (librdkafka's close() does, without a limit: a processor stopping during
    an outage hung there). The open transaction is aborted by the next holder: a
    read_committed reader never sees its record."""
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    from esgen.runtime.kafka import KafkaClients
    from esgen.runtime.lease import PartitionLease

    topic = unique_name("lease")
    admin = AdminClient({"bootstrap.servers": private_broker.bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    clients = KafkaClients(private_broker.bootstrap)
    lease = PartitionLease(clients, topic, 0, timeout=5.0)
    lease.acquire()
    lease.begin()
    lease.produce(topic, b"never committed", b"k", 0, [])
    lease.flush()
    private_broker.stop()
    began = time.monotonic()
    lease.release()
    assert time.monotonic() - began < 2.0
    private_broker.start()
    successor = PartitionLease(clients, topic, 0, timeout=30.0)
    successor.acquire()  # aborts the open transaction it finds
    successor.begin()
    successor.produce(topic, b"committed", b"k", 0, [])
    successor.commit()
    successor.release()
    consumer = Consumer(
        {
            "bootstrap.servers": private_broker.bootstrap,
            "group.id": unique_name("reader"),
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    seen = []
    deadline = time.monotonic() + 30
    while not seen and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            seen.append(msg.value())
    consumer.close()
    assert seen == [b"committed"]
