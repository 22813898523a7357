"""Hypothesis strategies for whole definitions: names (long ones too), docs of any text,
types (records, enums, fixed, arrays and maps of them, optionals, logical types), defaults,
and fold steps that type-check (set, add, subtract, append, remove, put, delete, nested
paths, guards, ``meta`` reads), entities with no events included; commands that emit those
events (preconditions whose reasons are any text, guards, ``meta`` reads).

Each strategy draws a plain dict, written with ``yaml.safe_dump``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

_PRIMITIVES = ["boolean", "int", "long", "float", "double", "string", "bytes"]
_LOGICAL = [
    "uuid",
    "date",
    "time-millis",
    "time-micros",
    "timestamp-millis",
    "timestamp-micros",
    "local-timestamp-millis",
    "local-timestamp-micros",
]
_DEFAULTS = {
    "boolean": False,
    "int": 0,
    "long": 0,
    "float": 0.0,
    "double": 0.0,
    "string": "",
    "bytes": "",
    "uuid": "00000000-0000-0000-0000-000000000000",
    "date": "2024-01-01",
    "time-millis": "10:00:00",
    "time-micros": "10:00:00",
    "timestamp-millis": "2024-01-01T00:00:00Z",
    "timestamp-micros": "2024-01-01T00:00:00Z",
    "local-timestamp-millis": "2024-01-01T00:00:00",
    "local-timestamp-micros": "2024-01-01T00:00:00",
}
_NUMERIC = {"int", "long", "float", "double"}

docs = st.text(max_size=120)
_words = st.sampled_from(["order", "line", "item", "price", "total", "note", "tag", "count"])


def _snake(parts: list[str], long: bool) -> str:
    name = "_".join(parts)
    return f"{name}_{'x' * 50}" if long else name


def _names(long: bool) -> tuple[st.SearchStrategy[str], st.SearchStrategy[str]]:
    """snake_case and PascalCase names; with ``long``, some of 50 characters and more."""
    snake = st.tuples(st.lists(_words, min_size=1, max_size=3), st.booleans()).map(
        lambda t: _snake(t[0], t[1] and long)
    )
    pascal = st.tuples(st.lists(_words, min_size=1, max_size=3), st.integers(0, 9)).map(
        lambda t: "".join(w.capitalize() for w in t[0]) + ("X" * 30 if t[1] == 9 and long else "")
    )
    return snake, pascal


@dataclass
class _Scope:
    """What the definition being drawn has declared so far."""

    records: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> field -> type
    enums: dict[str, list[str]] = field(default_factory=dict)
    fixed: dict[str, int] = field(default_factory=dict)


def _default(t: str, scope: _Scope) -> Any:
    if t.endswith("?"):
        return None
    if t.startswith("array<"):
        return []
    if t.startswith("map<"):
        return {}
    if t.startswith("decimal("):
        scale = int(t[:-1].split(",")[1])
        return "0." + "0" * scale if scale else "0"
    if t in scope.enums:
        return scope.enums[t][0]
    if t in scope.records:
        return {}
    if t in scope.fixed:
        return "\x00" * scope.fixed[t]
    return _DEFAULTS[t]


def _field_type(draw: st.DrawFn, scope: _Scope, depth: int = 0) -> str:
    named = [*scope.records, *scope.enums, *scope.fixed]
    kinds = ["primitive", "logical", "decimal"] + (["named"] if named else [])
    if depth == 0:
        kinds += ["array", "map", "optional"]
    kind = draw(st.sampled_from(kinds))
    if kind == "primitive":
        return draw(st.sampled_from(_PRIMITIVES))
    if kind == "logical":
        return draw(st.sampled_from(_LOGICAL))
    if kind == "decimal":
        precision = draw(st.integers(1, 20))
        return f"decimal({precision},{draw(st.integers(0, precision))})"
    if kind == "named":
        return draw(st.sampled_from(named))
    inner = _field_type(draw, scope, depth + 1)
    if kind == "optional":
        return f"{inner}?"
    return f"{kind}<{inner}>"


@st.composite
def definitions(draw: st.DrawFn, long_names: bool = True) -> dict[str, Any]:
    """One entity's definition. Without ``long_names`` every name has at most 30
    characters (lines of the module then fit 88 columns; a 60-character field name in a
    schema literal cannot)."""
    snake_names, pascal_names = _names(long_names)
    scope = _Scope()
    taken: set[str] = set()

    def fresh(strategy: st.SearchStrategy[str]) -> str:
        name = draw(strategy.filter(lambda n: n not in taken))
        taken.add(name)
        return name

    entity = fresh(pascal_names)
    taken |= {f"{entity}State", f"{entity}Event", f"{entity}Command"}
    types: dict[str, Any] = {}
    for _ in range(draw(st.integers(0, 1))):
        name = fresh(pascal_names)
        symbols = draw(
            st.lists(
                st.sampled_from(["ON", "OFF", "RED", "GREEN", "A1"]),
                min_size=1,
                max_size=4,
                unique=True,
            )
        )
        types[name] = {"enum": symbols, "default": symbols[0]}
        scope.enums[name] = symbols
    if draw(st.booleans()):
        name = fresh(pascal_names)
        types[name] = {"fixed": draw(st.integers(1, 8))}
        scope.fixed[name] = types[name]["fixed"]
    for _ in range(draw(st.integers(0, 2))):
        name = fresh(pascal_names)
        fields: dict[str, Any] = {}
        for _ in range(draw(st.integers(1, 3))):
            fname = draw(snake_names.filter(lambda n, fields=fields: n not in fields))
            t = _field_type(draw, scope)
            fields[fname] = {"type": t, "default": _default(t, scope), "doc": draw(docs)}
        types[name] = {"doc": draw(docs), "fields": fields}
        scope.records[name] = {f: v["type"] for f, v in fields.items()}

    key = draw(snake_names)
    key_type = draw(st.sampled_from(["string", "uuid", "int", "long"]))
    state_fields: dict[str, Any] = {key: key_type}
    for _ in range(draw(st.integers(1, 6))):
        fname = draw(snake_names.filter(lambda n: n not in state_fields))
        t = _field_type(draw, scope)
        state_fields[fname] = {"type": t, "default": _default(t, scope)}
    state_types = {n: (v if isinstance(v, str) else v["type"]) for n, v in state_fields.items()}

    events: dict[str, Any] = {}
    for _ in range(draw(st.integers(0, 4))):
        name = fresh(pascal_names)
        event_fields: dict[str, str] = {}
        steps = []
        for _ in range(draw(st.integers(0, 3))):
            step = _step(draw, scope, key, state_types, event_fields)
            if step is not None:
                steps.append(step)
        events[name] = {"doc": draw(docs), "fields": event_fields, "fold": steps}
    commands: dict[str, Any] = {}
    for event_name in (
        draw(st.lists(st.sampled_from(sorted(events)), max_size=2)) if events else ()
    ):
        commands[fresh(pascal_names)] = _command(draw, events[event_name], event_name)
    definition: dict[str, Any] = {
        "entity": entity,
        "namespace": f"prop.{entity.lower()[:20]}",
        "doc": draw(docs),
        "key": key,
        "types": types,
        "state": {"fields": state_fields},
        "events": events,
    }
    if commands:
        definition["commands"] = commands
    if draw(st.booleans()):
        numeric = [n for n, t in state_types.items() if t in _NUMERIC and n != key]
        if numeric:
            definition["state"]["invariants"] = [f"state.{numeric[0]} == state.{numeric[0]}"]
    return definition


def _step(
    draw: st.DrawFn,
    scope: _Scope,
    key: str,
    state: dict[str, str],
    event: dict[str, str],
) -> dict[str, Any] | None:
    """A fold step that type-checks, reading a new event field of the right type."""
    fields = [n for n in state if n != key]
    target = draw(st.sampled_from(fields))
    t = state[target]

    def read(of: str) -> str:
        name = f"f{len(event)}_{target}"
        event[name] = of
        return f"event.{name}"

    ops = ["set"]
    if t in _NUMERIC or (t.startswith("decimal(") and not t.endswith("?")):
        ops += ["add", "subtract"]
    if t.startswith("array<") and not t.endswith(">?"):
        ops += ["append", "remove"]
    if t.startswith("map<"):
        ops += ["put", "delete"]
    if scope.records.get(t):
        ops.append("nested")
    op = draw(st.sampled_from(ops))
    step: dict[str, Any]
    if op == "set":
        step = {"set": {target: read(t)}}
    elif op in ("add", "subtract"):
        step = {op: {target: read(t)}}
    elif op in ("append", "remove"):
        step = {op: {target: read(t[len("array<") : -1])}}
    elif op == "put":
        step = {"put": {target: {"key": read("string"), "value": read(t[len("map<") : -1])}}}
    elif op == "delete":
        step = {"delete": {target: read("string")}}
    else:
        inner = draw(st.sampled_from(sorted(scope.records[t])))
        step = {"set": {f"{target}.{inner}": read(scope.records[t][inner])}}
    guard = draw(st.sampled_from([None, "meta.version != 0", "len(meta.entity_id) >= 0"]))
    if guard == "len(meta.entity_id) >= 0" and state[key] != "string":
        guard = "meta.entity_id == meta.entity_id"
    if guard is not None:
        step["when"] = guard
    return step


_CONDITIONS = ["meta.version >= 0", "meta.version == 0", "len(meta.command_id) > 0"]


def _command(draw: st.DrawFn, event: dict[str, Any], event_name: str) -> dict[str, Any]:
    """A command that emits ``event``, each event field from a command field of its type."""
    fields = dict(event["fields"])
    requires: list[Any] = []
    for _ in range(draw(st.integers(0, 2))):
        check = draw(st.sampled_from(_CONDITIONS))
        reason = draw(docs.filter(str.strip))
        requires.append(draw(st.sampled_from([check, {"check": check, "reason": reason}])))
    emission: dict[str, Any] = {event_name: {name: f"command.{name}" for name in fields}}
    when = draw(st.sampled_from([None, *_CONDITIONS]))
    if when is not None:
        emission["when"] = when
    command: dict[str, Any] = {"doc": draw(docs), "fields": fields, "emits": [emission]}
    if requires:
        command["requires"] = requires
    return command
