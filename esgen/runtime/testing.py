"""Given / when / then for the unit tests of an application's commands and folds.

*Given* some events of one entity, *when* a command runs on its state (a generated
command such as ``account.Withdraw(...)``, a function ``(state) -> events``, or simply
an event), *then* expect the new events, the new state, a rejection, or an error.
Everything goes through :class:`~esgen.runtime.memory.InMemoryEventStore`, so
preconditions, invariants, versions and Avro encoding are checked exactly as the real
store and command processor do.

A scenario's clock and ids are fixed by default (every event and command at
``FIXED_TIME``, ids ``UUID(int=1)``, ``UUID(int=2)``, ...), so whole states, including a
``meta.timestamp`` or ``meta.event_id`` a fold stored, compare equal run after run; pass
``clock=`` and ``ids=`` (e.g. ``fixed_clock(...)``, ``sequential_ids(...)``) to choose.

>>> from decimal import Decimal
>>> from generated.bank import account
>>> from esgen.runtime import InvariantViolation
>>> def withdraw(amount):
...     def command(state):
...         return [account.MoneyWithdrawn(amount=amount)] if state.owner else []
...     return command
>>> opened = given(
...     account.ENTITY,
...     account.AccountOpened(owner="Ann"),
...     account.MoneyDeposited(amount=Decimal("10.00")),
... )
>>> outcome = opened.when(withdraw(Decimal("4.00"))).then(
...     events=[account.MoneyWithdrawn(amount=Decimal("4.00"))],
... )
>>> outcome.state.balance
Decimal('6.00')
>>> _ = opened.when(withdraw(Decimal("99.00"))).then_raises(InvariantViolation, "balance")
>>> _ = opened.when(account.AccountTagged(tag="vip")).then(check=lambda s: s.tags == ["vip"])
>>> _ = opened.when(account.Withdraw(amount=Decimal("4.00"))).then(
...     events=[account.MoneyWithdrawn(amount=Decimal("4.00"))],
... )
>>> _ = opened.when(account.Withdraw(amount=Decimal("99.00"))).then_rejected("insufficient funds")
>>> given(account.ENTITY).when(account.OpenAccount(owner="Ann")).then().result.version
1

Projections are tested the same way, without Kafka: :class:`ProjectionFeed` feeds
events (and records that cannot be decoded, :class:`Undecodable`) to a projection
through the apply step the runner uses (see its docstring).
"""

from __future__ import annotations

import datetime
import itertools
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from esgen.runtime import framing
from esgen.runtime import headers as hdr
from esgen.runtime.commands import CommandResult
from esgen.runtime.descriptor import EntityDescriptor
from esgen.runtime.errors import CommandRejected, DecodeError
from esgen.runtime.memory import InMemoryEventStore
from esgen.runtime.meta import EventMeta
from esgen.runtime.models import InMemoryModelStore, ModelStore
from esgen.runtime.partitioning import partition_for
from esgen.runtime.projections.apply import (
    Applier,
    BatchResult,
    DeadLetter,
    Redrive,
    RedriveResult,
)
from esgen.runtime.projections.projection import Projection

Command = Callable[[Any], Any]
"""``(state) -> events``: an event, a list of events, or None (no events)."""

Clock = Callable[[], datetime.datetime]
Ids = Callable[[], uuid.UUID]

FIXED_TIME = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
"""The time of every event and command of a scenario unless it is given a clock."""

_UNSET: Any = object()


def fixed_clock(at: datetime.datetime = FIXED_TIME) -> Clock:
    """A clock that always says ``at`` (timezone-aware)."""
    return lambda: at


def sequential_ids(start: int = 1) -> Ids:
    """Ids ``UUID(int=start)``, ``UUID(int=start + 1)``, ...: the same on every run."""
    counter = itertools.count(start)
    return lambda: uuid.UUID(int=next(counter))


