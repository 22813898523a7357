"""Projections on the real broker and registry: balances, restarts, redelivery, dead
letters, a group of two runners and replay."""

from __future__ import annotations

import contextlib
import datetime
import decimal
import sqlite3
import struct
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from esgen.runtime import deadletter
from esgen.runtime.errors import RegistryError
from esgen.runtime.meta import EventMeta
from esgen.runtime.models import InMemoryModelStore, ModelStore, ReadModel, SqliteModelStore
from esgen.runtime.projections import Projection, ProjectionError, ProjectionRunner, handles
from generated.bank import account
from generated.shop import order
from tests.runtime.projection_support import (
    Balances,
    EventProducer,
    balances_of,
    continuation,
    headers_of,
    history,
    read_topic,
    wait_for,
)

pytestmark = [pytest.mark.kafka, pytest.mark.registry]


@pytest.fixture
def make_runner(kafka_bootstrap: str, registry_url: str, unique_name: Callable[[str], str]) -> Any:
    runners: list[ProjectionRunner] = []

    def make(topic: str, store: ModelStore, group: str | None = None, **kw: Any) -> Any:
        runner = ProjectionRunner(
            kw.pop("projection", Balances()),
            store,
            group_id=group or unique_name("group"),
            bootstrap=kafka_bootstrap,
            registry=registry_url,
            topics={account.ENTITY: topic, **kw.pop("topics", {})},
            **kw,
        )
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.close()
    # Dead-letter topics the runners created: the shared broker keeps no leftovers.
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    doomed = sorted({f"{topic}.dlq" for runner in runners for topic in runner.topics})
    if doomed:  # those never created fail with UNKNOWN_TOPIC_OR_PART, which is fine
        for future in admin.delete_topics(doomed, operation_timeout=30).values():
            with contextlib.suppress(Exception):
                future.result(timeout=30)


def test_balances_in_memory(
    kafka_bootstrap: str, registry_url: str, new_topic: Callable[..., str], make_runner: Any
) -> None:
    topic = new_topic("accounts", partitions=2)
    events = history(accounts=5, per_account=8)
    EventProducer(kafka_bootstrap, registry_url, topic).send(events.events)
    store = InMemoryModelStore()
    stats = make_runner(topic, store).run(until_caught_up=True)
    model = store.snapshot()
    assert balances_of(model) == events.balances()
    assert model["accounts"] == 5
    assert model["owner/acc-3"] == "owner 3"
    assert (stats.processed, stats.skipped, stats.dead_lettered) == (40, 0, 0)


