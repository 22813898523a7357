"""Reading the files users hand esgen: UTF-8 text and JSON, with located errors.

Definition files, lock folders, accept files and ``.avsc`` schemas all come from users (or
from whatever wrote them), so reading one never raises anything but :class:`SourceError`,
which says where: the line and column of a byte that is not UTF-8, of a JSON syntax error,
of a number too long to read, of nesting deeper than :data:`MAX_JSON_DEPTH`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from esgen.errors import Location, SourceError

# Deeper JSON is refused before anything walks it: an Avro schema nests about four JSON
# levels per record level, so this allows records nested some 30 deep, and keeps every
# recursive reader (json itself, the compatibility checker) far from Python's limit.
MAX_JSON_DEPTH = 128
# Python refuses to convert longer digit strings to int (sys.get_int_max_str_digits).
MAX_DIGITS = 4300


def position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of the character at ``index``."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def decode(data: bytes, shown: str) -> str:
    """``data`` as UTF-8 text; else a SourceError at the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-8")
        line, column = position(before + "?", len(before))
        raise SourceError(
            f"the file is not UTF-8 text: byte 0x{data[exc.start]:02X} cannot be decoded "
            "(save the file as UTF-8)",
            Location(shown, line, column),
        ) from None


def read_text(path: Path, shown: str | None = None) -> str:
    """The file's UTF-8 text. ``shown`` is the path as messages name it (default: ``path``)."""
    shown = str(path) if shown is None else shown
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(
            f"cannot read the file: {exc.strerror or exc}", Location(shown, 1, 1)
        ) from None
    return decode(data, shown)


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``value`` nests objects and lists deeper than ``limit``; iterative."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict | list):
            if depth > limit:
                return True
            items = current.values() if isinstance(current, dict) else current
            stack.extend((item, depth + 1) for item in items)
    return False


def _outside_strings(text: str) -> list[tuple[int, str]]:
    """``(index, char)`` of every character of JSON text that is not inside a string."""
    found: list[tuple[int, str]] = []
    in_string = escaped = False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        else:
            found.append((index, char))
    return found


def _deep_bracket(text: str, limit: int) -> int:
    """Index of the bracket that opens nesting level ``limit + 1`` (0 if none)."""
    depth = 0
    for index, char in _outside_strings(text):
        depth += char in "[{"
        depth -= char in "]}"
        if depth > limit:
            return index
    return 0


def _long_number(text: str) -> int:
    """Index of the first number longer than MAX_DIGITS outside strings (0 if none)."""
    run = 0
    for index, char in _outside_strings(text):
        run = run + 1 if char.isdigit() else 0
        if run > MAX_DIGITS:
            return index - run + 1
    return 0


def parse_json(text: str, shown: str) -> Any:
    """Parse JSON text; a SourceError names the place of any problem.

    The error paths scan the text again to find the place; the good path parses once.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"not valid JSON: {exc.msg}", Location(shown, exc.lineno, exc.colno)
        ) from None
    except RecursionError:
        value = None
        deep = True
    except ValueError:  # the only other one: a number longer than Python converts
        where = position(text, _long_number(text))
        raise SourceError(
            f"a number with more than {MAX_DIGITS} digits", Location(shown, *where)
        ) from None
    else:
        deep = too_deep(value)
    if deep:
        where = position(text, _deep_bracket(text, MAX_JSON_DEPTH))
        raise SourceError(
            f"nested too deeply (limit {MAX_JSON_DEPTH} levels of objects and lists)",
            Location(shown, *where),
        )
    return value


def read_json(path: Path, shown: str | None = None) -> Any:
    """The parsed JSON of a UTF-8 file."""
    shown = str(path) if shown is None else shown
    return parse_json(read_text(path, shown), shown)
