"""Keys of type uuid and long end to end (SPEC §7): the generated functions, the
descriptor, the in-memory store and the test helpers take the id in the key's type, and
the Kafka message key is its canonical text."""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from gen_keys import device, ticket

from esgen.runtime import (
    CommandRejected,
    DecodeError,
    EncodeError,
    EventStore,
    InMemoryEventStore,
)
from esgen.runtime.partitioning import partition_for
from esgen.runtime.subjects import snapshot_topic
from esgen.runtime.testing import given
from generated.bank import account

DEVICE = uuid.UUID("6F9619FF-8B86-D011-B42D-00C04FC964FF")


def test_the_generated_functions_take_the_id_in_the_key_type() -> None:
    owner = uuid.uuid4()
    state = device.replay(DEVICE, [device.DeviceClaimed(owner=owner), device.ReadingTaken()])
    assert state.device_id == DEVICE and state.owner == owner and state.readings == 1
    assert state.last_seen_as == DEVICE  # meta.entity_id is the UUID itself
    assert isinstance(state.last_seen_as, uuid.UUID)
    opened = ticket.replay(42, [ticket.TicketOpened(title="Printer on fire")])
    assert (opened.number, opened.opened_as, opened.title) == (42, 42, "Printer on fire")


def test_the_kafka_key_is_the_canonical_text() -> None:
    assert device.ENTITY.key_type == "uuid" and ticket.ENTITY.key_type == "long"
    assert device.ENTITY.key_text(DEVICE) == "6f9619ff-8b86-d011-b42d-00c04fc964ff"
    assert ticket.ENTITY.key_text(-7) == "-7"
    assert account.ENTITY.key_text("acc-1") == "acc-1"
    assert device.ENTITY.parse_key(b"6f9619ff-8b86-d011-b42d-00c04fc964ff") == DEVICE
    assert ticket.ENTITY.parse_key("123") == 123


@pytest.mark.parametrize(
    ("descriptor", "wrong"),
    [
        (device.ENTITY, "6f9619ff-8b86-d011-b42d-00c04fc964ff"),  # the text is not the id
        (ticket.ENTITY, "42"),
        (ticket.ENTITY, True),
        (ticket.ENTITY, 2**63),
        (account.ENTITY, 42),
    ],
)
def test_an_id_of_another_type_is_refused_naming_the_key(descriptor: Any, wrong: object) -> None:
    with pytest.raises(EncodeError, match=r"key .* is (uuid|long|string); pass an entity id"):
        descriptor.key_text(wrong)


@pytest.mark.parametrize(
    ("descriptor", "text"),
    [
        (device.ENTITY, "not-a-uuid"),
        (device.ENTITY, "6F9619FF-8B86-D011-B42D-00C04FC964FF"),  # not the canonical form
        (ticket.ENTITY, "0x10"),
        (ticket.ENTITY, "042"),
        (ticket.ENTITY, str(2**63)),
    ],
)
def test_a_message_key_that_is_not_an_id_is_a_decode_error(descriptor: Any, text: str) -> None:
    with pytest.raises(DecodeError, match="message key"):
        descriptor.parse_key(text)


def test_the_in_memory_store_keeps_entities_by_typed_id_and_partitions_by_text() -> None:
    store = InMemoryEventStore(device.ENTITY, partitions=12)
    other = uuid.UUID(int=7)
    store.append(DEVICE, [device.DeviceClaimed(owner=other)])
    store.append(DEVICE, [device.ReadingTaken(), device.ReadingTaken()], expected_version=1)
    assert store.load(DEVICE).readings == 2
    assert [meta.entity_id for _, meta in store.read(DEVICE)] == [DEVICE] * 3
    assert store.partition_of(DEVICE) == partition_for(str(DEVICE), 12)
    with pytest.raises(EncodeError, match="uuid"):
        store.append(str(DEVICE), [device.ReadingTaken()])  # type: ignore[arg-type]
    assert store.version(DEVICE) == 3


