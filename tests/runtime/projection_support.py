"""Shared pieces of the projection tests: a balances projection, an event producer and a
dead-letter reader, all on the real broker and registry."""

from __future__ import annotations

import datetime
import decimal
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, Producer

from esgen.runtime import headers as hdr
from esgen.runtime import wire
from esgen.runtime.meta import EventMeta
from esgen.runtime.models import ReadModel
from esgen.runtime.projections import Projection, handles
from generated.bank import account

ZERO = decimal.Decimal("0.00")


class Balances(Projection):
    """Per account: the owner and the balance; plus how many accounts there are."""

    name = "balances"
    entities = (account.ENTITY,)

    @handles(account.AccountOpened)
    def opened(self, model: ReadModel, event: account.AccountOpened, meta: EventMeta) -> None:
        model.put(f"owner/{meta.entity_id}", event.owner)
        model.put(f"balance/{meta.entity_id}", ZERO)
        model.put("accounts", model.get("accounts", 0) + 1)

    @handles(account.MoneyDeposited)
    def deposited(self, model: ReadModel, event: account.MoneyDeposited, meta: EventMeta) -> None:
        key = f"balance/{meta.entity_id}"
        model.put(key, model.get(key, ZERO) + event.amount)

    @handles(account.MoneyWithdrawn)
    def withdrawn(self, model: ReadModel, event: account.MoneyWithdrawn, meta: EventMeta) -> None:
        key = f"balance/{meta.entity_id}"
        balance = model.get(key, ZERO) - event.amount
        model.put(key, balance)  # written first: the savepoint must undo it on failure
        if balance < 0:
            raise ValueError(f"{meta.entity_id} overdrawn: {balance}")


class SlowBalances(Balances):
    """Balances whose deposits take 2 ms each: a replay that takes a while."""

    name = "slow-balances"

    def deposited(self, model: ReadModel, event: account.MoneyDeposited, meta: EventMeta) -> None:
        time.sleep(0.002)
        super().deposited(model, event, meta)


@dataclass
class History:
    """Events appended per account, and the balances they should give."""

    events: list[tuple[str, int, Any]]

    def balances(self) -> dict[str, decimal.Decimal]:
        result: dict[str, decimal.Decimal] = {}
        for entity_id, _, event in self.events:
            if isinstance(event, account.AccountOpened):
                result[entity_id] = ZERO
            elif isinstance(event, account.MoneyDeposited):
                result[entity_id] += event.amount
            elif isinstance(event, account.MoneyWithdrawn):
                result[entity_id] -= event.amount
        return result


def history(accounts: int, per_account: int, *, first: int = 0) -> History:
    """``accounts`` accounts, each opened then given ``per_account - 1`` deposits and
    withdrawals (never overdrawn); interleaved across accounts like real traffic."""
    events: list[tuple[str, int, Any]] = []
    for step in range(per_account):
        for n in range(first, first + accounts):
            entity_id = f"acc-{n}"
            version = step + 1
            if step == 0:
                events.append((entity_id, version, account.AccountOpened(owner=f"owner {n}")))
            elif step % 3 == 0:
                amount = decimal.Decimal(n % 3 + 1)  # never more than deposited so far
                events.append((entity_id, version, account.MoneyWithdrawn(amount=amount)))
            else:
                amount = decimal.Decimal(f"{n % 11 + step}.25")
                events.append((entity_id, version, account.MoneyDeposited(amount=amount)))
    return History(events)


def continuation(previous: History, per_account: int) -> History:
    """More deposits for every account of ``previous``, with the next versions."""
    last: dict[str, int] = {}
    for entity_id, version, _ in previous.events:
        last[entity_id] = version
    events: list[tuple[str, int, Any]] = []
    for step in range(per_account):
        for entity_id, version in last.items():
            events.append(
                (entity_id, version + step + 1, account.MoneyDeposited(amount=decimal.Decimal(3)))
            )
    return History(events)


class EventProducer:
    """Appends events as the event store does: wire format, key = entity id, esgen headers."""

    def __init__(
        self, bootstrap: str, registry_url: str, topic: str, entity: Any = account.ENTITY
    ) -> None:
        self.topic = topic
        self.serde = wire.RegistrySerde(entity, registry_url, topic=topic, auto_register=True)
        self.producer = Producer(
            {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5}
        )

    def send(self, events: Iterable[tuple[str, int, Any]]) -> None:
        for entity_id, version, event in events:
            full_name, value = self.serde.encode_event(event)
            meta = EventMeta(
                entity_id=entity_id,
                version=version,
                timestamp=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
                event_id=uuid.uuid4(),
            )
            self.producer.produce(
                self.topic,
                key=entity_id.encode(),
                value=value,
                headers=hdr.event_headers(full_name, meta),
            )
            self.producer.poll(0)
        self.flush()

    def raw(self, key: str, value: bytes, headers: list[tuple[str, bytes]] | None = None) -> None:
        self.producer.produce(self.topic, key=key.encode(), value=value, headers=headers or [])
        self.flush()

    def flush(self) -> None:
        assert self.producer.flush(30) == 0, "events were not delivered"


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 30) -> list[Any]:
    """Every record of ``topic`` (at least ``expected`` of them), from the beginning."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and len(records) < expected:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            records.append(msg)
        # A little longer, to catch records beyond those expected.
        extra_deadline = time.monotonic() + 1.0
        while time.monotonic() < extra_deadline:
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error():
                records.append(msg)
    finally:
        consumer.close()
    return records


def headers_of(msg: Any) -> dict[str, str]:
    return {k: v.decode() for k, v in (msg.headers() or [])}


def balances_of(snapshot: dict[str, Any]) -> dict[str, decimal.Decimal]:
    return {k.removeprefix("balance/"): v for k, v in snapshot.items() if k.startswith("balance/")}


def wait_for(condition: Any, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
