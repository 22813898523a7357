"""Type strings -> ``model.TypeRef``.

Grammar: ``T?`` (once) over ``array<T>`` | ``map<T>`` | ``decimal(P,S)`` | primitive |
logical | a short name from this file's ``types:`` | a full name from any file.

Types nest at most ``MAX_TYPE_DEPTH`` levels; ``decimal(P,S)`` needs
``1 <= P <= MAX_DECIMAL_PRECISION`` (folds compute with Python's decimal context).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast, get_args

from esgen import model
from esgen.dsl.hints import did_you_mean
from esgen.dsl.limits import MAX_DECIMAL_PRECISION, MAX_TYPE_DEPTH, too_deep
from esgen.errors import quote

PRIMITIVES: tuple[str, ...] = get_args(model.PrimitiveName)
LOGICALS: tuple[str, ...] = get_args(model.LogicalName)
# What did-you-mean offers besides named types: the spellings users type.
BUILTIN_SPELLINGS = (*PRIMITIVES, *LOGICALS, "decimal(P,S)", "array<T>", "map<T>")

_DECIMAL = re.compile(r"decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)\Z")


class TypeSyntaxError(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class TypeNames:
    """The named types a file can see: its own short names and every full name."""

    short: Mapping[str, str]  # short name -> full name (this file's ``types:``)
    full: Mapping[str, str]  # full name -> kind ("record", "enum", "fixed")

    def resolve(self, name: str) -> str | None:
        if name in self.short:
            return self.short[name]
        return name if name in self.full else None

    @functools.cached_property
    def spellings(self) -> tuple[str, ...]:
        """Everything a type string may name, for hints (built once per file)."""
        return (*BUILTIN_SPELLINGS, *self.short, *self.full)

    @functools.cached_property
    def by_short_name(self) -> dict[str, str]:
        """Short name -> the first full name (sorted) that ends in it, across all files."""
        index: dict[str, str] = {}
        for full in sorted(self.full):
            index.setdefault(full.rsplit(".", 1)[-1], full)
        return index


def parse_type(text: str, names: TypeNames) -> model.TypeRef:
    """Parse a type string; raise :class:`TypeSyntaxError` with a hint when it is wrong."""
    text = text.strip()
    if not text:
        raise TypeSyntaxError("empty type")
    if text.count("<") + text.count("?") > MAX_TYPE_DEPTH:
        raise TypeSyntaxError(too_deep(f"the type {quote(text)}", MAX_TYPE_DEPTH))
    if text.endswith("?"):
        inner = text[:-1].rstrip()
        if inner.endswith("?"):
            raise TypeSyntaxError(
                f"{quote(text)}: '?' may appear only once", f"write '{inner.rstrip('?')}?'"
            )
        return model.OptionalType(_parse_plain(inner, names))
    return _parse_plain(text, names)


def _parse_plain(text: str, names: TypeNames) -> model.TypeRef:
    for wrapper in ("array", "map"):
        if text.startswith(wrapper + "<"):
            if not text.endswith(">"):
                raise TypeSyntaxError(f"{quote(text)}: missing '>'", f"write '{wrapper}<T>'")
            inner = text[len(wrapper) + 1 : -1].strip()
            if wrapper == "map" and _top_level_comma(inner):
                raise TypeSyntaxError(
                    f"{quote(text)}: map keys are always strings",
                    f"write 'map<{inner.split(',', 1)[1].strip()}>'",
                )
            item = parse_type(inner, names)
            return model.ArrayType(item) if wrapper == "array" else model.MapType(item)
    if text in PRIMITIVES:
        return model.Primitive(cast(model.PrimitiveName, text))
    if text in LOGICALS:
        return model.Logical(cast(model.LogicalName, text))
    if text.startswith("decimal"):
        match = _DECIMAL.match(text)
        if not match:
            raise TypeSyntaxError(
                f"{quote(text)} is not a decimal type",
                "write 'decimal(P,S)', e.g. 'decimal(18,2)'",
            )
        precision, scale = _bounded(match[1]), _bounded(match[2])
        if precision < 1:
            raise TypeSyntaxError(f"{quote(text)}: precision must be at least 1")
        if precision > MAX_DECIMAL_PRECISION:
            raise TypeSyntaxError(
                f"{quote(text)}: precision must be at most {MAX_DECIMAL_PRECISION}, the digits "
                "Python's decimal arithmetic keeps exactly (folds would round larger values)"
            )
        if scale > precision:
            raise TypeSyntaxError(f"{quote(text)}: scale must not exceed precision")
        return model.DecimalType(precision, scale)
    full = names.resolve(text)
    if full is not None:
        return model.NamedRef(full)
    raise TypeSyntaxError(f"unknown type {quote(text)}", _hint(text, names))


def _bounded(digits: str) -> int:
    """A whole number, or 10**9 for anything longer (never converts thousands of digits)."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 9 else 10**9


def _top_level_comma(text: str) -> bool:
    depth = 0
    for char in text:
        depth += char in "<("
        depth -= char in ">)"
        if char == "," and depth == 0:
            return True
    return False


def _hint(text: str, names: TypeNames) -> str | None:
    # A short name of a type in another file: offer its full name.
    match = names.by_short_name.get(text)
    if match is not None:
        return f"types of other files need their full name: did you mean '{match}'?"
    return did_you_mean(text, names.spellings)
