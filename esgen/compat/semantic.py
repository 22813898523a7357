# ruff: noqa: E501  (the rule table below is one Markdown row per rule)
"""Semantic checks that no schema registry makes: they need the definitions, not only schemas.

A registry compares one subject's schemas. It cannot know that a fold reads a field old events
lack, that a removed field and an added one are the same field renamed, that an entity's key or
topic moved, or that an event type stopped being generated while its events stay on the topic.

| rule id | raised when | fix |
| --- | --- | --- |
| ``FOLD_READS_MISSING_FIELD`` | a fold step (value, key or ``when``) reads ``event.F`` (or a nested path) that an older version of the event lacks, and ``F`` has no default: replaying old events cannot give the fold a value | give the field a ``default:`` (or make it optional ``T?``) and handle it in the fold |
| ``FIELD_RENAMED_WITHOUT_ALIAS`` | an older version has a field that is gone and the new record has a field of the same type that does not list it in ``aliases``: old events' values would be dropped and the default read instead | add ``aliases: [OLD_NAME]`` to the new field |
| ``ENUM_SYMBOL_REMOVED_FROM_HISTORY`` | an enum lost a symbol that older events or snapshots may carry and has no ``default`` (reported when no schema check already did, e.g. under NONE) | keep the symbol, or give the enum a ``default`` |
| ``ENTITY_KEY_CHANGED`` | the entity's ``key`` field changed: the Kafka message key of old events names something else | keep the key; model a new entity instead |
| ``ENTITY_TOPIC_CHANGED`` | the entity's ``topic`` changed: old events stay on the old topic and are no longer replayed | keep the topic (set ``topic:`` to the old name) |
| ``EVENT_TYPE_REMOVED`` | an event type was removed while old events of it exist on the topic: they can no longer be decoded or folded | keep the event (its fold may do nothing) |
| ``ENTITY_REMOVED`` | an entity was removed while its events exist | keep the definition |
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from esgen.compat.baseline import Baseline, Version
from esgen.compat.findings import Finding
from esgen.compat.rules import Rule
from esgen.errors import Location
from esgen.model import (
    Entity,
    EnumDef,
    Project,
    RecordDef,
    refs,
)

FOLD_READS_MISSING_FIELD = Rule(
    "FOLD_READS_MISSING_FIELD",
    "fold reads a field that old events lack",
    "Give the field a `default:` (or make it optional, `T?`) so old events read a value, "
    "and make the fold handle that value.",
)
FIELD_RENAMED_WITHOUT_ALIAS = Rule(
    "FIELD_RENAMED_WITHOUT_ALIAS",
    "field renamed without an alias",
    "List the old name in the new field's `aliases:` so old events' values are read.",
)
ENUM_SYMBOL_REMOVED_FROM_HISTORY = Rule(
    "ENUM_SYMBOL_REMOVED_FROM_HISTORY",
    "enum symbol removed while old events may carry it",
    "Keep the symbol, or give the enum a `default:` symbol that old values map to.",
)
ENTITY_KEY_CHANGED = Rule(
    "ENTITY_KEY_CHANGED",
    "entity key changed",
    "Keep the old `key:`; old events are keyed by it. Model a new entity for a new identity.",
)
ENTITY_TOPIC_CHANGED = Rule(
    "ENTITY_TOPIC_CHANGED",
    "entity topic changed",
    "Keep the old topic (write it as `topic:`); old events stay where they were written.",
)
EVENT_TYPE_REMOVED = Rule(
    "EVENT_TYPE_REMOVED",
    "event type removed",
    "Keep the event definition (an empty fold is fine); old events of it must still decode.",
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
    project: Project, schemas: dict[str, dict[str, Any]], baseline: Baseline
) -> list[Finding]:
    """Every semantic problem of ``project`` against ``baseline``.

    ``schemas`` are today's generated schemas by full name (the ``.avsc`` contents).
    """
    found: list[Finding] = []
    for entity in project.entities:
        found.extend(_fold_reads(entity, baseline))
        found.extend(_entity_identity(entity, baseline))
    found.extend(_renames(project, schemas, baseline))
    found.extend(_enum_symbols(project, baseline))
    found.extend(_removed(project, baseline))
    return found


# ------------------------------------------------------------------ schema JSON helpers


def _named_types(
    schema: Any, namespace: str = "", out: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Every named type defined inside a self-contained schema, by full name."""
    out = {} if out is None else out
    if isinstance(schema, list):
        for branch in schema:
            _named_types(branch, namespace, out)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in ("record", "error", "enum", "fixed"):
            name = str(schema.get("name", ""))
            ns = (
                str(schema.get("namespace", namespace))
                if "." not in name
                else name.rpartition(".")[0]
            )
            full = name if "." in name else (f"{ns}.{name}" if ns else name)
            out[full] = schema
            for f in schema.get("fields", ()) if kind in ("record", "error") else ():
                if isinstance(f, dict):
                    _named_types(f.get("type"), ns, out)
        elif kind == "array":
            _named_types(schema.get("items"), namespace, out)
        elif kind == "map":
            _named_types(schema.get("values"), namespace, out)
        elif isinstance(kind, dict | list):
            _named_types(kind, namespace, out)
    return out


