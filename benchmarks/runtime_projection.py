"""Projection throughput against a raw consumer, on the real broker and registry, in one run.

    python benchmarks/runtime_projection.py [--events N] [--rounds R] [--quick]

Appends N account events (wire format, esgen headers) to a fresh topic, then reads them
all, R times, alternating:

- theirs: a confluent-kafka ``Consumer`` reading from the beginning, each value's schema
  id looked up in a dict of parsed writer schemas and its body decoded with
  ``fastavro.schemaless_reader`` into a dict; nothing else;
- ours: ``ProjectionRunner.replay()`` of a balances projection: decode with the writer
  schema into today's class, metadata from headers, the per-entity version check, the
  handler, the model transaction and the offset bookkeeping, per batch.

Prints a Markdown table and writes ``benchmarks/results/runtime_projection.json``. A ratio
is ``their time / our time``: 1.0 is parity, above 1.0 we are faster. Needs
ESGEN_BOOTSTRAP and ESGEN_REGISTRY_URL (``esgen dev up`` prints them).
"""

from __future__ import annotations

import argparse
import datetime
import decimal
import io
import json
import os
import shutil
import statistics
import struct
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import fastavro  # noqa: E402
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # noqa: E402
from confluent_kafka.schema_registry import SchemaRegistryClient  # noqa: E402

from esgen.runtime import headers as hdr  # noqa: E402
from esgen.runtime import wire  # noqa: E402
from esgen.runtime.meta import EventMeta  # noqa: E402
from esgen.runtime.models import (  # noqa: E402
    InMemoryModelStore,
    ModelStore,
    ReadModel,
    SqliteModelStore,
)
from esgen.runtime.projections import (  # noqa: E402
    Projection,
    ProjectionRunner,
    handles,
)
from generated.bank import account  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
ACCOUNTS = 500
ZERO = decimal.Decimal("0.00")


class Balances(Projection):
    name = "bench-balances"
    entities = (account.ENTITY,)

    @handles(account.AccountOpened)
    def opened(self, model: ReadModel, event: Any, meta: EventMeta) -> None:
        model.put(meta.entity_id, ZERO)

    @handles(account.MoneyDeposited)
    def deposited(self, model: ReadModel, event: Any, meta: EventMeta) -> None:
        model.put(meta.entity_id, model.get(meta.entity_id, ZERO) + event.amount)


def fill(bootstrap: str, registry: str, topic: str, count: int) -> None:
    serde = wire.RegistrySerde(account.ENTITY, registry, topic=topic, auto_register=True)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "acks": "all"})
    moment = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    versions: dict[str, int] = {}
    for n in range(count):
        entity_id = f"acc-{n % ACCOUNTS}"
        version = versions.get(entity_id, 0) + 1
        versions[entity_id] = version
        event: Any = (
            account.AccountOpened(owner=f"owner {n}")
            if version == 1
            else account.MoneyDeposited(amount=decimal.Decimal(f"{n % 100}.25"))
        )
        full_name, value = serde.encode_event(event)
        meta = EventMeta(entity_id, version, moment, uuid.uuid4())
        while True:
            try:
                producer.produce(
                    topic,
                    value,
                    entity_id.encode(),
                    headers=list(hdr.event_headers(full_name, meta)),
                )
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    if producer.flush(60):
        raise SystemExit("could not append the benchmark's events")


def raw_read(bootstrap: str, registry: str, topic: str, count: int) -> float:
    """Seconds for a plain consumer to read and decode ``count`` records."""
    client = SchemaRegistryClient({"url": registry})
    parsed: dict[bytes, Any] = {}
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-raw-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    began = time.perf_counter()
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    seen = 0
    schemaless_reader = fastavro.schemaless_reader
    bytes_io = io.BytesIO
    while seen < count:
        for msg in consumer.consume(500, 1.0):
            if msg.error():
                continue
            value: bytes = msg.value()  # type: ignore[assignment]
            schema_key = value[1:5]
            schema = parsed.get(schema_key)
            if schema is None:
                (schema_id,) = struct.unpack(">I", schema_key)
                registered = client.get_schema(schema_id)
                schema = fastavro.parse_schema(json.loads(str(registered.schema_str)))
                parsed[schema_key] = schema
            schemaless_reader(bytes_io(value[5:]), schema, None)
            seen += 1
    elapsed = time.perf_counter() - began
    consumer.close()
    return elapsed


