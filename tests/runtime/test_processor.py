"""The command processor and client on the shared broker: outcomes, idempotency, restores.

Each test runs a processor in a thread of the test process (the fault tests run them as
processes: ``test_processor_faults.py``) and checks what is on Kafka with plain consumers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import decimal
import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from esgen.runtime import (
    CommandClient,
    CommandFailed,
    CommandProcessor,
    CommandRejected,
    CommandTimeout,
    EntityDescriptor,
    EsgenError,
    EventStore,
    TopicsNotCoPartitioned,
    UnsafeTopic,
)
from esgen.runtime import headers as h
from esgen.runtime.partitioning import partition_for
from esgen.runtime.subjects import command_topic, dead_letter_topic, reply_topic
from generated.bank import account
from tests.runtime.processing import read_all, replies_by_id, running, wait_reply

D = decimal.Decimal
Entity = EntityDescriptor[Any, Any]


def test_commands_are_decided_on_the_current_state_and_answered(
    command_entity: Entity, kafka_bootstrap: str, registry_url: str
) -> None:
    with (
        running(command_entity, kafka_bootstrap, registry_url, partitions=2),
        CommandClient(command_entity, kafka_bootstrap, registry_url, auto_register=True) as client,
    ):
        opened = client.send("acc-1", account.OpenAccount(owner="Ann"))
        assert (opened.version, opened.events) == (1, [account.AccountOpened(owner="Ann")])
        deposited = client.send("acc-1", account.Deposit(amount=D("10.00")), command_id="dep-1")
        assert deposited.version == 2
        assert deposited.events == [account.MoneyDeposited(amount=D("10.00"))]
        with pytest.raises(CommandRejected) as rejected:
            client.send("acc-1", account.Withdraw(amount=D("10.01")))
        assert rejected.value.reason == "insufficient funds"
        assert str(rejected.value) == "Account 'acc-1': Withdraw rejected: insufficient funds"
        with pytest.raises(CommandRejected, match="the account does not exist"):
            client.send("acc-2", account.Deposit(amount=D("1.00")))
        tagged = client.send("acc-1", account.Tag(tag="vip"))
        again = client.send("acc-1", account.Tag(tag="vip"))  # accepted, no event
        assert (tagged.version, again.version, again.events) == (3, 3, [])

    # what a reader in another process sees, right after send() returned
    with EventStore(command_entity, kafka_bootstrap, registry_url, auto_register=True) as store:
        assert store.load("acc-1").balance == D("10.00")
        assert store.load("acc-1").tags == ["vip"]
        read = list(store.read("acc-1"))
        assert store.version("acc-2") == 0
    assert [m.version for _, m in read] == [1, 2, 3]
    assert [m.causation_id for _, m in read] == [opened.command_id, "dep-1", tagged.command_id]


def test_the_same_command_id_gets_the_first_outcome_and_writes_nothing(
    command_entity: Entity, kafka_bootstrap: str, registry_url: str
) -> None:
    with (
        running(command_entity, kafka_bootstrap, registry_url),
        CommandClient(command_entity, kafka_bootstrap, registry_url, auto_register=True) as client,
    ):
        client.send("acc-1", account.OpenAccount(owner="Ann"))
        first = client.send("acc-1", account.Deposit(amount=D("5.00")), command_id="d-1")
        assert client.send("acc-1", account.Deposit(amount=D("5.00")), command_id="d-1") == first
        with pytest.raises(CommandRejected, match="insufficient funds"):
            client.send("acc-1", account.Withdraw(amount=D("9.00")), command_id="w-1")
        client.send("acc-1", account.Deposit(amount=D("5.00")))
        # a rejection is an outcome too: the same id is rejected again, even though the
        # balance (10.00) would now allow it
        with pytest.raises(CommandRejected, match="insufficient funds"):
            client.send("acc-1", account.Withdraw(amount=D("9.00")), command_id="w-1")
        with pytest.raises(EsgenError, match="'d-1' was used for another command"):
            client.send("acc-1", account.Deposit(amount=D("6.00")), command_id="d-1")
        with pytest.raises(EsgenError, match="'d-1' was used for another command"):
            client.send("acc-2", account.Deposit(amount=D("5.00")), command_id="d-1")
    events = read_all(kafka_bootstrap, command_entity.topic)
    assert [e.causation_id for e in events].count("d-1") == 1
    assert len(events) == 3
    replies = replies_by_id(kafka_bootstrap, command_entity.topic)
    # d-1: its outcome, then the same bytes three times; w-1: twice
    assert sorted((len(r), len({x.encode() for x in r})) for r in replies.values()) == [
        (1, 1),
        (1, 1),
        (2, 1),
        (4, 1),
    ]


def test_a_retry_after_the_processor_restarted_gets_the_first_outcome(
    command_entity: Entity, kafka_bootstrap: str, registry_url: str
) -> None:
    """The outcomes survive the processor: a new one restores them from the replies."""
    with (
        running(command_entity, kafka_bootstrap, registry_url, snapshot_every=2),
        CommandClient(command_entity, kafka_bootstrap, registry_url, auto_register=True) as client,
    ):
        client.send("acc-1", account.OpenAccount(owner="Ann"))
        first = [
            client.send("acc-1", account.Deposit(amount=D("1.00")), command_id=f"d-{n}")
            for n in range(5)
        ]
        with pytest.raises(CommandRejected):
            client.send("acc-1", account.Withdraw(amount=D("99.00")), command_id="w")
    with running(command_entity, kafka_bootstrap, registry_url, snapshot_every=2) as second:
        with CommandClient(command_entity, kafka_bootstrap, registry_url) as client:
            again = [
                client.send("acc-1", account.Deposit(amount=D("1.00")), command_id=f"d-{n}")
                for n in range(5)
            ]
            with pytest.raises(CommandRejected, match="insufficient funds"):
                client.send("acc-1", account.Withdraw(amount=D("99.00")), command_id="w")
            after = client.send("acc-1", account.Deposit(amount=D("1.00")))
        stats = second.processor.stats
        restorer = second.processor._restorer.stats
    assert again == first
    assert after.version == 7
    assert (stats.duplicates, stats.accepted, stats.events) == (6, 1, 1)
    # restored from snapshots and the restore point, not by replaying the partition
    assert restorer.snapshots_loaded == 1
    assert restorer.full_restores == 0
    assert restorer.replies_loaded == 7
    with EventStore(command_entity, kafka_bootstrap, registry_url) as store:
        assert store.load("acc-1").balance == D("6.00")


def _raw(
    bootstrap: str, topic: str, partition: int, key: bytes | None, value: bytes, **headers: str
) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(
        command_topic(topic),
        value,
        key,
        partition=partition,
        headers=[(f"esgen.{name}", text.encode()) for name, text in headers.items()],
    )
    assert producer.flush(30) == 0


def test_records_that_are_not_commands_are_answered_failed_and_dead_lettered(
    command_entity: Entity, kafka_bootstrap: str, registry_url: str
) -> None:
    topic = command_entity.topic
    with (
        running(command_entity, kafka_bootstrap, registry_url, partitions=2),
        CommandClient(command_entity, kafka_bootstrap, registry_url, auto_register=True) as client,
    ):
        client.send("acc-1", account.OpenAccount(owner="Ann"))
        home = partition_for(b"acc-1", 2)
        good = client.serde.encode_command(account.Deposit(amount=D("1.00")))
        _raw(kafka_bootstrap, topic, home, b"acc-1", b"not avro", command_id="c-garbage")
        _raw(kafka_bootstrap, topic, 1 - home, b"acc-1", good, command_id="c-elsewhere")
        unknown_schema = b"\x00\x7f\xff\xff\xf0" + good[5:]
        _raw(kafka_bootstrap, topic, home, b"acc-1", unknown_schema, command_id="c-unknown")
        event_value = client.serde.encode_event(account.MoneyDeposited(amount=D("1.00")))[1]
        _raw(kafka_bootstrap, topic, home, b"acc-1", event_value, command_id="c-event")
        _raw(kafka_bootstrap, topic, home, b"acc-1", good)  # no command id: decided
        # a key that is not UTF-8 is no entity id, not the id its replacement chars spell
        client.send("acc-\ufffd", account.OpenAccount(owner="Bo"))
        raw_key = b"acc-\xff"
        _raw(kafka_bootstrap, topic, partition_for(raw_key, 2), raw_key, good, command_id="c-utf8")
        # everything above is answered before this command is
        assert client.send("acc-1", account.Deposit(amount=D("1.00"))).version == 3
        garbage = wait_reply(kafka_bootstrap, topic, "c-garbage")
        elsewhere = wait_reply(kafka_bootstrap, topic, "c-elsewhere")
        unknown = wait_reply(kafka_bootstrap, topic, "c-unknown")
        event = wait_reply(kafka_bootstrap, topic, "c-event")
        not_utf8 = wait_reply(kafka_bootstrap, topic, "c-utf8")
    assert garbage.outcome == "failed" and "wire-format framing" in garbage.error
    assert elsewhere.outcome == "failed"
    assert f"arrived in partition {1 - home}" in elsewhere.error
    assert f"lives in partition {home}" in elsewhere.error
    assert unknown.outcome == "failed" and "DecodeError" in unknown.error
    assert event.outcome == "failed" and "is not a command of entity Account" in event.error
    assert not_utf8.outcome == "failed" and "is not a string entity id" in not_utf8.error
    letters = read_all(kafka_bootstrap, dead_letter_topic(command_topic(topic)))
    assert sorted(r.headers[h.H_COMMAND_ID] for r in letters) == sorted(
        ["c-garbage", "c-elsewhere", "c-unknown", "c-event", "c-utf8"]
    )
    assert {r.headers["esgen.dlq.stage"] for r in letters} == {"decode"}
    with EventStore(command_entity, kafka_bootstrap, registry_url, auto_register=True) as store:
        assert store.load("acc-1").balance == D("2.00")
        assert store.load("acc-\ufffd").balance == D("0.00")


def test_a_restore_skips_event_records_whose_key_is_not_utf8(
    command_entity: Entity, kafka_bootstrap: str, registry_url: str
) -> None:
    """A record keyed ``acc-\\xff`` (a foreign writer's) with an event's headers is not an
    event of ``acc-\\ufffd``, the id its replacement character would spell: a restored
    processor decides on the same state ``load`` shows."""
    topic = command_entity.topic
    with (
        running(command_entity, kafka_bootstrap, registry_url),
        CommandClient(command_entity, kafka_bootstrap, registry_url, auto_register=True) as client,
    ):
        client.send("acc-\ufffd", account.OpenAccount(owner="Bo"))
        (opened,) = read_all(kafka_bootstrap, topic)
        event_value = client.serde.encode_event(account.MoneyDeposited(amount=D("5.00")))[1]
    headers = {**opened.headers, h.H_VERSION: "2", h.H_EVENT_ID: str(uuid.uuid4())}
    headers[h.H_TYPE] = opened.headers[h.H_TYPE].replace("AccountOpened", "MoneyDeposited")
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(topic, event_value, b"acc-\xff", partition=0, headers=list(headers.items()))
    assert producer.flush(30) == 0
    with (
        running(command_entity, kafka_bootstrap, registry_url),
        CommandClient(command_entity, kafka_bootstrap, registry_url, auto_register=True) as client,
    ):
        deposited = client.send("acc-\ufffd", account.Deposit(amount=D("1.00")))
    assert deposited.version == 2
    with EventStore(command_entity, kafka_bootstrap, registry_url) as store:
        assert store.load("acc-\ufffd").balance == D("1.00")


def test_a_command_older_than_the_idempotency_window_is_refused(
    command_entity: Entity, kafka_bootstrap: str, registry_url: str
) -> None:
    """Its first outcome may be forgotten already: applying it could apply it twice."""
    with (
        running(command_entity, kafka_bootstrap, registry_url, idempotency_window=60),
        CommandClient(command_entity, kafka_bootstrap, registry_url, auto_register=True) as client,
    ):
        client.send("acc-1", account.OpenAccount(owner="Ann"))
        value = client.serde.encode_command(account.Deposit(amount=D("1.00")))
        long_ago = h.to_millis(h.from_millis(int(time.time() * 1000))) - 61_000
        _raw(
            kafka_bootstrap,
            command_entity.topic,
            0,
            b"acc-1",
            value,
            type="com.example.bank.Deposit",
            command_id="old",
            timestamp=str(long_ago),
        )
        reply = wait_reply(kafka_bootstrap, command_entity.topic, "old")
        assert client.send("acc-1", account.Deposit(amount=D("1.00"))).version == 2
    assert reply.outcome == "failed"
    assert "longer ago than the idempotency window (60 s)" in reply.error


def test_a_decide_that_raises_fails_the_command_and_frees_its_id(
    command_entity: Entity, kafka_bootstrap: str, registry_url: str
) -> None:
    rules = command_entity.rules
    assert rules is not None

    def buggy(state: Any, command: Any, meta: Any) -> Any:
        if isinstance(command, account.Tag) and command.tag == "boom":
            raise ZeroDivisionError("division by zero")
        if isinstance(command, account.Tag) and command.tag == "unwritable":
            return [account.MoneyDeposited(amount=D("1.005"))]  # three decimal places
        return rules(state, command, meta)

    entity = dataclasses.replace(command_entity, rules=buggy)
    with (
        running(entity, kafka_bootstrap, registry_url),
        CommandClient(entity, kafka_bootstrap, registry_url, auto_register=True) as client,
    ):
        client.send("acc-1", account.OpenAccount(owner="Ann"))
        with pytest.raises(CommandFailed, match="ZeroDivisionError: division by zero") as failed:
            client.send("acc-1", account.Tag(tag="boom"), command_id="t-1")
        assert "the command id is free" in str(failed.value)
        with pytest.raises(CommandFailed, match="EncodeError: cannot encode MoneyDeposited"):
            client.send("acc-1", account.Tag(tag="unwritable"), command_id="t-2")
        # not outcomes: the ids are free for the corrected commands
        assert client.send("acc-1", account.Tag(tag="fine"), command_id="t-1").version == 2
        assert client.send("acc-1", account.Tag(tag="ok"), command_id="t-2").version == 3
    with EventStore(entity, kafka_bootstrap, registry_url, auto_register=True) as store:
        assert store.load("acc-1").tags == ["fine", "ok"]


def test_send_async_waits_for_the_outcome(
    command_entity: Entity, kafka_bootstrap: str, registry_url: str
) -> None:
    async def scenario(client: CommandClient[Any, Any]) -> list[Any]:
        await client.send_async("acc-1", account.OpenAccount(owner="Ann"))
        deposits = [
            client.send_async("acc-1", account.Deposit(amount=D("1.00")), command_id=f"d-{n}")
            for n in range(20)
        ]
        results = await asyncio.gather(*deposits)
        try:
            await client.send_async("acc-1", account.Withdraw(amount=D("21.00")))
        except CommandRejected as rejected:
            results.append(rejected.reason)
        return results

    with (
        running(command_entity, kafka_bootstrap, registry_url),
        CommandClient(command_entity, kafka_bootstrap, registry_url, auto_register=True) as client,
    ):
        results = asyncio.run(scenario(client))
    assert sorted(r.version for r in results[:20]) == list(range(2, 22))
    assert results[20] == "insufficient funds"


def test_no_processor_means_a_timeout_that_names_the_id_to_retry_with(
    command_entity: Entity, kafka_bootstrap: str, registry_url: str
) -> None:
    with running(command_entity, kafka_bootstrap, registry_url):
        pass  # creates the topics, then stops
    with CommandClient(
        command_entity, kafka_bootstrap, registry_url, auto_register=True
    ) as client:
        began = time.monotonic()
        with pytest.raises(CommandTimeout) as timed_out:
            client.send("acc-1", account.OpenAccount(owner="Ann"), command_id="o-1", timeout=1)
    assert time.monotonic() - began < 5
    assert timed_out.value.command_id == "o-1"
    message = str(timed_out.value)
    assert "within 1 s" in message
    assert "Sending it again with command_id='o-1' is safe" in message
    # the processor that starts later decides it (once), and the retry gets that outcome
    with (
        running(command_entity, kafka_bootstrap, registry_url),
        CommandClient(command_entity, kafka_bootstrap, registry_url) as client,
    ):
        retried = client.send("acc-1", account.OpenAccount(owner="Ann"), command_id="o-1")
    assert retried.version == 1
    assert [e.causation_id for e in read_all(kafka_bootstrap, command_entity.topic)] == ["o-1"]


def test_an_accepted_command_whose_events_stay_invisible_is_a_timeout_not_a_result(
    command_entity: Entity,
    kafka_bootstrap: str,
    registry_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A result promises events a ``load`` sees. When the event partition's visible end
    does not pass them in time (its leader is away while the reply was readable: faked
    here by a reader stuck at 0), the call times out saying why, and the retry with the
    same id answers the first outcome once they are visible."""
    with (
        running(command_entity, kafka_bootstrap, registry_url),
        CommandClient(command_entity, kafka_bootstrap, registry_url, auto_register=True) as client,
    ):
        client.visible_wait = 0.5
        real = client._visible.watermarks
        monkeypatch.setattr(
            client._visible,
            "watermarks",
            lambda topic, partition: (0, 0) if topic == client.topic else real(topic, partition),
        )
        with pytest.raises(CommandTimeout) as timed_out:
            client.send("acc-1", account.OpenAccount(owner="Ann"), command_id="o-1")
        message = str(timed_out.value)
        assert "the command's transaction is committed" in message
        assert f"{command_entity.topic}[0] (up to offset 0) were still not visible" in message
        assert "Sending it again with command_id='o-1' is safe" in message
        monkeypatch.setattr(client._visible, "watermarks", real)
        retried = client.send("acc-1", account.OpenAccount(owner="Ann"), command_id="o-1")
    assert (retried.version, retried.events) == (1, [account.AccountOpened(owner="Ann")])
    assert [e.causation_id for e in read_all(kafka_bootstrap, command_entity.topic)] == ["o-1"]


def test_the_command_and_reply_topics_must_be_co_partitioned_and_safe(
    command_entity: Entity, kafka_bootstrap: str, registry_url: str
) -> None:
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    topic = command_entity.topic
    futures = admin.create_topics(
        [
            NewTopic(command_topic(topic), num_partitions=2, replication_factor=1),
            NewTopic(
                reply_topic(topic),
                num_partitions=3,
                replication_factor=1,
                config={"retention.ms": "1000"},
            ),
        ]
    )
    for future in futures.values():
        future.result(timeout=30)
    with pytest.raises(TopicsNotCoPartitioned) as mismatch:
        CommandProcessor(command_entity, kafka_bootstrap, registry_url, partitions=3)
    assert f"{command_topic(topic)} has 2 partitions but {topic} has 3" in str(mismatch.value)
    assert (mismatch.value.expected, mismatch.value.actual) == (3, 2)
    for future in admin.delete_topics([command_topic(topic)]).values():
        future.result(timeout=30)
    time.sleep(1)
    with pytest.raises(UnsafeTopic) as unsafe:
        CommandProcessor(
            command_entity, kafka_bootstrap, registry_url, partitions=3, idempotency_window=60
        )
    message = str(unsafe.value)
    assert f"topic {reply_topic(topic)}" in message
    assert "replies are deleted after 1000 ms, sooner than the idempotency window" in message
    assert "--add-config retention.ms=120000" in message


def test_a_uuid_keyed_entity_is_decided_and_restored_by_its_typed_id(
    kafka_bootstrap: str, registry_url: str, unique_name: Any
) -> None:
    """The processor decides on the id in the key's type (``meta.entity_id`` is a UUID,
    the fold keeps it), restores such entities from snapshots and events, and the
    client's result carries the id it was given."""
    import importlib
    import uuid

    import tests.codegen.support  # noqa: F401  (puts the cases' generated packages on the path)

    device = importlib.import_module("gen_keys.device")

    entity = dataclasses.replace(device.ENTITY, topic=unique_name("devices"))
    me, other = uuid.UUID(int=7), uuid.UUID(int=8)
    try:
        with (
            running(entity, kafka_bootstrap, registry_url, snapshot_every=1),
            CommandClient(entity, kafka_bootstrap, registry_url, auto_register=True) as c,
        ):
            with pytest.raises(CommandRejected, match="a device cannot own itself"):
                c.send(me, device.Claim(owner=me))  # true only for a typed meta.entity_id
            result = c.send(me, device.Claim(owner=other))
            assert (result.entity_id, result.version) == (me, 1)
        # a new processor restores the device from its snapshot, by its UUID
        with running(entity, kafka_bootstrap, registry_url) as again:
            with CommandClient(entity, kafka_bootstrap, registry_url) as c:
                assert c.send(me, device.Claim(owner=uuid.UUID(int=9))).version == 2
            assert again.processor.stats.restores == 1
        with EventStore(entity, kafka_bootstrap, registry_url) as store:
            state = store.load(me)
            assert (state.device_id, state.owner, state.last_seen_as) == (
                me,
                uuid.UUID(int=9),
                me,
            )
            assert store.stats.events_replayed <= 1  # the processor's snapshot was used
    finally:
        from tests.runtime.processing import delete_topics, topics_of

        delete_topics(kafka_bootstrap, topics_of(entity.topic))
