"""The event partition's leader killed (SIGKILL) in the middle of a stream of appends.

On a private 3-broker cluster (replication factor 3, ``min.insync.replicas`` 2; the
store's producer writes with ``acks=all``), the leader of the entity topic's partition is
killed twice while a thread keeps appending: once the first leader, and after it has been
restarted and caught up, the leader that replaced it. Every acknowledged event must then
be stored exactly once, where ``append`` said, and nothing that was not acknowledged may
appear; a plain consumer reads the partition back to check it. Written against the
store's public API (``append``, ``load``) only: how an append reaches Kafka may change.
"""

from __future__ import annotations

import dataclasses
import decimal
import functools
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource  # type: ignore[attr-defined]

from esgen.dev.cluster import Cluster
from esgen.runtime import EventStore, Position, wire
from esgen.runtime.subjects import snapshot_topic
from generated.bank import account

D = decimal.Decimal
DOCS = Path(__file__).parents[2] / "docs" / "operations.md"
ENTITIES = ("acc-1", "acc-2", "acc-3")
BATCH = 10
KILLS = 2
APPENDS_BETWEEN = 15
"""Appends acknowledged before each kill and after each recovery step."""


@dataclasses.dataclass
class Appender:
    """Appends batches of deposits round-robin to ``ENTITIES`` until told to stop."""

    store: EventStore[Any, Any]
    acknowledged: list[tuple[str, Position]] = dataclasses.field(default_factory=list)
    spans: list[tuple[float, float]] = dataclasses.field(default_factory=list)
    failures: list[BaseException] = dataclasses.field(default_factory=list)
    stop: threading.Event = dataclasses.field(default_factory=threading.Event)

    def run(self) -> None:
        deposit = account.MoneyDeposited(amount=D("1.00"))
        turn = 0
        while not self.stop.is_set():
            began = time.monotonic()
            entity_id = ENTITIES[turn % len(ENTITIES)]
            try:
                positions = self.store.append(entity_id, [deposit] * BATCH)
            except BaseException as exc:  # any failure fails the test
                self.failures.append(exc)
                return
            self.acknowledged.extend((entity_id, position) for position in positions)
            self.spans.append((began, time.monotonic()))
            turn += 1

    def appends(self) -> int:
        return len(self.spans)

    def wait_for(self, more: int, timeout: float = 120) -> None:
        """Until ``more`` appends beyond the current count are acknowledged."""
        target = self.appends() + more
        deadline = time.monotonic() + timeout
        while self.appends() < target:
            assert not self.failures, self.failures
            assert time.monotonic() < deadline, f"appends stalled at {self.appends()}"
            time.sleep(0.05)

    def in_flight_at(self, moment: float) -> bool:
        return any(began < moment < ended for began, ended in self.spans)