def wire_read(bootstrap: str, registry: str, topic: str, count: int) -> float:
    """Seconds for a plain consumer to turn ``count`` records into ``(event, EventMeta)``
    with ``wire.decode_message`` (no model, no bookkeeping): where our time goes."""
    serde = wire.RegistrySerde(account.ENTITY, registry, topic=topic)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-wire-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    began = time.perf_counter()
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    seen = 0
    decode = wire.decode_message
    while seen < count:
        for msg in consumer.consume(500, 1.0):
            if msg.error():
                continue
            decode(serde, msg)
            seen += 1
    elapsed = time.perf_counter() - began
    consumer.close()
    return elapsed


def projection_read(
    bootstrap: str, registry: str, topic: str, count: int, make_store: Callable[[], ModelStore]
) -> float:
    """Seconds for ``ProjectionRunner.replay()`` to apply ``count`` records."""
    store = make_store()
    runner = ProjectionRunner(
        Balances(),
        store,
        group_id=f"bench-proj-{uuid.uuid4().hex}",
        bootstrap=bootstrap,
        registry=registry,
        topics={account.ENTITY: topic},
    )
    began = time.perf_counter()
    stats = runner.replay()
    elapsed = time.perf_counter() - began
    runner.close()
    if stats.processed != count:
        raise SystemExit(f"the projection applied {stats.processed} of {count} events")
    store.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="5,000 events, 1 round")
    args = parser.parse_args()
    count, rounds = (5_000, 1) if args.quick else (args.events, args.rounds)
    bootstrap = os.environ.get("ESGEN_BOOTSTRAP")
    registry = os.environ.get("ESGEN_REGISTRY_URL")
    if not bootstrap or not registry:
        raise SystemExit("set ESGEN_BOOTSTRAP and ESGEN_REGISTRY_URL (see `esgen dev up`)")

    topic = f"bench.projection.{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(60)
    tmp = Path(tempfile.mkdtemp(prefix="esgen-bench-"))
    try:
        fill(bootstrap, registry, topic, count)
        sqlite_n = iter(range(10**6))

        def sqlite_store() -> ModelStore:
            return SqliteModelStore(tmp / f"model-{next(sqlite_n)}.db")

        raw_read(bootstrap, registry, topic, count)  # warm up: registry, page cache
        mine: dict[str, list[float]] = {"memory": [], "sqlite": [], "wire": []}
        theirs: list[float] = []
        for _ in range(rounds):
            theirs.append(raw_read(bootstrap, registry, topic, count))
            mine["wire"].append(wire_read(bootstrap, registry, topic, count))
            theirs.append(raw_read(bootstrap, registry, topic, count))
            mine["memory"].append(
                projection_read(bootstrap, registry, topic, count, InMemoryModelStore)
            )
            theirs.append(raw_read(bootstrap, registry, topic, count))
            mine["sqlite"].append(projection_read(bootstrap, registry, topic, count, sqlite_store))
    finally:
        for future in admin.delete_topics([topic]).values():
            future.result(60)
        shutil.rmtree(tmp, ignore_errors=True)

    their_time = statistics.median(theirs)
    rows = []
    names = {
        "memory": "projection replay, in-memory model",
        "sqlite": "projection replay, SQLite model",
        "wire": "wire.decode_message only (no projection)",
    }
    for store_name, times in mine.items():
        our_time = statistics.median(times)
        rows.append(
            {
                "operation": names[store_name],
                "against": "Consumer + fastavro.schemaless_reader",
                "events": count,
                "ours_s": our_time,
                "theirs_s": their_time,
                "ours_events_per_s": count / our_time,
                "theirs_events_per_s": count / their_time,
                "ratio": their_time / our_time,
            }
        )
    print(f"{count:,} events, median of {rounds} round(s)\n")
    print("| operation | against | ours | theirs | ratio |")
    print("| --- | --- | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['operation']} | {row['against']} | "
            f"{row['ours_events_per_s']:,.0f} ev/s | {row['theirs_events_per_s']:,.0f} ev/s | "
            f"{row['ratio']:.2f}x |"
        )
    RESULTS.mkdir(exist_ok=True)
    report = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "fastavro": fastavro.__version__,
        "events": count,
        "rounds": rounds,
        "rows": rows,
    }
    if not args.quick:
        (RESULTS / "runtime_projection.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
