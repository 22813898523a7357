"""Decoding old versions of events against decoding today's, in one run.

    python benchmarks/evolution.py [--quick]

A realistic history: each event type below was written with older schemas (a field added
since with a default, a field since removed, a field since renamed with an alias, an int
widened to a long), and the evolution case's upcasts (cents rescaled into a decimal through
a chain v1 -> v2 -> upcast, a name split in two). Each row decodes one old body into
today's event the way every read does (``EntityDescriptor.reading``, planned once per
writer schema), against decoding a body of today's schema into the same class. A ratio is
``today's time / old version's time``: 1.0 means old events cost nothing extra.

Prints a Markdown table and writes ``benchmarks/results/evolution.json``.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import decimal
import io
import json
import sys
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "codegen" / "cases" / "evolution" / "expected"))

import fastavro  # noqa: E402
from gen_evolution import shelf  # noqa: E402

from benchmarks.codec_and_fold import (  # noqa: E402
    _time,
    compare,
    replace_readme_section,
    typical_event,
)
from esgen.check.lock import old_versions  # noqa: E402
from esgen.runtime import EntityDescriptor  # noqa: E402
from esgen.runtime.serde import parse_schema  # noqa: E402
from generated.bank import account  # noqa: E402
from generated.shop import order  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
D = decimal.Decimal
LOCK = old_versions(ROOT / "tests" / "codegen" / "cases" / "evolution" / "schemas.lock")


def _body(schema: dict[str, Any], datum: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parse_schema(schema), datum)
    return out.getvalue()


def _fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = schema["fields"]
    return fields


def older(schema: dict[str, Any], change: str) -> dict[str, Any]:
    """An older version of ``schema``: what it was before ``change``."""
    old = copy.deepcopy(schema)
    fields = _fields(old)
    if change == "added":  # today's last field was added since, with a default
        fields.pop()
    elif change == "removed":  # a field written then, since removed
        fields.append({"name": "legacy_note", "type": "string"})
    elif change == "renamed":  # today's first field had another name (today lists it)
        first = fields[0]
        fields[0] = {"name": first["aliases"][0], "type": first["type"]}
    elif change == "widened":  # a long of today was an int
        for f in fields:
            if f["type"] == "long":
                f["type"] = "int"
    return old


def cases() -> list[tuple[str, EntityDescriptor[Any, Any], str, Any, dict[str, Any], bytes]]:
    """(label, descriptor, full name, today's event, old schema, old body)."""
    nested = typical_event()
    nested_dict = nested.to_avro()
    out = []
    today = order.AVRO_SCHEMAS["com.example.shop.ItemAdded"]
    for change in ("added", "removed"):
        old = older(today, change)
        datum = {k: v for k, v in nested_dict.items() if k in {f["name"] for f in _fields(old)}}
        datum.setdefault("legacy_note", "from 2024")
        event = order.ItemAdded(item=nested.item, weight_kg=0.0) if change == "added" else nested
        out.append(
            (
                f"ItemAdded (nested), a field {change}",
                order.ENTITY,
                "com.example.shop.ItemAdded",
                event,
                old,
                _body(old, datum),
            )
        )
    tagged = account.AVRO_SCHEMAS["com.example.bank.AccountTagged"]
    old = older(tagged, "renamed")
    out.append(
        (
            "AccountTagged, a field renamed (alias)",
            account.ENTITY,
            "com.example.bank.AccountTagged",
            account.AccountTagged(tag="vip"),
            old,
            _body(old, {"label": "vip"}),
        )
    )
    limit = account.AVRO_SCHEMAS["com.example.bank.LimitSet"]
    old = older(limit, "widened")
    out.append(
        (
            "LimitSet, int widened to long",
            account.ENTITY,
            "com.example.bank.LimitSet",
            account.LimitSet(name="daily", value=7),
            old,
            _body(old, {"name": "daily", "value": 7}),
        )
    )
    for version, datum in (
        (2, {"price_cents": 1999, "currency": "EUR"}),
        (1, {"price_cents": 1999}),
    ):
        old = LOCK["test.evo.PriceSet"][version - 1].schema
        label = (
            "PriceSet v2, upcast (cents to decimal)"
            if version == 2
            else ("PriceSet v1, resolved into v2 then upcast")
        )
        out.append(
            (
                label,
                shelf.ENTITY,
                "test.evo.PriceSet",
                shelf.PriceSet(price=D("19.99"), currency="EUR"),
                old,
                _body(old, datum),
            )
        )
    old = LOCK["test.evo.OwnerNamed"][0].schema
    out.append(
        (
            "OwnerNamed v1, upcast (a field split)",
            shelf.ENTITY,
            "test.evo.OwnerNamed",
            shelf.OwnerNamed(first_name="Ada", last_name="Lovelace"),
            old,
            _body(old, {"name": "Ada Lovelace"}),
        )
    )
    return out


def rows(number: int, rounds: int) -> list[dict[str, object]]:
    result = []
    for label, entity, full_name, event, old, body in cases():
        today_body = entity.encode(event)
        today_schema = entity.event_type(full_name).schema
        assert entity.decode_events(full_name, body, old) == [event], label

        def old_version(
            e: Any = entity, n: str = full_name, b: bytes = body, s: Any = old
        ) -> object:
            return e.decode_events(n, b, s)

        def same_version(
            e: Any = entity, n: str = full_name, b: bytes = today_body, s: Any = today_schema
        ) -> object:
            return e.decode_events(n, b, s)

        ours, theirs = compare(old_version, same_version, number, rounds)
        row: dict[str, object] = {
            "operation": f"decode an old {label}",
            "against": "decode today's version",
            "ours_us": ours * 1e6,
            "theirs_us": theirs * 1e6,
            "ratio": theirs / ours,
        }
        chained = "resolved into v2" in label
        if not entity.upcasts or chained:
            # before: fastavro's own resolution into the reader schema, on every record
            today = entity.event_type(full_name)
            reader = LOCK["test.evo.PriceSet"][1].schema if chained else today.schema
            generic = (parse_schema(old), parse_schema(reader))
            finish = entity.upcasts[0].convert if chained else today.resolve

            def fastavro_resolution(b: bytes = body, g: Any = generic, f: Any = finish) -> object:
                return f(fastavro.schemaless_reader(io.BytesIO(b), g[0], g[1]))

            assert fastavro_resolution() in ([event], event), label
            before, theirs = compare(fastavro_resolution, same_version, number, rounds)
            row["before_us"] = before * 1e6
            row["before_ratio"] = theirs / before
        result.append(row)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument(
        "--update-readme", action="store_true", help="replace the table in README.md"
    )
    args = parser.parse_args()
    number, rounds = (2_000, 3) if args.quick else (10_000, 15)
    table = rows(number, rounds)
    lines = [
        "| operation | against | old | today | ratio | before: fastavro resolution |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in table:
        before = f"{row['before_ratio']:.2f}x" if "before_ratio" in row else "-"
        lines.append(
            f"| {row['operation']} | {row['against']} | {_time(row['ours_us'])} "
            f"| {_time(row['theirs_us'])} | {row['ratio']:.2f}x | {before} |"
        )
    print("\n".join(lines))
    if args.update_readme:
        replace_readme_section("evolution", "\n".join(lines))
    RESULTS.mkdir(exist_ok=True)
    report = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "fastavro": fastavro.__version__,
        "quick": args.quick,
        "rows": table,
        "run_id": str(uuid.uuid4()),
    }
    (RESULTS / "evolution.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
