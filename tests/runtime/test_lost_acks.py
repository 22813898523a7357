"""An append whose commit goes unanswered reports exactly what is stored (observation 6).

Seen: with the broker's answers lost, the error said "0 earlier event(s) of this append
were stored" while all 10 were, and the natural retry stored 10 more. Here a private
broker is frozen (SIGSTOP: it keeps its connections and answers nothing) right when the
store commits an append, so the commit request waits, unanswered, in its socket.
"""

from __future__ import annotations

import dataclasses
import decimal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from esgen.runtime import AppendOutcomeUnknown, EventStore
from esgen.runtime.lease import PartitionLease
from generated.bank import account
from tests.runtime.brokers import PrivateBroker
from tests.runtime.test_integrity import versions_in_log

D = decimal.Decimal
TIMEOUT = 3.0


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateBroker]:
    private = PrivateBroker(Path(tmp_path_factory.mktemp("lost-acks")) / "kafka")
    yield private
    private.kill()


@pytest.fixture
def store(
    broker: PrivateBroker, registry_url: str, unique_name: Callable[[str], str]
) -> Iterator[EventStore[Any, Any]]:
    entity = dataclasses.replace(account.ENTITY, topic=unique_name("acks"))
    made: EventStore[Any, Any] = EventStore(
        entity,
        broker.bootstrap,
        registry_url,
        auto_register=True,
        partitions=1,
        timeout=TIMEOUT,
        snapshot_every=10_000,
    )
    made.append("acc-1", [account.AccountOpened(owner="Ann")])
    yield made
    made.close(snapshot=False)


def freeze_at_commit(
    monkeypatch: pytest.MonkeyPatch, broker: PrivateBroker, frozen_for: float
) -> list[threading.Timer]:
    """The next commit finds the broker frozen; it thaws ``frozen_for`` seconds later
    (the returned list then holds the timer that thaws it)."""
    commit = PartitionLease.commit
    thawing: list[threading.Timer] = []

    def commit_into_silence(lease: PartitionLease) -> Any:
        monkeypatch.setattr(PartitionLease, "commit", commit)  # once
        lease.flush()  # the events are written (not committed) before the broker stops
        broker.freeze()
        thawing.append(threading.Timer(frozen_for, broker.thaw))
        thawing[0].start()
        return commit(lease)

    monkeypatch.setattr(PartitionLease, "commit", commit_into_silence)
    return thawing


def fresh_load(store: EventStore[Any, Any], broker: PrivateBroker, registry_url: str) -> Any:
    reader: EventStore[Any, Any] = EventStore(
        store.descriptor, broker.bootstrap, registry_url, create_topics=False
    )
    try:
        return reader.load("acc-1")
    finally:
        reader.close(snapshot=False)


def test_an_unanswered_commit_is_resolved_not_guessed(
    store: EventStore[Any, Any],
    broker: PrivateBroker,
    registry_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The commit times out after TIMEOUT s; the store then takes the lease again, which
    # waits for the broker (thawed a little later) to complete or abort the transaction,
    # and reads what is stored.
    freeze_at_commit(monkeypatch, broker, frozen_for=TIMEOUT + 2)
    positions = store.append("acc-1", [account.MoneyDeposited(amount=D("1.00"))] * 10)
    assert [p.version for p in positions] == list(range(2, 12))
    assert store.stats.append_retries <= 1  # stored by the first commit, or once by a retry
    assert versions_in_log(broker.bootstrap, store.topic, 0, "acc-1") == list(range(1, 12))
    assert fresh_load(store, broker, registry_url).balance == D("10.00")
    assert store.load("acc-1").balance == D("10.00")


def test_when_kafka_cannot_be_asked_again_the_outcome_is_unknown_and_said_so(
    store: EventStore[Any, Any],
    broker: PrivateBroker,
    registry_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Frozen for longer than the commit and the resolution together may wait.
    thawing = freeze_at_commit(monkeypatch, broker, frozen_for=2 * TIMEOUT + 1.5)
    with pytest.raises(AppendOutcomeUnknown) as caught:
        store.append("acc-1", [account.MoneyDeposited(amount=D("1.00"))] * 10)
    assert "load the entity again before retrying" in str(caught.value).lower()
    assert (caught.value.entity_id, caught.value.partition) == ("acc-1", 0)
    thawing[0].join()
    # After the broker is back: the ten events are either all stored or none is.
    balance = fresh_load(store, broker, registry_url).balance
    versions = versions_in_log(broker.bootstrap, store.topic, 0, "acc-1")
    assert (balance, versions) in [
        (D("0.00"), [1]),
        (D("10.00"), list(range(1, 12))),
    ]
    # The store read it again as it was told to: it appends on top of the truth.
    after = store.append("acc-1", [account.MoneyDeposited(amount=D("1.00"))])
    assert after[0].version == len(versions) + 1