@dataclass
class Outcome:
    """What ``when`` produced: the new events and state, or the error it raised."""

    entity_id: Any
    events: list[Any] = field(default_factory=list)
    state: Any = None
    error: BaseException | None = None
    result: CommandResult | None = None  # when a generated command was executed

    def then(
        self,
        *,
        events: Sequence[Any] | None = None,
        state: Any = _UNSET,
        check: Callable[[Any], object] | None = None,
    ) -> Outcome:
        """Assert the new ``events`` and/or the new ``state`` (equality), and/or that
        ``check(state)`` is true. Returns ``self`` to chain."""
        if self.error is not None:
            raise AssertionError(
                f"expected success, but the command raised {type(self.error).__name__}: "
                f"{self.error}"
            ) from self.error
        if events is not None and list(events) != self.events:
            raise AssertionError(
                f"new events differ\n  expected: {list(events)!r}\n  actual:   {self.events!r}"
            )
        if state is not _UNSET and state != self.state:
            raise AssertionError(
                f"new state differs\n  expected: {state!r}\n  actual:   {self.state!r}"
            )
        if check is not None and not check(self.state):
            raise AssertionError(f"check failed on the new state: {self.state!r}")
        return self

    def then_rejected(self, reason: str | None = None) -> Outcome:
        """Assert that the command was rejected (``CommandRejected``), with exactly this
        ``reason`` if given: a precondition's reason, or the text of the invariant its
        events would break. Nothing was stored."""
        if not isinstance(self.error, CommandRejected):
            got = (
                f"it succeeded with events {self.events!r}"
                if self.error is None
                else f"it raised {type(self.error).__name__}: {self.error}"
            )
            raise AssertionError(f"expected the command to be rejected, but {got}") from (
                self.error
            )
        if reason is not None and self.error.reason != reason:
            raise AssertionError(
                f"rejected for another reason\n  expected: {reason!r}\n"
                f"  actual:   {self.error.reason!r}"
            )
        return self

    def then_raises(self, error: type[BaseException], match: str | None = None) -> Outcome:
        """Assert that the command (or its append) raised ``error``, whose message
        matches the regular expression ``match``. Nothing was stored."""
        if self.error is None:
            raise AssertionError(
                f"expected {error.__name__}, but the command succeeded with events {self.events!r}"
            )
        if not isinstance(self.error, error):
            raise AssertionError(
                f"expected {error.__name__}, got {type(self.error).__name__}: {self.error}"
            ) from self.error
        if match is not None and not re.search(match, str(self.error)):
            raise AssertionError(f"{str(self.error)!r} does not match {match!r}")
        return self


@dataclass
class Scenario:
    """Events already stored for one entity; ``when`` may be called many times."""

    descriptor: EntityDescriptor[Any, Any]
    history: list[Any]
    entity_id: Any = "test-1"  # of the type of the entity's key
    clock: Clock | None = None  # None: FIXED_TIME
    ids: Ids | None = None  # None: sequential_ids(), fresh for every ``when``

    def when(
        self, command_or_event: Command | object, *, command_id: str | None = None
    ) -> Outcome:
        """Run a command on the state after the history (or append one event).

        A generated command is executed as the command processor would
        (``InMemoryEventStore.execute``, with ``command_id`` if given).
        """
        store: InMemoryEventStore[Any, Any] = InMemoryEventStore(
            self.descriptor,
            clock=self.clock or fixed_clock(),
            ids=self.ids or sequential_ids(),
        )
        store.append(self.entity_id, self.history)
        outcome = Outcome(self.entity_id)
        try:
            if self.descriptor.is_command(command_or_event):
                outcome.result = store.execute(
                    self.entity_id, command_or_event, command_id=command_id
                )
                outcome.events = outcome.result.events
            else:
                outcome.events = self._run(store, command_or_event)
        except Exception as exc:  # the outcome asserts on it
            outcome.error = exc
        outcome.state = store.load(self.entity_id)
        return outcome

    def _run(self, store: InMemoryEventStore[Any, Any], command_or_event: object) -> list[Any]:
        """Append what a function of the state produced, or the event itself."""
        if callable(command_or_event) and not _is_event(self.descriptor, command_or_event):
            produced = command_or_event(store.load(self.entity_id))
        else:
            produced = command_or_event
        if produced is None:
            new: list[Any] = []
        elif isinstance(produced, (list, tuple)):
            new = list(produced)
        else:
            new = [produced]
        store.append(self.entity_id, new, expected_version=len(self.history))
        return new

    def then_state(self, state: Any) -> None:
        """Assert the state the history alone gives (no command)."""
        self.when(None).then(state=state)


def _is_event(descriptor: EntityDescriptor[Any, Any], value: object) -> bool:
    try:
        descriptor.event_type(value)
    except Exception:
        return False
    return True


def given(
    descriptor: EntityDescriptor[Any, Any],
    *events: Any,
    entity_id: Any = None,
    clock: Clock | None = None,
    ids: Ids | None = None,
) -> Scenario:
    """A scenario: the entity ``entity_id`` with ``events`` already stored.

    The id is of the type of the entity's key; without one, ``"test-1"`` for a string
    key, ``uuid.UUID(int=1)`` for a uuid key and ``1`` for an integer key. ``clock`` and
    ``ids`` stamp the events and commands (default: ``FIXED_TIME`` and
    ``sequential_ids()``, the same on every run).
    """
    if entity_id is None:
        entity_id = {"string": "test-1", "uuid": uuid.UUID(int=1)}.get(descriptor.key_type, 1)
    return Scenario(descriptor, list(events), entity_id, clock, ids)


