"""Read-model stores (no Kafka): transactions, savepoints, bookkeeping, value types."""

from __future__ import annotations

import datetime
import decimal
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from esgen.runtime.models import (
    InMemoryModelStore,
    ModelError,
    ModelStore,
    SqliteModelStore,
    decode_value,
    encode_value,
)
from esgen.runtime.projections import Projection, handles
from generated.bank import account
from generated.shop import order


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ModelStore]:
    made: ModelStore = (
        InMemoryModelStore() if request.param == "memory" else SqliteModelStore(tmp_path / "m.db")
    )
    yield made
    made.close()


def test_commit_and_rollback(store: ModelStore) -> None:
    tx = store.begin()
    tx.put("a", 1)
    tx.put("b/1", {"x": [1, 2]})
    assert tx.get("a") == 1
    tx.set_applied_version("topic", "e1", 3)
    tx.set_offset("topic", 0, 10)
    tx.commit()
    tx = store.begin()
    tx.put("a", 2)
    tx.delete("b/1")
    tx.set_applied_version("topic", "e1", 4)
    tx.set_offset("topic", 0, 11)
    assert tx.get("b/1") is None
    tx.rollback()
    assert store.snapshot() == {"a": 1, "b/1": {"x": [1, 2]}}
    assert store.offsets() == {("topic", 0): 10}
    tx = store.begin()
    assert tx.applied_version("topic", "e1") == 3
    assert tx.applied_version("topic", "other") == 0
    tx.rollback()
    with pytest.raises(ModelError, match="already committed or rolled back"):
        tx.put("c", 1)


def test_savepoint_undoes_only_its_own_changes(store: ModelStore) -> None:
    tx = store.begin()
    tx.put("kept", 1)
    tx.put("changed", "before")
    with pytest.raises(RuntimeError), tx.savepoint():
        tx.put("changed", "inside")
        tx.put("new", 1)
        tx.delete("kept")
        tx.set_applied_version("t", "e", 9)
        raise RuntimeError("handler failed")
    with tx.savepoint():
        tx.put("after", True)
    tx.commit()
    assert store.snapshot() == {"after": True, "changed": "before", "kept": 1}


def test_offsets_only_move_forward_and_reset_forgets_everything(store: ModelStore) -> None:
    for offset in (5, 3):
        tx = store.begin()
        tx.set_offset("t", 1, offset)
        tx.commit()
    assert store.offsets() == {("t", 1): 5}
    tx = store.begin()
    tx.put("x", 1)
    tx.set_applied_version("t", "e", 1)
    tx.commit()
    store.reset()
    assert store.snapshot() == {} and store.offsets() == {}
    tx = store.begin()
    assert tx.applied_version("t", "e") == 0
    tx.rollback()


def test_items_by_prefix_sorted(store: ModelStore) -> None:
    tx = store.begin()
    for key in ("b/2", "a/1", "b/1", "b%_"):
        tx.put(key, key)
    tx.commit()
    tx = store.begin()
    tx.put("b/0", "new")
    assert [k for k, _ in tx.items("b/")] == ["b/0", "b/1", "b/2"]
    assert [k for k, _ in tx.items("b%")] == ["b%_"]
    tx.rollback()


def test_transactions_serialize_across_threads(store: ModelStore) -> None:
    def add() -> None:
        for _ in range(50):
            tx = store.begin()
            tx.put("n", tx.get("n", 0) + 1)
            tx.commit()

    threads = [threading.Thread(target=add) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.get("n") == 200


def test_sqlite_stores_on_one_file_share_the_model(tmp_path: Path) -> None:
    first = SqliteModelStore(tmp_path / "shared.db")
    second = SqliteModelStore(tmp_path / "shared.db")
    tx = first.begin()
    tx.put("k", decimal.Decimal("1.10"))
    tx.set_offset("t", 0, 7)
    tx.commit()
    assert second.get("k") == decimal.Decimal("1.10")
    assert second.offsets() == {("t", 0): 7}


def test_sqlite_value_types_round_trip() -> None:
    value = {
        "amount": decimal.Decimal("12.30"),
        "when": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        "day": datetime.date(2026, 1, 2),
        "id": uuid.UUID(int=7),
        "list": [1, "two", None, 3.5, True],
    }
    assert decode_value(encode_value(value)) == value
    with pytest.raises(ModelError, match="cannot hold object"):
        encode_value(object())


def test_sqlite_open_error_is_clear(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot open the read model"):
        SqliteModelStore(tmp_path / "no" / "such" / "dir" / "m.db")


def test_handlers_are_collected_and_checked() -> None:
    class Counts(Projection):
        entities = (account.ENTITY,)

        @handles(account.MoneyDeposited, account.MoneyWithdrawn)
        def money(self, model: object, event: object, meta: object) -> None:
            pass

    assert Counts.name == "Counts"
    counts = Counts()
    assert counts.handler_for(account.MoneyDeposited) == counts.money
    assert counts.handler_for(account.AccountOpened) is None

    with pytest.raises(TypeError, match="handles ItemAdded, which are events of none"):

        class Wrong(Projection):
            entities = (account.ENTITY,)

            @handles(order.ItemAdded)
            def item(self, model: object, event: object, meta: object) -> None:
                pass


def test_preloaded_versions_read_like_the_others(store: ModelStore) -> None:
    tx = store.begin()
    tx.set_applied_version("t", "a", 4)
    tx.commit()
    tx = store.begin()
    tx.preload_versions("t", ["a", "b", "a"])
    assert (tx.applied_version("t", "a"), tx.applied_version("t", "b")) == (4, 0)
    tx.set_applied_version("t", "b", 1)
    tx.commit()
    tx = store.begin()
    tx.preload_versions("t", ["a", "b"])
    assert (tx.applied_version("t", "a"), tx.applied_version("t", "b")) == (4, 1)
    tx.rollback()
