"""Errors raised by the runtime and by generated code."""

from __future__ import annotations

import decimal


class EsgenError(Exception):
    """Base class of every runtime error."""


class InvariantViolation(EsgenError):
    """A state broke an invariant of its definition; the append that caused it was refused.

    ``values`` maps each reference the invariant reads (``"state.balance"``) to the value
    it had, so the message says why: ``Account 'acc-1': invariant 'state.balance >= 0'
    broken (state.balance = -5.00)``.
    """

    def __init__(
        self,
        entity: str,
        entity_id: object,
        invariant: str,
        values: dict[str, object] | None = None,
        state: object = None,
    ) -> None:
        self.entity = entity
        self.entity_id = entity_id
        self.invariant = invariant
        self.values = dict(values or {})
        self.state = state
        read = ", ".join(f"{name} = {_shown(value)}" for name, value in self.values.items())
        super().__init__(
            f"{entity} {_shown(str(entity_id))}: invariant {_shown(invariant)} broken"
            + (f" ({read})" if read else "")
        )


def _shown(value: object) -> str:
    """A value in a one-line message: numbers as written, everything else as repr."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int | float | decimal.Decimal):
        return str(value)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class DecodeError(EsgenError):
    """Bytes that cannot be decoded into an event or state of the descriptor."""


class EncodeError(EsgenError):
    """A value that its Avro type cannot hold (e.g. a Decimal with too many places). The
    message names the record, the field path and the value:
    ``cannot encode LineItem: quantity = 4294967296: does not fit Avro int (32-bit...)``."""


class ConcurrencyError(EsgenError):
    """``expected_version`` did not match the entity's version as the store sees it.

    Across processes this is a best-effort check, not a guarantee: Kafka has no
    conditional append, so two writers that both saw version 7 can both append version 8.
    """

    def __init__(self, entity: str, entity_id: str, expected: int, actual: int) -> None:
        self.entity = entity
        self.entity_id = entity_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{entity} {entity_id!r}: expected version {expected}, but the store is at "
            f"version {actual}; load the entity again and retry the command"
        )


class RegistryError(EsgenError):
    """The schema registry refused a request or could not be reached."""


class StoreError(EsgenError):
    """Kafka could not be reached, a topic is unusable, or an append was not delivered."""
