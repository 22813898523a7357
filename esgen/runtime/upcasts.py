"""Reading old events as today's: which reader schema and conversion apply to a writer schema.

Every decode of an event (the Kafka store's ``load``/``read``, projections, ``esgen tail``,
the command processor's restore through :mod:`esgen.runtime.wire`, and the replay of
``esgen check``) asks :meth:`EntityDescriptor.reading` how to read events of a type written
with a writer schema, and gets a :class:`Reading`: the schemas to give fastavro and the
conversion of what it reads into a list of today's events. The answer depends on the
writer schema only, so the Kafka path computes it once per schema id.

- A writer schema that is one of the versions an :class:`Upcast` reads (by the SHA-256 of
  its Parsing Canonical Form: what decides its binary encoding) is read with the upcast's
  own old schema (no resolution at all when it is that version; Avro resolution into it for
  an older version chained to it), then the generated upcast function turns the old event's
  dict into zero or more of today's events.
- Any other writer schema is read by Avro resolution into today's class of the event type
  (its full name, or an old name today's event lists in ``renamed_from``, which the schema
  carries as Avro ``aliases``).

Resolution itself is planned once per writer schema where that is exact
(:mod:`esgen.runtime.resolution`): fastavro reads with the writer schema alone and the plan
maps the result, instead of fastavro's generic resolution per record.

An upcast that raises is a ``DecodeError`` naming the old version and the upcast, so the
record is reported like any other undecodable one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastavro.schema import fingerprint, to_parsing_canonical_form

from esgen.runtime.errors import DecodeError
from esgen.runtime.resolution import is_identity, resolution_plan
from esgen.runtime.serde import AvroSchema, parse_schema

UpcastFunction = Callable[[dict[str, Any]], Sequence[Any]]
"""The generated function of one upcast: the old event as fastavro reads it (a dict) ->
today's events."""


def schema_fingerprint(schema: AvroSchema) -> str:
    """SHA-256 (hex) of the schema's Parsing Canonical Form: equal for schemas that write
    the same bytes (docs, defaults, aliases and logical types aside)."""
    canonical = to_parsing_canonical_form(json.loads(json.dumps(schema)))
    digest: str = fingerprint(canonical, "SHA-256")
    return digest


@dataclass(frozen=True, eq=False)
class Upcast:
    """One declared upcast, as a generated module registers it.

    ``source`` and ``version`` name the old version (``com.example.shop.PriceChanged``,
    its version 1 in the lock), ``schema`` is that version's schema, ``function`` the
    generated conversion and ``reads`` the fingerprints of the writer schemas read
    through it: the version itself, then older ones chained to it.
    """

    source: str
    version: int
    schema: AvroSchema
    function: UpcastFunction
    reads: Sequence[str]
    parsed: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.reads:
            raise ValueError(f"the upcast of {self.label} reads no writer schema")
        object.__setattr__(self, "reads", tuple(self.reads))
        object.__setattr__(self, "parsed", parse_schema(self.schema))

    @property
    def label(self) -> str:
        return f"{self.source}@{self.version}"

    def convert(self, datum: dict[str, Any]) -> list[Any]:
        """Today's events for one old event (a ``DecodeError`` if the upcast fails)."""
        try:
            return list(self.function(datum))
        except Exception as exc:  # the generated code or a ``call:`` function
            raise DecodeError(
                f"the upcast of {self.label} failed: {type(exc).__name__}: {exc}"
            ) from exc


@dataclass(frozen=True)
class Reading:
    """How to read events of one type written with one writer schema.

    Give fastavro ``writer`` (parsed) and ``reader`` (parsed, or None when no resolution
    is needed); ``convert`` turns what it read into today's events (a list) when ``many``,
    else ``build`` into the one event. ``event`` is the full name read (for messages).
    """

    writer: Any
    reader: Any
    build: Callable[[dict[str, Any]], Any]
    many: bool
    event: str
    upcast: Upcast | None = None

    def events(self, datum: dict[str, Any]) -> list[Any]:
        """Today's events for one datum fastavro read with this reading."""
        events: list[Any] = self.build(datum) if self.many else [self.build(datum)]
        return events


def index_upcasts(upcasts: Sequence[Upcast]) -> dict[str, Upcast]:
    """Writer-schema fingerprint -> the upcast that reads it; the generator guarantees that
    no fingerprint is read by two upcasts."""
    found: dict[str, Upcast] = {}
    for upcast in upcasts:
        for read in upcast.reads:
            found.setdefault(read, upcast)
    return found


def resolved_reading(
    writer: AvroSchema,
    reader: AvroSchema,
    parsed_reader: Any,
    resolve: Callable[[dict[str, Any]], Any],
    many: bool,
    event: str,
    upcast: Upcast | None = None,
    build: Callable[[dict[str, Any]], Any] | None = None,
) -> Reading:
    """The reading of ``writer`` resolved into ``reader``: fastavro's fast writer-only read
    then the resolution planned once (:mod:`esgen.runtime.resolution`), or fastavro's own
    resolution where no plan is known to be exact. ``resolve`` takes what resolution gives
    (defaults as the schema writes them); ``build``, when given, what fastavro reads (used
    when the plan fills no default)."""
    planned = resolution_plan(writer, reader)
    if planned is None:
        return Reading(parse_schema(writer), parsed_reader, resolve, many, event, upcast)
    plan, fills_defaults = planned
    finish = resolve if fills_defaults or build is None else build
    if is_identity(plan):
        return Reading(parse_schema(writer), None, finish, many, event, upcast)

    def mapped(datum: dict[str, Any]) -> Any:
        return finish(plan(datum))

    return Reading(parse_schema(writer), None, mapped, many, event, upcast)


def upcast_reading(upcast: Upcast, writer: AvroSchema, writer_fingerprint: str) -> Reading:
    """The reading of a writer schema that ``upcast`` reads."""
    if writer_fingerprint == upcast.reads[0]:  # the version itself: nothing to resolve
        return Reading(upcast.parsed, None, upcast.convert, True, upcast.label, upcast)
    return resolved_reading(
        writer, upcast.schema, upcast.parsed, upcast.convert, True, upcast.label, upcast
    )
