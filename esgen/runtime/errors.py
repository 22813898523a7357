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


class ConfigurationError(EsgenError, ValueError):
    """A setting is missing, unknown or has a value esgen cannot work with."""


class RegistryError(EsgenError):
    """The schema registry refused a request or could not be reached.

    ``status`` is the HTTP status of the registry's answer (0: no answer at all),
    ``code`` the registry's own error code (-1: none), ``action`` what was being done.
    """

    def __init__(self, message: str, *, action: str = "", status: int = 0, code: int = -1) -> None:
        self.action = action
        self.status = status
        self.code = code
        super().__init__(message)


class RegistryUnavailable(RegistryError):
    """The schema registry could not be reached, or did not answer in time."""


class StoreError(EsgenError):
    """Kafka could not be reached, a topic is unusable, or an append was not delivered."""
