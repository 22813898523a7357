"""Semantic checks that no schema registry makes: they need the definitions, not only schemas.

A registry compares one subject's schemas. It cannot know that a fold reads a field old events
lack, that a removed field and an added one are the same field renamed, that an entity's key or
topic moved, or that an event type stopped being generated while its events stay on the topic.

Today's side is the resolved model (fields, aliases, defaults, folds, locations) and the typed
graph of today's generated schemas; the past side is the typed graph of each old version
(:attr:`esgen.check.baseline.Version.parsed`). Only the history of data that lives forever
counts: event and command subjects. The snapshot subject is a cache (see
:mod:`esgen.registry.plan`), so a state field renamed or an enum symbol dropped from the
state alone is no break.

Rules (ids, when they fire and the fix are also in docs/compatibility.md):

- ``FOLD_READS_MISSING_FIELD``: a fold step (value, key or ``when``) reads ``event.F`` (or a
  nested path) that an older version of the event lacks, and ``F`` has no default. Fix: give
  the field a ``default:`` (or make it ``T?``) and handle that value in the fold.
- ``FIELD_RENAMED_WITHOUT_ALIAS``: a field that no version ever had is new, and a field of the
  same type that some version had is gone, without the new field listing it in ``aliases``
  (a heuristic, reported once per new field however many versions lack it). Fix: add
  ``aliases: [OLD_NAME]``.
- ``ENUM_SYMBOL_REMOVED_FROM_HISTORY``: an enum lost a symbol that old events or commands may
  carry and has no ``default`` (reported when no schema rule already did, e.g. under NONE).
  Fix: keep the symbol, or give the enum a ``default``.
- ``ENTITY_KEY_CHANGED``: the Kafka message key of old events is not today's: the key's type
  (and so the text form of the key) changed. A key *field* renamed with the same type is no
  change: the key is the entity id as text, whatever the field is called. Fix: keep the key's
  type; model a new entity for a new identity.
- ``ENTITY_TOPIC_CHANGED``: the entity's ``topic`` changed. Fix: write the old topic as
  ``topic:``.
- ``EVENT_TYPE_REMOVED``: an event type was removed while old events of it exist on the topic.
  Fix: keep the event (its fold may do nothing).
- ``ENTITY_REMOVED``: an entity was removed while its events exist. Fix: keep the definition.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from esgen.check.baseline import Baseline, Version
from esgen.check.findings import Finding
from esgen.compat.rules import Rule
from esgen.compat.schema import Array, Enum, Map, Named, Node, Parsed, Record, Union
from esgen.errors import Location
from esgen.model import Entity, EnumDef, Project, RecordDef, innermost, refs

FOLD_READS_MISSING_FIELD = Rule(
    "FOLD_READS_MISSING_FIELD",
    "fold reads a field that old events lack",
    "Give the field a `default:` (or make it optional, `T?`) so old events read a value, "
    "and make the fold handle that value.",
)
FIELD_RENAMED_WITHOUT_ALIAS = Rule(
    "FIELD_RENAMED_WITHOUT_ALIAS",
    "field renamed without an alias",
    "List the old name in the new field's `aliases:` so old events' values are read; if the "
    "fields are unrelated, acknowledge it in the accept file.",
)
ENUM_SYMBOL_REMOVED_FROM_HISTORY = Rule(
    "ENUM_SYMBOL_REMOVED_FROM_HISTORY",
    "enum symbol removed while old events may carry it",
    "Keep the symbol, or give the enum a `default:` symbol that old values map to.",
)
ENTITY_KEY_CHANGED = Rule(
    "ENTITY_KEY_CHANGED",
    "entity key changed",
    "Keep the key's type; old events are keyed by its text form. Model a new entity for a "
    "new identity.",
)
ENTITY_TOPIC_CHANGED = Rule(
    "ENTITY_TOPIC_CHANGED",
    "entity topic changed",
    "Keep the old topic (write it as `topic:`); old events stay where they were written.",
)
EVENT_TYPE_REMOVED = Rule(
    "EVENT_TYPE_REMOVED",
    "event type removed",
    "Old events of it must still decode: keep the event definition (`deprecated: true` "
    "retires it: read and folded, never appended), list its old full name in today's "
    "event's `renamed_from`, or upcast it (`upcasts: [{from: EventName@N, into: [...]}]`).",
)
ENTITY_REMOVED = Rule(
    "ENTITY_REMOVED",
    "entity removed",
    "Keep the entity definition while its events exist.",
)

SEMANTIC_RULES: tuple[Rule, ...] = (
    FOLD_READS_MISSING_FIELD,
    FIELD_RENAMED_WITHOUT_ALIAS,
    ENUM_SYMBOL_REMOVED_FROM_HISTORY,
    ENTITY_KEY_CHANGED,
    ENTITY_TOPIC_CHANGED,
    EVENT_TYPE_REMOVED,
    ENTITY_REMOVED,
)


def _finding(
    rule: Rule,
    schema: str,
    path: str,
    message: str,
    location: Location | None,
    versus: str = "",
) -> Finding:
    return Finding(schema, path, rule.id, message, rule.fix, location, versus=versus)


def semantic_findings(
    project: Project, today: Mapping[str, Parsed], baseline: Baseline
) -> list[Finding]:
    """Every semantic problem of ``project`` against ``baseline``.

    ``today`` is the typed graph of today's generated schemas by full name.
    """
    found: list[Finding] = []
    for entity in project.entities:
        found.extend(_fold_reads(entity, baseline))
        found.extend(_entity_identity(entity, today, baseline))
    found.extend(_renames(project, today, baseline))
    found.extend(_enum_symbols(project, baseline))
    found.extend(_removed(project, baseline))
    return found


# ---------------------------------------------------------------------- typed graph


def _record_in(node: Node) -> Record | None:
    """The record a field of type ``node`` holds (the first record branch of a union)."""
    if isinstance(node, Record):
        return node
    if isinstance(node, Union):
        return next((b for b in node.branches if isinstance(b, Record)), None)
    return None


def type_key(node: Node) -> str:
    """A comparable text of a type: named types by name without namespace (as Avro
    resolution matches them), logical types kept, docs and defaults left out."""
    if isinstance(node, Named):
        return f"{node.kind}:{node.name}"
    if isinstance(node, Array):
        return f"array<{type_key(node.items)}>"
    if isinstance(node, Map):
        return f"map<{type_key(node.values)}>"
    if isinstance(node, Union):
        return "[" + ",".join(type_key(b) for b in node.branches) + "]"
    return f"{node.kind}@{node.logical_type}" if node.logical_type else node.kind


def _root_record(parsed: Parsed | None) -> Record | None:
    root = parsed.root if parsed is not None else None
    return root if isinstance(root, Record) else None


# ------------------------------------------------------------------------ fold reads


def _missing_in(
    record: RecordDef, path: tuple[str, ...], old: Version, types: Mapping[str, object]
) -> str | None:
    """The first step of ``path`` that ``old`` cannot supply (absent there, no default now)."""
    old_record = _root_record(old.parsed)
    current: RecordDef | None = record
    for depth, name in enumerate(path):
        if current is None or old_record is None:
            return None
        new_field = current.field(name)
        if new_field is None:
            return None
        names = {name, *new_field.aliases}
        old_field = next((f for f in old_record.fields if f.name in names), None)
        if old_field is None:
            return ".".join(path[: depth + 1]) if new_field.default is None else None
        old_record = _record_in(old_field.type)
        inner = innermost(new_field.type)
        nested = types.get(getattr(inner, "full_name", ""))
        current = nested if isinstance(nested, RecordDef) else None
    return None


def _fold_reads(entity: Entity, baseline: Baseline) -> Iterator[Finding]:
    types: dict[str, object] = {t.full_name: t for t in entity.types}
    types.update({e.full_name: e.record for e in entity.events})
    for event in entity.events:
        old_versions = baseline.versions.get(event.full_name, [])
        if not old_versions:
            continue
        reported: set[tuple[str, Location]] = set()
        expressions = (x for step in event.fold for x in step.expressions())
        for expression in expressions:
            for ref in refs(expression.tree):
                if ref.root != "event":
                    continue
                for old in old_versions:
                    missing = _missing_in(event.record, ref.path, old, types)
                    if missing is None or (missing, ref.location) in reported:
                        continue
                    reported.add((missing, ref.location))
                    yield _finding(
                        FOLD_READS_MISSING_FIELD,
                        event.full_name,
                        f"{event.full_name}.{missing}",
                        f"the fold reads `event.{'.'.join(ref.path)}` but events written "
                        f"with version {old.label} have no `{missing}` and it has no default: "
                        "replaying them fails",
                        ref.location,
                        old.label,
                    )


# ---------------------------------------------------------------------------- renames


def _renames(
    project: Project, today: Mapping[str, Parsed], baseline: Baseline
) -> Iterator[Finding]:
    states = {entity.state.full_name for entity in project.entities}
    history = list(baseline.history())
    for full_name, record in sorted(project.all_types().items()):
        new = _root_record(today.get(full_name))
        if not isinstance(record, RecordDef) or full_name in states or new is None:
            continue
        past = [(v, n) for v in history if isinstance(n := v.named(full_name), Record)]
        if not past:
            continue
        ever = {f.name for _, old in past for f in old.fields}
        known = {name for f in record.fields for name in (f.name, *f.aliases)}
        gone: dict[str, tuple[str, str]] = {}  # old field name -> (type key, a version)
        for version, old in past:
            for f in old.fields:
                if f.name not in known:
                    gone.setdefault(f.name, (type_key(f.type), version.label))
        for new_field in record.fields:
            typed = new.field_named(new_field.name)
            if typed is None or {new_field.name, *new_field.aliases} & ever:
                continue  # in the history under this name or an alias: not a new field
            candidates = [
                (name, label) for name, (key, label) in gone.items() if key == type_key(typed.type)
            ]
            if not candidates:
                continue
            names = ", ".join(f"`{name}`" for name, _ in candidates)
            first = candidates[0][0]
            read = (
                "the default instead of their value"
                if new_field.default is not None
                else "nothing (no default either)"
            )
            yield _finding(
                FIELD_RENAMED_WITHOUT_ALIAS,
                full_name,
                f"{full_name}.{new_field.name}",
                f"{names} {'is' if len(candidates) == 1 else 'are'} gone and "
                f"`{new_field.name}` of the same type is new without `aliases: [{first}]`: "
                f"events written with version {candidates[0][1]} would read {read}",
                new_field.location,
                candidates[0][1],
            )


# ------------------------------------------------------------------------ enum symbols


def _enum_symbols(project: Project, baseline: Baseline) -> Iterator[Finding]:
    past: dict[str, tuple[set[str], str]] = {}  # enum -> (symbols ever seen, a version label)
    for version in baseline.history():
        for full, named in version.parsed.named.items():
            if isinstance(named, Enum):
                symbols, _ = past.setdefault(full, (set(), version.label))
                symbols.update(named.symbols)
    for full_name, named_type in sorted(project.all_types().items()):
        if (
            not isinstance(named_type, EnumDef)
            or named_type.default is not None
            or full_name not in past
        ):
            continue
        symbols, label = past[full_name]
        removed = sorted(symbols - set(named_type.symbols))
        if removed:
            yield _finding(
                ENUM_SYMBOL_REMOVED_FROM_HISTORY,
                full_name,
                full_name,
                f"enum `{full_name}` no longer has {', '.join(removed)} and has no default: "
                "old events or commands carrying it cannot be read",
                named_type.location,
                label,
            )


# ------------------------------------------------------------------- entity identity


def line_of_key(entity: Entity, key: str) -> Location:
    """The line of a top-level ``key:`` of the entity's file, else the entity's line."""
    path = Path(entity.location.path)
    try:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if re.match(rf"{re.escape(key)}\s*:", line):
                return Location(entity.location.path, number, 1)
    except OSError:
        pass
    return entity.location


def key_kind(record: Record | None, key: str) -> str | None:
    """The kind of key field ``key`` of a state record: string, uuid, int or long (what
    decides the text form of the Kafka key); None when the record has no such field."""
    field = record.field_named(key) if record is not None else None
    if field is None:
        return None
    node = field.type
    if node.kind == "string" and node.logical_type == "uuid":
        return "uuid"
    return type_key(node)


def _old_key_kind(entity: Entity, key: str, baseline: Baseline) -> str | None:
    """The key's kind in the latest version of the state the history has."""
    state = baseline.entities[entity.full_name].state or entity.state.full_name
    versions = baseline.versions.get(state, [])
    return key_kind(_root_record(versions[-1].parsed), key) if versions else None


