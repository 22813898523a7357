"""A resolution planned once per writer schema gives exactly what fastavro's resolution
gives, on every recorded event of the example domain read from older shapes of it; and
what it does not know to be exact it leaves to fastavro (no plan)."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import fastavro
import pytest

from esgen.check.recording import recordings
from esgen.runtime import EntityDescriptor
from esgen.runtime.resolution import is_identity, resolution_plan
from esgen.runtime.serde import parse_schema
from generated.bank import account
from generated.shop import order

FIXTURES = Path(__file__).parents[1] / "fixtures" / "events"
ENTITIES: dict[str, EntityDescriptor[Any, Any]] = {
    e.full_name: entity for entity in (account.ENTITY, order.ENTITY) for e in entity.events
}


def _write(schema: dict[str, Any], datum: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parse_schema(schema), datum)
    return out.getvalue()


def _variants(schema: dict[str, Any], datum: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Older shapes of ``schema`` (the writer) with ``datum`` written in them."""
    found: list[tuple[str, Any, Any]] = []
    fields = schema["fields"]
    extra = copy.deepcopy(schema)
    extra["fields"].append({"name": "legacy_note", "type": ["null", "string"], "default": None})
    found.append(("a field removed since", extra, {**datum, "legacy_note": "old"}))
    for index, f in enumerate(fields):
        if "default" in f:
            old = copy.deepcopy(schema)
            del old["fields"][index]
            found.append((f"{f['name']} added since", old, {**datum}))
        if f.get("aliases"):
            old = copy.deepcopy(schema)
            old["fields"][index] = {"name": f["aliases"][0], "type": f["type"]}
            value = {k: v for k, v in datum.items() if k != f["name"]}
            found.append(
                (f"{f['name']} renamed since", old, {**value, f["aliases"][0]: datum[f["name"]]})
            )
        if f["type"] == "long" and -(2**31) <= datum[f["name"]] < 2**31:
            old = copy.deepcopy(schema)
            old["fields"][index]["type"] = "int"
            found.append((f"{f['name']} widened since", old, datum))
        if f["type"] == "double":
            old = copy.deepcopy(schema)
            old["fields"][index]["type"] = "float"
            found.append((f"{f['name']} widened since", old, datum))
    return found


CASES = [
    pytest.param(recording.event, writer, body, id=f"{recording.event.rpartition('.')[2]}: {what}")
    for recording in recordings(FIXTURES)
    if recording.event in ENTITIES
    for datum in [
        fastavro.schemaless_reader(
            io.BytesIO(recording.bodies[-1]), parse_schema(recording.writer_schema), None
        )
    ]
    for what, writer, old_datum in _variants(recording.writer_schema, datum)  # type: ignore[arg-type]
    for body in [
        _write(
            writer,
            {k: v for k, v in old_datum.items() if k in {f["name"] for f in writer["fields"]}},
        )
    ]
]


@pytest.mark.parametrize(("full_name", "writer", "body"), CASES)
def test_the_plan_gives_what_fastavro_resolution_gives(
    full_name: str, writer: dict[str, Any], body: bytes
) -> None:
    entity = ENTITIES[full_name]
    today = entity.event_type(full_name)
    resolved = fastavro.schemaless_reader(io.BytesIO(body), parse_schema(writer), today.parsed)
    planned = resolution_plan(writer, today.schema)
    assert planned is not None, "every change here is one the plan covers"
    plan, _ = planned
    read = fastavro.schemaless_reader(io.BytesIO(body), parse_schema(writer), None)
    assert (read if is_identity(plan) else plan(read)) == resolved
    # and through the one decision every read goes through, into today's class
    assert entity.decode_events(full_name, body, writer) == [today.resolve(resolved)]


def test_a_field_is_found_by_its_own_name_before_an_alias() -> None:
    writer = _record([{"name": "a", "type": "int"}, {"name": "b", "type": "long"}])
    reader = _record(
        [
            {"name": "b", "type": "double", "aliases": ["a"]},
            {"name": "a", "type": "long", "aliases": ["b"]},
        ]
    )
    body = _write(writer, {"a": 1, "b": 2})
    resolved = fastavro.schemaless_reader(
        io.BytesIO(body), parse_schema(writer), parse_schema(reader)
    )
    planned = resolution_plan(writer, reader)
    assert planned is not None
    read = fastavro.schemaless_reader(io.BytesIO(body), parse_schema(writer), None)
    assert planned[0](read) == resolved == {"a": 1, "b": 2.0}


def test_there_are_cases_of_every_kind() -> None:
    kinds = {str(case.id).partition(": ")[2].split()[-2] for case in CASES}
    assert {"removed", "added", "renamed", "widened"} <= kinds, kinds
    assert len(CASES) >= 30


def _record(fields: list[dict[str, Any]], name: str = "R") -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "t", "fields": fields}


@pytest.mark.parametrize(
    ("writer", "reader"),
    [
        (  # an enum symbol the reader lacks: fastavro takes the enum default or fails
            _record([{"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}}]),
            _record(
                [
                    {
                        "name": "e",
                        "type": {"type": "enum", "name": "E", "symbols": ["A"], "default": "A"},
                    }
                ]
            ),
        ),
        (  # a union that is not ["null", T]
            _record([{"name": "u", "type": ["null", "int", "string"]}]),
            _record([{"name": "u", "type": ["null", "long", "string"]}]),
        ),
        (  # another logical type
            _record([{"name": "t", "type": "long"}]),
            _record([{"name": "t", "type": {"type": "long", "logicalType": "timestamp-millis"}}]),
        ),
        (  # a field without default missing: fastavro's own error
            _record([]),
            _record([{"name": "x", "type": "int"}]),
        ),
    ],
)
def test_what_is_not_known_to_be_exact_is_left_to_fastavro(
    writer: dict[str, Any], reader: dict[str, Any]
) -> None:
    assert resolution_plan(json.loads(json.dumps(writer)), reader) is None


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN (random floats)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (a != a and b != b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def test_random_histories_resolve_exactly_as_fastavro_does() -> None:
    """Random schema histories (tests/compat/random_schemas.py: every change people make)
    and random values: where fastavro resolves a writer into a reader, the plan (when there
    is one) gives the same datum."""
    from fastavro.utils import generate_many

    from tests.compat.random_schemas import random_cases

    planned = compared = 0
    for case in random_cases(300, seed=11):
        writer, reader = case["previous"][-1], case["new"]
        if not (isinstance(writer, dict) and isinstance(reader, dict)):
            continue
        if writer.get("type") != "record" or reader.get("type") != "record":
            continue
        try:
            parsed_writer, parsed_reader = parse_schema(writer), parse_schema(reader)
        except Exception:  # an invalid schema on purpose
            continue
        plan = resolution_plan(writer, reader)
        if plan is None:
            continue
        try:
            data = list(generate_many(parsed_writer, 5))
        except RecursionError:  # fastavro's generator on a recursive type
            continue
        planned += 1
        for datum in data:
            body = _write(writer, datum)
            try:
                resolved = fastavro.schemaless_reader(
                    io.BytesIO(body), parsed_writer, parsed_reader
                )
            except Exception:  # fastavro refuses this pair (or this value): nothing to match
                break
            read = fastavro.schemaless_reader(io.BytesIO(body), parsed_writer, None)
            got = read if is_identity(plan[0]) else plan[0](read)
            assert _same(got, resolved), case["name"]
            compared += 1
    assert planned >= 50 and compared >= 200, (planned, compared)
