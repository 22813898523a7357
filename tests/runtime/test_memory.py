"""The in-memory backend and the given/when/then helper (no services needed)."""

from __future__ import annotations

import dataclasses
import decimal
import doctest
from typing import Any

import pytest

from esgen.runtime import ConcurrencyError, EncodeError, InvariantViolation, memory, testing
from esgen.runtime.memory import InMemoryEventStore
from esgen.runtime.testing import given
from generated.bank import account

D = decimal.Decimal


@pytest.mark.parametrize("module", [memory, testing])
def test_docstring_examples_run(module: Any) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0


def test_same_rules_as_the_kafka_store() -> None:
    store: InMemoryEventStore[Any, Any] = InMemoryEventStore(account.ENTITY, partitions=4)
    positions = store.append(
        "acc-1",
        [account.AccountOpened(owner="Ann"), account.MoneyDeposited(amount=D("10.00"))],
        expected_version=0,
        correlation_id="c-1",
    )
    assert [p.version for p in positions] == [1, 2]
    assert [p.offset for p in positions] == [0, 1]
    with pytest.raises(InvariantViolation):
        store.append("acc-1", [account.MoneyWithdrawn(amount=D("10.01"))])
    with pytest.raises(
        ConcurrencyError, match="expected version 1, but the store is at version 2"
    ):
        store.append("acc-1", [account.AccountFrozen()], expected_version=1)
    with pytest.raises(EncodeError):
        store.append("acc-1", [account.MoneyDeposited(amount=D("1.001"))])
    assert store.version("acc-1") == 2
    assert store.load("acc-1").balance == D("10.00")
    metas = [meta for _, meta in store.read("acc-1")]
    assert [m.correlation_id for m in metas] == ["c-1", "c-1"]
    assert metas[0].timestamp is not None and metas[0].timestamp.microsecond % 1000 == 0
    # load returns a copy: changing it changes nothing stored.
    state = store.load("acc-1")
    state.tags.append("oops")
    assert store.load("acc-1").tags == []
    store.append("acc-1", [account.AccountAudited()])
    assert store.load("acc-1").version == 3
    assert store.load("acc-1").last_event_id == [m for _, m in store.read("acc-1")][-1].event_id


def test_given_when_then() -> None:
    opened = given(account.ENTITY, account.AccountOpened(owner="Ann"), entity_id="acc-9")

    def deposit_twice(state: Any) -> list[Any]:
        return [account.MoneyDeposited(amount=D("1.50"))] * 2

    outcome = opened.when(deposit_twice).then(
        events=[account.MoneyDeposited(amount=D("1.50"))] * 2,
        check=lambda s: s.balance == D("3.00"),
    )
    expected = dataclasses.replace(account.initial_state("acc-9"), owner="Ann", balance=D("3.00"))
    outcome.then(state=expected)
    opened.when(account.MoneyWithdrawn(amount=D("1"))).then_raises(InvariantViolation, "balance")
    opened.when(lambda state: None).then(events=[])
    opened.then_state(dataclasses.replace(account.initial_state("acc-9"), owner="Ann"))

    with pytest.raises(AssertionError, match="new events differ"):
        opened.when(deposit_twice).then(events=[])
    with pytest.raises(
        AssertionError, match="expected InvariantViolation, but the command succeeded"
    ):
        opened.when(deposit_twice).then_raises(InvariantViolation)
    with pytest.raises(AssertionError, match="expected success, but the command raised"):
        opened.when(account.MoneyWithdrawn(amount=D("5"))).then()
    with pytest.raises(AssertionError, match="check failed"):
        opened.when(deposit_twice).then(check=lambda s: s.balance == 0)
