"""Command clients in separate processes against one processor: the sequential outcome.

Observation of issue 10: two writers that both load version 7 both append version 8.
Here 4 client processes send 250 withdrawals of 1.00 each, all at once, to one account
holding 100.00: the processor decides them one after the other on the current state, so
exactly 100 are accepted and 900 rejected with the precondition's reason, and the balance
is 0.00 and never below, in the log, in ``load`` and in a projection.
"""

from __future__ import annotations

import decimal
import os
from pathlib import Path
from typing import Any

import pytest

from esgen.runtime import (
    CommandClient,
    EntityDescriptor,
    EventStore,
    InMemoryModelStore,
    ProjectionRunner,
    StoreError,
)
from generated.bank import account
from tests.runtime.processing import read_all, running
from tests.runtime.projection_support import Balances
from tests.runtime.together import run_at_once

D = decimal.Decimal
Entity = EntityDescriptor[Any, Any]


def test_conflicting_withdrawals_from_four_processes_have_the_sequential_outcome(
    command_entity: Entity,
    kafka_bootstrap: str,
    registry_url: str,
    unique_name: Any,
    tmp_path: Path,
) -> None:
    env = {**os.environ, "ESGEN_BOOTSTRAP": kafka_bootstrap, "ESGEN_REGISTRY_URL": registry_url}
    with running(command_entity, kafka_bootstrap, registry_url, partitions=3) as processor:
        with CommandClient(
            command_entity, kafka_bootstrap, registry_url, auto_register=True
        ) as client:
            client.send("acc-1", account.OpenAccount(owner="Ann"))
            client.send("acc-1", account.Deposit(amount=D("100.00")))
            client.serde.encode_command(account.Withdraw(amount=D("1.00")))  # registered
        reports = run_at_once(
            "tests.runtime.senders", (command_entity.topic, "acc-1", "250"), 4, tmp_path, env
        )
        stats = processor.processor.stats
    accepted = sorted(v for r in reports for v in r["accepted"])
    rejected: dict[str, int] = {}
    for report in reports:
        for reason, count in report["rejected"].items():
            rejected[reason] = rejected.get(reason, 0) + count
    assert accepted == list(range(3, 103))  # versions 3..102, each exactly once
    assert rejected == {"insufficient funds": 900}
    assert stats.transactions < 1000 / 2, "commands were not batched"

    with EventStore(command_entity, kafka_bootstrap, registry_url, auto_register=True) as store:
        history = list(store.read("acc-1"))
        assert store.load("acc-1").balance == D("0.00")
    state = account.initial_state("acc-1")
    for event, meta in history:  # the log, folded here: never below zero on the way
        state = account.fold(state, event, meta)
        assert state.balance >= 0, meta.version
    assert state.balance == D("0.00") and len(history) == 102
    assert len(read_all(kafka_bootstrap, command_entity.topic)) == 102

    model = InMemoryModelStore()
    projection = Balances()
    runner = ProjectionRunner(
        projection,
        model,
        group_id=unique_name("balances"),
        bootstrap=kafka_bootstrap,
        registry=registry_url,
        topics={account.ENTITY: command_entity.topic},
    )
    with runner:
        runner.run(until_caught_up=True)
    assert runner.stats.dead_lettered == 0  # the projection refuses an overdraft
    assert model.snapshot()["balance/acc-1"] == D("0.00")


def test_a_client_needs_the_processors_topics(
    command_entity: Entity, kafka_bootstrap: str, registry_url: str
) -> None:
    with pytest.raises(StoreError) as missing:
        CommandClient(command_entity, kafka_bootstrap, registry_url)
    assert f"topic {command_entity.topic} does not exist" in str(missing.value)
    assert "start a CommandProcessor for Account (`esgen process`)" in str(missing.value)


def test_a_client_refuses_another_entitys_commands_and_bad_ids(
    command_entity: Entity, kafka_bootstrap: str, registry_url: str
) -> None:
    from esgen.runtime import EsgenError
    from generated.shop import order

    with (
        running(command_entity, kafka_bootstrap, registry_url),
        CommandClient(command_entity, kafka_bootstrap, registry_url, auto_register=True) as client,
    ):
        with pytest.raises(EsgenError, match="is not a command of entity Account"):
            client.send("acc-1", order.CancelOrder())
        with pytest.raises(ValueError, match="contains control characters"):
            client.send("acc\x00", account.OpenAccount(owner="Ann"))
        assert client.send("acc-1", account.OpenAccount(owner="Ann")).version == 1
