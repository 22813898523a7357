"""Field defaults: validated against their type and normalized (see ``model.Default``).

Choices: decimals are normalized to their scale (``"0"`` for decimal(18,2) becomes
``"0.00"``); uuids to lowercase; timestamps and times are kept as written (validated, not
converted); records are filled in with every field, missing ones taking their own default.

A default is refused rather than changed: a whole number outside the 32/64-bit range, a
float beyond float32 (which would be written as infinity), any number beyond a double, a
decimal with more digits than its precision, a timestamp outside the years 1-9999 once in
UTC. Numbers are never converted from more than ``MAX_NUMBER_DIGITS`` digits (Python's own
limit is 4,300).
"""

from __future__ import annotations

import math
import re
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

import yaml

from esgen import model
from esgen.dsl.hints import did_you_mean
from esgen.dsl.limits import MAX_NUMBER_DIGITS
from esgen.dsl.typerules import describe
from esgen.dsl.yamlnodes import Mapping, Node, Scalar, Sequence
from esgen.errors import Location, quote, shorten

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
# A plain scalar that YAML 1.1 reads as text but everyone reads as a number: 1e39, 2E-5.
_EXPONENT_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_TIME = r"\d{2}:\d{2}:\d{2}(?:\.(\d{1,6}))?"
_TIME_RE = re.compile(_TIME + r"\Z")
_LOCAL_TS = re.compile(r"\d{4}-\d{2}-\d{2}T" + _TIME + r"\Z")
_TS = re.compile(r"\d{4}-\d{2}-\d{2}T" + _TIME + r"(?:Z|[+-]\d{2}:\d{2})\Z")
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\Z")
_DECIMAL = re.compile(r"[+-]?\d+(?:\.\d+)?\Z")
_STRINGLIKE = ("str", "timestamp")  # YAML resolves plain 2024-01-01 as a timestamp
_MAX_DEPTH = 32


