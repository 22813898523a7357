"""Snapshots: loading reads at most N events past the last snapshot; stale ones are ignored."""

from __future__ import annotations

import dataclasses
import decimal
from pathlib import Path
from typing import Any

from esgen.runtime import EntityDescriptor, EventMeta
from generated.bank import account
from tests.runtime.conftest import StoreFactory

D = decimal.Decimal
EVERY = 500


def test_load_reads_at_most_n_events_past_the_last_snapshot(
    account_entity: EntityDescriptor[Any, Any], make_store: StoreFactory, tmp_path: Path
) -> None:
    writer = make_store(account_entity, snapshot_every=EVERY)
    writer.append("acc-1", [account.AccountOpened(owner="Ann")])
    deposit = account.MoneyDeposited(amount=D("1.00"))
    for _ in range(50):
        writer.append("acc-1", [deposit] * 200)
    # A few more after the last snapshot, then a crash (no snapshot on close).
    for _ in range(7):
        writer.append("acc-1", [account.AccountAudited()])
    expected = writer.load("acc-1")
    assert expected.balance == D("10000.00")
    assert writer.version("acc-1") == 10_008
    assert writer.stats.snapshots_written >= 10_000 // EVERY // 2
    writer.close(snapshot=False)

    fresh = make_store(account_entity, snapshot_every=EVERY, state_dir=tmp_path)
    assert fresh.load("acc-1") == expected
    assert fresh.stats.snapshots_restored >= 1
    assert 0 < fresh.stats.events_replayed <= EVERY
    assert fresh.stats.records_scanned <= EVERY
    fresh.close(snapshot=False)

    # The SQLite state store resumes from its checkpoint: nothing to restore again.
    again = make_store(account_entity, snapshot_every=EVERY, state_dir=tmp_path)
    assert again.load("acc-1") == expected
    assert again.stats.snapshots_restored == 0
    assert again.stats.events_replayed <= EVERY


def test_clean_close_snapshots_so_the_next_load_replays_nothing(
    account_entity: EntityDescriptor[Any, Any], make_store: StoreFactory
) -> None:
    writer = make_store(account_entity, snapshot_every=1000)
    writer.append("acc-1", [account.AccountOpened(owner="Ann")])
    writer.append("acc-1", [account.MoneyDeposited(amount=D("5.00"))] * 20)
    writer.append("acc-2", [account.AccountOpened(owner="Bob")])
    expected = writer.load("acc-1")
    writer.close()
    assert writer.stats.snapshots_written == 2

    fresh = make_store(account_entity)
    assert fresh.load("acc-1") == expected
    assert fresh.load("acc-2").owner == "Bob"
    assert fresh.stats.events_replayed == 0


def _doubling_apply(state: Any, event: Any, meta: EventMeta) -> Any:
    """Another fold (as if the definitions changed): deposits count twice."""
    state = account.ENTITY.apply(state, event, meta)
    if isinstance(event, account.MoneyDeposited):
        state.balance += event.amount
    return state


def test_snapshot_with_another_fingerprint_is_ignored_and_state_rebuilt(
    account_entity: EntityDescriptor[Any, Any], make_store: StoreFactory
) -> None:
    writer = make_store(account_entity, snapshot_every=10)
    events = [account.AccountOpened(owner="Ann")] + [account.MoneyDeposited(amount=D("2.00"))] * 29
    for start in range(0, 30, 10):
        writer.append("acc-1", events[start : start + 10])
    writer.close()
    assert writer.stats.snapshots_written == 3

    changed = dataclasses.replace(
        account_entity, apply=_doubling_apply, fingerprint="changed-definitions"
    )
    reader = make_store(changed)
    state = reader.load("acc-1")
    assert state.balance == D("116.00")  # rebuilt with the new fold, not the snapshot's 58
    assert reader.stats.snapshots_ignored >= 1
    assert reader.stats.events_replayed == 30

    # The original definitions still use their own snapshot.
    same = make_store(account_entity)
    assert same.load("acc-1").balance == D("58.00")
    assert same.stats.events_replayed == 0