def _resolve(type_: Any, named: dict[str, Any], namespace: str) -> Any:
    """A type with named references replaced by their definition (one level)."""
    if isinstance(type_, str):
        return named.get(type_) or named.get(f"{namespace}.{type_}") or type_
    if (
        isinstance(type_, dict)
        and isinstance(type_.get("type"), str | dict | list)
        and type_.get("type") not in ("record", "error", "enum", "fixed", "array", "map")
    ):
        return _resolve(type_["type"], named, namespace)
    return type_


def _record_branch(type_: Any, named: dict[str, Any], namespace: str) -> dict[str, Any] | None:
    resolved = _resolve(type_, named, namespace)
    if isinstance(resolved, list):
        for branch in resolved:
            record = _record_branch(branch, named, namespace)
            if record is not None:
                return record
        return None
    if isinstance(resolved, dict) and resolved.get("type") in ("record", "error"):
        return resolved
    return None


def _canonical(type_: Any, named: dict[str, Any], namespace: str) -> str:
    """A comparable text of a field type: named references expanded, docs and defaults dropped."""
    resolved = _resolve(type_, named, namespace)
    if isinstance(resolved, list):
        return "[" + ",".join(_canonical(b, named, namespace) for b in resolved) + "]"
    if isinstance(resolved, dict):
        kind = resolved.get("type")
        if kind in ("record", "error"):
            name = str(resolved.get("name", "")).rpartition(".")[2]
            return f"record:{name}"
        if kind in ("enum", "fixed"):
            return f"{kind}:{str(resolved.get('name', '')).rpartition('.')[2]}"
        if kind == "array":
            return f"array<{_canonical(resolved.get('items'), named, namespace)}>"
        if kind == "map":
            return f"map<{_canonical(resolved.get('values'), named, namespace)}>"
        keep = {k: v for k, v in resolved.items() if k not in ("doc", "default", "aliases")}
        return json.dumps(keep, sort_keys=True)
    return json.dumps(resolved)


def _namespace_of(record: dict[str, Any]) -> str:
    name = str(record.get("name", ""))
    if "." in name:
        return name.rpartition(".")[0]
    return str(record.get("namespace", ""))


# ------------------------------------------------------------------------ fold reads


def _missing_in(
    record: RecordDef, path: tuple[str, ...], old: Version, types: dict[str, Any]
) -> str | None:
    """The first step of ``path`` that ``old`` cannot supply (absent there, no default now)."""
    named = _named_types(old.schema)
    old_record: dict[str, Any] | None = old.schema if isinstance(old.schema, dict) else None
    current: RecordDef | None = record
    for depth, name in enumerate(path):
        if current is None or old_record is None:
            return None
        new_field = current.field(name)
        if new_field is None:
            return None
        names = {name, *new_field.aliases}
        old_field = next(
            (
                f
                for f in old_record.get("fields", ())
                if isinstance(f, dict) and f.get("name") in names
            ),
            None,
        )
        if old_field is None:
            return ".".join(path[: depth + 1]) if new_field.default is None else None
        old_record = _record_branch(old_field.get("type"), named, _namespace_of(old_record))
        nested = types.get(getattr(new_field.type, "full_name", ""))
        current = nested if isinstance(nested, RecordDef) else None
    return None


def _fold_reads(entity: Entity, baseline: Baseline) -> Iterator[Finding]:
    types: dict[str, Any] = {}
    for event in entity.events:
        old_versions = baseline.versions.get(event.full_name, [])
        if not old_versions:
            continue
        if not types:
            types = {k: v for k, v in index_from_entity(entity).items()}
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


def index_from_entity(entity: Entity) -> dict[str, Any]:
    """Records reachable by this entity's folds: its declared types, state and events."""
    out: dict[str, Any] = {t.full_name: t for t in entity.types}
    out[entity.state.full_name] = entity.state
    out.update({e.full_name: e.record for e in entity.events})
    return out


# ---------------------------------------------------------------------------- renames