def _entity_identity(
    entity: Entity, today: Mapping[str, Parsed], baseline: Baseline
) -> Iterator[Finding]:
    name = entity.full_name
    old = baseline.entities.get(name)
    if old is None:
        return
    if old.key is not None:
        was = _old_key_kind(entity, old.key, baseline)
        now = key_kind(_root_record(today.get(entity.state.full_name)), entity.key)
        fields = f"`{entity.key}`" if old.key == entity.key else f"`{old.key}` -> `{entity.key}`"
        what = None
        if was is not None and was != now:
            what = f"the key changed from {was} to {now} (field {fields})"
        elif was is None and old.key != entity.key:
            what = (
                f"the key field changed ({fields}) and the history does not record the old "
                "key's type"
            )
        if what is not None:
            yield _finding(
                ENTITY_KEY_CHANGED,
                name,
                f"{name}.key",
                f"{what}: old events are keyed by the entity id as text of the old type, "
                "which today's ids may not match",
                line_of_key(entity, "key"),
                baseline.source,
            )
    if old.topic != entity.topic:
        yield _finding(
            ENTITY_TOPIC_CHANGED,
            name,
            f"{name}.topic",
            f"the topic changed from `{old.topic}` to `{entity.topic}`: events already on "
            f"`{old.topic}` would no longer be replayed",
            line_of_key(entity, "topic"),
            baseline.source,
        )
    today_events = {e.full_name for e in entity.events}
    for event in old.events:
        if event not in today_events:
            yield _finding(
                EVENT_TYPE_REMOVED,
                event,
                event,
                f"event `{event}` of {entity.name} was removed but events of it are on "
                f"`{old.topic}`: they can no longer be decoded or folded",
                line_of_key(entity, "events"),
                baseline.source,
            )


def _removed(project: Project, baseline: Baseline) -> Iterator[Finding]:
    today = {e.full_name for e in project.entities}
    for name, old in sorted(baseline.entities.items()):
        if name not in today:
            yield _finding(
                ENTITY_REMOVED,
                name,
                name,
                f"entity `{name}` was removed but its events are on `{old.topic}`",
                None,
                baseline.source,
            )