class DefaultError(Exception):
    def __init__(self, message: str, location: Location, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint


@dataclass(frozen=True)
class PendingField:
    """A record field whose type is known and whose default is still a YAML node."""

    name: str
    type: model.TypeRef
    default: Node | None


@dataclass(frozen=True)
class TypeTable:
    records: dict[str, tuple[PendingField, ...]]
    enums: dict[str, tuple[str, ...]]
    fixed: dict[str, int]


def field_default(field: PendingField, table: TypeTable, depth: int = 0) -> object:
    """The normalized default of a field; an optional without one defaults to null."""
    if field.default is None:
        if isinstance(field.type, model.OptionalType):
            return None
        raise LookupError(field.name)
    return validate(field.default, field.type, table, depth)


def validate(node: Node, t: model.TypeRef, table: TypeTable, depth: int = 0) -> object:
    """Check ``node`` against ``t``; return the normalized value or raise DefaultError."""
    if depth > _MAX_DEPTH:
        raise DefaultError(
            "the default nests too deep (is a record default recursive?)", node.location
        )
    if isinstance(t, model.OptionalType):
        if isinstance(node, Scalar) and node.is_null:
            return None
        return validate(node, t.inner, table, depth)
    if isinstance(node, Scalar) and node.is_null:
        raise DefaultError(
            f"null is not a value of the type '{describe(t)}'",
            node.location,
            f"make the type optional: '{describe(t)}?'",
        )
    match t:
        case model.ArrayType(items):
            if not isinstance(node, Sequence):
                raise _expected(node, "a list", t)
            return [validate(item, items, table, depth + 1) for item in node.items]
        case model.MapType(values):
            if not isinstance(node, Mapping):
                raise _expected(node, "a mapping", t)
            return {k.text: validate(v, values, table, depth + 1) for k, v in node.items}
        case model.NamedRef(full) if full in table.records:
            return _record(node, full, table, depth)
    if not isinstance(node, Scalar):
        raise _expected(node, "a single value", t)
    return _scalar(node, t, table)


def _expected(node: Node, what: str, t: model.TypeRef, hint: str | None = None) -> DefaultError:
    got = (
        "a mapping"
        if isinstance(node, Mapping)
        else "a list"
        if isinstance(node, Sequence)
        else f"{quote(node.text)}"
    )
    return DefaultError(
        f"expected {what} as the default for '{describe(t)}', got {got}", node.location, hint
    )


def _record(node: Node, full: str, table: TypeTable, depth: int) -> dict[str, object]:
    t = model.NamedRef(full)
    if not isinstance(node, Mapping):
        raise _expected(node, "a mapping of its fields", t)
    fields = table.records[full]
    names = {f.name: f for f in fields}
    for key, _ in node.items:
        if key.text not in names:
            raise DefaultError(
                f"default of {quote(full)}: unknown field {quote(key.text)}",
                key.location,
                did_you_mean(key.text, names),
            )
    result: dict[str, object] = {}
    for f in fields:
        given = node.get(f.name)
        if given is not None:
            result[f.name] = validate(given, f.type, table, depth + 1)
            continue
        try:
            result[f.name] = field_default(f, table, depth + 1)
        except LookupError:
            raise DefaultError(
                f"default of {quote(full)} lacks the field {quote(f.name)}, which has no default",
                node.location,
            ) from None
    return result


def _scalar(node: Scalar, t: model.TypeRef, table: TypeTable) -> object:
    text, kind = node.text, node.kind
    match t:
        case model.Primitive("boolean"):
            if kind == "bool" and text.lower() in ("true", "false"):
                return text.lower() == "true"
            raise _expected(node, "true or false", t)
        case model.Primitive("int" | "long" as name):
            if kind != "int":
                raise _expected(node, "a whole number", t)
            low, high = INT32 if name == "int" else INT64
            value = _construct_int(node)
            if value is None or not low <= value <= high:
                raise DefaultError(
                    f"default {shorten(text)} is out of range for '{name}' ({low} to {high})",
                    node.location,
                    "use 'long'" if name == "int" else None,
                )
            return value
        case model.Primitive("float" | "double" as name):
            return _float(node, name, t)
        case model.Primitive("string"):
            _need_string(node, t)
            return text
        case model.Primitive("bytes"):
            _need_string(node, t)
            return _latin1(node, t)
        case model.DecimalType(precision, scale):
            return _decimal(node, precision, scale, t)
        case model.Logical(name):
            return _logical(node, name, t)
        case model.NamedRef(full) if full in table.enums:
            symbols = table.enums[full]
            if kind not in _STRINGLIKE or text not in symbols:
                raise DefaultError(
                    f"default {quote(text)} is not a symbol of the enum {quote(full)}",
                    node.location,
                    did_you_mean(text, symbols),
                )
            return text
        case model.NamedRef(full) if full in table.fixed:
            _need_string(node, t)
            chars = _latin1(node, t)
            if len(chars) != table.fixed[full]:
                raise DefaultError(
                    f"default of the fixed type {quote(full)} has {len(chars)} "
                    f"characters; expected exactly {table.fixed[full]}",
                    node.location,
                )
            return chars
    raise _expected(node, "a value of that type", t)


def _raw(node: Scalar) -> yaml.ScalarNode:
    return yaml.ScalarNode(node.tag, node.text)


def _construct_int(node: Scalar) -> int | None:
    """The value of a YAML int; None when it has more than MAX_NUMBER_DIGITS digits."""
    if sum(c.isalnum() for c in node.text) > MAX_NUMBER_DIGITS:
        return None
    return int(yaml.constructor.SafeConstructor().construct_yaml_int(_raw(node)))


def _float(node: Scalar, name: str, t: model.TypeRef) -> float:
    text, kind = node.text, node.kind
    if kind == "int":
        whole = _construct_int(node)
        number = math.inf if whole is None or len(str(abs(whole))) > 309 else float(whole)
    elif kind == "float" or (node.style is None and _EXPONENT_NUMBER.match(text)):
        number = float(yaml.constructor.SafeConstructor().construct_yaml_float(_raw(node)))
        if math.isnan(number):
            raise DefaultError(
                f"default {shorten(text)} is not a number; Avro defaults are JSON, "
                "which has no NaN",
                node.location,
            )
    else:
        raise _expected(node, "a number", t)
    if name == "float" and math.isfinite(number):
        try:
            struct.pack("<f", number)
        except OverflowError:
            number = math.inf  # float32 would write it as infinity
    if not math.isfinite(number):
        limit = "3.4028235e+38" if name == "float" else "1.7976931348623157e+308"
        raise DefaultError(
            f"default {shorten(text)} is out of range for '{name}' (at most {limit} "
            "either side of 0); Avro defaults are JSON, which has no infinity",
            node.location,
            "use 'double'" if name == "float" else None,
        )
    return number


def _need_string(node: Scalar, t: model.TypeRef) -> None:
    if node.kind not in _STRINGLIKE:
        raise _expected(node, "a string", t, f"quote it: '\"{node.text}\"'")


def _latin1(node: Scalar, t: model.TypeRef) -> str:
    # Avro writes bytes and fixed defaults as strings of code points 0-255.
    if any(ord(c) > 255 for c in node.text):
        raise _expected(node, "a string of characters U+0000 to U+00FF (one per byte)", t)
    return node.text


def _decimal(node: Scalar, precision: int, scale: int, t: model.TypeRef) -> str:
    if node.kind in ("int", "float"):
        raise _expected(
            node,
            "a quoted decimal string",
            t,
            f"quote it: '\"{node.text}\"', so no digit is lost to a float",
        )
    if node.kind != "str" or not _DECIMAL.match(node.text.strip()):
        raise _expected(node, 'a decimal number written as a string, e.g. "0.00"', t)
    try:
        value = Decimal(node.text.strip())
    except InvalidOperation:  # pragma: no cover - the regex already rules this out
        raise _expected(node, "a decimal number", t) from None
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > scale:
        raise DefaultError(
            f"default {quote(node.text)} has more than {scale} digits after the "
            f"point for '{describe(t)}'",
            node.location,
        )
    # Digits before the point, counted without arithmetic (no context can overflow).
    if value != 0 and value.adjusted() + 1 > precision - scale:
        raise DefaultError(
            f"default {quote(node.text)} does not fit '{describe(t)}' (at most "
            f"{precision - scale} digits before the point)",
            node.location,
        )
    return str(value.quantize(Decimal(1).scaleb(-scale)))


def _logical(node: Scalar, name: str, t: model.TypeRef) -> str:
    _need_string(node, t)
    text = node.text
    try:
        if name == "uuid":
            if not _UUID.match(text):
                raise ValueError
            return str(uuid.UUID(text))
        if name == "date":
            if not _DATE.match(text):
                raise ValueError
            date.fromisoformat(text)
            return text
        pattern = {"time": _TIME_RE, "timestamp": _TS, "local-timestamp": _LOCAL_TS}[
            name.rsplit("-", 1)[0]
        ]
        match = pattern.match(text)
        if not match:
            raise ValueError
        if name.endswith("millis") and match[1] and len(match[1]) > 3:
            raise DefaultError(
                f"default {quote(text)} has more than millisecond precision for '{name}'",
                node.location,
                f"use '{name[:-6]}micros'",
            )
        if name.startswith("time-"):
            time.fromisoformat(text)
        elif name.startswith("timestamp-"):
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            try:
                moment.astimezone(UTC)
            except OverflowError:
                raise DefaultError(
                    f"default {quote(text)} is outside the years 1 to 9999 in UTC, "
                    f"which '{name}' holds",
                    node.location,
                ) from None
        else:
            datetime.fromisoformat(text)
        return text
    except ValueError:
        raise _expected(node, _FORMATS[name], t) from None


_FORMATS = {
    "uuid": "a UUID like '123e4567-e89b-12d3-a456-426614174000'",
    "date": "a date 'YYYY-MM-DD'",
    "time-millis": "a time 'HH:MM:SS[.fff]'",
    "time-micros": "a time 'HH:MM:SS[.ffffff]'",
    "timestamp-millis": "a timestamp with offset 'YYYY-MM-DDTHH:MM:SS[.fff]Z' or '+HH:MM'",
    "timestamp-micros": "a timestamp with offset 'YYYY-MM-DDTHH:MM:SS[.ffffff]Z' or '+HH:MM'",
    "local-timestamp-millis": "a timestamp without offset 'YYYY-MM-DDTHH:MM:SS[.fff]'",
    "local-timestamp-micros": "a timestamp without offset 'YYYY-MM-DDTHH:MM:SS[.ffffff]'",
}
