"""EventStore on the real broker and registry: append, read, load, invariants, versions."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from esgen.runtime import (
    ConcurrencyError,
    EntityDescriptor,
    EventStore,
    InvariantViolation,
    RegistryError,
    StoreError,
)
from esgen.runtime.partitioning import partition_for
from generated.bank import account
from generated.shop import order
from tests.runtime.conftest import StoreFactory

D = decimal.Decimal


def end_offsets(bootstrap: str, topic: str, partitions: int = 1) -> list[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "esgen-test-offsets"})
    try:
        return [
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        ]
    finally:
        consumer.close()


HISTORY = [
    account.AccountOpened(owner="Ann"),
    account.MoneyDeposited(amount=D("100.00")),
    account.AccountTagged(tag="vip"),
    account.LimitSet(name="daily", value=500),
    account.MoneyWithdrawn(amount=D("30.25")),
    account.AccountAudited(),
]


def test_append_read_load_round_trip(
    account_entity: EntityDescriptor[Any, Any], make_store: StoreFactory
) -> None:
    store = make_store(account_entity, partitions=3)
    positions = store.append("acc-1", HISTORY[:3], expected_version=0, correlation_id="c-9")
    assert [p.version for p in positions] == [1, 2, 3]
    assert {p.partition for p in positions} == {partition_for("acc-1", 3)}
    assert [p.offset for p in positions] == sorted(p.offset for p in positions)
    store.append("acc-1", HISTORY[3:], expected_version=3, causation_id="cmd-2")
    store.append("acc-2", [account.AccountOpened(owner="Bob")])

    expected = account.replay("acc-1", HISTORY)
    assert store.load("acc-1").balance == D("69.75")
    # A fresh store reads it all back from Kafka.
    fresh = make_store(account_entity, partitions=3)
    read = list(fresh.read("acc-1"))
    assert [event for event, _ in read] == HISTORY
    assert [meta.version for _, meta in read] == [1, 2, 3, 4, 5, 6]
    assert [meta.correlation_id for _, meta in read] == ["c-9"] * 3 + [None] * 3
    assert [meta.causation_id for _, meta in read] == [None] * 3 + ["cmd-2"] * 3
    assert len({meta.event_id for _, meta in read}) == 6
    loaded = fresh.load("acc-1")
    # AccountAudited records the event id and version from the metadata.
    assert loaded.last_event_id == read[-1][1].event_id
    assert loaded.version == 6
    assert dataclasses.replace(loaded, last_event_id=None) == expected
    assert loaded == store.load("acc-1")  # read-your-writes equals a fresh load
    assert fresh.load("acc-2").owner == "Bob"
    assert fresh.version("acc-3") == 0


def test_shop_order_round_trip(unique_name: Any, make_store: StoreFactory) -> None:
    """The second example: nested records, dates, times, bytes, floats, enums, maps."""
    entity = dataclasses.replace(order.ENTITY, topic=unique_name("orders"))
    when = datetime.datetime(2024, 5, 1, 12, 30, 15, 123000, tzinfo=datetime.UTC)
    euro = order.Money(amount=D("9.99"), currency="EUR")
    events = [
        order.OrderCreated(customer_id=uuid.uuid4(), created_at=when.replace(tzinfo=None)),
        order.ItemAdded(
            item=order.LineItem(sku="A-1", quantity=2, unit_price=euro), weight_kg=1.5
        ),
        order.NoteAdded(topic="gift", text="wrap it"),
        order.ShippingAddressSet(
            address=order.Address(street="Main St 1", city="Köln"), gift=True
        ),
        order.DeliveryScheduled(
            date=datetime.date(2024, 5, 3),
            window_start=datetime.time(9, 0),
            window_end=datetime.time(12, 0),
        ),
        order.OrderPlaced(placed_at=when),
        order.OrderPaid(paid_at=when, amount=euro, reference=bytes(range(16))),
    ]
    store = make_store(entity)
    store.append("o-1", events)
    fresh = make_store(entity)
    assert [e for e, _ in fresh.read("o-1")] == events
    assert fresh.load("o-1") == store.load("o-1")
    assert fresh.load("o-1").shipping_address.city == "Köln"
    assert fresh.load("o-1").placed_version == 6


def test_invariant_violation_writes_nothing(
    account_entity: EntityDescriptor[Any, Any], make_store: StoreFactory, kafka_bootstrap: str
) -> None:
    store = make_store(account_entity)
    store.append("acc-1", HISTORY[:2])
    before = end_offsets(kafka_bootstrap, store.topic)
    with pytest.raises(InvariantViolation, match="balance >= 0"):
        # The first event is fine on its own; the second breaks the invariant.
        store.append(
            "acc-1",
            [account.MoneyWithdrawn(amount=D("50")), account.MoneyWithdrawn(amount=D("60"))],
        )
    assert end_offsets(kafka_bootstrap, store.topic) == before
    assert store.load("acc-1").balance == D("100.00")
    assert store.version("acc-1") == 2


def test_expected_version_mismatch(
    account_entity: EntityDescriptor[Any, Any], make_store: StoreFactory, kafka_bootstrap: str
) -> None:
    store = make_store(account_entity)
    store.append("acc-1", HISTORY[:2], expected_version=0)
    with pytest.raises(
        ConcurrencyError, match="expected version 1, but the store is at version 2"
    ):
        store.append("acc-1", HISTORY[2:3], expected_version=1)
    # Another store (another process) appended: the check refreshes from Kafka.
    other = make_store(account_entity)
    other.append("acc-1", HISTORY[2:3], expected_version=2)
    before = end_offsets(kafka_bootstrap, store.topic)
    with pytest.raises(ConcurrencyError) as caught:
        store.append("acc-1", HISTORY[3:4], expected_version=2)
    assert (caught.value.expected, caught.value.actual) == (2, 3)
    assert end_offsets(kafka_bootstrap, store.topic) == before  # nothing written
    store.append("acc-1", HISTORY[3:4], expected_version=3)
    assert other.version("acc-1") == 4


def test_partitioner_matches_librdkafka_murmur2(new_topic: Any, kafka_bootstrap: str) -> None:
    topic = new_topic("partitioner", partitions=7)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "partitioner": "murmur2_random"})
    seen: dict[str, int] = {}
    keys = [f"key-{i}" for i in range(60)] + ["", "a", "ab", "abc", "ünïcödé-ключ"]

    def delivered(error: Any, msg: Any) -> None:
        assert error is None
        seen[msg.key().decode()] = msg.partition()

    for key in keys:
        producer.produce(topic, b"x", key.encode(), on_delivery=delivered)
    producer.flush(30)
    assert seen == {key: partition_for(key, 7) for key in keys}


def test_broker_down_fails_fast_naming_the_address(registry_url: str) -> None:
    began = time.monotonic()
    with pytest.raises(StoreError, match=r"cannot reach Kafka at 127\.0\.0\.1:1 within 3 s"):
        EventStore(account.ENTITY, "127.0.0.1:1", registry_url, timeout=3.0)
    assert time.monotonic() - began < 15


def test_registry_down_fails_naming_the_url(
    account_entity: EntityDescriptor[Any, Any], kafka_bootstrap: str, make_store: StoreFactory
) -> None:
    make_store(account_entity)  # creates the topics (and deletes them after the test)
    store: EventStore[Any, Any] = EventStore(
        account_entity,
        kafka_bootstrap,
        {"url": "http://127.0.0.1:9", "timeout": 3, "max.retries": 0},
        timeout=5.0,
    )
    began = time.monotonic()
    try:
        with pytest.raises(
            RegistryError, match=r"cannot reach the schema registry at http://127\.0\.0\.1:9"
        ):
            store.append("acc-1", HISTORY[:1])
        assert end_offsets(kafka_bootstrap, account_entity.topic) == [0]
    finally:
        store.close()
    assert time.monotonic() - began < 15


def test_unregistered_schemas_without_auto_register(
    account_entity: EntityDescriptor[Any, Any], make_store: StoreFactory
) -> None:
    store = make_store(account_entity, auto_register=False)
    with pytest.raises(
        RegistryError, match=f"{account_entity.topic}-com.example.bank.AccountOpened"
    ):
        store.append("acc-1", HISTORY[:1])