def _renames(
    project: Project, schemas: dict[str, dict[str, Any]], baseline: Baseline
) -> Iterator[Finding]:
    for full_name, record in sorted(project.all_types().items()):
        if not isinstance(record, RecordDef):
            continue
        new_schema = schemas.get(full_name)
        if new_schema is None:
            continue
        new_named = _named_types(new_schema)
        new_ns = _namespace_of(new_schema)
        new_types = {
            f["name"]: _canonical(f.get("type"), new_named, new_ns)
            for f in new_schema.get("fields", ())
        }
        for old in _versions_of_record(full_name, baseline):
            old_named = _named_types(old.schema)
            old_ns = _namespace_of(old.schema)
            old_fields = [f for f in old.schema.get("fields", ()) if isinstance(f, dict)]
            old_names = {str(f.get("name")) for f in old_fields}
            gone = [
                f
                for f in old_fields
                if not any(
                    f.get("name") == nf.name or f.get("name") in nf.aliases for nf in record.fields
                )
            ]
            for new_field in record.fields:
                if new_field.name in old_names or old_names & set(new_field.aliases):
                    continue
                for old_field in gone:
                    if _canonical(old_field.get("type"), old_named, old_ns) != new_types.get(
                        new_field.name
                    ):
                        continue
                    yield _finding(
                        FIELD_RENAMED_WITHOUT_ALIAS,
                        full_name,
                        f"{full_name}.{new_field.name}",
                        f"`{old_field.get('name')}` is gone and `{new_field.name}` of the same "
                        f"type is new without `aliases: [{old_field.get('name')}]`: events "
                        f"written with version {old.label} would read "
                        + (
                            "the default instead of their value"
                            if new_field.default is not None
                            else "nothing (no default either)"
                        ),
                        new_field.location,
                        old.label,
                    )


def _versions_of_record(full_name: str, baseline: Baseline) -> Iterator[Version]:
    """Past versions of a record: its own history, or its copy embedded in an event/state."""
    own = baseline.versions.get(full_name)
    if own:
        yield from (v for v in own if isinstance(v.schema, dict))
        return
    for versions in baseline.versions.values():
        for version in versions:
            embedded = _named_types(version.schema).get(full_name)
            if isinstance(embedded, dict) and embedded.get("type") in ("record", "error"):
                yield Version(version.label, embedded)


# ------------------------------------------------------------------------ enum symbols


def _enum_symbols(project: Project, baseline: Baseline) -> Iterator[Finding]:
    past: dict[str, tuple[set[str], str]] = {}  # enum -> (symbols ever seen, a version label)
    for versions in baseline.versions.values():
        for version in versions:
            for full, named in _named_types(version.schema).items():
                if isinstance(named, dict) and named.get("type") == "enum":
                    symbols, label = past.setdefault(full, (set(), version.label))
                    symbols.update(str(s) for s in named.get("symbols", ()))
    for full_name, named in sorted(project.all_types().items()):
        if not isinstance(named, EnumDef) or named.default is not None or full_name not in past:
            continue
        symbols, label = past[full_name]
        removed = sorted(symbols - set(named.symbols))
        if removed:
            yield _finding(
                ENUM_SYMBOL_REMOVED_FROM_HISTORY,
                full_name,
                full_name,
                f"enum `{full_name}` no longer has {', '.join(removed)} and has no default: "
                "old events or snapshots carrying it cannot be read",
                named.location,
                label,
            )


# ------------------------------------------------------------------- entity identity


def _line_of_key(entity: Entity, key: str) -> Location:
    """The line of a top-level ``key:`` of the entity's file, else the entity's line."""
    path = Path(entity.location.path)
    try:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if re.match(rf"{re.escape(key)}\s*:", line):
                return Location(entity.location.path, number, 1)
    except OSError:
        pass
    return entity.location


def _entity_identity(entity: Entity, baseline: Baseline) -> Iterator[Finding]:
    name = entity.full_name
    old = baseline.entities.get(name)
    if old is None:
        return
    if old.key is not None and old.key != entity.key:
        yield _finding(
            ENTITY_KEY_CHANGED,
            name,
            f"{name}.key",
            f"the key changed from `{old.key}` to `{entity.key}`: old events are keyed by "
            f"`{old.key}`",
            _line_of_key(entity, "key"),
            baseline.source,
        )
    if old.topic != entity.topic:
        yield _finding(
            ENTITY_TOPIC_CHANGED,
            name,
            f"{name}.topic",
            f"the topic changed from `{old.topic}` to `{entity.topic}`: events already on "
            f"`{old.topic}` would no longer be replayed",
            _line_of_key(entity, "topic"),
            baseline.source,
        )
    today = {e.full_name for e in entity.events}
    for event in old.events:
        if event not in today:
            yield _finding(
                EVENT_TYPE_REMOVED,
                event,
                event,
                f"event `{event}` of {entity.name} was removed but events of it are on "
                f"`{old.topic}`: they can no longer be decoded or folded",
                _line_of_key(entity, "events"),
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
