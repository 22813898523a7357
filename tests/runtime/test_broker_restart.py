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