def test_restart_resumes_without_double_counting(
    kafka_bootstrap: str,
    registry_url: str,
    new_topic: Callable[..., str],
    make_runner: Any,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    topic = new_topic("accounts", partitions=3)
    producer = EventProducer(kafka_bootstrap, registry_url, topic)
    events = history(accounts=12, per_account=25)  # 300 events
    producer.send(events.events)
    group = unique_name("group")
    db = tmp_path / "model.db"

    first = make_runner(topic, SqliteModelStore(db), group, batch_size=20)
    stopped = first.run(max_events=90)
    first.close()
    assert 90 <= stopped.processed < 300  # stopped mid-stream

    more = continuation(events, per_account=2)  # 24 more while nobody runs
    producer.send(more.events)
    store = SqliteModelStore(db)
    second = make_runner(topic, store, group, batch_size=20)
    resumed = second.run(until_caught_up=True)
    expected = events.balances()
    for entity_id in expected:
        expected[entity_id] += 6
    assert balances_of(store.snapshot()) == expected
    assert store.get("accounts") == 12
    assert stopped.processed + resumed.processed == 324
    assert resumed.skipped == stopped.dead_lettered == resumed.dead_lettered == 0


def test_redelivered_and_duplicated_events_are_skipped(
    kafka_bootstrap: str,
    registry_url: str,
    new_topic: Callable[..., str],
    make_runner: Any,
    tmp_path: Path,
) -> None:
    topic = new_topic("accounts", partitions=2)
    producer = EventProducer(kafka_bootstrap, registry_url, topic)
    events = history(accounts=4, per_account=6)
    producer.send(events.events)
    # A producer that retried after a lost acknowledgement wrote some events twice.
    producer.send(events.events[5:9])
    db = tmp_path / "model.db"
    store = SqliteModelStore(db)
    stats = make_runner(topic, store).run(until_caught_up=True)
    assert (stats.processed, stats.skipped) == (24, 4)
    assert balances_of(store.snapshot()) == events.balances()

    # A crash after the model committed but before Kafka's offsets did: everything comes
    # again (here: a group with no offsets, a model that lost its offset bookkeeping).
    store.close()

    with sqlite3.connect(db) as connection:
        connection.execute("DELETE FROM esgen_offsets")
    store = SqliteModelStore(db)
    again = make_runner(topic, store).run(until_caught_up=True)
    assert (again.processed, again.skipped) == (0, 28)
    assert balances_of(store.snapshot()) == events.balances()


def test_poison_records_go_to_the_dead_letter_topic(
    kafka_bootstrap: str,
    registry_url: str,
    new_topic: Callable[..., str],
    make_runner: Any,
) -> None:
    topic = new_topic("accounts")
    producer = EventProducer(kafka_bootstrap, registry_url, topic)
    events = history(accounts=2, per_account=4)
    producer.send(events.events[:4])
    producer.raw("acc-0", b"\xde\xad\xbe\xef garbage", [("esgen.version", b"99")])
    producer.raw("acc-1", b"\x07\x00\x00\x00\x01body")  # bad magic byte
    producer.raw("acc-1", b"\x00" + struct.pack(">I", 987_654_321) + b"\x02")  # unknown id
    producer.send(events.events[4:])
    store = InMemoryModelStore()
    runner = make_runner(topic, store)
    stats = runner.run(until_caught_up=True)

    assert (stats.processed, stats.dead_lettered) == (8, 3)
    assert balances_of(store.snapshot()) == events.balances()
    letters = read_topic(kafka_bootstrap, f"{topic}.dlq", expected=3)
    assert len(letters) == 3
    first, second, third = (headers_of(m) for m in letters)
    assert [m.offset() for m in letters] == [0, 1, 2]
    assert first[deadletter.H_STAGE] == "decode"
    assert first[deadletter.H_ERROR_TYPE] == "DecodeError"
    assert first[deadletter.H_TOPIC] == topic
    assert first[deadletter.H_PARTITION] == "0"
    assert first[deadletter.H_OFFSET] == "4"
    assert first["esgen.version"] == "99"  # the original headers are kept
    assert "magic byte" in first[deadletter.H_ERROR]
    assert "magic byte 7" in second[deadletter.H_ERROR]
    assert "987654321" in third[deadletter.H_ERROR]
    assert letters[0].value() == b"\xde\xad\xbe\xef garbage"
    assert letters[0].key() == b"acc-0"
    assert "balances" in first[deadletter.H_CONSUMER]


def test_a_failing_handler_dead_letters_its_event_and_undoes_its_writes(
    kafka_bootstrap: str,
    registry_url: str,
    new_topic: Callable[..., str],
    make_runner: Any,
    tmp_path: Path,
) -> None:
    topic = new_topic("accounts")
    producer = EventProducer(kafka_bootstrap, registry_url, topic)
    producer.send(
        [
            ("acc-1", 1, account.AccountOpened(owner="Ann")),
            ("acc-1", 2, account.MoneyDeposited(amount=decimal.Decimal("10.00"))),
            ("acc-1", 3, account.MoneyWithdrawn(amount=decimal.Decimal("25.00"))),  # raises
            ("acc-1", 4, account.MoneyDeposited(amount=decimal.Decimal("1.50"))),
        ]
    )
    for store in (InMemoryModelStore(), SqliteModelStore(tmp_path / "m.db")):
        stats = make_runner(topic, store).run(until_caught_up=True)
        assert (stats.processed, stats.dead_lettered) == (3, 1)
        assert store.get("balance/acc-1") == decimal.Decimal("11.50")
    letters = read_topic(kafka_bootstrap, f"{topic}.dlq", expected=1)
    assert len(letters) == 1  # both runs are the projection "balances": one dead letter
    headers = headers_of(letters[0])
    assert headers[deadletter.H_STAGE] == "handle"
    assert headers[deadletter.H_ERROR_TYPE] == "ValueError"
    assert headers[deadletter.H_ERROR] == "acc-1 overdrawn: -15.00"
    assert headers[deadletter.H_OFFSET] == "2"
    assert headers["esgen.type"] == "com.example.bank.MoneyWithdrawn"


def test_a_dead_letter_that_cannot_be_written_stops_the_runner(
    kafka_bootstrap: str,
    registry_url: str,
    new_topic: Callable[..., str],
    make_runner: Any,
) -> None:
    topic = new_topic("accounts")
    producer = EventProducer(kafka_bootstrap, registry_url, topic)
    producer.send(history(accounts=1, per_account=2).events)
    producer.raw("acc-0", b"garbage")
    store = InMemoryModelStore()
    # The dead-letter producer talks to a port where no broker listens: delivery times out
    # (the topic is created and read through the admin and reader, on the real broker).
    runner = make_runner(
        topic,
        store,
        producer_config={"bootstrap.servers": "127.0.0.1:1", "message.timeout.ms": 2000},
    )
    with pytest.raises(deadletter.DeadLetterError, match="dead letters could not be written"):
        runner.run(until_caught_up=True)
    assert store.offsets() == {}  # the batch did not commit: it will come again
    assert store.snapshot() == {}


def test_two_runners_in_one_group_split_partitions_exactly(
    kafka_bootstrap: str,
    registry_url: str,
    new_topic: Callable[..., str],
    make_runner: Any,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    topic = new_topic("accounts", partitions=3)
    producer = EventProducer(kafka_bootstrap, registry_url, topic)
    events = history(accounts=15, per_account=10)
    producer.send(events.events)
    group = unique_name("group")
    db = tmp_path / "shared.db"
    a = make_runner(topic, SqliteModelStore(db), group, batch_size=25)
    b = make_runner(topic, SqliteModelStore(db), group, batch_size=25)
    errors: list[BaseException] = []

    def run(runner: ProjectionRunner) -> None:
        try:
            runner.run()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(r,)) for r in (a, b)]
    threads[0].start()
    wait_for(lambda: a.stats.processed > 0, what="runner a to start")
    threads[1].start()  # joins the group: a rebalance hands some partitions to b
    more = continuation(events, per_account=4)
    wait_for(lambda: len(b._assigned) > 0, what="runner b to get partitions")
    producer.send(more.events)
    check = SqliteModelStore(db)
    total = len(events.events) + len(more.events)
    wait_for(lambda: sum(check.offsets().values()) == total, what="all records applied")
    a.stop()
    b.stop()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert a.stats.processed > 0 and b.stats.processed > 0
    assert a.stats.processed + b.stats.processed == total
    expected = {k: v + 12 for k, v in events.balances().items()}
    assert balances_of(check.snapshot()) == expected


