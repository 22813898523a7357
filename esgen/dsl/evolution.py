"""Declared evolution (SPEC §8): renamed and retired event types, and upcasts of old shapes.

On an event:

- ``renamed_from: [com.example.shop.PriceChanged]``: the full names (or names in the
  file's namespace) the event type had before. Its schema lists them as Avro ``aliases``,
  so events written under an old name are read as today's event.
- ``deprecated: true``: retired. Old events are still read and folded; the runtime refuses
  to append new ones and ``esgen check`` reports a command that still emits it.

At the top of a file, ``upcasts:`` lists how events written with an old version are read
today, each ``from: EventName@N`` (an event type of the lock, today's or gone, and its
version N there), then either ``into:`` (zero or more of today's events, each
``- EventName: {FIELD: EXPR}`` with an optional ``when: EXPR``, as a command's ``emits``)
or ``call: "package.module:function"`` (called with the old event as a dict, returns the
list of today's events). Expressions see only ``event``: the OLD event, typed by the
version's real schema from the lock (fields of record type are not readable: use
``call:``); enums of an old schema are read as their symbol's text.

A version without an upcast of its own is read through Avro resolution into the next newer
version that has one, when it resolves into it (a chain: ``v1 -> v2 -> upcast``), else into
today's schema.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from esgen import model
from esgen.dsl import names as rules
from esgen.dsl.commands import _emission
from esgen.dsl.expressions import Record, Scope
from esgen.dsl.folds import FoldContext
from esgen.dsl.shape import Reporter
from esgen.dsl.yamlnodes import Mapping as MappingNode
from esgen.dsl.yamlnodes import Node, Scalar
from esgen.errors import DefinitionError, quote

EVENT_EVOLUTION_KEYS = ("renamed_from", "deprecated")
UPCAST_KEYS = ("from", "into", "call")

History = Mapping[str, Sequence[model.OldVersion]]
"""Locked versions of each record, by full name, oldest first (``esgen.check.lock``)."""

_PRIMITIVES = {
    "boolean": model.Primitive("boolean"),
    "int": model.Primitive("int"),
    "long": model.Primitive("long"),
    "float": model.Primitive("float"),
    "double": model.Primitive("double"),
    "string": model.Primitive("string"),
    "bytes": model.Primitive("bytes"),
}
_LOGICAL = {
    ("string", "uuid"): "uuid",
    ("int", "date"): "date",
    ("int", "time-millis"): "time-millis",
    ("long", "time-micros"): "time-micros",
    ("long", "timestamp-millis"): "timestamp-millis",
    ("long", "timestamp-micros"): "timestamp-micros",
    ("long", "local-timestamp-millis"): "local-timestamp-millis",
    ("long", "local-timestamp-micros"): "local-timestamp-micros",
}


def old_type(node: Any, enums: set[str]) -> model.TypeRef | None:
    """How an upcast's expressions see a field of an old schema (None: not readable).

    ``enums`` collects the full names of enums defined so far (a later use by name is
    text too)."""
    if isinstance(node, str):
        if node in _PRIMITIVES:
            return _PRIMITIVES[node]
        return model.Primitive("string") if node in enums else None
    if isinstance(node, list):
        branches = [b for b in node if b != "null"]
        if len(node) == 2 and len(branches) == 1:
            inner = old_type(branches[0], enums)
            return None if inner is None else model.OptionalType(inner)
        return None
    if not isinstance(node, dict):
        return None
    kind = node.get("type")
    logical = node.get("logicalType")
    if logical == "decimal" and kind in ("bytes", "fixed"):
        precision, scale = node.get("precision"), node.get("scale", 0)
        if type(precision) is int and type(scale) is int:
            return model.DecimalType(precision, scale)
        return None
    if isinstance(kind, str) and isinstance(logical, str) and (kind, logical) in _LOGICAL:
        return model.Logical(_LOGICAL[kind, logical])  # type: ignore[arg-type]
    if kind == "enum":
        name, space = node.get("name"), node.get("namespace")
        if isinstance(name, str):
            enums.add(name if "." in name or not space else f"{space}.{name}")
        return model.Primitive("string")
    if kind == "array":
        items = old_type(node.get("items"), enums)
        return None if items is None else model.ArrayType(items)
    if kind == "map":
        values = old_type(node.get("values"), enums)
        return None if values is None else model.MapType(values)
    if isinstance(kind, str) and kind in _PRIMITIVES:
        return _PRIMITIVES[kind]
    return None


def old_record(version: model.OldVersion) -> Record:
    """What an upcast's expressions see of an old version: its readable fields."""
    fields: dict[str, model.TypeRef | None] = {}
    enums: set[str] = set()
    listed = version.schema.get("fields")
    for f in listed if isinstance(listed, list) else ():
        if isinstance(f, dict) and isinstance(f.get("name"), str):
            t = old_type(f.get("type"), enums)
            if t is not None:
                fields[f["name"]] = t
    return Record(f"{version.full_name}@{version.number}", fields)


