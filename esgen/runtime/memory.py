"""An in-memory event store with the API of :class:`~esgen.runtime.store.EventStore`.

For unit tests of command handlers and folds: no Kafka, no registry, same rules. Appends
are folded and the invariants checked before anything is stored (a violating append
stores nothing), ``expected_version`` raises ``ConcurrencyError``, events get the same
metadata (version, UUID, millisecond timestamp, correlation/causation ids) and, with
``check_encoding=True`` (default), every event is encoded to Avro and decoded back, so
a value the real store could not write (a Decimal with too many places, a wrong-sized
fixed) fails here too.

>>> from decimal import Decimal
>>> from generated.bank import account
>>> store = InMemoryEventStore(account.ENTITY)
>>> _ = store.append("acc-1", [account.AccountOpened(owner="Ann")], expected_version=0)
>>> _ = store.append("acc-1", [account.MoneyDeposited(amount=Decimal("5.00"))])
>>> store.load("acc-1").balance
Decimal('5.00')
>>> [meta.version for _, meta in store.read("acc-1")]
[1, 2]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Generic, Self, TypeVar

from esgen.runtime.appending import fold_new_events
from esgen.runtime.descriptor import EntityDescriptor, EntityId
from esgen.runtime.errors import ConcurrencyError, StoreError
from esgen.runtime.meta import EventMeta
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
    ) -> None:
        self.descriptor = descriptor
        self.topic = descriptor.topic
        self.partitions = partitions
        self.check_encoding = check_encoding
        self.stats = StoreStats()
        self._events: dict[EntityId, list[tuple[E, EventMeta, Position]]] = {}
        self._states: dict[EntityId, S] = {}
        self._next_offset = [0] * partitions
        self._closed = False

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
        partition = self.partition_of(entity_id)
        batch = list(events)
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
