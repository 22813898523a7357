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
"""

from __future__ import annotations

import datetime
import itertools
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from esgen.runtime.commands import CommandResult
from esgen.runtime.descriptor import EntityDescriptor
from esgen.runtime.errors import CommandRejected
from esgen.runtime.memory import InMemoryEventStore

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