def _wait(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _led_by_another(cluster: Cluster, topic: str, old: int) -> bool:
    return cluster.leader(topic) not in (-1, old)


def _read_back(bootstrap: str, topic: str) -> list[tuple[str, int, str, int]]:
    """(entity id, version, event id, offset) of every record, read as a plain consumer."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"{topic}-check",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    _, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
    consumer.assign([TopicPartition(topic, 0, 0)])
    records: list[tuple[str, int, str, int]] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            error = msg.error()
            if error is not None:
                assert error.code() == KafkaError._PARTITION_EOF, error
                if consumer.position([TopicPartition(topic, 0)])[0].offset >= high:
                    return records
                continue
            headers = wire.header_map(msg.headers())
            key, offset = msg.key(), msg.offset()
            assert key is not None and offset is not None
            version = int(headers[wire.H_VERSION])
            records.append((key.decode(), version, headers[wire.H_EVENT_ID], offset))
        raise AssertionError(f"read {len(records)} records, not to the end ({high})")
    finally:
        consumer.close()


def test_leader_killed_during_appends_loses_and_duplicates_nothing(
    kafka_cluster: Cluster, registry_url: str, unique_name: Callable[[str], str]
) -> None:
    cluster = kafka_cluster
    entity = dataclasses.replace(account.ENTITY, topic=unique_name("leader-kill"))
    # Created ahead, as an operator would, and known to every node before the store starts:
    # the store's reader does not yet retry a partition its metadata lacks for a moment
    # after creation (_UNKNOWN_PARTITION), which a new topic on a cluster can produce.
    cluster.create_topic(entity.topic, settings={"retention.ms": "-1"})
    cluster.create_topic(snapshot_topic(entity.topic), settings={"cleanup.policy": "compact"})
    store: EventStore[Any, Any] = EventStore(
        entity,
        cluster.bootstrap,
        registry_url,
        auto_register=True,
        partitions=1,
        snapshot_every=100_000,
    )
    try:
        appender = _append_through_two_leader_kills(cluster, store)
    finally:
        store.close(snapshot=False)
    records = _read_back(cluster.bootstrap, entity.topic)

    stored = Counter((entity_id, version) for entity_id, version, _, _ in records)
    duplicated = {key: n for key, n in stored.items() if n > 1}
    assert not duplicated, f"stored more than once: {sorted(duplicated)[:10]}"
    assert len({event_id for _, _, event_id, _ in records}) == len(records)
    at_offset = {offset: (entity_id, version) for entity_id, version, _, offset in records}
    lost = [
        (entity_id, p)
        for entity_id, p in appender.acknowledged
        if at_offset.get(p.offset) != (entity_id, p.version)
    ]
    assert not lost, f"{len(lost)} acknowledged events are not where append said: {lost[:5]}"
    # nothing but the acknowledged events (and the accounts' openings) was stored
    assert len(records) == len(appender.acknowledged) + len(ENTITIES)
    for entity_id in ENTITIES:
        versions = sorted(v for e, v, _, _ in records if e == entity_id)
        assert versions == list(range(1, len(versions) + 1)), f"{entity_id}: gaps or reorders"

    fresh: EventStore[Any, Any] = EventStore(entity, cluster.bootstrap, registry_url)
    try:
        for entity_id in ENTITIES:
            deposits = sum(1 for e, p in appender.acknowledged if e == entity_id)
            assert fresh.load(entity_id).balance == D(deposits)
    finally:
        fresh.close(snapshot=False)


def _append_through_two_leader_kills(cluster: Cluster, store: EventStore[Any, Any]) -> Appender:
    topic = store.topic
    for entity_id in ENTITIES:
        store.append(entity_id, [account.AccountOpened(owner=entity_id)])
    # the cluster's defaults made the event topic what this test is about
    cluster.wait_in_sync(topic)
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    described = admin.describe_configs([ConfigResource("topic", topic)])
    settings = next(iter(described.values())).result(timeout=30)
    assert settings["min.insync.replicas"].value == "2"

    appender = Appender(store)
    thread = threading.Thread(target=appender.run, name="appender")
    thread.start()
    killed: list[tuple[int, float]] = []
    try:
        appender.wait_for(APPENDS_BETWEEN)
        for _ in range(KILLS):
            leader = cluster.leader(topic)
            assert leader in cluster.nodes
            cluster.kill(leader)
            killed.append((leader, time.monotonic()))
            _wait(functools.partial(_led_by_another, cluster, topic, leader), "a new leader")
            appender.wait_for(APPENDS_BETWEEN)  # appends go on with one broker down
            cluster.restart(leader)
            cluster.wait_in_sync(topic)  # the restarted broker caught up with the leader
            appender.wait_for(APPENDS_BETWEEN)
    finally:
        appender.stop.set()
        thread.join(timeout=180)
    assert not thread.is_alive(), "the appender did not stop"
    assert not appender.failures, appender.failures
    assert len({node for node, _ in killed}) == KILLS, f"the same node led twice: {killed}"
    for node, moment in killed:
        assert appender.in_flight_at(moment), f"no append was in flight when node {node} died"
    return appender


def test_the_operations_docs_example_runs(
    kafka_cluster: Cluster, registry_url: str, unique_name: Callable[[str], str]
) -> None:
    """docs/operations.md's fixture example, on a topic of its own, leaves the cluster whole."""
    section = DOCS.read_text().split("### In tests", 1)[1]
    block = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    namespace: dict[str, Any] = {"__name__": "docs_example"}
    exec(compile(block.replace("account.ENTITY", "ENTITY"), str(DOCS), "exec"), namespace)
    namespace["ENTITY"] = dataclasses.replace(account.ENTITY, topic=unique_name("docs"))
    namespace["test_appends_go_on_while_the_leader_is_down"](kafka_cluster, registry_url)
    assert sorted(kafka_cluster.running()) == [1, 2, 3]