@dataclass(frozen=True)
class EventEvolution:
    renamed_from: tuple[str, ...]
    deprecated: bool


def event_evolution(
    rep: Reporter, event: MappingNode, namespace: str | None, what: str
) -> EventEvolution:
    """``renamed_from`` and ``deprecated`` of one event."""
    renamed: list[str] = []
    items = rep.sequence(event.get("renamed_from"), f"{what}: 'renamed_from'")
    for item in items.items if items else ():
        text = rep.text(item, f"{what}: 'renamed_from'")
        if text is None:
            continue
        name = text if "." in text else model.full_name(namespace, text)
        if not model.is_avro_namespace(name):
            rep.error(
                f"{what}: 'renamed_from' lists {quote(text)}, which is not an Avro name",
                item,
                "write the old full name, e.g. com.example.shop.PriceChanged",
            )
        elif name in renamed:
            rep.error(f"{what}: 'renamed_from' lists {quote(text)} twice", item)
        else:
            renamed.append(name)
    node = event.get("deprecated")
    deprecated = False
    if node is not None:
        if isinstance(node, Scalar) and node.text in ("true", "false") and node.tag != "str":
            deprecated = node.text == "true"
        else:
            rep.error(f"{what}: 'deprecated' is true or false", node)
    return EventEvolution(tuple(renamed), deprecated)


@dataclass(frozen=True)
class UpcastContext:
    """What checking one entity's upcasts needs from the entity around them."""

    reporter: Reporter
    file_text: str
    namespace: str
    records: Mapping[str, Record]
    enums: Mapping[str, tuple[str, ...]]
    short: Mapping[str, str]
    events: Mapping[str, model.RecordDef]  # this entity's events by short name
    today: Mapping[str, str]  # full name of every event of the project -> its entity
    entity: str
    key_type: model.TypeRef
    history: History | None
    lock: str  # the lock folder, for messages


def build_upcasts(node: Node | None, ctx: UpcastContext) -> tuple[model.Upcast, ...]:
    """The ``upcasts:`` of one file, checked against the locked old schemas."""
    rep = ctx.reporter
    items = rep.sequence(node, "'upcasts'")
    if items is None:
        return ()
    declared: dict[tuple[str, int], model.Upcast] = {}
    for item in items.items:
        upcast = _upcast(item, ctx, declared)
        if upcast is not None:
            declared[upcast.source.full_name, upcast.source.number] = upcast
    return _chained(list(declared.values()), ctx.history or {})


def _upcast(
    item: Node, ctx: UpcastContext, declared: Mapping[tuple[str, int], model.Upcast]
) -> model.Upcast | None:
    rep = ctx.reporter
    body = rep.mapping(item, "an upcast")
    if body is None:
        return None
    rep.keys(body, UPCAST_KEYS, "an upcast")
    source_node = rep.required(body, "from", "an upcast")
    text = rep.text(source_node, "an upcast: 'from'")
    if source_node is None or text is None:
        return None
    name, _, number_text = text.rpartition("@")
    if not name or not number_text.isdigit() or not model.is_avro_namespace(name):
        rep.error(
            f"an upcast: 'from' is EventName@VERSION, not {quote(text)}",
            source_node,
            "e.g. 'from: PriceChanged@1' (version 1 of PriceChanged in the lock)",
        )
        return None
    full = name if "." in name else model.full_name(ctx.namespace, name)
    what = f"the upcast of {full.rpartition('.')[2]}@{number_text}"
    owner = ctx.today.get(full)
    if owner is not None and owner != ctx.entity:
        rep.error(f"{what}: {full} is an event of {owner}, not of {ctx.entity}", source_node)
        return None
    if ctx.history is None:
        rep.error(
            f"{what}: upcasts are checked against the old schemas in the lock, and no lock "
            "was given",
            source_node,
            "run `esgen lock` and set [tool.esgen] lock (or pass --lock)",
        )
        return None
    versions = ctx.history.get(full, ())
    number = int(number_text)
    source = next((v for v in versions if v.number == number), None)
    if source is None:
        known = ", ".join(str(v.number) for v in versions)
        rep.error(
            f"{what}: {ctx.lock} has no version {number} of {full}"
            + (f" (it has {known})" if known else " (it has none)"),
            source_node,
            "name a locked version; the lock holds every version that shipped",
        )
        return None
    if (full, number) in declared:
        rep.error(f"{what} is declared twice", source_node, "keep one")
        return None
    into, call = body.get("into"), body.get("call")
    scope = Scope(
        None,
        old_record(source),
        False,
        ctx.records,
        ctx.enums,
        ctx.short,
        "upcasts",
        key_type=ctx.key_type,
    )
    fold_ctx = FoldContext(rep, scope, ctx.file_text, None, what)
    outputs: list[model.Emission] = []
    function: str | None = None
    if (into is None) == (call is None):
        rep.error(
            f"{what} needs one of 'into' (today's events, possibly none: 'into: []') and "
            "'call' (a function 'package.module:function')",
            body,
        )
        return None
    if into is not None:
        entries = rep.sequence(into, f"{what}: 'into'")
        if entries is None and not (isinstance(into, Scalar) and into.is_null):
            return None
        for entry in entries.items if entries else ():
            emission = _emission(entry, fold_ctx, ctx.events, "into")
            if emission is not None:
                outputs.append(emission)
    else:
        function = rep.text(call, f"{what}: 'call'")
        if function is not None and (reason := rules.function_spec(function)):
            assert call is not None
            rep.error(f"{what}: 'call' {reason}, not {quote(function)}", call)
            return None
        if function is None:
            return None
    return model.Upcast(source, tuple(outputs), function, (source,), source_node.location)


