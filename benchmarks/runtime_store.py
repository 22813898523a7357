"""The event store on real Kafka against raw confluent-kafka, and loading with/without snapshots.

    python benchmarks/runtime_store.py [--quick]

Services: ``ESGEN_BOOTSTRAP`` / ``ESGEN_REGISTRY_URL``, else the ones ``esgen dev up``
started. Prints a Markdown table and writes ``benchmarks/results/runtime_store.json``.

- append: ``EventStore.append`` (hold the partition lease, check the partition's end,
  fold, invariants, encode, headers, one transaction, wait until it is committed and
  visible) against a raw transactional ``Producer`` sending the *same bytes and headers*
  to the same partition in one transaction per call (begin, produce, commit), and
  against a raw idempotent ``Producer`` (no transaction: what the store did before it
  took leases) with a delivery callback, flushing at the same points; for batches, also
  against the raw transactional producer that Avro-encodes and frames each event. Rounds
  alternate ours/theirs; medians are kept.
- contention: appends/s to one partition from one process, from two processes that
  take turns (each append takes the lease from the other: the worst case), and from two
  processes appending freely at the same time.
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
    settings = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": True,
        "partitioner": "murmur2_random",
        "linger.ms": 5,
        "message.timeout.ms": 30_000,
    }
    # The baselines write to a topic of their own (made the same way): their records
    # would be a fork of acc-1's history in the store's partition.
    other = EventStore(entity("append-raw"), bootstrap, registry, partitions=1)
    raw_topic = other.topic
    other.close(snapshot=False)
    raw = Producer(settings)
    raw_txn = Producer({**settings, "transactional.id": f"bench-{uuid.uuid4().hex}"})
    raw_txn.init_transactions(30)
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
                    raw_topic,
                    value,
                    b"acc-1",
                    partition=partition,
                    headers=meta_headers,
                    on_delivery=report,
                )
            raw.flush()
            assert not failures

        return send

    def theirs_transaction(batch: int) -> Callable[[], object]:
        def send() -> None:
            raw_txn.begin_transaction()
            for _ in range(batch):
                raw_txn.produce(
                    raw_topic,
                    value,
                    b"acc-1",
                    partition=partition,
                    headers=meta_headers,
                    on_delivery=report,
                )
            raw_txn.flush()
            raw_txn.commit_transaction(30)
            assert not failures

        return send

    parsed = fastavro.parse_schema(copy.deepcopy(account.AVRO_SCHEMAS[deposit_name]))
    schema_id = framing.unframe(value)[0]

    def theirs_encoding(batch: int) -> Callable[[], object]:
        def send() -> None:
            raw_txn.begin_transaction()
            for _ in range(batch):
                body = io.BytesIO()
                fastavro.schemaless_writer(body, parsed, deposit.to_avro())
                raw_txn.produce(
                    raw_topic,
                    framing.frame(schema_id, body.getvalue()),
                    b"acc-1",
                    partition=partition,
                    headers=meta_headers,
                    on_delivery=report,
                )
            raw_txn.flush()
            raw_txn.commit_transaction(30)
            assert not failures

        return send

    rows = []
    rounds = 3 if quick else 7
    one, hundred = (50, 5) if quick else (200, 20)
    transactional = "raw transactional Producer: same bytes, one transaction per call"
    idempotent = "raw idempotent Producer (no transaction): same bytes, flush"
    encoding = "raw transactional Producer + fastavro encode + framing"
    for batch, calls, against, baseline in (
        (1, one, transactional, theirs_transaction),
        (1, one, idempotent, theirs),
        (100, hundred, transactional, theirs_transaction),
        (100, hundred, idempotent, theirs),
        (100, hundred, encoding, theirs_encoding),
    ):
        our_times, their_times = [], []
        for _ in range(rounds):
            our_times.append(timed(ours(batch), calls) / (batch * calls))
            their_times.append(timed(baseline(batch), calls) / (batch * calls))
        mine, other = statistics.median(our_times), statistics.median(their_times)
        rows.append(
            {
                "operation": f"append, {batch} event(s) per call (committed)",
                "against": against,
                "ours_us": mine * 1e6,
                "theirs_us": other * 1e6,
                "ours_events_per_s": 1 / mine,
                "theirs_events_per_s": 1 / other,
                "ratio": other / mine,
            }
        )
    store.close(snapshot=False)
    raw_txn.close()
    drop(
        [store.topic, snapshot_topic(store.topic), raw_topic, snapshot_topic(raw_topic)], bootstrap
    )
    return rows


def contender(
    topic: str,
    bootstrap: str,
    registry: str,
    me: int,
    calls: int,
    turn: Any,
    ready: Any,
    done: Any,
) -> None:
    """One of the contention benchmark's processes: ``calls`` appends of a deposit to
    acc-1; with ``turn``, only when it is this process's turn (then it hands over). Puts
    the (system-wide monotonic) time of its last append on ``done``."""
    store: EventStore[Any, Any] = EventStore(
        dataclasses.replace(account.ENTITY, topic=topic),
        bootstrap,
        registry,
        create_topics=False,
        snapshot_every=10**9,
    )
    deposit = [account.MoneyDeposited(amount=D("1.00"))]
    store.load("acc-1")
    ready.wait()
    for _ in range(calls):
        if turn is not None:
            while turn.value != me:
                time.sleep(0.0002)
        store.append("acc-1", deposit)
        if turn is not None:
            turn.value = 1 - me
    done.put(time.monotonic())
    store.close(snapshot=False)


def contention_rows(bootstrap: str, registry: str, quick: bool) -> list[dict[str, Any]]:
    import multiprocessing

    calls = 50 if quick else 200
    context = multiprocessing.get_context("spawn")
    descriptor = entity("contention")
    owner: EventStore[Any, Any] = EventStore(
        descriptor, bootstrap, registry, auto_register=True, partitions=1, snapshot_every=10**9
    )
    owner.append(
        "acc-1", [account.AccountOpened(owner="Ann"), account.MoneyDeposited(amount=D(1))]
    )
    owner.close(snapshot=False)
    rows = []
    for label, processes, taking_turns in (
        ("one process", 1, False),
        ("two processes taking turns (the lease moves at every append)", 2, True),
        ("two processes appending freely at once", 2, False),
    ):
        turn = context.Value("i", 0) if taking_turns else None
        ready = context.Barrier(processes + 1)
        done = context.Queue()
        children = [
            context.Process(
                target=contender,
                args=(descriptor.topic, bootstrap, registry, me, calls, turn, ready, done),
            )
            for me in range(processes)
        ]
        for child in children:
            child.start()
        ready.wait()
        start = time.monotonic()
        ends = [done.get(timeout=600) for _ in children]
        for child in children:
            child.join()
        seconds = max(ends) - start
        assert all(child.exitcode == 0 for child in children)
        appends = processes * calls
        rows.append({"case": label, "appends": appends, "appends_per_s": appends / seconds})
    check: EventStore[Any, Any] = EventStore(descriptor, bootstrap, registry)
    expected = 2 + sum(r["appends"] for r in rows)
    assert check.version("acc-1") == expected, (check.version("acc-1"), expected)
    check.close(snapshot=False)
    drop([descriptor.topic, snapshot_topic(descriptor.topic)], bootstrap)
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
    contention = contention_rows(bootstrap, registry, args.quick)
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
    print()
    print("| single-event appends to one partition | appends | appends/s |")
    print("| --- | ---: | ---: |")
    for row in contention:
        print(f"| {row['case']} | {row['appends']:,} | {row['appends_per_s']:,.0f} |")
    report = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "quick": args.quick,
        "rows": rows,
        "contention": contention,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "runtime_store.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
