"""Generated upcasts read old events as today's (the evolution case: its lock holds the old
schemas); retired events are read and folded but never appended; the fingerprint covers
event schemas and upcasts."""

from __future__ import annotations

import decimal
import json
from io import BytesIO
from pathlib import Path
from typing import Any

import fastavro
import pytest

from esgen.check.lock import old_versions
from esgen.codegen import render_project
from esgen.dsl import load_project
from esgen.runtime import DecodeError, EsgenError, InMemoryEventStore
from tests.codegen.support import CASES

shelf = pytest.importorskip("gen_evolution.shelf")  # always there: tests/codegen/support.py
LOCK = old_versions(CASES / "evolution" / "schemas.lock")


def old(full_name: str, version: int) -> dict[str, Any]:
    return LOCK[full_name][version - 1].schema


def body(schema: dict[str, Any], datum: dict[str, Any]) -> bytes:
    out = BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(json.loads(json.dumps(schema))), datum)
    return out.getvalue()


def read(full_name: str, version: int, datum: dict[str, Any]) -> list[Any]:
    schema = old(full_name, version)
    return shelf.ENTITY.decode_events(full_name, body(schema, datum), schema)


def test_a_field_rescaled_from_cents_into_a_decimal() -> None:
    assert read("test.evo.PriceSet", 2, {"price_cents": 1234, "currency": "USD"}) == [
        shelf.PriceSet(price=decimal.Decimal("12.34"), currency="USD")
    ]


def test_an_older_version_chains_through_resolution_into_the_upcast() -> None:
    # v1 had no currency: Avro resolution into v2 gives its default, then v2's upcast runs
    assert read("test.evo.PriceSet", 1, {"price_cents": -5}) == [
        shelf.PriceSet(price=decimal.Decimal("-0.05"), currency="EUR")
    ]


def test_a_field_split_in_two_and_an_upcast_into_no_event() -> None:
    assert read("test.evo.OwnerNamed", 1, {"name": "Ada King Lovelace"}) == [
        shelf.OwnerNamed(first_name="Ada", last_name="King Lovelace")
    ]
    assert read("test.evo.OwnerNamed", 1, {"name": ""}) == []


def test_a_renamed_event_type_reads_as_todays() -> None:
    assert read("test.evo.Noted", 1, {}) == [shelf.Remarked()]


def test_a_removed_event_type_read_by_a_call_upcast() -> None:
    assert read("test.evo.Tagged", 1, {"tag": "red, green,"}) == [
        shelf.Labelled(label="red"),
        shelf.Labelled(label="green"),
    ]


def test_todays_events_are_read_as_themselves() -> None:
    event = shelf.PriceSet(price=decimal.Decimal("1.50"), currency="EUR")
    schema = shelf.AVRO_SCHEMAS["test.evo.PriceSet"]
    assert shelf.ENTITY.decode_events("test.evo.PriceSet", shelf.ENTITY.encode(event), schema) == [
        event
    ]


def test_a_body_that_is_not_of_the_old_version_is_a_decode_error_naming_it() -> None:
    with pytest.raises(DecodeError, match=r"cannot decode PriceSet@2: EOFError"):
        shelf.ENTITY.decode_events("test.evo.PriceSet", b"", old("test.evo.PriceSet", 2))


def test_a_failing_upcast_names_the_old_version() -> None:
    # 10**40 cents: a decimal(12,2) cannot hold it, so building today's event fails
    with pytest.raises(DecodeError, match=r"the upcast of test\.evo\.PriceSet@2 failed"):
        read("test.evo.PriceSet", 2, {"price_cents": 2**62, "currency": "EUR"})


def test_a_retired_event_is_folded_but_never_appended() -> None:
    state = shelf.replay("i-1", [shelf.PriceSet(price=decimal.Decimal("3")), shelf.Cleared()])
    assert state.price == 0
    store = InMemoryEventStore(shelf.ENTITY)
    store.append("i-1", [shelf.PriceSet(price=decimal.Decimal("3"))])
    with pytest.raises(EsgenError, match=r"Cleared is retired \(deprecated: true"):
        store.append("i-1", [shelf.Cleared()])
    assert store.version("i-1") == 1
    with pytest.raises(EsgenError, match=r"Cleared is retired"):
        store.execute("i-1", shelf.Clear())  # a command's events: the same append check
    assert store.version("i-1") == 1


def _fingerprint(tmp_path: Path, amount: str) -> str:
    (tmp_path / "thing.yaml").write_text(
        "entity: Thing\nnamespace: test.fp\nkey: id\n"
        "state:\n  fields:\n    id: string\n    total: {type: long, default: 0}\n"
        f"events:\n  Added:\n    fields:\n      amount: {amount}\n"
        "    fold:\n      - add: {total: event.amount}\n"
    )
    files = render_project(load_project(tmp_path), "fp")
    line = next(x for x in files["thing.py"].splitlines() if "fingerprint=" in x)
    return line.strip()


def test_the_fingerprint_changes_with_an_event_schema(tmp_path: Path) -> None:
    """Seen: after long -> int, read() failed but load() succeeded from a snapshot: the
    fingerprint ignored event schemas, so the snapshot hid the unreadable history."""
    assert _fingerprint(tmp_path, "long") != _fingerprint(tmp_path, "int")
