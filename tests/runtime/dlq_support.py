"""Shared pieces of the dead-letter tool tests: a projection with a bug that a deploy
fixes, a poisoned topic, runners on one model store, and the ``esgen`` CLI, all on the
real broker and registry."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]

from esgen.cli import main
from esgen.runtime.meta import EventMeta
from esgen.runtime.models import ReadModel, SqliteModelStore
from esgen.runtime.projections import Projection, ProjectionRunner, handles
from esgen.runtime.subjects import dead_letter_topic
from generated.bank import account
from tests.runtime.projection_support import EventProducer

BUG = Decimal("7.25")  # the deposit the broken handler cannot take


class BrokenLedger(Projection):
    """Balances per account; a deposit of 7.25 hits a bug (the handler raises after it
    wrote, so the savepoint must undo its write)."""

    name = "ledger"
    entities = (account.ENTITY,)

    @handles(account.MoneyDeposited)
    def deposited(self, model: ReadModel, event: account.MoneyDeposited, meta: EventMeta) -> None:
        model.put(meta.entity_id, model.get(meta.entity_id, Decimal(0)) + event.amount)
        if event.amount == BUG:
            raise ValueError(f"cannot take {event.amount}")


class FixedLedger(BrokenLedger):
    """The same projection after the fix was deployed (same name: its letters)."""

    name = "ledger"

    @handles(account.MoneyDeposited)
    def deposited(self, model: ReadModel, event: account.MoneyDeposited, meta: EventMeta) -> None:
        model.put(meta.entity_id, model.get(meta.entity_id, Decimal(0)) + event.amount)


def deposits(entity_id: str, *amounts: str, first: int = 1) -> list[tuple[str, int, Any]]:
    return [
        (entity_id, first + n, account.MoneyDeposited(amount=Decimal(a)))
        for n, a in enumerate(amounts)
    ]


@dataclass
class Setup:
    """A topic, its producer, one read-model file and the runners made on it."""

    topic: str
    producer: EventProducer
    bootstrap: str
    registry: str
    db: Path
    runners: list[ProjectionRunner] = field(default_factory=list)
    stores: list[SqliteModelStore] = field(default_factory=list)

    def runner(self, projection: Projection, **options: Any) -> ProjectionRunner:
        """A runner on the model file: what a process of the projection would make."""
        store = SqliteModelStore(self.db)
        self.stores.append(store)
        runner = ProjectionRunner(
            projection,
            store,
            group_id=f"{self.topic}-group",
            bootstrap=self.bootstrap,
            registry=self.registry,
            topics={account.ENTITY: self.topic},
            **options,
        )
        self.runners.append(runner)
        return runner

    def run(self, projection: Projection, **options: Any) -> Any:
        """Start a runner, let it catch up, stop it: its stats."""
        runner = self.runner(projection, **options)
        try:
            return runner.run(until_caught_up=True)
        finally:
            runner.close()

    def model(self) -> dict[str, Any]:
        store = SqliteModelStore(self.db)
        try:
            return store.snapshot()
        finally:
            store.close()

    def cli(self, *args: str) -> Result:
        env = {"ESGEN_BOOTSTRAP": self.bootstrap, "ESGEN_REGISTRY_URL": self.registry}
        return CliRunner().invoke(main, ["dlq", *args], env=env)


@pytest.fixture
def setup(
    kafka_bootstrap: str,
    registry_url: str,
    new_topic: Callable[..., str],
    tmp_path: Path,
) -> Iterator[Setup]:
    """A fresh topic (its ``.dlq`` deleted afterwards) and a model file."""
    topic = new_topic("ledger")
    made = Setup(
        topic,
        EventProducer(kafka_bootstrap, registry_url, topic),
        kafka_bootstrap,
        registry_url,
        tmp_path / "ledger.db",
    )
    yield made
    for runner in made.runners:
        with contextlib.suppress(Exception):
            runner.close()
    for store in made.stores:
        with contextlib.suppress(Exception):
            store.close()
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    doomed = dead_letter_topic(topic)
    for future in admin.delete_topics([doomed], operation_timeout=30).values():
        with contextlib.suppress(Exception):
            future.result(timeout=30)
