"""Generated records as Avro values: checked when built, converted, and rebuilt from Avro.

Every generated record, event and state class is a dataclass deriving from
:class:`Record`. Its entity descriptor binds each class to a :class:`RecordCodec`, made
from the class's self-contained Avro schema and its field annotations, which knows:

- ``check``: whether a value fits (called by ``__post_init__``, so an instance that
  exists holds only what its Avro schema can hold; see :mod:`esgen.runtime.values`).
  Events and records are frozen, so they stay valid; the state, which folds change in
  place, is checked again in full (``check_deep``) before it is written.
- ``datum``: the dict fastavro writes (nested records as dicts). Values are not checked
  again: they were checked when the instance was built.
- ``build``: the trusted fast path from what fastavro read with today's schema. It does
  not call ``__init__``: the dict fastavro made becomes the instance's ``__dict__``, with
  nested records and enum symbols converted in place (fastavro's data fit the schema).
- ``from_avro``: the same from any dict shaped like fastavro's output, including what
  schema resolution produces from an old writer schema: fastavro fills a field the writer
  did not have with the reader's default *as written in the schema* (a decimal as a string
  of bytes, a timestamp as an int, one shared list for every record...), so this path
  converts such defaults and gives every record its own lists and dicts.
- ``copy``: a copy of a state whose top-level lists and maps can change independently.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self

from esgen.runtime.errors import EncodeError
from esgen.runtime.values import Check, Problem, checker, describe, full_name, rounder

Convert = Callable[[Any], Any]

_new = object.__new__
_set = object.__setattr__


class Record:
    """Base of every generated record, event and state dataclass."""

    __slots__ = ()
    _codec: ClassVar[RecordCodec]

    def __post_init__(self) -> None:
        self._codec.check(self)

    def to_avro(self) -> dict[str, Any]:
        """This value as the dict fastavro writes (a fresh dict)."""
        return self._codec.to_avro(self)

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> Self:
        """A value from a dict shaped like fastavro's output (not checked again)."""
        built: Self = cls._codec.from_avro(data)
        return built


def codec_of(cls: type[Record]) -> RecordCodec:
    """The codec a class is bound to; ``LookupError`` if its module never bound it."""
    codec = cls.__dict__.get("_codec")
    if codec is None:
        raise LookupError(f"{cls.__qualname__} is not bound to an Avro schema")
    assert isinstance(codec, RecordCodec)
    return codec


def bind(cls: type[Record], schemas: Callable[[str], Any], name: str) -> RecordCodec:
    """Bind ``cls`` (and the record classes its fields use) to their schemas.

    ``schemas(full_name)`` gives a self-contained schema. A class already bound (e.g. one
    imported from another generated module) keeps its codec.
    """
    existing = cls.__dict__.get("_codec")
    if existing is not None:
        assert isinstance(existing, RecordCodec)
        return existing
    codec = RecordCodec(cls, name, schemas(name))
    type.__setattr__(cls, "_codec", codec)  # before the fields: a record may contain itself
    codec.compile(schemas)
    return codec


