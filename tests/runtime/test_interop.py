"""Interop with confluent-kafka's own AvroSerializer/AvroDeserializer, and schema evolution."""

from __future__ import annotations

import copy
import dataclasses
import decimal
import io
import json
from typing import Any

import fastavro
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry import (
    Schema,
    SchemaRegistryClient,
    topic_record_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from esgen.runtime import EntityDescriptor, framing
from esgen.runtime.partitioning import partition_for
from generated.bank import account
from generated.shop import order
from tests.runtime.conftest import StoreFactory

D = decimal.Decimal


def _consume_all(bootstrap: str, topic: str, partition: int, count: int) -> list[Any]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "esgen-interop"})
    consumer.assign([TopicPartition(topic, partition, 0)])
    messages: list[Any] = []
    try:
        while len(messages) < count:
            msg = consumer.poll(10)
            assert msg is not None, f"only {len(messages)} of {count} records arrived"
            assert msg.error() is None
            messages.append(msg)
    finally:
        consumer.close()
    return messages


def test_a_plain_confluent_consumer_reads_our_events(
    account_entity: EntityDescriptor[Any, Any],
    make_store: StoreFactory,
    kafka_bootstrap: str,
    schema_registry_client: SchemaRegistryClient,
) -> None:
    store = make_store(account_entity, partitions=2)
    events = [
        account.AccountOpened(owner="Ann"),
        account.MoneyDeposited(amount=D("12.34")),
        account.LimitSet(name="daily", value=300),
    ]
    store.append("acc-1", events)
    deserializer = AvroDeserializer(schema_registry_client)
    partition = partition_for("acc-1", 2)
    messages = _consume_all(kafka_bootstrap, store.topic, partition, 3)
    decoded = [
        deserializer(m.value(), SerializationContext(store.topic, MessageField.VALUE))
        for m in messages
    ]
    assert decoded == [e.to_avro() for e in events]
    assert [m.key() for m in messages] == [b"acc-1"] * 3
    assert [dict(m.headers())["esgen.type"] for m in messages] == [
        b"com.example.bank.AccountOpened",
        b"com.example.bank.MoneyDeposited",
        b"com.example.bank.LimitSet",
    ]
    # The ids are the ones under TopicRecordNameStrategy subjects.
    subject = topic_record_subject_name_strategy(
        SerializationContext(store.topic, MessageField.VALUE), "com.example.bank.MoneyDeposited"
    )
    registered = schema_registry_client.get_latest_version(subject)
    assert framing.unframe(messages[1].value())[0] == registered.schema_id


def test_events_from_a_plain_confluent_producer_fold_into_our_state(
    account_entity: EntityDescriptor[Any, Any],
    make_store: StoreFactory,
    kafka_bootstrap: str,
    schema_registry_client: SchemaRegistryClient,
) -> None:
    store = make_store(account_entity, partitions=3)
    store.append("acc-1", [account.AccountOpened(owner="Ann")])
    conf = {"subject.name.strategy": topic_record_subject_name_strategy}
    serializers = {
        cls: AvroSerializer(
            schema_registry_client,
            json.dumps(account.AVRO_SCHEMAS[f"com.example.bank.{cls.__name__}"]),
            lambda event, _ctx: event.to_avro(),
            conf=conf,
        )
        for cls in (account.MoneyDeposited, account.MoneyWithdrawn)
    }
    # A Java-compatible producer: the default partitioner for keyed records is murmur2.
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "partitioner": "murmur2_random"})
    foreign = [account.MoneyDeposited(amount=D("50.00")), account.MoneyWithdrawn(amount=D("20.5"))]
    for event in foreign:
        ctx = SerializationContext(store.topic, MessageField.VALUE)
        producer.produce(store.topic, serializers[type(event)](event, ctx), b"acc-1")
    assert producer.flush(30) == 0

    state = store.load("acc-1")
    assert state.balance == D("29.50")
    assert store.version("acc-1") == 3
    read = list(make_store(account_entity, partitions=3).read("acc-1"))
    assert [e for e, _ in read] == [account.AccountOpened(owner="Ann"), *foreign]
    assert [m.version for _, m in read] == [1, 2, 3]
    assert read[1][1].event_id is not None  # derived from the record's position
    store.append("acc-1", [account.MoneyDeposited(amount=D("0.50"))], expected_version=3)
    assert make_store(account_entity, partitions=3).load("acc-1").balance == D("30.00")


def _register(client: SchemaRegistryClient, subject: str, schema: dict[str, Any]) -> int:
    return client.register_schema(subject, Schema(json.dumps(schema), "AVRO"))


def _v1_value(schema_id: int, schema: dict[str, Any], datum: dict[str, Any]) -> bytes:
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(copy.deepcopy(schema)), datum)
    return framing.frame(schema_id, body.getvalue())


