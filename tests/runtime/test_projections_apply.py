"""The apply step of projections without Kafka: through ``testing.ProjectionFeed`` (what
users test with) and through ``Applier`` itself (what the runner calls)."""

from __future__ import annotations

import decimal
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from esgen.runtime.errors import DecodeError, RegistryError
from esgen.runtime.meta import EventMeta
from esgen.runtime.models import InMemoryModelStore, ModelStore, ReadModel, SqliteModelStore
from esgen.runtime.projections import Applier, DeadLetter, Projection, handles
from esgen.runtime.testing import ProjectionFeed, Undecodable
from generated.bank import account
from generated.shop import order
from tests.runtime.projection_support import Balances

D = decimal.Decimal
OPENED = account.AccountOpened(owner="Ann")


def deposit(amount: str) -> account.MoneyDeposited:
    return account.MoneyDeposited(amount=D(amount))


def withdraw(amount: str) -> account.MoneyWithdrawn:
    return account.MoneyWithdrawn(amount=D(amount))


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ModelStore]:
    made: ModelStore = (
        InMemoryModelStore() if request.param == "memory" else SqliteModelStore(tmp_path / "m.db")
    )
    yield made
    made.close()


def test_events_are_applied_in_one_batch_with_offsets_and_versions(store: ModelStore) -> None:
    feed = ProjectionFeed(Balances(), store)
    result = feed.events("acc-1", OPENED, deposit("10.00"), withdraw("2.25"))
    assert (result.processed, result.skipped, result.dead_letters) == (3, 0, [])
    assert result.next_offsets == {("bank.accounts", 0): 3}
    assert feed.model == {"accounts": 1, "balance/acc-1": D("7.75"), "owner/acc-1": "Ann"}
    assert store.offsets() == {("bank.accounts", 0): 3}
    tx = store.begin()
    assert tx.applied_version("bank.accounts", "acc-1") == 3
    tx.rollback()
    more = feed.events("acc-1", deposit("1.00"))  # the next batch goes on from there
    assert [r.meta.version for r in feed.records if r.meta] == [1, 2, 3, 4]
    assert more.next_offsets == {("bank.accounts", 0): 4}


def test_what_the_model_has_is_skipped_by_offset_and_by_version(store: ModelStore) -> None:
    feed = ProjectionFeed(Balances(), store)
    feed.events("acc-1", OPENED, deposit("10.00"))
    again = feed.redeliver(*feed.records)  # a rebalance: the same offsets again
    assert (again.processed, again.skipped) == (0, 2)
    # A producer retry stored version 2 twice, at a new offset: skipped by its version.
    retried = feed.events("acc-1", deposit("10.00"), deposit("5.00"), version=2)
    assert (retried.processed, retried.skipped) == (1, 1)
    assert feed.model["balance/acc-1"] == D("15.00")


def test_a_failing_handler_is_a_dead_letter_whose_writes_are_undone(store: ModelStore) -> None:
    feed = ProjectionFeed(Balances(), store)
    result = feed.events("acc-1", OPENED, deposit("10.00"), withdraw("25.00"), deposit("1.50"))
    assert (result.processed, len(result.dead_letters)) == (3, 1)
    (letter,) = result.dead_letters
    assert letter.stage == "handle"
    assert isinstance(letter.error, ValueError)
    assert str(letter.error) == "acc-1 overdrawn: -15.00"
    assert letter.record.offset() == 2
    # Balances writes the new balance before it raises: the savepoint undid it.
    assert feed.model["balance/acc-1"] == D("11.50")
    assert store.offsets() == {("bank.accounts", 0): 4}  # the batch is past the record


