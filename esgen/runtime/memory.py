"""An in-memory event store with the API of :class:`~esgen.runtime.store.EventStore`.

For unit tests of command handlers and folds: no Kafka, no registry, same rules. Appends
are folded and the invariants checked before anything is stored (a violating append
stores nothing), ``expected_version`` raises ``ConcurrencyError``, events get the same
metadata (version, UUID, millisecond timestamp, correlation/causation ids) and, with
``check_encoding=True`` (default), every event is encoded to Avro and decoded back, so
a value the real store could not write (a Decimal with too many places, a wrong-sized
fixed) fails here too.

Commands: ``execute(entity_id, command, command_id=...)`` decides the command on the
entity's current state (``EntityDescriptor.decide``: preconditions, then the invariants
after its events), appends its events with the command id as their causation id, and
returns a :class:`~esgen.runtime.commands.CommandResult`; a rejection raises
``CommandRejected`` and writes nothing. The same ``command_id`` again gives the first
outcome (the same result, or the same rejection) and writes nothing, as the Kafka command
processor does for a client's retry.

Time and ids: ``clock`` (``() -> aware datetime``) stamps events and commands, ``ids``
(``() -> UUID``) makes event ids and command ids. By default they are the wall clock and
random UUIDs like the real store; tests pass fixed ones to compare whole states.

>>> from decimal import Decimal
>>> from generated.bank import account
>>> store = InMemoryEventStore(account.ENTITY)
>>> _ = store.append("acc-1", [account.AccountOpened(owner="Ann")], expected_version=0)
>>> _ = store.append("acc-1", [account.MoneyDeposited(amount=Decimal("5.00"))])
>>> store.load("acc-1").balance
Decimal('5.00')
>>> [meta.version for _, meta in store.read("acc-1")]
[1, 2]
>>> store.execute("acc-1", account.Withdraw(amount=Decimal("2.00")), command_id="c-1").version
3
>>> store.execute("acc-1", account.Withdraw(amount=Decimal("2.00")), command_id="c-1").version
3
>>> store.load("acc-1").balance
Decimal('3.00')
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, Self, TypeVar

from esgen.runtime.appending import fold_new_events, now_millis
from esgen.runtime.commands import CommandResult
from esgen.runtime.descriptor import EntityDescriptor, EntityId
from esgen.runtime.errors import (
    CommandRejected,
    ConcurrencyError,
    EsgenError,
    InvariantViolation,
    StoreError,
)
from esgen.runtime.meta import CommandMeta, EventMeta
from esgen.runtime.partitioning import partition_for
from esgen.runtime.store import Position, StoreStats

S = TypeVar("S")
E = TypeVar("E")


class InMemoryEventStore(Generic[S, E]):
    """Events and states of one descriptor in memory (per instance)."""

    def __init__(
        self,
        descriptor: EntityDescriptor[S, E],  # type: ignore[type-var]
        *,
        partitions: int = 1,
        check_encoding: bool = True,
        clock: Callable[[], datetime.datetime] | None = None,
        ids: Callable[[], uuid.UUID] | None = None,
    ) -> None:
        self.descriptor = descriptor
        self.topic = descriptor.topic
        self.partitions = partitions
        self.check_encoding = check_encoding
        self.clock = clock
        self.ids = ids
        self.stats = StoreStats()
        self._events: dict[EntityId, list[tuple[E, EventMeta, Position]]] = {}
        self._states: dict[EntityId, S] = {}
        self._next_offset = [0] * partitions
        self._closed = False
        # command id -> (entity id, command, its first outcome)
        self._outcomes: dict[str, tuple[EntityId, object, CommandResult | CommandRejected]] = {}

    def partition_of(self, entity_id: EntityId) -> int:
        """The partition of an entity (``EncodeError`` if the id is not of the key's type)."""
        return partition_for(self.descriptor.key_text(entity_id), self.partitions)

    def append(
        self,
        entity_id: EntityId,
        events: Iterable[E],
        expected_version: int | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> list[Position]:
        """Like :meth:`EventStore.append <esgen.runtime.store.EventStore.append>`."""
        self._check_open()
        return self._append(
            entity_id, list(events), expected_version, correlation_id, causation_id, self._now()
        )

    def execute(
        self, entity_id: EntityId, command: object, *, command_id: str | None = None
    ) -> CommandResult:
        """Decide ``command`` on the entity's current state and append its events.

        Raises ``CommandRejected`` (nothing written) when a precondition fails or an
        invariant would break. A ``command_id`` seen before returns its first outcome
        (the same ``CommandResult``, or the same rejection again) and writes nothing; a
        different command under a used id is refused, since a retry must repeat itself.
        """
        self._check_open()
        command_type = self.descriptor.command_type(command)  # refuses others' commands
        self.descriptor.key_text(entity_id)  # refuses an id of another type
        if command_id is not None and command_id in self._outcomes:
            return self._repeat(entity_id, command, command_id)
        if command_id is None:
            command_id = str(self._new_id())
        sent = command
        if self.check_encoding:  # commands travel in Avro too
            command = command_type.decode(command_type.encode(command))
        version = self.version(entity_id)
        meta = CommandMeta(entity_id, version, command_id, self._now())
        try:
            # A copy: a ``decide:`` function that changes its state changes nothing stored.
            events = self.descriptor.decide(self.load(entity_id), command, meta)
            try:
                self._append(entity_id, events, version, None, command_id, meta.timestamp)
            except InvariantViolation as violation:  # folded with the stored event ids
                raise CommandRejected(
                    violation.invariant,
                    entity=self.descriptor.name,
                    command=command_type.name,
                    entity_id=entity_id,
                ) from violation
        except CommandRejected as rejected:
            self._outcomes[command_id] = (entity_id, sent, rejected)
            raise
        result = CommandResult(entity_id, command_id, version + len(events), list(events))
        self._outcomes[command_id] = (entity_id, sent, result)
        return result

    def _repeat(self, entity_id: EntityId, command: object, command_id: str) -> CommandResult:
        first_entity, first_command, outcome = self._outcomes[command_id]
        if (first_entity, first_command) != (entity_id, command):
            raise EsgenError(
                f"command id {command_id!r} was used for {first_command!r} on "
                f"{first_entity!r}; a retry must send the same command to the same entity, "
                "a new command needs a new id"
            )
        if isinstance(outcome, CommandRejected):
            raise CommandRejected(
                outcome.reason,
                entity=outcome.entity,
                command=outcome.command,
                entity_id=outcome.entity_id,
            )
        return outcome

    def _now(self) -> datetime.datetime:
        """The clock's time as the real store stamps it: aware UTC, whole milliseconds."""
        if self.clock is None:
            return now_millis()
        now = self.clock()
        if now.tzinfo is None:
            raise EsgenError(
                f"the clock of the in-memory store of {self.descriptor.name} returned the "
                f"naive datetime {now!r}; return a timezone-aware (UTC) one"
            )
        now = now.astimezone(datetime.UTC)
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    def _new_id(self) -> uuid.UUID:
        return uuid.uuid4() if self.ids is None else self.ids()

    def _append(
        self,
        entity_id: EntityId,
        batch: list[E],
        expected_version: int | None,
        correlation_id: str | None,
        causation_id: str | None,
        timestamp: datetime.datetime,
    ) -> list[Position]:
        partition = self.partition_of(entity_id)  # refuses an id of another type first
        stored = self._events.setdefault(entity_id, [])
        version = len(stored)
        if expected_version is not None and expected_version != version:
            raise ConcurrencyError(
                self.descriptor.name,
                self.descriptor.key_text(entity_id),
                expected_version,
                version,
            )
        if not batch:
            return []
        if self.check_encoding:
            batch = [self._round_trip(event) for event in batch]
        state, metas = fold_new_events(
            self.descriptor,
            entity_id,
            self._current(entity_id),
            version,
            batch,
            correlation_id,
            causation_id,
            timestamp,
            None if self.ids is None else [self.ids() for _ in batch],
        )
        positions = []
        for event, meta in zip(batch, metas, strict=True):
            offset = self._next_offset[partition]
            self._next_offset[partition] += 1
            position = Position(self.topic, partition, offset, meta.version or 0)
            stored.append((event, meta, position))
            positions.append(position)
        self._states[entity_id] = state
        self.stats.events_appended += len(batch)
        return positions

    def _round_trip(self, event: E) -> E:
        name = self.descriptor.event_type(event).full_name
        decoded: E = self.descriptor.decode(name, self.descriptor.encode(event))
        return decoded

    def _current(self, entity_id: EntityId) -> S:
        state = self._states.get(entity_id)
        if state is None:
            state = self.descriptor.initial_state(entity_id)
            for event, meta, _ in self._events.get(entity_id, ()):
                state = self.descriptor.apply(state, event, meta)
                self.stats.events_replayed += 1
            self._states[entity_id] = state
        return state

    def read(self, entity_id: EntityId) -> Iterator[tuple[E, EventMeta]]:
        """Every event of the entity in order, with its metadata."""
        self._check_open()
        for event, meta, _ in list(self._events.get(entity_id, ())):
            yield event, meta

    def load(self, entity_id: EntityId) -> S:
        """The entity's current state (a copy)."""
        self._check_open()
        return self.descriptor.copy_state(self._current(entity_id))

    def version(self, entity_id: EntityId) -> int:
        return len(self._events.get(entity_id, ()))

    def close(self, snapshot: bool = True) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the in-memory event store of {self.descriptor.name} is closed")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
