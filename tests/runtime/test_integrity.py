"""A read is right or an error: issue 8's observations 1-5, 7 and 8 on the real broker.

Each test reproduces what was seen (a wrong state with no error, deleted history, a raw
librdkafka exception after events were stored) and asserts what a user must get instead.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    NewPartitions,
)

from esgen.runtime import (
    DecodeError,
    EntityDescriptor,
    EventMeta,
    EventStore,
    HistoryForked,
    HistoryTruncated,
    InMemoryModelStore,
    PartitionCountChanged,
    ProjectionRunner,
    UnsafeTopic,
)
from esgen.runtime import headers as hdr
from esgen.runtime.framing import frame
from esgen.runtime.partitioning import partition_for
from esgen.runtime.subjects import dead_letter_topic
from esgen.runtime.topics import event_topic_config
from generated.bank import account
from tests.runtime.conftest import StoreFactory
from tests.runtime.projection_support import Balances
from tests.runtime.services import failing_proxy

D = decimal.Decimal
OPENED = account.AccountOpened(owner="Ann")


def deposit(amount: str) -> account.MoneyDeposited:
    return account.MoneyDeposited(amount=D(amount))


def topic_configs(bootstrap: str, topic: str) -> dict[str, str]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource("topic", topic)
    entries = admin.describe_configs([resource])[resource].result(timeout=30)
    return {name: entry.value for name, entry in entries.items()}


def versions_in_log(bootstrap: str, topic: str, partition: int, key: str) -> list[int]:
    """The ``esgen.version`` of every committed record under ``key``, in log order."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"versions-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    consumer.assign([TopicPartition(topic, partition, 0)])
    found: list[int] = []
    try:
        while True:
            msg = consumer.poll(10)
            assert msg is not None, "the partition did not end"
            if msg.error():
                break
            if msg.key() == key.encode():
                found.append(int(hdr.header_map(msg.headers())[hdr.H_VERSION]))
    finally:
        consumer.close()
    return found


def raw_event(
    store: EventStore[Any, Any], entity_id: str, event: Any, version: int, bootstrap: str
) -> None:
    """Write an event as a writer without the lease would: right bytes, a chosen version."""
    name, value = store.serde.encode_event(event)
    meta = EventMeta(entity_id, version, datetime.datetime.now(datetime.UTC), uuid.uuid4())
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(
        store.topic,
        value,
        entity_id.encode(),
        partition=store.partition_of(entity_id),
        headers=hdr.event_headers(name, meta),
    )
    assert producer.flush(30) == 0


# -- 1. retention ------------------------------------------------------------------------


def test_topics_are_created_to_keep_events_forever(
    account_entity: EntityDescriptor[Any, Any], make_store: StoreFactory, kafka_bootstrap: str
) -> None:
    store = make_store(account_entity)
    events = topic_configs(kafka_bootstrap, store.topic)
    assert (events["retention.ms"], events["retention.bytes"]) == ("-1", "-1")
    assert events["cleanup.policy"] == "delete"
    assert events["min.insync.replicas"] == "1"  # min(2, replication factor 1)
    snapshots = topic_configs(kafka_bootstrap, store.snapshot_topic)
    assert snapshots["cleanup.policy"] == "compact"
    assert snapshots["retention.ms"] == "-1"
    # min(2, RF) for replicated topics, and every config can be set.
    assert event_topic_config(3, {})["min.insync.replicas"] == "2"
    assert event_topic_config(3, {"min.insync.replicas": "3"})["min.insync.replicas"] == "3"


