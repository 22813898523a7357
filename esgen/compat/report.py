"""What the checker reports: problems explained like ``buf breaking``, as text or JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from esgen.errors import one_line
from esgen.model import Direction, Mode


@dataclass(frozen=True)
class Problem:
    """One reason the new schema is not acceptable.

    ``schema``: full name of the new schema's top-level type; ``path``: where, dotted through
    record fields, with ``[]`` for array items, ``{}`` for map values and ``<type>`` for a
    union branch; ``rule``: a stable id from ``esgen.compat.rules``; ``direction``: BACKWARD,
    FORWARD or SCHEMA (the schema is invalid on its own); ``previous_index``: which previous
    version (0 = oldest) the failed check compared with, ``None`` for the new schema's own
    validity; ``message``: what and why; ``fix``: what to change.
    """

    schema: str
    path: str
    rule: str
    direction: Direction
    previous_index: int | None
    message: str
    fix: str

    def format_text(self) -> str:
        if self.direction is Direction.SCHEMA:
            where = (
                "invalid schema"
                if self.previous_index is None
                else (f"invalid previous schema #{self.previous_index}")
            )
        else:
            where = f"{self.direction.value} vs previous #{self.previous_index}"
        return one_line(f"`{self.path}`: {self.message} ({where}). {self.fix} [{self.rule}]")

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "path": self.path,
            "rule": self.rule,
            "direction": self.direction.value,
            "previous_index": self.previous_index,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class Report:
    """The verdict of ``esgen.compat.check``: compatible when there is no problem."""

    schema: str
    mode: Mode
    previous_count: int
    checked: tuple[int, ...]
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    @property
    def compatible(self) -> bool:
        return not self.problems

    def __bool__(self) -> bool:
        return self.compatible

    def rules(self) -> set[str]:
        return {p.rule for p in self.problems}

    def format_text(self) -> str:
        checked = ", ".join(f"#{i}" for i in self.checked) or "none"
        head = one_line(
            f"{self.schema}: mode {self.mode.value}, {self.previous_count} previous "
            f"version{'s' if self.previous_count != 1 else ''} (checked: {checked})"
        )
        if self.compatible:
            return f"{head}: compatible"
        lines = [f"{head}: INCOMPATIBLE"]
        lines.extend(p.format_text() for p in self.problems)
        count = len(self.problems)
        lines.append(f"{count} problem{'s' if count != 1 else ''}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "mode": self.mode.value,
            "compatible": self.compatible,
            "previous_count": self.previous_count,
            "checked": list(self.checked),
            "problems": [p.to_dict() for p in self.problems],
        }