def test_given_defaults_to_an_id_of_the_key_type() -> None:
    outcome = given(device.ENTITY).when(device.ReadingTaken()).then()
    assert outcome.entity_id == uuid.UUID(int=1) and outcome.state.device_id == uuid.UUID(int=1)
    numbered = given(ticket.ENTITY, entity_id=9).when(ticket.TicketOpened(title="x")).then()
    assert numbered.state.opened_as == 9
    assert given(ticket.ENTITY).entity_id == 1


def test_commands_see_the_typed_id_in_meta_and_rejections_name_its_text() -> None:
    store = InMemoryEventStore(device.ENTITY)
    owner = uuid.UUID(int=5)
    result = store.execute(DEVICE, device.Claim(owner=owner), command_id="c-1")
    assert (result.entity_id, result.version) == (DEVICE, 1)
    assert store.load(DEVICE).last_seen_as == DEVICE
    with pytest.raises(CommandRejected) as caught:
        store.execute(DEVICE, device.Claim(owner=DEVICE))  # meta.entity_id is the UUID
    assert caught.value.entity_id == DEVICE
    assert str(caught.value) == (
        "Device '6f9619ff-8b86-d011-b42d-00c04fc964ff': Claim rejected: a device cannot own itself"
    )
    with pytest.raises(EncodeError, match="uuid"):
        store.execute(str(DEVICE), device.Claim(owner=owner))  # type: ignore[arg-type]
    assert store.version(DEVICE) == 1


def test_given_when_a_command_takes_the_id_in_the_key_type() -> None:
    given(ticket.ENTITY, entity_id=7).when(ticket.Open(title="Printer")).then(
        events=[ticket.TicketOpened(title="Printer")]
    )
    given(ticket.ENTITY, entity_id=0).when(ticket.Open(title="x")).then_rejected(
        "ticket numbers start at 1"
    )
    given(ticket.ENTITY, ticket.TicketOpened(title="x")).when(
        ticket.Open(title="y")
    ).then_rejected("the ticket is open already")
    given(device.ENTITY).when(device.Claim(owner=uuid.UUID(int=1))).then_rejected(
        "a device cannot own itself"  # given()'s default id is uuid.UUID(int=1)
    )


def test_a_uuid_keyed_entity_through_the_kafka_store_and_its_snapshots(
    kafka_bootstrap: str, registry_url: str, unique_name: Any
) -> None:
    """On the real broker: the message key is the UUID's text, the entity is found again
    by its UUID, through a snapshot too."""
    entity = dataclasses.replace(device.ENTITY, topic=unique_name("devices"))
    stores: list[EventStore[Any, Any]] = []

    def store(**options: Any) -> EventStore[Any, Any]:
        made: EventStore[Any, Any] = EventStore(
            entity, kafka_bootstrap, registry_url, auto_register=True, partitions=3, **options
        )
        stores.append(made)
        return made

    try:
        writer = store(snapshot_every=2)
        writer.append(DEVICE, [device.DeviceClaimed(owner=uuid.UUID(int=5))])
        writer.append(DEVICE, [device.ReadingTaken(), device.ReadingTaken()])
        writer.close()
        consumer = Consumer(
            {"bootstrap.servers": kafka_bootstrap, "group.id": unique_name("g"),
             "auto.offset.reset": "earliest"}
        )  # fmt: skip
        partition = partition_for(str(DEVICE), 3)
        consumer.assign([TopicPartition(entity.topic, partition, 0)])
        message = consumer.poll(20)
        consumer.close()
        assert message is not None and message.key() == str(DEVICE).encode()
        fresh = store()
        state = fresh.load(DEVICE)
        assert (state.device_id, state.readings, state.owner) == (DEVICE, 2, uuid.UUID(int=5))
        assert fresh.stats.events_replayed == 0  # the snapshot, found by the UUID's text
        assert [m.entity_id for _, m in fresh.read(DEVICE)] == [DEVICE] * 3
    finally:
        for made in stores:
            made.close(snapshot=False)
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        topics = [entity.topic, snapshot_topic(entity.topic)]
        for future in admin.delete_topics(topics, operation_timeout=30).values():
            with contextlib.suppress(Exception):
                future.result(timeout=30)
