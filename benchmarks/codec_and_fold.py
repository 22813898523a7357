"""Hot paths of generated code against the libraries underneath, in one run.

    python benchmarks/codec_and_fold.py [--quick]

Prints a Markdown table and writes ``benchmarks/results/codec_and_fold.json``.
Each pair is measured interleaved (ours, theirs, ours, theirs, ...) after a warm-up,
and the fastest round of each is kept (timeit's advice: slower rounds measure the
machine's other work, not the code). A ratio is
``their time / our time``: 1.0 is parity, above 1.0 we are faster.
"""

from __future__ import annotations

import argparse
import datetime
import decimal
import io
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import fastavro  # noqa: E402
from confluent_kafka.schema_registry import SchemaRegistryClient  # noqa: E402
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer  # noqa: E402
from confluent_kafka.serialization import MessageField, SerializationContext  # noqa: E402

from esgen.runtime.serde import parse_schema  # noqa: E402
from generated.bank import account  # noqa: E402
from generated.shop import order  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def per_op(function: Callable[[], object], number: int) -> float:
    """Seconds per call of ``function``, over ``number`` calls."""
    start = time.perf_counter()
    for _ in range(number):
        function()
    return (time.perf_counter() - start) / number


def compare(
    ours: Callable[[], object], theirs: Callable[[], object], number: int, rounds: int
) -> tuple[float, float]:
    """Best seconds per call of each, measured in alternating rounds after a warm-up."""
    per_op(ours, max(1, number // 10))
    per_op(theirs, max(1, number // 10))
    ours_times, their_times = [], []
    for _ in range(rounds):
        ours_times.append(per_op(ours, number))
        their_times.append(per_op(theirs, number))
    return min(ours_times), min(their_times)


def typical_event() -> order.ItemAdded:
    """An order line: nested records, a decimal, an int and a double."""
    return order.ItemAdded(
        item=order.LineItem(
            sku="SKU-12345",
            quantity=3,
            unit_price=account.Money(amount=decimal.Decimal("19.99"), currency="EUR"),
        ),
        weight_kg=1.25,
    )


def codec_rows(number: int, rounds: int) -> list[dict[str, object]]:
    event = typical_event()
    event_type = order.ENTITY.event_type(event)
    schema = event_type.schema
    parsed = parse_schema(schema)
    as_dict = {
        "item": {
            "sku": "SKU-12345",
            "quantity": 3,
            "unit_price": {"amount": decimal.Decimal("19.99"), "currency": "EUR"},
        },
        "weight_kg": 1.25,
    }
    body = order.ENTITY.encode(event)

    def raw_encode() -> bytes:
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, parsed, as_dict)
        return buffer.getvalue()

    def raw_decode() -> object:
        return fastavro.schemaless_reader(io.BytesIO(body), parsed, None)

    assert raw_encode() == body, "our encoding differs from fastavro's on the same data"

    registry = SchemaRegistryClient.new_client({"url": "mock://benchmarks"})
    serializer = AvroSerializer(registry, json.dumps(schema), conf={"auto.register.schemas": True})
    context = SerializationContext(order.ENTITY.topic, MessageField.VALUE)
    framed = serializer(as_dict, context)
    deserializer = AvroDeserializer(registry, json.dumps(schema))

    def ours_encode() -> bytes:
        return order.ENTITY.encode(event)

    def ours_decode() -> object:
        return order.ENTITY.decode("com.example.shop.ItemAdded", body)

    assert ours_decode() == event
    rows = []
    for name, ours, theirs, what in [
        ("encode", ours_encode, raw_encode, "fastavro.schemaless_writer on a dict"),
        ("encode", ours_encode, lambda: serializer(as_dict, context), "confluent AvroSerializer"),
        ("decode", ours_decode, raw_decode, "fastavro.schemaless_reader to a dict"),
        (
            "decode",
            ours_decode,
            lambda: deserializer(framed, context),
            "confluent AvroDeserializer",
        ),
    ]:
        ours_time, their_time = compare(ours, theirs, number, rounds)
        rows.append(
            {
                "operation": f"{name} ItemAdded",
                "against": what,
                "ours_us": ours_time * 1e6,
                "theirs_us": their_time * 1e6,
                "ratio": their_time / ours_time,
            }
        )
    return rows


def account_events(count: int) -> list[account.AccountEvent]:
    events: list[account.AccountEvent] = [account.AccountOpened(owner="Ada")]
    amount = decimal.Decimal("12.50")
    for i in range(1, count):
        kind = i % 4
        if kind == 0:
            events.append(account.MoneyWithdrawn(amount=decimal.Decimal("2.25")))
        elif kind == 1:
            events.append(account.AccountTagged(tag=f"tag-{i % 7}"))
        elif kind == 2:
            events.append(account.LimitSet(name=f"limit-{i % 5}", value=i))
        else:
            events.append(account.MoneyDeposited(amount=amount))
    return events


def hand_written_replay(
    entity_id: str, events: list[account.AccountEvent]
) -> account.AccountState:
    """What a developer would write by hand for the same rules, updating in place."""
    state = account.AccountState(account_id=entity_id)
    for event in events:
        if isinstance(event, account.MoneyDeposited):
            state.balance += event.amount
        elif isinstance(event, account.MoneyWithdrawn):
            state.balance -= event.amount
        elif isinstance(event, account.AccountTagged):
            if event.tag not in state.tags:
                state.tags.append(event.tag)
        elif isinstance(event, account.LimitSet):
            state.limits[event.name] = event.value
        elif isinstance(event, account.AccountOpened):
            state.owner = event.owner
            state.status = account.Status.OPEN
    return state


def replay_row(count: int, rounds: int) -> dict[str, object]:
    events = account_events(count)
    assert account.replay("acc-1", events) == hand_written_replay("acc-1", events)
    ours_time, their_time = compare(
        lambda: account.replay("acc-1", events),
        lambda: hand_written_replay("acc-1", events),
        1,
        rounds,
    )
    return {
        "operation": f"replay {count:,} events",
        "against": "hand-written in-place fold",
        "ours_us": ours_time * 1e6,
        "theirs_us": their_time * 1e6,
        "ratio": their_time / ours_time,
    }


def generation_row(event_types: int) -> dict[str, object]:
    from esgen.codegen import render_project
    from esgen.dsl import load_project

    with tempfile.TemporaryDirectory() as folder:
        definitions = Path(folder) / "schemas"
        (definitions / "big").mkdir(parents=True)
        lines = [
            "entity: Ledger",
            "namespace: com.example.big",
            "key: ledger_id",
            "state:",
            "  fields:",
            "    ledger_id: string",
            "    total: {type: long, default: 0}",
            "    last_note: {type: string, default: ''}",
            "events:",
        ]
        for i in range(event_types):
            lines += [
                f"  Entry{i}Booked:",
                "    fields: {amount: long, note: string, at: timestamp-millis}",
                "    fold:",
                "      - add: {total: event.amount}",
                "      - set: {last_note: event.note}",
                "        when: len(event.note) > 0",
            ]
        (definitions / "big" / "ledger.yaml").write_text("\n".join(lines) + "\n")
        start = time.perf_counter()
        files = render_project(load_project(definitions), "generated_big")
        elapsed = time.perf_counter() - start
    return {
        "operation": f"generate {event_types:,} event types",
        "against": "target: 2 s",
        "ours_us": elapsed * 1e6,
        "theirs_us": 2e6,
        "ratio": 2.0 / elapsed,
        "files": len(files),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument(
        "--update-readme", action="store_true", help="replace the table in README.md"
    )
    args = parser.parse_args()
    number, rounds, replay_count = (2_000, 3, 100_000) if args.quick else (5_000, 21, 1_000_000)
    rows = codec_rows(number, rounds)
    rows.append(replay_row(replay_count, 3 if args.quick else 5))
    rows.append(generation_row(1_000))
    table = markdown_table(rows)
    print(table)
    if args.update_readme:
        replace_readme_section("codec_and_fold", table)
    RESULTS.mkdir(exist_ok=True)
    report = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "fastavro": fastavro.__version__,
        "quick": args.quick,
        "rows": rows,
        "run_id": str(uuid.uuid4()),
    }
    (RESULTS / "codec_and_fold.json").write_text(json.dumps(report, indent=2) + "\n")


def markdown_table(rows: list[dict[str, object]]) -> str:
    lines = [
        "| operation | against | ours | theirs | ratio |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['operation']} | {row['against']} | {_time(row['ours_us'])} "
            f"| {_time(row['theirs_us'])} | {row['ratio']:.2f}x |"
        )
    return "\n".join(lines)


def replace_readme_section(name: str, table: str) -> None:
    """Put ``table`` between ``<!-- benchmark:NAME -->`` and ``<!-- /benchmark:NAME -->``."""
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, end = f"<!-- benchmark:{name} -->", f"<!-- /benchmark:{name} -->"
    before, found, rest = text.partition(start)
    if not found:
        raise SystemExit(f"README.md has no {start} marker")
    _, _, after = rest.partition(end)
    readme.write_text(f"{before}{start}\n{table}\n{end}{after}")


def _time(micros: object) -> str:
    value = float(micros)  # type: ignore[arg-type]
    if value >= 1e6:
        return f"{value / 1e6:.2f} s"
    if value >= 1e3:
        return f"{value / 1e3:.1f} ms"
    return f"{value:.2f} µs"


if __name__ == "__main__":
    main()