def _chained(upcasts: list[model.Upcast], history: History) -> tuple[model.Upcast, ...]:
    """Each upcast with the older versions it reads: those without an upcast of their own
    that resolve into its version (Avro resolution first, then the upcast)."""
    from esgen.compat.check import check  # the pure Avro checker

    by_source: dict[tuple[str, int], model.Upcast] = {
        (u.source.full_name, u.source.number): u for u in upcasts
    }
    extra: dict[tuple[str, int], list[model.OldVersion]] = {}
    for full_name in {u.source.full_name for u in upcasts}:
        versions = sorted(history.get(full_name, ()), key=lambda v: v.number)
        for old in versions:
            if (full_name, old.number) in by_source:
                continue
            newer = [v.number for v in versions if v.number > old.number]
            target = next((n for n in newer if (full_name, n) in by_source), None)
            if target is None:
                continue
            into = by_source[full_name, target].source
            report = check(into.schema, [old.schema], model.Mode.BACKWARD, dialect="avro-1.12")
            if not any(p.direction is model.Direction.BACKWARD for p in report.problems):
                extra.setdefault((full_name, target), []).append(old)
    result = []
    for upcast in upcasts:
        older = extra.get((upcast.source.full_name, upcast.source.number), [])
        reads = (upcast.source, *sorted(older, key=lambda v: -v.number))
        result.append(
            model.Upcast(upcast.source, upcast.outputs, upcast.function, reads, upcast.location)
        )
    return tuple(result)


def evolution_errors(project: model.Project) -> list[DefinitionError]:
    """What only the whole project shows: an old name that a type of today still uses or
    that two events claim, and an upcast of a version that is today's schema (it would
    rewrite every event written today)."""
    from esgen.codegen.avro import SchemaBuilder
    from esgen.runtime.upcasts import schema_fingerprint

    errors: list[DefinitionError] = []
    types = project.all_types()
    claimed: dict[str, str] = {}
    for entity in project.entities:
        for event in entity.events:
            for old in event.renamed_from:
                where = event.record.location
                if old in types:
                    errors.append(
                        DefinitionError(
                            f"event {quote(event.name)}: 'renamed_from' lists {old}, which is "
                            "still a type of the definitions",
                            where,
                            "a renamed type's old name is free: remove it from 'renamed_from' "
                            "or rename the type that has it",
                        )
                    )
                elif old in claimed:
                    errors.append(
                        DefinitionError(
                            f"event {quote(event.name)}: {old} is already renamed to "
                            f"{claimed[old]}; old events of one name read as one event type",
                            where,
                            "list it in one 'renamed_from'; upcast it to read it as several",
                        )
                    )
                else:
                    claimed[old] = event.full_name
    builder = SchemaBuilder(types)
    for entity in project.entities:
        today = {schema_fingerprint(builder.named(e.record)): e.name for e in entity.events}
        reader_of: dict[str, str] = {}  # writer-schema fingerprint -> the upcast reading it
        for upcast in entity.upcasts:
            label = f"{upcast.source.full_name.rpartition('.')[2]}@{upcast.source.number}"
            fingerprint = schema_fingerprint(upcast.source.schema)
            if fingerprint in reader_of:  # a version that came back: the same bytes
                errors.append(
                    DefinitionError(
                        f"the upcast of {label}: that version writes exactly what "
                        f"{reader_of[fingerprint]} writes, so a reader cannot tell which "
                        "upcast applies",
                        upcast.location,
                        "keep one upcast for both versions",
                    )
                )
            reader_of.setdefault(fingerprint, label)
            for version in upcast.reads:  # its own version, and those chained to it
                name = today.get(schema_fingerprint(version.schema))
                if name is None:
                    continue
                which = (
                    "that version"
                    if version is upcast.source
                    else f"version {version.number}, which it reads through resolution,"
                )
                errors.append(
                    DefinitionError(
                        f"the upcast of {label}: {which} is today's schema of {name}, so "
                        "the upcast would also read every event written today",
                        upcast.location,
                        f"change {name} first (the change the upcast is for), or remove "
                        "the upcast",
                    )
                )
    return errors
