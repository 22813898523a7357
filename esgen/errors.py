"""Errors of the generator side (definitions, configuration, compatibility).

Runtime errors live in ``esgen.runtime.errors`` so applications never import this.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Location:
    """A place in a definition file; line and column are 1-based."""

    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class DefinitionError:
    """One problem in the definitions, reported as ``PATH:LINE:COL: error: MESSAGE``."""

    message: str
    location: Location
    hint: str | None = None  # e.g. "did you mean 'decimal'?"

    def __str__(self) -> str:
        text = f"{self.location}: error: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class DefinitionErrors(Exception):
    """Raised when definitions are invalid; carries every problem found, sorted."""

    def __init__(self, errors: list[DefinitionError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.location, e.message))
        super().__init__("\n".join(str(e) for e in self.errors))


class ConfigError(Exception):
    """Bad project configuration or command-line usage (exit code 2)."""