# -- projections ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Undecodable:
    """A record under an entity's key that cannot be decoded, for :class:`ProjectionFeed`:
    ``value`` as Kafka would hold it (None: a tombstone), ``reason`` the ``DecodeError``'s
    message (default: what the framing says, or "schema id N is unknown")."""

    value: bytes | None
    reason: str | None = None


@dataclass(frozen=True, eq=False)
class FedRecord:
    """A record fed to a projection: what the apply step reads of a consumed Kafka record
    (the methods of ``confluent_kafka.Message`` that decoding needs), plus the event it
    stands for (None for an :class:`Undecodable`)."""

    where: tuple[str, int, int]  # topic, partition, offset
    key_bytes: bytes
    value_bytes: bytes | None
    header_list: list[tuple[str, str | bytes | None]]
    millis: int
    event: Any = None
    meta: EventMeta | None = None
    reason: str | None = None

    def topic(self) -> str:
        return self.where[0]

    def partition(self) -> int:
        return self.where[1]

    def offset(self) -> int:
        return self.where[2]

    def key(self) -> bytes:
        return self.key_bytes

    def value(self) -> bytes | None:
        return self.value_bytes

    def headers(self) -> list[tuple[str, str | bytes | None]]:
        return list(self.header_list)

    def timestamp(self) -> tuple[int, int]:
        return (1, self.millis)  # TIMESTAMP_CREATE_TIME

    def error(self) -> None:
        return None


