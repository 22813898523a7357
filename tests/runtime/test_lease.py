"""Writers in separate processes on one entity: the partition lease keeps one history.

Observation 3 of issue 8 under real concurrency: 4 processes x 250 deposits loaded as
250.00; with expected_version and retries, 993.00; two processes withdrawing 1.00 from
100.00 succeeded 134 times. Each process here is a real ``python`` running
``tests/runtime/writers.py`` against the shared broker, all started at once.
"""

from __future__ import annotations

import decimal
import os
from pathlib import Path
from typing import Any

from esgen.runtime import EntityDescriptor
from generated.bank import account
from tests.runtime.conftest import StoreFactory
from tests.runtime.test_integrity import versions_in_log
from tests.runtime.together import run_at_once

D = decimal.Decimal
ROOT = Path(__file__).parents[2]
ROUNDS = int(os.environ.get("ESGEN_EXPECTED_VERSION_ROUNDS", "1000"))
"""Rounds of the two expected_version writers (the issue's 1,000: about 25 s)."""


def run_writers(
    mode: str,
    topic: str,
    entity_id: str,
    count: int,
    processes: int,
    folder: Path,
    bootstrap: str,
    registry: str,
) -> list[dict[str, Any]]:
    """Start ``processes`` writers, let them go at once, and return what each reports."""
    env = {**os.environ, "ESGEN_BOOTSTRAP": bootstrap, "ESGEN_REGISTRY_URL": registry}
    return run_at_once(
        "tests.runtime.writers", (mode, topic, entity_id, str(count)), processes, folder, env
    )


def test_writers_without_expected_version_never_lose_an_append(
    account_entity: EntityDescriptor[Any, Any],
    make_store: StoreFactory,
    kafka_bootstrap: str,
    registry_url: str,
    tmp_path: Path,
) -> None:
    """4 processes x N deposits load as exactly 4N: each append goes on top of the true
    version, whoever wrote last."""
    n = 40
    store = make_store(account_entity)
    store.append("acc-1", [account.AccountOpened(owner="Ann")])
    reports = run_writers(
        "deposits", store.topic, "acc-1", n, 4, tmp_path, kafka_bootstrap, registry_url
    )
    assert [r["done"] for r in reports] == [n] * 4
    assert make_store(account_entity).load("acc-1").balance == D(4 * n)
    assert versions_in_log(kafka_bootstrap, store.topic, 0, "acc-1") == list(range(1, 4 * n + 2))
    assert sum(r["leases"] for r in reports) > 4, "the writers never took turns"


def test_withdrawals_from_two_processes_never_break_the_invariant(
    account_entity: EntityDescriptor[Any, Any],
    make_store: StoreFactory,
    kafka_bootstrap: str,
    registry_url: str,
    tmp_path: Path,
) -> None:
    """Two processes withdraw 1.00, 60 times each, from 100.00: exactly 100 succeed."""
    store = make_store(account_entity)
    store.append(
        "acc-1", [account.AccountOpened(owner="Ann"), account.MoneyDeposited(amount=D(100))]
    )
    reports = run_writers(
        "withdrawals", store.topic, "acc-1", 60, 2, tmp_path, kafka_bootstrap, registry_url
    )
    assert sum(r["done"] for r in reports) == 100
    assert sum(r["refused"] for r in reports) == 20
    assert make_store(account_entity).load("acc-1").balance == D("0.00")


def test_two_writers_expecting_a_version_never_write_one_version_twice(
    account_entity: EntityDescriptor[Any, Any],
    make_store: StoreFactory,
    kafka_bootstrap: str,
    registry_url: str,
    tmp_path: Path,
) -> None:
    """Of two writers that both expect version N, one succeeds, the other gets
    ConcurrencyError; over many rounds the log has every version exactly once."""
    rounds = ROUNDS
    store = make_store(account_entity)
    store.append("acc-1", [account.AccountOpened(owner="Ann")])
    reports = run_writers(
        "expected", store.topic, "acc-1", rounds, 2, tmp_path, kafka_bootstrap, registry_url
    )
    stored = sum(r["done"] for r in reports)
    assert stored + sum(r["refused"] for r in reports) == 2 * rounds
    versions = versions_in_log(kafka_bootstrap, store.topic, 0, "acc-1")
    assert versions == list(range(1, stored + 2))
    assert make_store(account_entity).load("acc-1").balance == D(stored)
