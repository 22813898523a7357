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
        entity_id: object = None,
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
                repr(str(self.entity_id)) if self.entity_id is not None else None,
            )
            if part
        )
        command = f"{self.command} rejected" if self.command else "rejected"
        return f"{what}: {command}: {self.reason}" if what else f"{command}: {self.reason}"


class DecodeError(EsgenError):
    """Bytes that cannot be decoded into an event or state of the descriptor."""


class EncodeError(EsgenError):
    """A value that its Avro type cannot hold (e.g. a Decimal with too many places). The
    message names the record, the field path and the value:
    ``cannot encode LineItem: quantity = 4294967296: does not fit Avro int (32-bit...)``."""


class ConcurrencyError(EsgenError):
    """``expected_version`` did not match the entity's current version; nothing was written.

    Exact across processes: the event store checks it while holding the entity's
    partition lease, after reading the partition to its end (see :mod:`esgen.runtime.lease`).
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


# -- the integrity of a history (the event store) ----------------------------------------


class IntegrityError(StoreError):
    """The history on Kafka cannot be folded as it is: a state built on it would be wrong.

    ``topic`` and ``partition`` say where; the message says what was found and what to do.
    """

    def __init__(self, message: str, *, topic: str, partition: int | None = None) -> None:
        self.topic = topic
        self.partition = partition
        super().__init__(message)


class HistoryTruncated(IntegrityError):
    """Records a state needs were deleted: the partition's log start offset is past them
    (retention, ``delete_records``)."""

    def __init__(self, message: str, *, topic: str, partition: int, log_start: int, needed: int):
        self.log_start = log_start
        self.needed = needed
        super().__init__(message, topic=topic, partition=partition)


class HistoryForked(IntegrityError):
    """Two records claim the same version of one entity, or a version is missing: the
    history was written by a writer that did not hold the partition's lease."""

    def __init__(
        self,
        message: str,
        *,
        topic: str,
        partition: int,
        entity_id: str,
        offset: int,
        version: int,
        expected: int,
    ) -> None:
        self.entity_id = entity_id
        self.offset = offset
        self.version = version
        self.expected = expected
        super().__init__(message, topic=topic, partition=partition)


class PartitionCountChanged(IntegrityError):
    """The event topic has another partition count than the one its history was written
    with: entities would be looked for in the wrong partitions."""

    def __init__(self, message: str, *, topic: str, recorded: int, actual: int) -> None:
        self.recorded = recorded
        self.actual = actual
        super().__init__(message, topic=topic)


class UnsafeTopic(StoreError):
    """A topic's configuration lets Kafka delete what the store must keep."""

    def __init__(self, message: str, *, topic: str, problems: dict[str, str]) -> None:
        self.topic = topic
        self.problems = problems
        super().__init__(message)


class AppendOutcomeUnknown(StoreError):
    """An append's commit was sent but its outcome could not be learned (Kafka did not
    answer, and could not be asked again in time): its events are either all stored or
    none is. Load the entity again before retrying, or the retry may store them twice."""

    def __init__(self, message: str, *, topic: str, partition: int, entity_id: str) -> None:
        self.topic = topic
        self.partition = partition
        self.entity_id = entity_id
        super().__init__(message)


# -- commands on Kafka (the command processor and client) -------------------------------


class CommandTimeout(EsgenError):
    """No outcome of a command arrived in time. It was applied once or not at all: sending
    it again with the same ``command_id`` is safe and returns its outcome (within the
    processor's idempotency window)."""

    def __init__(self, message: str, *, command_id: str, entity_id: object) -> None:
        self.command_id = command_id
        self.entity_id = entity_id
        super().__init__(message)


class CommandFailed(EsgenError):
    """The processor could not execute a command (it cannot be decoded, its ``decide``
    code raised, or its events cannot be encoded): nothing was written, and the command id
    is free for a corrected command. ``error`` is what the processor reported."""

    def __init__(self, message: str, *, command_id: str, error: str) -> None:
        self.command_id = command_id
        self.error = error
        super().__init__(message)


class TopicsNotCoPartitioned(StoreError):
    """A command or reply topic has another partition count than its event topic: a
    command would be decided by the owner of another partition than its entity's."""

    def __init__(self, message: str, *, topic: str, expected: int, actual: int) -> None:
        self.topic = topic
        self.expected = expected
        self.actual = actual
        super().__init__(message)
