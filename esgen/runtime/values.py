"""What each Avro type can hold: one check per schema node, on Python values.

fastavro writes some values that the type cannot hold without complaint: an ``int`` over
32 bits in an ``int`` field (Java readers fail on it), ``1.5`` or ``True`` in an ``int``
(written as 1), a float beyond float32 (written as infinity), a ``Decimal`` with more
digits than its precision, a naive ``datetime`` for ``timestamp-*`` (taken as UTC), an
aware one for ``local-timestamp-*`` (its offset dropped), sub-millisecond digits in
``*-millis`` (dropped), any string in a ``uuid`` field (written as is, so the record can
never be read back). These checks refuse all of them, so nothing is truncated, rounded or
reinterpreted: a value either round-trips exactly through Avro or is refused.

``checker(node, records)`` compiles a schema node (already self-contained: every named
type defined where it is first used) into ``check(value) -> Problem | None``. Records are
checked through ``records(full_name, deep)``: shallow checks only ask for an instance of
the record's class (records are checked when they are built), deep ones check every field
inside too (the mutable state, before it is written).
"""

from __future__ import annotations

import datetime
import decimal
import math
import struct
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
FLOAT32_MAX = 3.4028234663852886e38


_FLOAT32 = struct.Struct("<f")


def float32(value: float) -> float:
    """``value`` rounded to the nearest 32-bit float: what an Avro ``float`` holds.

    Records keep their ``float`` fields rounded (when built, and folds round what they
    assign), so a value is the same before it is written and after it is read back.
    """
    if value != value or math.isinf(value):  # NaN and infinities are held as they are
        return float(value)
    return _FLOAT32.unpack(_FLOAT32.pack(value))[0]  # type: ignore[no-any-return]


def rounder(node: Any, named: Mapping[str, Any] | None = None) -> Callable[[Any], Any] | None:
    """How values of the schema ``node`` are rounded to what Avro holds (their ``float``
    parts to 32 bits), or None when they need nothing."""
    named = named or {}
    if isinstance(node, str) and node in named:
        node = named[node]
    if node == "float" or (isinstance(node, dict) and node.get("type") == "float"):
        return _round_float
    if isinstance(node, list):
        inner = [b for b in node if b != "null"]
        round_inner = rounder(inner[0], named) if len(inner) == 1 else None
        if round_inner is None:
            return None
        return lambda value: None if value is None else round_inner(value)
    if isinstance(node, dict) and node.get("type") == "array":
        items = rounder(node["items"], named)
        return None if items is None else (lambda values: [items(v) for v in values])
    if isinstance(node, dict) and node.get("type") == "map":
        values = rounder(node["values"], named)
        return (
            None
            if values is None
            else (lambda entries: {k: values(v) for k, v in entries.items()})
        )
    return None


def _round_float(value: Any) -> Any:
    return (
        float32(value) if isinstance(value, float | int) and not isinstance(value, bool) else value
    )


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a value does not fit: ``path`` within the checked value (``""`` for the value
    itself, else ``[2]``, ``['key']``, ``.field``...), the offending value, the reason."""

    path: str
    value: Any
    reason: str

    def within(self, prefix: str) -> Problem:
        return Problem(prefix + self.path, self.value, self.reason)


Check = Callable[[Any], Problem | None]
RecordChecks = Callable[[str, bool], Check]
"""``(full name, deep) -> check`` of a named record."""


def describe(value: Any) -> str:
    """A short, one-line rendering of a value for messages."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _kind(value: Any) -> str:
    return type(value).__qualname__


def full_name(node: Mapping[str, Any], namespace: str | None = None) -> str:
    """The full name of a named schema (record, enum or fixed)."""
    name: str = node["name"]
    if "." in name:
        return name
    space = node.get("namespace", namespace)
    return f"{space}.{name}" if space else name


