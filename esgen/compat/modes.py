"""Confluent Schema Registry's compatibility modes and which checks each one runs.

| mode | checks the new schema against | as |
| --- | --- | --- |
| ``NONE`` | nothing (the new schema must still be valid) | |
| ``BACKWARD`` | the latest previous version | reader (new reads old events) |
| ``BACKWARD_TRANSITIVE`` | every previous version | reader |
| ``FORWARD`` | the latest previous version | writer (old readers read new events) |
| ``FORWARD_TRANSITIVE`` | every previous version | writer |
| ``FULL`` | the latest previous version | both |
| ``FULL_TRANSITIVE`` | every previous version | both |
"""

from __future__ import annotations

import enum


class Direction(enum.StrEnum):
    """Which reading failed: BACKWARD (new schema reads old events) or FORWARD (old schema
    reads new events). SCHEMA marks problems of a schema on its own."""

    BACKWARD = "BACKWARD"
    FORWARD = "FORWARD"
    SCHEMA = "SCHEMA"


class Mode(enum.StrEnum):
    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @classmethod
    def parse(cls, value: str | Mode) -> Mode:
        """Accept a Mode or its name in any case; raise ValueError naming the choices."""
        if isinstance(value, Mode):
            return value
        try:
            return cls(str(value).strip().upper())
        except ValueError:
            choices = ", ".join(m.value for m in cls)
            raise ValueError(
                f"unknown compatibility mode {value!r} (choose from {choices})"
            ) from None

    @property
    def transitive(self) -> bool:
        return self.value.endswith("_TRANSITIVE")

    @property
    def directions(self) -> tuple[Direction, ...]:
        if self is Mode.NONE:
            return ()
        if self.value.startswith("BACKWARD"):
            return (Direction.BACKWARD,)
        if self.value.startswith("FORWARD"):
            return (Direction.FORWARD,)
        return (Direction.BACKWARD, Direction.FORWARD)

    def versions_to_check(self, count: int) -> list[int]:
        """Indexes (oldest first) of the previous versions this mode compares with."""
        if self is Mode.NONE or count == 0:
            return []
        return list(range(count)) if self.transitive else [count - 1]