class RecordCodec:
    """How one record class meets Avro (see the module docstring)."""

    def __init__(self, cls: type[Record], name: str, schema: dict[str, Any]) -> None:
        self.cls = cls
        self.full_name = name
        self.name = name.rpartition(".")[2]
        self.schema = schema
        self.field_names: tuple[str, ...] = tuple(f["name"] for f in schema["fields"])
        self._checks: tuple[tuple[str, Check], ...] = ()
        self._deep_checks: tuple[tuple[str, Check], ...] = ()
        self._datum: list[tuple[str, Convert]] = []
        self._fresh: list[tuple[str, Convert]] = []
        self._build: list[tuple[str, Convert]] = []
        self._resolve: list[tuple[str, Convert]] = []
        self._containers: tuple[str, ...] = ()
        self._rounders: tuple[tuple[str, Convert], ...] = ()
        # Compiled by ``compile`` (the record's fields may be records still being bound).
        self.datum: Callable[[Record], dict[str, Any]] = self._not_compiled
        self.build: Convert = self._not_compiled

    # ------------------------------------------------------------------ compiling

    def compile(self, schemas: Callable[[str], Any]) -> None:
        hints = typing.get_type_hints(self.cls)
        named: dict[str, Any] = {}
        checks, deep_checks, containers, rounders = [], [], [], []
        for field in self.schema["fields"]:
            name, node = field["name"], field["type"]
            hint = hints[name]
            classes = _classes(node, hint, named, schemas)
            checks.append((name, checker(node, _record_checks(classes), False, dict(named))))
            deep_checks.append((name, checker(node, _record_checks(classes), True, dict(named))))
            kind = _Walk(classes, named)
            for mode, table in (
                ("datum", self._datum),
                ("fresh", self._fresh),
                ("build", self._build),
                ("resolve", self._resolve),
            ):
                convert = kind.converter(node, mode)
                if convert is not None:
                    table.append((name, convert))
            if _is_container(node, named):
                containers.append(name)
            round_value = rounder(node, named)
            if round_value is not None:
                rounders.append((name, round_value))
            _define(node, named)
        self._checks = tuple(checks)
        self._deep_checks = tuple(deep_checks)
        self._containers = tuple(containers)
        self._rounders = tuple(rounders)
        self.datum = _datum_function(self._datum)
        self.build = _build_function(self.cls, self._build)

    # ------------------------------------------------------------------- checking

    def check(self, value: Record) -> None:
        """``EncodeError`` naming the field and the value if ``value`` does not fit;
        ``float`` fields are rounded to 32 bits (what Avro holds, and reads back)."""
        fields = value.__dict__
        for name, check in self._checks:
            problem = check(fields[name])
            if problem is not None:
                raise self._error(name, problem)
        for name, round_value in self._rounders:
            fields[name] = round_value(fields[name])

    def check_deep(self, value: Record) -> None:
        """``check``, and the same inside every nested record, list and map."""
        fields = value.__dict__
        for name, check in self._deep_checks:
            problem = check(fields[name])
            if problem is not None:
                raise self._error(name, problem)

    def problem(self, value: Any) -> Problem | None:
        """The first problem anywhere in ``value`` (for messages), or None."""
        if not isinstance(value, self.cls):
            return Problem("", value, f"expected a {self.name}, not {type(value).__qualname__}")
        for name, check in self._deep_checks:
            problem = check(value.__dict__.get(name))
            if problem is not None:
                return problem.within(f".{name}")
        return None

    def _error(self, name: str, problem: Problem) -> EncodeError:
        return EncodeError(
            f"cannot encode {self.name}: {name}{problem.path} = {describe(problem.value)}: "
            f"{problem.reason}"
        )

    # ----------------------------------------------------------------- converting

    def _not_compiled(self, value: Any) -> Any:
        raise LookupError(f"{self.full_name} is not compiled")

    def to_avro(self, value: Record) -> dict[str, Any]:
        """A fresh dict (nested records, lists and maps included) of ``value``."""
        result = dict(value.__dict__)
        for name, convert in self._fresh:
            result[name] = convert(result[name])
        return result

    def from_avro(self, data: Mapping[str, Any]) -> Any:
        """A value from fastavro's output, resolved from an old schema or not (see the
        module docstring); the input is not changed."""
        fields = dict(data)
        for name, convert in self._resolve:
            if name in fields:
                fields[name] = convert(fields[name])
        for name, round_value in self._rounders:  # a default as written may be a double
            if name in fields:
                fields[name] = round_value(fields[name])
        value = _new(self.cls)
        _set(value, "__dict__", fields)
        return value

    def copy(self, value: Any) -> Any:
        """A copy whose top-level lists and maps can change without touching ``value``."""
        fields = dict(value.__dict__)
        for name in self._containers:
            item = fields[name]
            if item is not None:
                fields[name] = item.copy()
        result = _new(self.cls)
        _set(result, "__dict__", fields)
        return result


def _datum_function(conversions: list[tuple[str, Convert]]) -> Callable[[Record], dict[str, Any]]:
    if not conversions:

        def flat(value: Record) -> dict[str, Any]:
            fields: dict[str, Any] = value.__dict__
            return fields

        return flat
    if len(conversions) == 1:
        ((key, convert),) = conversions

        def one(value: Record) -> dict[str, Any]:
            fields = value.__dict__
            return {**fields, key: convert(fields[key])}

        return one

    def many(value: Record) -> dict[str, Any]:
        fields = dict(value.__dict__)
        for key, convert in conversions:
            fields[key] = convert(fields[key])
        return fields

    return many