def test_replay_rebuilds_the_same_model(
    kafka_bootstrap: str,
    registry_url: str,
    new_topic: Callable[..., str],
    make_runner: Any,
    tmp_path: Path,
) -> None:
    topic = new_topic("accounts", partitions=2)
    producer = EventProducer(kafka_bootstrap, registry_url, topic)
    events = history(accounts=6, per_account=7)
    producer.send(events.events)
    producer.raw("acc-0", b"not an event")
    store = SqliteModelStore(tmp_path / "live.db")
    make_runner(topic, store).run(until_caught_up=True)
    live = store.snapshot()

    fresh = SqliteModelStore(tmp_path / "fresh.db")
    replaying = make_runner(topic, fresh)
    stats = replaying.replay()
    assert fresh.snapshot() == live
    assert (stats.processed, stats.dead_lettered) == (42, 1)
    assert fresh.offsets() == store.offsets()
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": replaying.group_id})
    committed = consumer.committed([TopicPartition(topic, p) for p in (0, 1)], timeout=10)
    consumer.close()
    assert all(tp.offset < 0 for tp in committed)  # a replay leaves the group's offsets alone

    # Replaying into the live store itself drops it first: same model, nothing doubled.
    again = make_runner(topic, store).replay()
    assert again.processed == 42
    assert store.snapshot() == live


def test_a_missing_topic_is_a_clear_error(
    make_runner: Any, unique_name: Callable[[str], str]
) -> None:
    runner = make_runner(unique_name("nope"), InMemoryModelStore())
    with pytest.raises(ProjectionError, match="does not exist"):
        runner.run(until_caught_up=True)


def test_an_unreachable_registry_stops_the_runner_instead_of_dead_lettering(
    kafka_bootstrap: str,
    registry_url: str,
    new_topic: Callable[..., str],
    make_runner: Any,
) -> None:
    topic = new_topic("accounts")
    EventProducer(kafka_bootstrap, registry_url, topic).send(
        history(accounts=1, per_account=2).events
    )
    store = InMemoryModelStore()
    runner = ProjectionRunner(
        Balances(),
        store,
        group_id=f"{topic}-group",
        bootstrap=kafka_bootstrap,
        registry={"url": "http://127.0.0.1:1", "max.retries": 0},  # nothing listens there
        topics={account.ENTITY: topic},
    )
    with pytest.raises(ProjectionError, match="cannot reach the schema registry") as caught:
        runner.run(until_caught_up=True)
    runner.close()
    assert isinstance(caught.value.__cause__, RegistryError)
    assert runner.stats.dead_lettered == 0
    assert store.offsets() == {} and store.snapshot() == {}


class Activity(Projection):
    """Reads two entity types; the same entity id on both topics is two streams."""

    entities = (account.ENTITY, order.ENTITY)

    @handles(account.AccountOpened)
    def opened(self, model: ReadModel, event: Any, meta: EventMeta) -> None:
        model.put(f"account/{meta.entity_id}", event.owner)

    @handles(order.ItemAdded)
    def item_added(self, model: ReadModel, event: Any, meta: EventMeta) -> None:
        key = f"items/{meta.entity_id}"
        model.put(key, model.get(key, 0) + event.item.quantity)