def checker(
    node: Any, records: RecordChecks, deep: bool = False, named: dict[str, Any] | None = None
) -> Check:
    """The check of values of the schema ``node``. ``named`` collects the named types
    defined so far in the schema being walked (a later use refers to them by name)."""
    named = {} if named is None else named
    if isinstance(node, list):
        return _union(node, records, deep, named)
    if isinstance(node, str):
        if node in _PRIMITIVES:
            return _PRIMITIVES[node]
        return checker(named[node], records, deep, named)
    kind = node["type"]
    logical = node.get("logicalType")
    if logical == "decimal":
        return _decimal(node["precision"], node.get("scale", 0))
    if logical is not None and logical in _LOGICAL:
        return _LOGICAL[logical]
    if kind in ("record", "enum", "fixed"):
        full = full_name(node)
        named.setdefault(full, node)
        if kind == "record":
            return records(full, deep)
        if kind == "enum":
            return _enum(node["name"], node["symbols"])
        return _fixed(node["name"], node["size"])
    if kind == "array":
        return _array(checker(node["items"], records, deep, named))
    if kind == "map":
        return _map(checker(node["values"], records, deep, named))
    return checker(kind, records, deep, named)  # {"type": "string"} and friends


def _union(branches: list[Any], records: RecordChecks, deep: bool, named: dict[str, Any]) -> Check:
    inner = [b for b in branches if b != "null"]
    if len(inner) != 1:
        raise ValueError(f"only unions of null and one type are supported, not {branches}")
    check = checker(inner[0], records, deep, named)

    def optional(value: Any) -> Problem | None:
        return None if value is None else check(value)

    return optional


def _null(value: Any) -> Problem | None:
    return None if value is None else Problem("", value, "expected None (Avro null)")


def _boolean(value: Any) -> Problem | None:
    if value is True or value is False:
        return None
    return Problem("", value, f"expected a bool, not {_kind(value)}")


def _integer(low: int, high: int, avro: str) -> Check:
    def check(value: Any) -> Problem | None:
        if isinstance(value, int) and not isinstance(value, bool):
            if low <= value <= high:
                return None
            bits = "32" if avro == "int" else "64"
            return Problem("", value, f"does not fit Avro {avro} ({bits}-bit: {low}..{high})")
        return Problem("", value, f"expected an int for Avro {avro}, not {_kind(value)}")

    return check


def _float(value: Any) -> Problem | None:
    if isinstance(value, float):
        if math.isfinite(value) and abs(value) > FLOAT32_MAX:
            return Problem("", value, "is beyond the range of Avro float (32-bit)")
        return None
    return _exact_int_as_float(value, "float", FLOAT32_MAX)


def _double(value: Any) -> Problem | None:
    if isinstance(value, float):
        return None
    return _exact_int_as_float(value, "double", math.inf)


def _exact_int_as_float(value: Any, avro: str, limit: float) -> Problem | None:
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            exact = float(value) == value
        except OverflowError:
            exact = False
        if exact and abs(value) <= limit:
            return None
        return Problem("", value, f"cannot be held exactly by Avro {avro}")
    return Problem("", value, f"expected a float for Avro {avro}, not {_kind(value)}")


def _utf8(value: str) -> str | None:
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"is not valid UTF-8 text (a lone surrogate at index {exc.start})"
    return None


def _string(value: Any) -> Problem | None:
    if isinstance(value, str):
        reason = _utf8(value)
        return None if reason is None else Problem("", value, reason)
    return Problem("", value, f"expected a str, not {_kind(value)}")


def _bytes(value: Any) -> Problem | None:
    if isinstance(value, bytes | bytearray):
        return None
    return Problem("", value, f"expected bytes, not {_kind(value)}")


def _fixed(name: str, size: int) -> Check:
    def check(value: Any) -> Problem | None:
        if not isinstance(value, bytes | bytearray):
            return Problem(
                "", value, f"expected {size} bytes for fixed {name}, not {_kind(value)}"
            )
        if len(value) != size:
            return Problem("", value, f"has {len(value)} bytes; fixed {name} holds exactly {size}")
        return None

    return check


def _enum(name: str, symbols: list[str]) -> Check:
    allowed = frozenset(symbols)
    listed = ", ".join(symbols)

    def check(value: Any) -> Problem | None:
        if isinstance(value, str) and value in allowed:
            return None
        return Problem("", value, f"is not a symbol of enum {name} ({listed})")

    return check