def test_undecodable_records_are_dead_letters_and_the_batch_goes_on() -> None:
    feed = ProjectionFeed(Balances())
    result = feed.events(
        "acc-1",
        OPENED,
        Undecodable(b"\xde\xad garbage"),
        Undecodable(None),
        Undecodable(b"\x00\x00\x00\x30\x39body"),
        Undecodable(b"\x00\x00\x00\x00\x01", reason="schema mismatch"),
        deposit("3.00"),
    )
    assert (result.processed, result.skipped) == (2, 0)
    assert [d.stage for d in result.dead_letters] == ["decode"] * 4
    assert all(isinstance(d.error, DecodeError) for d in result.dead_letters)
    assert [str(d.error) for d in result.dead_letters] == [
        "bank.accounts[0]@1: unknown magic byte -34 (the Confluent wire format starts with 0)",
        "bank.accounts[0]@2: the record has no value (a tombstone?)",
        "bank.accounts[0]@3: schema id 12345 is unknown",
        "bank.accounts[0]@4: schema mismatch",
    ]
    assert feed.model["balance/acc-1"] == D("3.00")
    assert feed.dead_letters == result.dead_letters


def test_handlers_see_the_read_model_not_the_bookkeeping(store: ModelStore) -> None:
    class Meddler(Projection):
        entities = (account.ENTITY,)

        @handles(account.AccountOpened)
        def opened(self, model: ReadModel, event: Any, meta: EventMeta) -> None:
            model.put("seen", sorted(n for n in dir(model) if not n.startswith("_")))

        @handles(account.MoneyDeposited)
        def deposited(self, model: Any, event: Any, meta: EventMeta) -> None:
            model.set_offset("bank.accounts", 0, 0)  # not there: the handler fails

    feed = ProjectionFeed(Meddler(), store)
    result = feed.events("acc-1", OPENED, deposit("1.00"))
    assert feed.model["seen"] == ["connection", "delete", "get", "items", "put"]
    (letter,) = result.dead_letters
    assert isinstance(letter.error, AttributeError)
    assert store.offsets() == {("bank.accounts", 0): 2}


def test_a_failing_before_commit_keeps_nothing_of_the_batch(store: ModelStore) -> None:
    feed = ProjectionFeed(Balances(), store)
    feed.events("acc-1", OPENED)
    applier = Applier(Balances(), store, {"bank.accounts": _decoded})
    applier.positions = store.offsets()
    records = [
        _Fed("bank.accounts", 0, 1, deposit("4.00"), 2),
        _Fed("bank.accounts", 0, 2, b"x", 3),
    ]

    def refuse(letters: list[DeadLetter]) -> None:
        assert [(d.stage, d.record.offset()) for d in letters] == [("decode", 2)]
        raise OSError("the dead letters could not be written")

    with pytest.raises(OSError, match="could not be written"):
        applier.apply(records, refuse)
    assert store.offsets() == {("bank.accounts", 0): 1}
    assert store.get("balance/acc-1") == D("0.00")
    assert applier.positions == {("bank.accounts", 0): 1}  # only a commit moves them
    written: list[DeadLetter] = []
    result = applier.apply(records, written.extend)
    assert (result.processed, [d.record.offset() for d in written]) == (1, [2])
    assert store.get("balance/acc-1") == D("4.00")
    assert applier.positions == {("bank.accounts", 0): 3}


def test_a_registry_error_rolls_the_batch_back_and_propagates(store: ModelStore) -> None:
    def registry_down(record: Any) -> tuple[list[Any], EventMeta]:
        if record.offset() == 1:
            raise RegistryError("cannot reach the schema registry at http://127.0.0.1:9")
        return _decoded(record)

    applier = Applier(Balances(), store, {"bank.accounts": registry_down})
    records = [
        _Fed("bank.accounts", 0, 0, OPENED, 1),
        _Fed("bank.accounts", 0, 1, deposit("1"), 2),
    ]
    with pytest.raises(RegistryError):
        applier.apply(records)
    assert store.snapshot() == {} and store.offsets() == {}  # not dead-lettered, not applied