def test_a_projection_over_two_entity_types(
    kafka_bootstrap: str,
    registry_url: str,
    new_topic: Callable[..., str],
    make_runner: Any,
) -> None:
    accounts, orders = new_topic("accounts"), new_topic("orders", partitions=2)
    EventProducer(kafka_bootstrap, registry_url, accounts).send(
        [("e-1", 1, account.AccountOpened(owner="Ann"))]
    )
    item = order.LineItem(
        sku="SKU-1", quantity=2, unit_price=account.Money(amount=decimal.Decimal("1.50"))
    )
    created = order.OrderCreated(
        customer_id=uuid.UUID(int=1), created_at=datetime.datetime(2026, 1, 1)
    )
    EventProducer(kafka_bootstrap, registry_url, orders, order.ENTITY).send(
        [
            ("e-1", 1, created),  # version 1 of order e-1, not a redelivery of account e-1
            ("e-1", 2, order.ItemAdded(item=item)),
            ("e-1", 3, order.ItemAdded(item=item)),
        ]
    )
    store = InMemoryModelStore()
    runner = make_runner(accounts, store, projection=Activity(), topics={order.ENTITY: orders})
    stats = runner.run(until_caught_up=True)
    assert (stats.processed, stats.skipped) == (4, 0)
    assert store.snapshot() == {"account/e-1": "Ann", "items/e-1": 4}


class Ledger(Projection):
    """Keeps a SQL table of its own, in the same SQLite transaction as the bookkeeping."""

    entities = (account.ENTITY,)

    def setup(self, model: Any) -> None:
        model.connection.execute(
            "CREATE TABLE IF NOT EXISTS ledger (account TEXT, version INT, amount TEXT)"
        )

    def clear(self, model: Any) -> None:
        model.connection.execute("DROP TABLE IF EXISTS ledger")

    @handles(account.MoneyDeposited)
    def deposited(self, model: Any, event: Any, meta: EventMeta) -> None:
        model.connection.execute(
            "INSERT INTO ledger VALUES (?, ?, ?)",
            (meta.entity_id, meta.version, str(event.amount)),
        )


def test_a_projection_with_its_own_sql_tables_replays_them(
    kafka_bootstrap: str,
    registry_url: str,
    new_topic: Callable[..., str],
    make_runner: Any,
    tmp_path: Path,
) -> None:
    topic = new_topic("accounts")
    producer = EventProducer(kafka_bootstrap, registry_url, topic)
    events = history(accounts=3, per_account=4)
    producer.send(events.events)
    producer.send(events.events[4:6])  # duplicates: skipped, not inserted twice
    store = SqliteModelStore(tmp_path / "ledger.db")
    make_runner(topic, store, projection=Ledger()).run(until_caught_up=True)

    def rows() -> list[tuple[str, int, str]]:
        with sqlite3.connect(tmp_path / "ledger.db") as connection:
            return connection.execute("SELECT * FROM ledger ORDER BY 1, 2").fetchall()

    live = rows()
    deposits = [e for e in events.events if isinstance(e[2], account.MoneyDeposited)]
    assert len(live) == len(deposits) == 6
    stats = make_runner(topic, store, projection=Ledger()).replay()
    assert stats.skipped == 2
    assert rows() == live


def test_a_crash_before_the_kafka_commit_resumes_from_the_models_offsets(
    kafka_bootstrap: str,
    registry_url: str,
    new_topic: Callable[..., str],
    make_runner: Any,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    topic = new_topic("accounts", partitions=2)
    producer = EventProducer(kafka_bootstrap, registry_url, topic)
    events = history(accounts=4, per_account=5)
    producer.send(events.events)
    group = unique_name("group")
    db = tmp_path / "model.db"
    crashed = make_runner(topic, SqliteModelStore(db), group)
    crashed._commit_kafka = lambda *args, **kwargs: None  # dies before every Kafka commit
    crashed.run(until_caught_up=True)
    assert crashed.stats.processed == 20

    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group})
    committed = consumer.committed([TopicPartition(topic, p) for p in (0, 1)], timeout=10)
    consumer.close()
    assert all(tp.offset < 0 for tp in committed)  # the group never heard of any progress

    more = continuation(events, per_account=1)
    producer.send(more.events)
    store = SqliteModelStore(db)
    resumed = make_runner(topic, store, group).run(until_caught_up=True)
    assert (resumed.processed, resumed.skipped) == (4, 0)  # only the new ones, none again
    expected = {k: v + 3 for k, v in events.balances().items()}
    assert balances_of(store.snapshot()) == expected
