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


class CommandRejected(EsgenError):
    """A command was refused: a precondition failed, or its events would break an invariant.

    ``reason`` is the precondition's reason (or the invariant's text); nothing was written.
    ``entity``, ``command`` and ``entity_id`` say what was refused; ``decide`` fills them in,
    so a ``decide:`` function may raise ``CommandRejected("over the limit")`` alone.
    """

    def __init__(
        self,
        reason: str,
        *,
        entity: str | None = None,
        command: str | None = None,
        entity_id: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.entity = entity
        self.command = command
        self.entity_id = entity_id

    def __str__(self) -> str:
        what = " ".join(
            part
            for part in (
                self.entity,
                repr(self.entity_id) if self.entity_id is not None else None,
            )
            if part
        )
        command = f"{self.command} rejected" if self.command else "rejected"
        return f"{what}: {command}: {self.reason}" if what else f"{command}: {self.reason}"


class DecodeError(EsgenError):
    """Bytes that cannot be decoded into an event or state of the descriptor."""


class EncodeError(EsgenError):
    """A value that does not fit its Avro schema (e.g. a Decimal with too many places)."""


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
