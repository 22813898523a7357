"""The event store on real Kafka against raw confluent-kafka, and loading with/without snapshots.

    python benchmarks/runtime_store.py [--quick]

Services: ``ESGEN_BOOTSTRAP`` / ``ESGEN_REGISTRY_URL``, else the ones ``esgen dev up``
started. Prints a Markdown table and writes ``benchmarks/results/runtime_store.json``.

- append: ``EventStore.append`` (fold, invariants, encode, headers, produce, wait for
  acknowledgement) against a raw ``Producer`` with the same settings (acks=all,
  idempotence, linger.ms) sending the *same bytes and headers* to the same partition,
  with a delivery callback (the store needs each offset and error), flushing at the same
  points; and, for batches, against the same raw producer that also Avro-encodes and
  frames each event. Rounds alternate ours/theirs; medians are kept.
- load: a fresh store loading one entity with a history of 1k/10k/100k events, with the
  snapshots the store wrote (every 1000 events; 250 events past the last one), and
  without them (a descriptor with another fingerprint ignores them: full replay).

A ratio is ``their time / our time`` (above 1.0: we are faster). For load, "theirs" is
the load without snapshots.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import datetime
import decimal
import io
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import fastavro  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

from esgen.runtime import EventStore, framing  # noqa: E402
from esgen.runtime import headers as hdr  # noqa: E402
from esgen.runtime.subjects import snapshot_topic  # noqa: E402
from generated.bank import account  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
D = decimal.Decimal


def services() -> tuple[str, str]:
    bootstrap = os.environ.get("ESGEN_BOOTSTRAP")
    registry = os.environ.get("ESGEN_REGISTRY_URL")
    if not (bootstrap and registry):
        from esgen.dev import state

        records = state.load()
        bootstrap = bootstrap or (records["kafka"].address if "kafka" in records else None)
        registry = registry or (records["registry"].address if "registry" in records else None)
    if not (bootstrap and registry):
        sys.exit("no services: run `esgen dev up` or set ESGEN_BOOTSTRAP and ESGEN_REGISTRY_URL")
    return bootstrap, registry


def entity(tag: str) -> Any:
    return dataclasses.replace(account.ENTITY, topic=f"bench-{tag}-{uuid.uuid4().hex[:8]}")


def append_rows(bootstrap: str, registry: str, quick: bool) -> list[dict[str, Any]]:
    descriptor = entity("append")
    store: EventStore[Any, Any] = EventStore(
        descriptor, bootstrap, registry, auto_register=True, partitions=1, snapshot_every=10**9
    )
    raw = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "partitioner": "murmur2_random",
            "linger.ms": 5,
            "message.timeout.ms": 120_000,
        }
    )
    store.append("acc-1", [account.AccountOpened(owner="Ann")])
    deposit = account.MoneyDeposited(amount=D("1.00"))
    deposit_name, value = store.serde.encode_event(deposit)
    meta_headers = hdr.event_headers(
        "com.example.bank.MoneyDeposited",
        account.EventMeta("acc-1", 2, datetime.datetime.now(datetime.UTC), uuid.uuid4()),
    )
    partition = store.partition_of("acc-1")

    def ours(batch: int) -> Callable[[], object]:
        events = [deposit] * batch
        return lambda: store.append("acc-1", events)

    failures: list[Any] = []

    def report(error: Any, _msg: Any) -> None:
        # Like the store, the baseline learns each message's fate (nothing dropped silently).
        if error is not None:
            failures.append(error)

    def theirs(batch: int) -> Callable[[], object]:
        def send() -> None:
            for _ in range(batch):
                raw.produce(
                    store.topic,
                    value,
                    b"acc-1",
                    partition=partition,
                    headers=meta_headers,
                    on_delivery=report,
                )
            raw.flush()
            assert not failures

        return send

    parsed = fastavro.parse_schema(copy.deepcopy(account.AVRO_SCHEMAS[deposit_name]))
    schema_id = framing.unframe(value)[0]

    def theirs_encoding(batch: int) -> Callable[[], object]:
        def send() -> None:
            for _ in range(batch):
                body = io.BytesIO()
                fastavro.schemaless_writer(body, parsed, deposit.to_avro())
                raw.produce(
                    store.topic,
                    framing.frame(schema_id, body.getvalue()),
                    b"acc-1",
                    partition=partition,
                    headers=meta_headers,
                    on_delivery=report,
                )
            raw.flush()
            assert not failures

        return send

    rows = []
    rounds = 3 if quick else 7
    for batch, calls, against, baseline in (
        (1, 50 if quick else 200, "raw Producer: same bytes + delivery callback, flush", theirs),
        (100, 5 if quick else 20, "raw Producer: same bytes + delivery callback, flush", theirs),
        (100, 5 if quick else 20, "raw Producer + fastavro encode + framing", theirs_encoding),
    ):
        our_times, their_times = [], []
        for _ in range(rounds):
            our_times.append(timed(ours(batch), calls) / (batch * calls))
            their_times.append(timed(baseline(batch), calls) / (batch * calls))
        mine, other = statistics.median(our_times), statistics.median(their_times)
        rows.append(
            {
                "operation": f"append, {batch} event(s) per call (waits for acks)",
                "against": against,
                "ours_us": mine * 1e6,
                "theirs_us": other * 1e6,
                "ours_events_per_s": 1 / mine,
                "theirs_events_per_s": 1 / other,
                "ratio": other / mine,
            }
        )
    store.close(snapshot=False)
    drop([store.topic, snapshot_topic(store.topic)], bootstrap)
    return rows


def timed(function: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return time.perf_counter() - start


def load_rows(bootstrap: str, registry: str, quick: bool) -> list[dict[str, Any]]:
    rows = []
    sizes = (1_000, 10_000) if quick else (1_000, 10_000, 100_000)
    for size in sizes:
        descriptor = entity(f"load{size}")
        writer: EventStore[Any, Any] = EventStore(
            descriptor, bootstrap, registry, auto_register=True, partitions=1, snapshot_every=1000
        )
        writer.append("acc-1", [account.AccountOpened(owner="Ann")])
        deposit = account.MoneyDeposited(amount=D("1.00"))
        batch = [deposit] * 250
        for _ in range(size // 250):
            writer.append("acc-1", batch)
        expected = writer.load("acc-1")
        writer.close(snapshot=False)

        with_snapshots: EventStore[Any, Any] = EventStore(descriptor, bootstrap, registry)
        start = time.perf_counter()
        assert with_snapshots.load("acc-1") == expected
        ours = time.perf_counter() - start
        replayed = with_snapshots.stats.events_replayed
        with_snapshots.close(snapshot=False)

        other = dataclasses.replace(descriptor, fingerprint="benchmark-no-snapshots")
        without: EventStore[Any, Any] = EventStore(other, bootstrap, registry)
        start = time.perf_counter()
        assert without.load("acc-1").balance == expected.balance
        theirs = time.perf_counter() - start
        full = without.stats.events_replayed
        without.close(snapshot=False)
        rows.append(
            {
                "operation": f"load, {size + 1:,} events (fresh store)",
                "against": "same load without snapshots (full replay)",
                "ours_us": ours * 1e6,
                "theirs_us": theirs * 1e6,
                "events_replayed_ours": replayed,
                "events_replayed_theirs": full,
                "ratio": theirs / ours,
            }
        )
        drop([descriptor.topic, snapshot_topic(descriptor.topic)], bootstrap)
    return rows


def drop(topics: list[str], bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_topics(topics, operation_timeout=30).values():
        with contextlib.suppress(Exception):
            future.result(timeout=30)


def fmt(us: float) -> str:
    return f"{us / 1e3:,.1f} ms" if us >= 1e4 else f"{us:,.1f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, no 100k history")
    args = parser.parse_args()
    bootstrap, registry = services()
    rows = append_rows(bootstrap, registry, args.quick) + load_rows(
        bootstrap, registry, args.quick
    )
    print("| operation | against | ours | theirs | ratio | notes |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for row in rows:
        if "ours_events_per_s" in row:
            notes = (
                f"{row['ours_events_per_s']:,.0f} vs {row['theirs_events_per_s']:,.0f} events/s"
            )
            per = " /event"
        else:
            notes = (
                f"events folded: {row['events_replayed_ours']:,} vs "
                f"{row['events_replayed_theirs']:,}"
            )
            per = ""
        print(
            f"| {row['operation']} | {row['against']} | {fmt(row['ours_us'])}{per} | "
            f"{fmt(row['theirs_us'])}{per} | {row['ratio']:.2f} | {notes} |"
        )
    report = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "quick": args.quick,
        "rows": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "runtime_store.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