def _build_function(cls: type[Record], conversions: list[tuple[str, Convert]]) -> Convert:
    if not conversions:

        def flat(data: dict[str, Any]) -> Any:
            value = _new(cls)
            _set(value, "__dict__", data)
            return value

        return flat
    if len(conversions) == 1:
        ((key, convert),) = conversions

        def one(data: dict[str, Any]) -> Any:
            data[key] = convert(data[key])
            value = _new(cls)
            _set(value, "__dict__", data)
            return value

        return one

    def many(data: dict[str, Any]) -> Any:
        for key, convert in conversions:
            data[key] = convert(data[key])
        value = _new(cls)
        _set(value, "__dict__", data)
        return value

    return many


# ------------------------------------------------------------- schema and hints


def _define(node: Any, named: dict[str, Any]) -> None:
    """Record the named types ``node`` defines (later uses refer to them by name)."""
    if isinstance(node, list):
        for branch in node:
            _define(branch, named)
    elif isinstance(node, dict):
        kind = node.get("type")
        if kind in ("record", "enum", "fixed"):
            named.setdefault(full_name(node), node)
            for field in node.get("fields", ()):
                _define(field["type"], named)
        elif kind == "array":
            _define(node["items"], named)
        elif kind == "map":
            _define(node["values"], named)


def _resolved(node: Any, named: Mapping[str, Any]) -> Any:
    if isinstance(node, str) and node in named:
        return named[node]
    return node


def _is_container(node: Any, named: Mapping[str, Any]) -> bool:
    node = _resolved(node, named)
    if isinstance(node, list):
        return any(_is_container(b, named) for b in node if b != "null")
    return isinstance(node, dict) and node.get("type") in ("array", "map")


def _strip_optional(hint: Any) -> Any:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return inner[0] if len(inner) == 1 else hint
    return hint


def _classes(
    node: Any, hint: Any, named: dict[str, Any], schemas: Callable[[str], Any]
) -> dict[str, type]:
    """Full name -> class of every record and enum ``node`` uses, from the annotation."""
    found: dict[str, type] = {}

    def walk(node: Any, hint: Any, local: dict[str, Any]) -> None:
        hint = _strip_optional(hint)
        if isinstance(node, list):
            for branch in node:
                if branch != "null":
                    walk(branch, hint, local)
            return
        if isinstance(node, str):
            if node not in local:
                return  # a primitive
            name, node = node, local[node]
        elif isinstance(node, dict) and node.get("type") in ("record", "enum", "fixed"):
            name = full_name(node)
            local.setdefault(name, node)
        else:
            name = ""
        if isinstance(node, dict):
            kind = node.get("type")
            if kind == "record":
                found[name] = hint
                bind(hint, schemas, name)
            elif kind == "enum":
                found[name] = hint
            elif kind == "array":
                walk(node["items"], typing.get_args(hint)[0], local)
            elif kind == "map":
                walk(node["values"], typing.get_args(hint)[1], local)

    walk(node, hint, dict(named))
    return found


def _record_checks(classes: Mapping[str, type]) -> Callable[[str, bool], Check]:
    def record_check(name: str, deep: bool) -> Check:
        cls = classes[name]
        if deep:
            nested = codec_of(cls)

            def deep_check(value: Any) -> Problem | None:
                return nested.problem(value)

            return deep_check
        label = cls.__qualname__

        def shallow(value: Any) -> Problem | None:
            if isinstance(value, cls):
                return None
            return Problem("", value, f"expected a {label}, not {type(value).__qualname__}")

        return shallow

    return record_check


