"""Errors raised by the runtime and by generated code."""

from __future__ import annotations


class EsgenError(Exception):
    """Base class of every runtime error."""


class InvariantViolation(EsgenError):
    """A state broke an invariant of its definition; the append that caused it was refused."""

    def __init__(self, entity: str, invariant: str, state: object) -> None:
        self.entity = entity
        self.invariant = invariant
        self.state = state
        super().__init__(f"{entity}: invariant violated: {invariant}")


class DecodeError(EsgenError):
    """Bytes that cannot be decoded into an event or state of the descriptor."""


class EncodeError(EsgenError):
    """A value that does not fit its Avro schema (e.g. a Decimal with too many places)."""