def test_the_same_entity_id_on_two_topics_is_two_streams() -> None:
    class Activity(Projection):
        entities = (account.ENTITY, order.ENTITY)

        @handles(account.AccountOpened)
        def opened(self, model: ReadModel, event: Any, meta: EventMeta) -> None:
            model.put(f"account/{meta.entity_id}", meta.version)

        @handles(order.OrderCancelled)
        def cancelled(self, model: ReadModel, event: Any, meta: EventMeta) -> None:
            model.put(f"order/{meta.entity_id}", meta.version)

    feed = ProjectionFeed(Activity(), topics={order.ENTITY: "orders-here"})
    feed.events("e-1", OPENED)
    result = feed.events("e-1", order.OrderCancelled(reason="late"))
    assert result.next_offsets == {("orders-here", 0): 1}
    assert feed.model == {"account/e-1": 1, "order/e-1": 1}
    with pytest.raises(TypeError, match="pass entity= to say whose topic"):
        feed.events("e-1", Undecodable(b"?"))
    letters = feed.events("e-1", Undecodable(b"?"), entity=order.ENTITY).dead_letters
    assert letters[0].record.topic() == "orders-here"
    with pytest.raises(TypeError, match="is not an event of an entity Activity reads"):
        feed.events("e-1", "not an event")


class Ledger(Projection):
    """Rows in a table of its own, in the model's SQLite transaction."""

    entities = (account.ENTITY,)

    def setup(self, model: ReadModel) -> None:
        model.connection.execute("CREATE TABLE IF NOT EXISTS ledger (id TEXT, v INT, amount TEXT)")

    def clear(self, model: ReadModel) -> None:
        model.connection.execute("DROP TABLE IF EXISTS ledger")

    @handles(account.MoneyDeposited, account.MoneyWithdrawn)
    def moved(self, model: ReadModel, event: Any, meta: EventMeta) -> None:
        sign = "-" if isinstance(event, account.MoneyWithdrawn) else ""
        model.connection.execute(
            "INSERT INTO ledger VALUES (?, ?, ?)",
            (meta.entity_id, meta.version, f"{sign}{event.amount}"),
        )
        if event.amount > 100:
            raise ValueError("too much")  # the row above must be undone with the savepoint


def test_a_replay_rebuilds_the_same_model_and_tables(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    feed = ProjectionFeed(Ledger(), SqliteModelStore(path))
    feed.events("acc-1", OPENED, deposit("5.00"), deposit("500.00"), withdraw("1.00"))
    feed.events("acc-2", OPENED, deposit("2.00"))

    def rows() -> list[tuple[str, int, str]]:
        with sqlite3.connect(path) as connection:
            return connection.execute("SELECT * FROM ledger ORDER BY 1, 2").fetchall()

    live = rows()
    assert live == [("acc-1", 2, "5.00"), ("acc-1", 4, "-1.00"), ("acc-2", 2, "2.00")]
    assert len(feed.dead_letters) == 1
    replayed = feed.replay()
    assert (replayed.processed, len(replayed.dead_letters)) == (5, 1)
    assert rows() == live


# -- records for Applier itself ------------------------------------------------------------


class _Fed:
    """A consumed record as the apply step reads it (what confluent's Message offers)."""

    def __init__(self, topic: str, partition: int, offset: int, event: Any, version: int) -> None:
        self._where = (topic, partition, offset)
        self.event = event
        self.version = version

    def topic(self) -> str:
        return self._where[0]

    def partition(self) -> int:
        return self._where[1]

    def offset(self) -> int:
        return self._where[2]

    def key(self) -> bytes:
        return b"acc-1"

    def value(self) -> bytes:
        return self.event if isinstance(self.event, bytes) else b"\x00\x00\x00\x00\x01"

    def headers(self) -> list[tuple[str, bytes]]:
        return []

    def timestamp(self) -> tuple[int, int]:
        return (1, 0)


def _decoded(record: Any) -> tuple[list[Any], EventMeta]:
    if isinstance(record.event, bytes):
        raise DecodeError("not an event")
    return [record.event], EventMeta("acc-1", record.version)
