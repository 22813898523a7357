"""Errors of the generator side (definitions, configuration, compatibility), and how user
text appears in their messages.

Runtime errors live in ``esgen.runtime.errors`` so applications never import this.

Every message is one line: user text is quoted with :func:`quote` (escapes, like ``repr``,
shortened when long), and :func:`one_line` escapes whatever a message still carries
(a line break in a path, a lone surrogate), so one error is always one line of output
and printing it never fails.
"""

from __future__ import annotations

from dataclasses import dataclass

QUOTE_LIMIT = 80  # characters of user text shown in a message before "..."


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """User text for a message: ``'name'``, with escapes for anything unprintable.

    Long text is cut: ``'99999...'... (5000 characters)``.
    """
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def shorten(text: str, limit: int = QUOTE_LIMIT) -> str:
    """Text that needs no quotes (a number as written), cut like :func:`quote`."""
    if len(text) <= limit:
        return one_line(text)
    return f"{one_line(text[:limit])}... ({len(text)} characters)"


def one_line(text: str) -> str:
    """``text`` with line breaks, control characters and lone surrogates escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@dataclass(frozen=True, order=True)
class Location:
    """A place in a definition file; line and column are 1-based."""

    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{one_line(self.path)}:{self.line}:{self.column}"


@dataclass(frozen=True)
class DefinitionError:
    """One problem in the definitions, reported as ``PATH:LINE:COL: error: MESSAGE``."""

    message: str
    location: Location
    hint: str | None = None  # e.g. "did you mean 'decimal'?"

    def __str__(self) -> str:
        text = f"{self.location}: error: {one_line(self.message)}"
        if self.hint:
            text += f" ({one_line(self.hint)})"
        return text


class DefinitionErrors(Exception):
    """Raised when definitions are invalid; carries every problem found, sorted."""

    def __init__(self, errors: list[DefinitionError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.location, e.message))
        super().__init__("\n".join(str(e) for e in self.errors))


class ConfigError(Exception):
    """Bad project configuration or command-line usage (exit code 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class SourceError(Exception):
    """A file that cannot be read as what it should be (text, UTF-8, JSON), at a place."""

    def __init__(self, message: str, location: Location) -> None:
        super().__init__(f"{location}: {one_line(message)}")
        self.message = message
        self.location = location
