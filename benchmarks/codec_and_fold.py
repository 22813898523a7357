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
import dataclasses
import datetime
import decimal
import functools
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
    """Encode and decode of a nested event (three records, a decimal) and a flat one."""
    rows = []
    nested = typical_event()
    flat = account.MoneyDeposited(amount=decimal.Decimal("19.99"))
    cases: list[tuple[object, dict[str, object], object]] = [
        (
            nested,
            {
                "item": {
                    "sku": "SKU-12345",
                    "quantity": 3,
                    "unit_price": {"amount": decimal.Decimal("19.99"), "currency": "EUR"},
                },
                "weight_kg": 1.25,
            },
            order.ENTITY,
        ),
        (flat, {"amount": decimal.Decimal("19.99")}, account.ENTITY),
    ]
    for event, as_dict, entity in cases:
        rows += _codec_rows(event, as_dict, entity, number, rounds)  # type: ignore[arg-type]
    return rows


def _codec_rows(
    event: object, as_dict: dict[str, object], entity: object, number: int, rounds: int
) -> list[dict[str, object]]:
    descriptor = entity  # an EntityDescriptor
    event_type = descriptor.event_type(event)  # type: ignore[attr-defined]
    schema = event_type.schema
    parsed = parse_schema(schema)
    body = descriptor.encode(event)  # type: ignore[attr-defined]
    full_name = event_type.full_name

    def raw_encode() -> bytes:
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, parsed, as_dict)
        return buffer.getvalue()

    def raw_decode() -> object:
        return fastavro.schemaless_reader(io.BytesIO(body), parsed, None)

    assert raw_encode() == body, "our encoding differs from fastavro's on the same data"

    registry = SchemaRegistryClient.new_client({"url": "mock://benchmarks"})
    serializer = AvroSerializer(registry, json.dumps(schema), conf={"auto.register.schemas": True})
    context = SerializationContext(descriptor.topic, MessageField.VALUE)  # type: ignore[attr-defined]
    framed = serializer(as_dict, context)
    deserializer = AvroDeserializer(registry, json.dumps(schema))

    def ours_encode() -> bytes:
        return descriptor.encode(event)  # type: ignore[attr-defined,no-any-return]

    def ours_decode() -> object:
        return descriptor.decode(full_name, body)  # type: ignore[attr-defined]

    assert ours_decode() == event
    name = event_type.name
    rows = []
    for kind, ours, theirs, what in [
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
                "operation": f"{kind} {name}",
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


def audited_events(count: int) -> list[account.AccountEvent]:
    """Account events of which half read ``meta`` in their fold (version, event id)."""
    events: list[account.AccountEvent] = [account.AccountOpened(owner="Ada")]
    for i in range(1, count):
        if i % 2:
            events.append(account.AccountAudited())
        else:
            events.append(account.MoneyDeposited(amount=decimal.Decimal("1.25")))
    return events


def hand_written_audited_replay(
    entity_id: str, events: list[account.AccountEvent]
) -> account.AccountState:
    """The same rules by hand: in a replay meta.version is the position, the event id
    unknown (None)."""
    state = account.AccountState(account_id=entity_id)
    for version, event in enumerate(events, start=1):
        if isinstance(event, account.AccountAudited):
            state.last_event_id = None
            state.version = version
        elif isinstance(event, account.MoneyDeposited):
            state.balance += event.amount
        elif isinstance(event, account.AccountOpened):
            state.owner = event.owner
            state.status = account.Status.OPEN
    return state


def order_events(count: int) -> list[order.OrderEvent]:
    """An order domain mix: nested records, quantized decimals, map puts, a nested
    replace and a fold that reads meta.version."""
    price = account.Money(amount=decimal.Decimal("2.50"))
    events: list[order.OrderEvent] = []
    for i in range(count):
        kind = i % 5
        if kind == 0:
            item = order.LineItem(sku=f"S{i % 7}", quantity=1 + i % 3, unit_price=price)
            events.append(order.ItemAdded(item=item, weight_kg=0.5))
        elif kind == 1:
            events.append(order.NoteAdded(topic="Gift" if i % 2 else "Door", text="ring"))
        elif kind == 2:
            events.append(order.ShippingCityCorrected(city="berlin"))
        elif kind == 3:
            events.append(order.DiscountGranted(rate=0.1))
        else:
            events.append(order.OrderPlaced(placed_at=NOW))
    return events


Q2 = decimal.Decimal("0.01")
NOW = datetime.datetime(2026, 11, 26, 12, 30, tzinfo=datetime.UTC)


def hand_written_order_replay(entity_id: str, events: list[order.OrderEvent]) -> order.OrderState:
    state = order.OrderState(order_id=entity_id)
    for version, event in enumerate(events, start=1):
        if isinstance(event, order.ItemAdded):
            state.items.append(event.item)
            state.item_count += event.item.quantity
            amount = event.item.unit_price.amount * event.item.quantity
            state.total = (state.total + amount).quantize(Q2)
            state.weight_kg += event.weight_kg
        elif isinstance(event, order.NoteAdded):
            state.notes[event.topic.lower()] = event.text
        elif isinstance(event, order.ShippingCityCorrected):
            if len(event.city) > 0:
                city = event.city.upper()
                state.shipping_address = dataclasses.replace(state.shipping_address, city=city)
        elif isinstance(event, order.DiscountGranted):
            state.discount_rate = max(state.discount_rate, event.rate)
        elif (
            isinstance(event, order.OrderPlaced)
            and state.status == order.OrderStatus.DRAFT
            and state.item_count > 0
        ):
            state.status = order.OrderStatus.PLACED
            state.placed_at = event.placed_at
            state.placed_version = version
    return state


def replay_rows(count: int, rounds: int) -> list[dict[str, object]]:
    rows = []
    for label, events, ours, theirs in [
        (
            "account",
            account_events(count),
            lambda e: account.replay("acc-1", e),
            lambda e: hand_written_replay("acc-1", e),
        ),
        (
            "account, folds reading meta",
            audited_events(count),
            lambda e: account.replay("acc-1", e),
            lambda e: hand_written_audited_replay("acc-1", e),
        ),
        (
            "order (nested, decimals, meta)",
            order_events(count),
            lambda e: order.replay("o-1", e),
            lambda e: hand_written_order_replay("o-1", e),
        ),
    ]:
        assert ours(events) == theirs(events), label
        ours_time, their_time = compare(
            functools.partial(ours, events), functools.partial(theirs, events), 1, rounds
        )
        rows.append(
            {
                "operation": f"replay {count:,} events: {label}",
                "against": "hand-written in-place fold",
                "ours_us": ours_time * 1e6,
                "theirs_us": their_time * 1e6,
                "ratio": their_time / ours_time,
            }
        )
    return rows


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
        loads, renders = [], []
        for _ in range(3):  # the best of three: other work on the machine only adds
            start = time.perf_counter()
            project = load_project(definitions)
            middle = time.perf_counter()
            files = render_project(project, "generated_big")
            loads.append(middle - start)
            renders.append(time.perf_counter() - middle)
    elapsed = min(load + render for load, render in zip(loads, renders, strict=True))
    return {
        "operation": f"generate {event_types:,} event types (load {min(loads):.2f} s, "
        f"render {min(renders):.2f} s)",
        "against": "target: 1 s",
        "ours_us": elapsed * 1e6,
        "theirs_us": 1e6,
        "ratio": 1.0 / elapsed,
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
    rows += replay_rows(replay_count, 3 if args.quick else 5)
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