def _uuid(value: Any) -> Problem | None:
    if isinstance(value, uuid.UUID):
        return None
    return Problem("", value, f"expected a uuid.UUID, not {_kind(value)}")


def _date(value: Any) -> Problem | None:
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return None
    return Problem("", value, f"expected a datetime.date, not {_kind(value)}")


def _time(millis: bool) -> Check:
    unit = "millis" if millis else "micros"

    def check(value: Any) -> Problem | None:
        if not isinstance(value, datetime.time):
            return Problem("", value, f"expected a datetime.time, not {_kind(value)}")
        if value.tzinfo is not None:
            return Problem("", value, f"time-{unit} holds a time of day without a time zone")
        if millis and value.microsecond % 1000:
            return Problem("", value, "has sub-millisecond digits; time-millis would drop them")
        return None

    return check


def _timestamp(millis: bool, local: bool) -> Check:
    name = f"{'local-' if local else ''}timestamp-{'millis' if millis else 'micros'}"

    def check(value: Any) -> Problem | None:
        if not isinstance(value, datetime.datetime):
            return Problem("", value, f"expected a datetime.datetime, not {_kind(value)}")
        aware = value.utcoffset() is not None
        if local and aware:
            return Problem("", value, f"{name} holds a naive datetime (no time zone)")
        if not local and not aware:
            return Problem("", value, f"{name} holds an aware datetime (e.g. tzinfo=datetime.UTC)")
        if millis and value.microsecond % 1000:
            return Problem("", value, f"has sub-millisecond digits; {name} would drop them")
        return None

    return check


def _decimal(precision: int, scale: int) -> Check:
    def check(value: Any) -> Problem | None:
        if not isinstance(value, decimal.Decimal):
            return Problem("", value, f"expected a decimal.Decimal, not {_kind(value)}")
        if not value.is_finite():
            return Problem("", value, "decimal holds finite numbers only")
        _, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)  # finite
        if -exponent > scale:
            places = -exponent
            return Problem(
                "",
                value,
                f"has {places} decimal places; decimal({precision},{scale}) holds {scale}",
            )
        significant = 0 if digits == (0,) else len(digits) + exponent + scale
        if significant > precision:
            return Problem(
                "",
                value,
                f"has {significant} digits at scale {scale}; decimal({precision},{scale}) "
                f"holds {precision}",
            )
        return None

    return check


def _array(items: Check) -> Check:
    def check(value: Any) -> Problem | None:
        if not isinstance(value, list):
            return Problem("", value, f"expected a list, not {_kind(value)}")
        for index, item in enumerate(value):
            problem = items(item)
            if problem is not None:
                return problem.within(f"[{index}]")
        return None

    return check


def _map(values: Check) -> Check:
    def check(value: Any) -> Problem | None:
        if not isinstance(value, dict):
            return Problem("", value, f"expected a dict, not {_kind(value)}")
        for key, item in value.items():
            if not isinstance(key, str):
                return Problem("", key, f"map keys are str, not {_kind(key)}")
            reason = _utf8(key)
            if reason is not None:
                return Problem("", key, f"map key {reason}")
            problem = values(item)
            if problem is not None:
                return problem.within(f"[{key!r}]")
        return None

    return check


_PRIMITIVES: Mapping[str, Check] = {
    "null": _null,
    "boolean": _boolean,
    "int": _integer(*INT32, "int"),
    "long": _integer(*INT64, "long"),
    "float": _float,
    "double": _double,
    "string": _string,
    "bytes": _bytes,
}
_LOGICAL: Mapping[str, Check] = {
    "uuid": _uuid,
    "date": _date,
    "time-millis": _time(millis=True),
    "time-micros": _time(millis=False),
    "timestamp-millis": _timestamp(millis=True, local=False),
    "timestamp-micros": _timestamp(millis=False, local=False),
    "local-timestamp-millis": _timestamp(millis=True, local=True),
    "local-timestamp-micros": _timestamp(millis=False, local=True),
}