class ProjectionFeed:
    """A projection fed by hand: events in, read model and dead letters out, no Kafka.

    Each :meth:`events` call is one batch through the apply step the
    :class:`~esgen.runtime.projections.ProjectionRunner` uses
    (:class:`~esgen.runtime.projections.apply.Applier`): the same skipping of records the
    model has (by offset, and by entity version), the same savepoint around a handler
    that raises, the same dead letters (here kept in :attr:`dead_letters` instead of
    written to ``<topic>.dlq``). Only decoding differs: an event is encoded and decoded
    with its Avro schema (so the handler sees what Kafka would give it) and no registry
    is asked; an :class:`Undecodable` fails to decode as a record of garbage would.

    Records get the offsets and entity versions a store would give them, per topic and
    entity (``version=`` sets the first version of a call, e.g. to feed an event twice,
    as a producer retry would), times from ``clock`` and event ids from ``ids``
    (default: ``FIXED_TIME`` and ``sequential_ids()``). ``store`` defaults to a fresh
    :class:`~esgen.runtime.models.InMemoryModelStore`; ``topics`` overrides an entity's
    topic.

    >>> from decimal import Decimal
    >>> from generated.bank import account
    >>> from esgen.runtime.projections import Projection, handles
    >>> class Balances(Projection):
    ...     entities = (account.ENTITY,)
    ...
    ...     @handles(account.MoneyDeposited)
    ...     def deposited(self, model, event, meta):
    ...         model.put(meta.entity_id, model.get(meta.entity_id, Decimal(0)) + event.amount)
    >>> feed = ProjectionFeed(Balances())
    >>> result = feed.events(
    ...     "acc-1",
    ...     account.AccountOpened(owner="Ann"),
    ...     account.MoneyDeposited(amount=Decimal("10.00")),
    ...     Undecodable(b"garbage"),
    ...     account.MoneyDeposited(amount=Decimal("2.50")),
    ... )
    >>> (result.processed, result.skipped, len(result.dead_letters))
    (3, 0, 1)
    >>> feed.model
    {'acc-1': Decimal('12.50')}
    >>> letter = feed.dead_letters[0]
    >>> letter.stage, letter.record.offset()
    ('decode', 2)
    >>> print(letter.error)
    bank.accounts[0]@2: unknown magic byte 103 (the Confluent wire format starts with 0)
    >>> again = feed.redeliver(*feed.records)  # Kafka delivered the batch again
    >>> (again.processed, again.skipped)
    (0, 4)
    >>> feed.model
    {'acc-1': Decimal('12.50')}
    """

    def __init__(
        self,
        projection: Projection,
        store: ModelStore | None = None,
        *,
        topics: Mapping[EntityDescriptor[Any, Any], str] | None = None,
        partitions: int = 1,
        clock: Clock | None = None,
        ids: Ids | None = None,
    ) -> None:
        self.projection = projection
        self.store: ModelStore = InMemoryModelStore() if store is None else store
        self.partitions = partitions
        self.clock = clock or fixed_clock()
        self.ids = ids or sequential_ids()
        self._topics = {e: (topics or {}).get(e, e.topic) for e in projection.entities}
        self._applier = Applier(
            projection, self.store, dict.fromkeys(self._topics.values(), _decode_fed)
        )
        self._applier.setup()
        self._applier.positions = self.store.offsets()  # as the runner resumes a model
        self._next_offsets = dict(self._applier.positions)
        self._versions: dict[tuple[str, str], int] = {}
        self.records: list[FedRecord] = []
        """Every record fed so far, in order (for :meth:`redeliver`)."""
        self.dead_letters: list[DeadLetter] = []
        """Every dead letter so far, in order."""

    @property
    def model(self) -> dict[str, Any]:
        """The committed read model: every ``key -> value``."""
        return self.store.snapshot()

    def events(
        self,
        entity_id: object,
        *events: Any,
        version: int | None = None,
        entity: EntityDescriptor[Any, Any] | None = None,
    ) -> BatchResult:
        """Feed events (and :class:`Undecodable` records) of one entity as one batch.

        The entity type is the one each event belongs to (``entity=`` is needed only for
        an :class:`Undecodable` of a projection that reads several).
        """
        key = str(entity_id)
        if version is not None:
            for stream in {(self._topics[self._descriptor(e, entity)], key) for e in events}:
                self._versions[stream] = version - 1
        made = [self._record(key, item, entity) for item in events]
        self.records.extend(made)
        return self._feed(made)

    def redeliver(self, *records: FedRecord) -> BatchResult:
        """Feed records again, as Kafka does after a rebalance or a crash: one batch."""
        return self._feed(list(records))

    def replay(self) -> BatchResult:
        """Rebuild the model: reset it (the projection's ``clear`` and ``setup`` run) and
        feed every record so far again, as one batch."""
        self._applier.reset()
        self.dead_letters.clear()
        return self._feed(list(self.records))

    def redrive(self, *letters: DeadLetter) -> RedriveResult:
        """Apply dead letters again, as a runner does on a redrive request after a fix
        (:meth:`~esgen.runtime.projections.apply.Applier.redrive`): each record once; a
        letter that fails again is added to :attr:`dead_letters`."""
        result = self._applier.redrive([Redrive(letter.record) for letter in letters])
        self.dead_letters.extend(result.dead_letters)
        return result

    def _feed(self, records: list[FedRecord]) -> BatchResult:
        result = self._applier.apply(records)
        self.dead_letters.extend(result.dead_letters)
        return result

    def _descriptor(
        self, item: Any, entity: EntityDescriptor[Any, Any] | None
    ) -> EntityDescriptor[Any, Any]:
        entities = list(self._topics)
        if isinstance(item, Undecodable):
            if entity is None and len(entities) == 1:
                return entities[0]
            if entity is None:
                raise TypeError(
                    f"{self.projection.name} reads {', '.join(e.name for e in entities)}: "
                    "pass entity= to say whose topic the Undecodable record is on"
                )
            found = [entity] if entity in self._topics else []
        else:
            found = [e for e in entities if _is_event(e, item)]
            if entity is not None:
                found = [e for e in found if e == entity]
        if not found:
            raise TypeError(
                f"{item!r} is not an event of an entity {self.projection.name} reads "
                f"({', '.join(e.name for e in entities)})"
            )
        return found[0]

    def _record(self, key: str, item: Any, entity: EntityDescriptor[Any, Any] | None) -> FedRecord:
        descriptor = self._descriptor(item, entity)
        topic = self._topics[descriptor]
        partition = partition_for(key, self.partitions)
        offset = self._next_offsets.get((topic, partition), 0)
        self._next_offsets[(topic, partition)] = offset + 1
        moment = self.clock()
        millis = hdr.to_millis(moment)
        where = (topic, partition, offset)
        if isinstance(item, Undecodable):
            return FedRecord(where, key.encode(), item.value, [], millis, reason=item.reason)
        stream = (topic, key)
        version = self._versions.get(stream, 0) + 1
        self._versions[stream] = version
        event_type = descriptor.event_type(item)
        body = descriptor.encode(item)
        event = descriptor.decode(event_type.full_name, body)  # what Kafka would give
        meta = EventMeta(key, version, hdr.moment(millis), self.ids())
        headers = list(hdr.event_headers(event_type.full_name, meta))
        value = framing.frame(0, body)  # schema id 0: no registry is asked
        return FedRecord(where, key.encode(), value, headers, millis, event, meta)


def _decode_fed(record: Any) -> tuple[Any, EventMeta]:
    """The feed's decoder: the event a record stands for, or the ``DecodeError`` a record
    of these bytes gives."""
    if record.event is not None:
        return record.event, record.meta
    where = f"{record.topic()}[{record.partition()}]@{record.offset()}"
    if record.reason is not None:
        raise DecodeError(f"{where}: {record.reason}")
    value = record.value()
    if value is None:
        raise DecodeError(f"{where}: the record has no value (a tombstone?)")
    try:
        schema_id, _ = framing.unframe(value)
    except DecodeError as exc:
        raise DecodeError(f"{where}: {exc}") from exc
    raise DecodeError(f"{where}: schema id {schema_id} is unknown")