class _Walk:
    """Compiles the conversion of one field's values, per direction."""

    def __init__(self, classes: Mapping[str, Any], named: Mapping[str, Any]) -> None:
        self.classes = classes
        self.named = dict(named)

    def converter(self, node: Any, mode: str) -> Convert | None:
        """None when values need no conversion in ``mode``."""
        if isinstance(node, list):
            inner = [b for b in node if b != "null"]
            convert = self.converter(inner[0], mode)
            if convert is None:
                return None

            def optional(value: Any) -> Any:
                return None if value is None else convert(value)

            return optional
        if isinstance(node, str):
            if node not in self.named:
                return _RAW_DEFAULTS.get(node) if mode == "resolve" else None
            node, name = self.named[node], node
        else:
            name = full_name(node) if node.get("type") in ("record", "enum", "fixed") else ""
            if name:
                self.named.setdefault(name, node)
        kind = node["type"]
        logical = node.get("logicalType")
        if kind == "record":
            codec = codec_of(self.classes[name])
            if mode in ("datum", "build"):
                compiled = codec.__dict__.get(mode)
                if compiled is not None:
                    return compiled  # type: ignore[no-any-return]
                # a record that contains itself: its codec is still being compiled
                if mode == "datum":
                    return lambda value: codec.datum(value)
                return lambda data: codec.build(data)
            if mode == "fresh":
                return codec.to_avro
            return codec.from_avro
        if kind == "enum":
            if mode in ("datum", "fresh"):
                return None
            members = enum_members(self.classes[name])
            return members.__getitem__
        if kind == "array":
            items = self.converter(node["items"], mode)
            if items is None:
                return None if mode in ("datum", "build") else list
            return lambda values: [items(v) for v in values]
        if kind == "map":
            values = self.converter(node["values"], mode)
            if values is None:
                return None if mode in ("datum", "build") else dict
            return lambda entries: {k: values(v) for k, v in entries.items()}
        if mode != "resolve":
            return None
        if logical == "decimal":
            return _decimal_default(node.get("scale", 0))
        if logical in _LOGICAL_DEFAULTS:
            return _LOGICAL_DEFAULTS[logical]
        if kind == "fixed":
            return _bytes_default
        return _RAW_DEFAULTS.get(kind)


# ---------------------------------------------- defaults as schemas write them

_EPOCH_DATE = datetime.date(1970, 1, 1)
_EPOCH_UTC = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_EPOCH_LOCAL = datetime.datetime(1970, 1, 1)


def _bytes_default(value: Any) -> Any:
    """Avro JSON writes bytes defaults as strings of code points 0-255."""
    return value.encode("latin-1") if isinstance(value, str) else value


def _decimal_default(scale: int) -> Convert:
    def convert(value: Any) -> Any:
        if isinstance(value, str):
            unscaled = int.from_bytes(value.encode("latin-1"), "big", signed=True)
            return decimal.Decimal(unscaled).scaleb(-scale)
        return value

    return convert


def _uuid_default(value: Any) -> Any:
    return uuid.UUID(value) if isinstance(value, str) else value


def _date_default(value: Any) -> Any:
    if isinstance(value, int):
        return _EPOCH_DATE + datetime.timedelta(days=value)
    return value


def _time_default(unit: int) -> Convert:
    def convert(value: Any) -> Any:
        if isinstance(value, int):
            micros = value * unit
            seconds, micro = divmod(micros, 1_000_000)
            minutes, second = divmod(seconds, 60)
            hour, minute = divmod(minutes, 60)
            return datetime.time(hour, minute, second, micro)
        return value

    return convert


def _timestamp_default(unit: int, epoch: datetime.datetime) -> Convert:
    def convert(value: Any) -> Any:
        if isinstance(value, int):
            return epoch + datetime.timedelta(microseconds=value * unit)
        return value

    return convert


_LOGICAL_DEFAULTS: Mapping[str, Convert] = {
    "uuid": _uuid_default,
    "date": _date_default,
    "time-millis": _time_default(1000),
    "time-micros": _time_default(1),
    "timestamp-millis": _timestamp_default(1000, _EPOCH_UTC),
    "timestamp-micros": _timestamp_default(1, _EPOCH_UTC),
    "local-timestamp-millis": _timestamp_default(1000, _EPOCH_LOCAL),
    "local-timestamp-micros": _timestamp_default(1, _EPOCH_LOCAL),
}
_RAW_DEFAULTS: Mapping[str, Convert] = {"bytes": _bytes_default}


def enum_members(cls: type[enum.Enum]) -> dict[str, Any]:
    """Symbol -> member of a generated enum."""
    return dict(cls._value2member_map_)