def test_an_event_topic_that_deletes_events_is_refused(
    account_entity: EntityDescriptor[Any, Any],
    make_store: StoreFactory,
    new_topic: Any,
    kafka_bootstrap: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Observation 1: a topic with the broker's default retention (7 days) deletes events."""
    entity = dataclasses.replace(account_entity, topic=new_topic("weekly"))  # broker defaults
    with pytest.raises(UnsafeTopic) as caught:
        make_store(entity)
    message = str(caught.value)
    assert f"retention.ms={7 * 24 * 3600 * 1000}" in message
    assert "--add-config retention.ms=-1" in message
    assert caught.value.problems.keys() == {"retention.ms"}
    # Opting in is possible, and loud.
    with caplog.at_level(logging.WARNING, logger="esgen.store"):
        store = make_store(entity, allow_deleting_events=True)
    assert "allow_deleting_events=True" in caplog.text
    store.append("acc-1", [OPENED])
    compacted = dataclasses.replace(
        account_entity,
        topic=new_topic("compacted", config={"cleanup.policy": "compact", "retention.ms": "-1"}),
    )
    with pytest.raises(UnsafeTopic, match=r"cleanup\.policy=compact"):
        make_store(compacted)


# -- 2. truncated history ----------------------------------------------------------------


def _delete_records(bootstrap: str, topic: str, before: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.delete_records([TopicPartition(topic, 0, before)])
    for future in futures.values():
        future.result(timeout=30)


def test_a_truncated_history_is_an_error_not_a_smaller_state(
    account_entity: EntityDescriptor[Any, Any], make_store: StoreFactory, kafka_bootstrap: str
) -> None:
    """Observation 2: after delete_records, load gave balance 5.00 and no owner, silently."""
    writer = make_store(account_entity, snapshot_every=1000)
    for event in [OPENED] + [deposit("1.00")] * 9:
        writer.append("acc-1", [event])  # one transaction each: 10 events, 20 offsets
    _delete_records(kafka_bootstrap, writer.topic, 10)
    fresh = make_store(account_entity)
    with pytest.raises(HistoryTruncated) as caught:
        fresh.load("acc-1")
    error = caught.value
    assert (error.partition, error.needed, error.log_start) == (0, 0, 10)
    assert "offsets 0..9 were deleted" in str(error)
    with pytest.raises(HistoryTruncated):
        list(fresh.read("acc-1"))
    with pytest.raises(HistoryTruncated):
        fresh.append("acc-1", [deposit("1.00")])


def test_a_snapshot_that_covers_the_deleted_records_still_loads(
    account_entity: EntityDescriptor[Any, Any], make_store: StoreFactory, kafka_bootstrap: str
) -> None:
    writer = make_store(account_entity, snapshot_every=5)
    writer.append("acc-1", [OPENED, *[deposit("1.00")] * 4])  # v5, with a snapshot
    writer.append("acc-1", [deposit("2.00")])
    _delete_records(kafka_bootstrap, writer.topic, 5)  # the first transaction and its marker
    fresh = make_store(account_entity)
    assert fresh.load("acc-1").balance == D("6.00")
    assert fresh.stats.events_replayed == 1


# -- 3. a stale writer ---------------------------------------------------------------------


def test_a_stale_writer_appends_on_top_of_the_true_version(
    account_entity: EntityDescriptor[Any, Any], make_store: StoreFactory, kafka_bootstrap: str
) -> None:
    """Observation 3: B appended its deposit as a second "v2"; B and fresh loads said 5.00."""
    a = make_store(account_entity)
    b = make_store(account_entity)
    a.append("acc-1", [OPENED])
    assert b.load("acc-1").owner == "Ann"
    a.append("acc-1", [deposit("10.00")])
    positions = b.append("acc-1", [deposit("5.00")])  # no expected_version: on top of v2
    assert [p.version for p in positions] == [3]
    assert versions_in_log(kafka_bootstrap, a.topic, 0, "acc-1") == [1, 2, 3]
    assert b.load("acc-1").balance == D("15.00")
    assert a.load("acc-1").balance == D("15.00")
    assert make_store(account_entity).load("acc-1").balance == D("15.00")


def test_a_forked_log_is_an_error_naming_both_records(
    account_entity: EntityDescriptor[Any, Any], make_store: StoreFactory, kafka_bootstrap: str
) -> None:
    """A log forked by an older writer (versions 1, 2, 2) folds to no state at all."""
    store = make_store(account_entity)
    store.append("acc-1", [OPENED, deposit("10.00")])
    raw_event(store, "acc-1", deposit("5.00"), 2, kafka_bootstrap)
    fresh = make_store(account_entity)
    with pytest.raises(HistoryForked) as caught:
        fresh.load("acc-1")
    error = caught.value
    assert (error.entity_id, error.version, error.expected, error.offset) == ("acc-1", 2, 3, 3)
    assert "a second version 2 after version 2 at offset 1" in str(error)
    raw_event(store, "acc-2", OPENED, 1, kafka_bootstrap)
    raw_event(store, "acc-2", deposit("1.00"), 3, kafka_bootstrap)  # a gap
    with pytest.raises(HistoryForked, match=r"version 3 \(versions 2..2 are missing\)"):
        fresh.load("acc-2")


# -- 4. partition count --------------------------------------------------------------------


def test_a_changed_partition_count_is_an_error(
    account_entity: EntityDescriptor[Any, Any], make_store: StoreFactory, kafka_bootstrap: str
) -> None:
    """Observation 4: from 3 to 4 partitions, 31 of 40 entities loaded as empty."""
    writer = make_store(account_entity, partitions=3)
    ids = [f"acc-{n}" for n in range(40)]
    for entity_id in ids[:6]:
        writer.append(entity_id, [OPENED])
    writer.close()
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.create_partitions([NewPartitions(writer.topic, 4)]).values():
        future.result(timeout=30)
    with pytest.raises(PartitionCountChanged, match=r"has 3 partitions but .* has 4"):
        make_store(account_entity)
    for future in admin.create_partitions([NewPartitions(writer.snapshot_topic, 4)]).values():
        future.result(timeout=30)
    time.sleep(1)  # metadata of the new partitions
    fresh = make_store(account_entity)
    moved = next(i for i in ids if partition_for(i, 4) != partition_for(i, 3))
    with pytest.raises(PartitionCountChanged) as caught:
        fresh.load(moved)
    assert (caught.value.recorded, caught.value.actual) == (3, 4)
    assert "written with 3" in str(caught.value)
    with pytest.raises(PartitionCountChanged):
        fresh.append(moved, [OPENED], expected_version=0)
    # The new partition (it has no manifest of its own) is refused just the same.
    on_new = next(i for i in ids if partition_for(i, 4) == 3)
    with pytest.raises(PartitionCountChanged):
        fresh.load(on_new)


# -- 5. a snapshot of another topic ------------------------------------------------------


def _recreate(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_topics([topic], operation_timeout=30).values():
        future.result(timeout=30)
    deadline = time.monotonic() + 30
    while topic in admin.list_topics(timeout=10).topics:
        assert time.monotonic() < deadline, f"{topic} was not deleted"
        time.sleep(0.2)


def test_a_snapshot_of_a_recreated_topic_is_ignored(
    account_entity: EntityDescriptor[Any, Any],
    make_store: StoreFactory,
    kafka_bootstrap: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Observation 5: with the event topic recreated, load returned version 1000 of an
    empty topic, and new events stayed invisible."""
    writer = make_store(account_entity, snapshot_every=10)
    for _ in range(3):
        writer.append("acc-1", [OPENED, *[deposit("1.00")] * 9])
    writer.close()
    assert writer.stats.snapshots_written == 3
    _recreate(kafka_bootstrap, writer.topic)  # the snapshot topic is kept
    with caplog.at_level(logging.INFO, logger="esgen.store"):
        fresh = make_store(account_entity)
        assert fresh.version("acc-1") == 0
    assert fresh.stats.snapshots_ignored >= 1
    assert "another" in caplog.text and "topic id" in caplog.text
    fresh.append("acc-1", [OPENED, deposit("2.00")])
    assert make_store(account_entity).load("acc-1").balance == D("2.00")


def test_a_snapshot_beyond_the_end_of_the_log_is_ignored(
    account_entity: EntityDescriptor[Any, Any], make_store: StoreFactory, kafka_bootstrap: str
) -> None:
    store = make_store(account_entity)
    store.append("acc-1", [OPENED])
    state = account.replay("acc-1", [OPENED, *[deposit("1.00")] * 999])
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(
        store.snapshot_topic,
        store.serde.encode_state(state),
        b"acc-1",
        partition=0,
        headers=store.snapshots.headers(1000, 0, 5000, store.topic_info.topic_id or ""),
    )
    assert producer.flush(30) == 0
    fresh = make_store(account_entity)
    assert fresh.version("acc-1") == 1
    assert fresh.stats.snapshots_ignored == 1


# -- 7. nothing raises after the events are stored -----------------------------------------


def test_a_snapshot_the_registry_cannot_serve_is_skipped_not_raised(
    account_entity: EntityDescriptor[Any, Any], make_store: StoreFactory, registry_url: str
) -> None:
    """Observation 7: an append reaching snapshot_every with the registry down raised
    RegistryError although its events were stored; close() raised too."""
    with failing_proxy(registry_url, fail=lambda path: ".snapshots" in path) as url:
        store = make_store(account_entity, registry=url, snapshot_every=2)
        store.append("acc-1", [OPENED])  # the event schemas are looked up (and kept)
        positions = store.append("acc-1", [deposit("3.00")])  # a snapshot is due
        assert [p.version for p in positions] == [2]
        assert store.stats.snapshots_skipped == 1
        assert store.stats.snapshots_written == 0
        store.append("acc-1", [deposit("1.00")])
        assert store.stats.snapshots_skipped == 2
        store.close()  # its snapshot cannot be made either: logged, not raised
    assert store.stats.snapshots_skipped == 3
    assert make_store(account_entity).load("acc-1").balance == D("4.00")


def test_a_deleted_snapshot_topic_means_appends_without_snapshots(
    account_entity: EntityDescriptor[Any, Any], make_store: StoreFactory, kafka_bootstrap: str
) -> None:
    """Observation 7: with the snapshot topic deleted, the first append blocked 30 s, then
    every append raised a raw cimpl.KafkaException after storing its events."""
    store = make_store(account_entity, snapshot_every=1, timeout=20.0)
    store.append("acc-1", [OPENED])
    assert store.stats.snapshots_written == 1
    _recreate(kafka_bootstrap, store.snapshot_topic)  # deleted (and not created again)
    began = time.monotonic()
    for _ in range(3):
        store.append("acc-1", [deposit("1.00")])
    assert time.monotonic() - began < 20, "appends waited for the missing topic"
    assert store.stats.snapshots_skipped == 3
    assert store.version("acc-1") == 4
    store.close()


# -- 8. records that are not events --------------------------------------------------------


def test_a_foreign_record_is_dead_lettered_and_the_entity_stays_usable(
    account_entity: EntityDescriptor[Any, Any],
    make_store: StoreFactory,
    kafka_bootstrap: str,
    new_topic: Any,
) -> None:
    """Observation 8: one record that is not an event made the entity unusable forever."""
    store = make_store(account_entity)
    store.append("acc-1", [OPENED])
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(store.topic, b'{"not": "avro"}', b"acc-1", partition=0)
    producer.produce(store.topic, None, b"acc-1", partition=0)  # a tombstone
    assert producer.flush(30) == 0
    store.append("acc-1", [deposit("2.50")])
    fresh = make_store(account_entity)
    assert fresh.load("acc-1").balance == D("2.50")
    assert [m.version for _, m in fresh.read("acc-1")] == [1, 2]
    assert fresh.stats.foreign_records == 4  # two records, seen by load and by read
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": uuid.uuid4().hex})
    consumer.assign([TopicPartition(dead_letter_topic(store.topic), 0, 0)])
    letters = []
    try:
        while len(letters) < 2:
            msg = consumer.poll(10)
            assert msg is not None, f"{len(letters)} dead letter(s) found"
            letters.append(hdr.header_map(msg.headers()))
    finally:
        consumer.close()
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        for future in admin.delete_topics([dead_letter_topic(store.topic)]).values():
            future.result(timeout=30)
    assert {letter["esgen.dlq.offset"] for letter in letters} == {"2", "3"}
    assert "without the Confluent wire-format framing" in letters[0]["esgen.dlq.error"]
    assert "tombstone" in letters[1]["esgen.dlq.error"]
    assert letters[0]["esgen.dlq.consumer"] == "event store of Account"


def test_an_event_that_cannot_be_decoded_stops_the_load_naming_it(
    account_entity: EntityDescriptor[Any, Any], make_store: StoreFactory, kafka_bootstrap: str
) -> None:
    store = make_store(account_entity)
    store.append("acc-1", [OPENED])
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    headers = [(hdr.H_TYPE, b"com.example.bank.MoneyDeposited")]
    producer.produce(
        store.topic, frame(2_000_000_000, b"\x00"), b"acc-1", partition=0, headers=headers
    )
    assert producer.flush(30) == 0
    with pytest.raises(DecodeError) as caught:
        make_store(account_entity).load("acc-1")
    message = str(caught.value)
    assert f"{store.topic}[0]@2" in message
    assert "schema id 2000000000" in message
    assert "[com.example.bank.MoneyDeposited]" in message
    assert "make today's definitions read it" in message


def test_entity_ids_with_control_characters_are_refused(
    account_entity: EntityDescriptor[Any, Any], make_store: StoreFactory
) -> None:
    """Keys starting with \\x00 are esgen's own (the manifest): no entity can take one."""
    store = make_store(account_entity)
    with pytest.raises(ValueError, match="control characters"):
        store.append("\x00esgen.manifest", [OPENED])
    with pytest.raises(ValueError, match="control characters"):
        store.load("acc\n1")


def test_readers_of_the_stores_topic_reach_its_end(
    account_entity: EntityDescriptor[Any, Any],
    make_store: StoreFactory,
    kafka_bootstrap: str,
    registry_url: str,
    unique_name: Any,
) -> None:
    """Each append is a transaction whose commit marker takes the offset after its last
    event: a projection and `esgen tail --until-end` must still see the end."""
    store = make_store(account_entity)
    store.append("acc-1", [OPENED, deposit("4.00")])
    store.append("acc-1", [deposit("1.00")])
    model = InMemoryModelStore()
    runner = ProjectionRunner(
        Balances(),
        model,
        group_id=unique_name("group"),
        bootstrap=kafka_bootstrap,
        registry=registry_url,
        topics={account.ENTITY: store.topic},
    )
    outcome: list[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(runner.run(until_caught_up=True)))
    thread.start()
    thread.join(timeout=60)
    caught_up = not thread.is_alive()
    runner.stop()
    thread.join()
    runner.close()
    assert caught_up, "the projection never saw the end of the topic"
    assert outcome[0].processed == 3
    assert model.snapshot("balance/") == {"balance/acc-1": D("5.00")}
    env = {**os.environ, "ESGEN_BOOTSTRAP": kafka_bootstrap, "ESGEN_REGISTRY_URL": registry_url}
    tail = subprocess.run(
        [
            str(Path(sys.executable).parent / "esgen"),
            "tail",
            "generated.bank.account",
            "--topic",
            store.topic,
            "--until-end",
            "--from-beginning",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert tail.returncode == 0, tail.stderr
    assert tail.stdout.count("acc-1") == 3
