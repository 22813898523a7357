"""Given / when / then for the unit tests of an application's commands and folds.

*Given* some events of one entity, *when* a command runs on its state (a function
``(state) -> events``, or simply an event), *then* expect the new events, the new
state, or an error. Everything goes through :class:`~esgen.runtime.memory.InMemoryEventStore`,
so invariants, versions and Avro encoding are checked exactly as the real store does.

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
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from esgen.runtime.descriptor import EntityDescriptor
from esgen.runtime.memory import InMemoryEventStore

Command = Callable[[Any], Any]
"""``(state) -> events``: an event, a list of events, or None (no events)."""

_UNSET: Any = object()


@dataclass
class Outcome:
    """What ``when`` produced: the new events and state, or the error it raised."""

    entity_id: Any
    events: list[Any] = field(default_factory=list)
    state: Any = None
    error: BaseException | None = None

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
    entity_id: Any = "test-1"

    def when(self, command_or_event: Command | object) -> Outcome:
        """Run a command on the state after the history (or append one event)."""
        store: InMemoryEventStore[Any, Any] = InMemoryEventStore(self.descriptor)
        store.append(self.entity_id, self.history)
        outcome = Outcome(self.entity_id)
        try:
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
            outcome.events = new
        except Exception as exc:  # the outcome asserts on it
            outcome.error = exc
        outcome.state = store.load(self.entity_id)
        return outcome

    def then_state(self, state: Any) -> None:
        """Assert the state the history alone gives (no command)."""
        self.when(None).then(state=state)


def _is_event(descriptor: EntityDescriptor[Any, Any], value: object) -> bool:
    try:
        descriptor.event_type(value)
    except Exception:
        return False
    return True


def given(descriptor: EntityDescriptor[Any, Any], *events: Any, entity_id: Any = None) -> Scenario:
    """A scenario: the entity ``entity_id`` with ``events`` already stored.

    The id is of the type of the entity's key; without one, ``"test-1"`` for a string
    key, ``uuid.UUID(int=1)`` for a uuid key and ``1`` for an integer key.
    """
    if entity_id is None:
        entity_id = {"string": "test-1", "uuid": uuid.UUID(int=1)}.get(descriptor.key_type, 1)
    return Scenario(descriptor, list(events), entity_id)