def test_old_versions_decode_with_defaults_aliases_and_promotions(
    unique_name: Any,
    make_store: StoreFactory,
    kafka_bootstrap: str,
    schema_registry_client: SchemaRegistryClient,
) -> None:
    entity = dataclasses.replace(order.ENTITY, topic=unique_name("orders"))
    today = order.AVRO_SCHEMAS["com.example.shop.ItemAdded"]
    # v1 of ItemAdded had no weight_kg (v2 adds it with default 0.0).
    v1 = copy.deepcopy(today)
    v1["fields"] = [f for f in v1["fields"] if f["name"] != "weight_kg"]
    assert len(v1["fields"]) == len(today["fields"]) - 1
    subject = f"{entity.topic}-com.example.shop.ItemAdded"
    v1_id = _register(schema_registry_client, subject, v1)
    item = {"sku": "A-1", "quantity": 3, "unit_price": {"amount": D("2.50"), "currency": "EUR"}}
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    store = make_store(entity)  # creates the topics
    producer.produce(entity.topic, _v1_value(v1_id, v1, {"item": item}), b"o-1")
    assert producer.flush(30) == 0

    # v2 (today's generated schema) registers as a new, BACKWARD compatible version.
    store.append("o-1", [order.ItemAdded(item=order.LineItem.from_avro(item), weight_kg=2.0)])
    v2_id = schema_registry_client.get_latest_version(subject).schema_id
    assert v2_id != v1_id
    events = [e for e, _ in make_store(entity).read("o-1")]
    assert events[0] == order.ItemAdded(item=order.LineItem.from_avro(item), weight_kg=0.0)
    assert events[1].weight_kg == 2.0
    assert store.load("o-1").item_count == 6


def test_renamed_field_alias_and_int_to_long_promotion(
    account_entity: EntityDescriptor[Any, Any],
    make_store: StoreFactory,
    kafka_bootstrap: str,
    schema_registry_client: SchemaRegistryClient,
) -> None:
    store = make_store(account_entity)
    topic = account_entity.topic
    tagged_v1 = {
        "type": "record",
        "name": "AccountTagged",
        "namespace": "com.example.bank",
        "fields": [{"name": "label", "type": "string"}],
    }
    limit_v1 = {
        "type": "record",
        "name": "LimitSet",
        "namespace": "com.example.bank",
        "fields": [{"name": "name", "type": "string"}, {"name": "value", "type": "int"}],
    }
    tagged_id = _register(
        schema_registry_client, f"{topic}-com.example.bank.AccountTagged", tagged_v1
    )
    limit_id = _register(schema_registry_client, f"{topic}-com.example.bank.LimitSet", limit_v1)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(topic, _v1_value(tagged_id, tagged_v1, {"label": "vip"}), b"acc-1")
    producer.produce(topic, _v1_value(limit_id, limit_v1, {"name": "daily", "value": 7}), b"acc-1")
    assert producer.flush(30) == 0
    assert [e for e, _ in store.read("acc-1")] == [
        account.AccountTagged(tag="vip"),
        account.LimitSet(name="daily", value=7),
    ]
    state = store.load("acc-1")
    assert (state.tags, state.limits) == (["vip"], {"daily": 7})


def test_every_subject_strategy_round_trips_and_confluent_reads_topic_unions(
    account_entity: EntityDescriptor[Any, Any],
    make_store: StoreFactory,
    kafka_bootstrap: str,
    schema_registry_client: SchemaRegistryClient,
) -> None:
    events = [account.AccountOpened(owner="Ann"), account.MoneyDeposited(amount=D("3.00"))]
    for strategy in ("record", "topic"):
        entity = dataclasses.replace(account_entity, topic=f"{account_entity.topic}-{strategy}")
        store = make_store(entity, strategy=strategy)
        store.append("acc-1", events)
        fresh = make_store(entity, strategy=strategy, auto_register=False)
        assert [e for e, _ in fresh.read("acc-1")] == events
        assert fresh.load("acc-1").balance == D("3.00")
        if strategy == "topic":
            # Confluent's deserializer reads the union body (branch index first).
            union = schema_registry_client.get_latest_version(f"{entity.topic}-value")
            assert json.loads(union.schema.schema_str)[:2] == [
                "com.example.bank.AccountOpened",
                "com.example.bank.MoneyDeposited",
            ]
            deserializer = AvroDeserializer(schema_registry_client)
            messages = _consume_all(kafka_bootstrap, entity.topic, 0, 2)
            decoded = [
                deserializer(m.value(), SerializationContext(entity.topic, MessageField.VALUE))
                for m in messages
            ]
            assert decoded == [e.to_avro() for e in events]
