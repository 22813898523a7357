"""The command processor on real Kafka: what exactly once costs, latency, failover.

    python benchmarks/runtime_commands.py [--quick]

Services: ``ESGEN_BOOTSTRAP`` / ``ESGEN_REGISTRY_URL``, else the ones ``esgen dev up``
started. Prints Markdown tables and writes ``benchmarks/results/runtime_commands.json``.

- pipeline: commands/s of one process deciding a backlog of deposits to 100 accounts on
  one partition: ``CommandProcessor`` (a transaction per batch: events, replies, offsets,
  snapshots, restore point; fenced by the partition lease) against the *same pipeline
  at-least-once*, written here with the same pieces (decode, ``decide``, fold, encode,
  headers, the same replies, naming where each event is stored) and batching (500
  commands or the commit interval), but an idempotent producer: events, ``flush``,
  replies, ``flush``, a synchronous offset commit after each batch instead of a
  transaction (a crash in between decides commands twice; it has no dedupe, snapshots
  or restore point either). Rounds alternate; each
  rate is taken from the replies' timestamps past the first 10% (steady state, no group
  join); medians are kept. The ratio is ours/theirs (goal >= 0.8).
- commit interval: a processor process per ``commit_interval``; ``CommandClient.send``
  one command at a time (p50/p99 latency, the default interval's row is the ``send``
  latency), and 64 commands in flight with ``send_async`` (commands/s, p50/p99).
- failover: two processor processes of one group on one partition, a client sending
  deposits one at a time (retrying a timed-out one with its id); the owner is killed
  with SIGKILL; the seconds from the kill to the next accepted reply (the group's
  ``session.timeout.ms`` of 6 s, then the rebalance, the lease and the restore).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import decimal
import faulthandler
import json
import multiprocessing
import os
import signal
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

from esgen.runtime import CommandClient, CommandProcessor, CommandTimeout, EventStore  # noqa: E402
from esgen.runtime import headers as h  # noqa: E402
from esgen.runtime.appending import fold_new_events, now_millis  # noqa: E402
from esgen.runtime.errors import CommandRejected  # noqa: E402
from esgen.runtime.kafka import KafkaClients, take  # noqa: E402
from esgen.runtime.meta import CommandMeta  # noqa: E402
from esgen.runtime.partitioning import partition_for  # noqa: E402
from esgen.runtime.processor import DEFAULT_COMMIT_INTERVAL  # noqa: E402
from esgen.runtime.replies import (  # noqa: E402
    ACCEPTED,
    REJECTED,
    Reply,
    ReplyEvent,
    command_digest,
)
from esgen.runtime.subjects import command_topic, reply_topic, snapshot_topic  # noqa: E402
from generated.bank import account  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
D = decimal.Decimal
ACCOUNTS = 100
BATCH_SIZE = 500


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


def progress(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def entity(tag: str) -> Any:
    return dataclasses.replace(account.ENTITY, topic=f"bench-{tag}-{uuid.uuid4().hex[:8]}")


def all_topics(topic: str) -> list[str]:
    return [topic, snapshot_topic(topic), command_topic(topic), reply_topic(topic)]


def drop(topics: list[str], bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = topics + [f"{command_topic(t)}.dlq" for t in topics if "." not in t]
    for future in admin.delete_topics(topics, operation_timeout=30).values():
        with contextlib.suppress(Exception):
            future.result(timeout=30)


def processor(descriptor: Any, bootstrap: str, registry: str, **options: Any) -> Any:
    return CommandProcessor(
        descriptor, bootstrap, registry, auto_register=True, partitions=1, **options
    )


# -- pipeline: transactional vs at-least-once ------------------------------------------------


def fill(descriptor: Any, bootstrap: str, serde: Any, commands: int) -> None:
    """The command topic's backlog: an OpenAccount per account, then deposits."""
    producer = KafkaClients(bootstrap).producer({"linger.ms": 20})
    deposit = account.Deposit(amount=D("1.00"))
    topic = command_topic(descriptor.topic)
    values = {
        "open": serde.encode_command(account.OpenAccount(owner="Ann")),
        "deposit": serde.encode_command(deposit),
    }
    names = {
        "open": descriptor.command_type(account.OpenAccount(owner="Ann")).full_name,
        "deposit": descriptor.command_type(deposit).full_name,
    }
    sent = h.to_millis(now_millis())
    for n in range(commands):
        kind = "open" if n < ACCOUNTS else "deposit"
        key = f"acc-{n % ACCOUNTS}".encode()
        headers = [
            (h.H_TYPE, names[kind].encode()),
            (h.H_COMMAND_ID, str(uuid.uuid4()).encode()),
            (h.H_TIMESTAMP, b"%d" % sent),
        ]
        while True:
            try:
                producer.produce(topic, values[kind], key, partition=0, headers=headers)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(60) == 0


def at_least_once(descriptor: Any, bootstrap: str, serde: Any, commands: int) -> None:
    """The processor's pipeline without transactions (see the module docstring)."""
    clients = KafkaClients(bootstrap)
    consumer = clients.group_consumer(f"bench-{uuid.uuid4().hex}")
    producer = clients.producer()
    consumer.assign([TopicPartition(command_topic(descriptor.topic), 0, 0)])
    states: dict[str, tuple[Any, int]] = {}
    topic, replies_to = descriptor.topic, reply_topic(descriptor.topic)
    done = 0
    began: float | None = None
    # Each decided command of the open batch: its reply and its events' delivery slots
    # (the reply names where its events are stored, as the processor's does).
    batch: list[tuple[Reply, list[tuple[str, bytes, list[int]]]]] = []
    next_offset = 0

    def stored(slot: list[int]) -> Any:
        def delivered(error: Any, msg: Any) -> None:
            assert error is None, error
            slot.append(msg.offset())

        return delivered

    while done < commands:
        messages = take(consumer, BATCH_SIZE, 0.1)
        now = now_millis()
        now_ms = h.to_millis(now)
        for msg in messages:
            assert msg.error() is None, msg.error()
            if began is None:
                began = time.monotonic()
            key, value = msg.key(), msg.value()
            assert isinstance(key, bytes) and isinstance(value, bytes)
            raw_headers: list[tuple[str, Any]] = msg.headers() or []  # type: ignore[assignment]
            found = {n: v.decode() for n, v in raw_headers if isinstance(v, bytes)}
            command_id, type_name = found[h.H_COMMAND_ID], found[h.H_TYPE]
            entity_id = key.decode()
            assert partition_for(key, 1) == 0
            command = serde.decode_command(value, type_name)
            state, version = states.get(entity_id) or (descriptor.initial_state(entity_id), 0)
            outcome, reason = ACCEPTED, ""
            written: list[tuple[str, bytes, list[int]]] = []
            try:
                events = descriptor.decide(
                    state, command, CommandMeta(entity_id, version, command_id, now)
                )
                after, metas = fold_new_events(
                    descriptor, entity_id, state, version, events, None, command_id, now
                )
                for (full_name, event_value), meta in zip(
                    serde.encode_events(events), metas, strict=True
                ):
                    slot: list[int] = []
                    producer.produce(
                        topic,
                        event_value,
                        key,
                        partition=0,
                        headers=h.event_headers(full_name, meta),
                        on_delivery=stored(slot),
                    )
                    written.append((full_name.decode(), event_value, slot))
                states[entity_id] = (after, version + len(events))
                version += len(events)
            except CommandRejected as rejected:
                outcome, reason = REJECTED, rejected.reason
            reply = Reply(
                command_id,
                entity_id,
                0,
                type_name,
                command_digest(key, type_name, value),
                outcome,
                version,
                now_ms,
                reason=reason,
            )
            batch.append((reply, written))
            next_offset = (msg.offset() or 0) + 1
        due = began is not None and time.monotonic() - began >= DEFAULT_COMMIT_INTERVAL
        if batch and (len(batch) >= BATCH_SIZE or due or done + len(batch) >= commands):
            assert producer.flush(60) == 0  # the events, and where they are
            for reply, written in batch:
                if written:
                    reply = reply.with_events(
                        tuple(ReplyEvent(slot[0], name, ev) for name, ev, slot in written)
                    )
                producer.produce(
                    replies_to,
                    reply.encode(),
                    reply.command_id.encode(),
                    partition=0,
                    headers=reply.headers(),
                )
            assert producer.flush(60) == 0
            consumer.commit(
                offsets=[TopicPartition(command_topic(topic), 0, next_offset)],
                asynchronous=False,
            )
            done += len(batch)
            batch, began = [], None
    consumer.close()


def steady_rate(bootstrap: str, topic: str, expected: int) -> float:
    """Replies per second from the replies' timestamps, past the first 10%."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.assign([TopicPartition(reply_topic(topic), 0, 0)])
    stamps: list[int] = []
    deadline = time.monotonic() + 120
    while len(stamps) < expected and time.monotonic() < deadline:
        for msg in consumer.consume(1000, timeout=1.0):
            if msg.error() is None:
                stamps.append(msg.timestamp()[1])
    consumer.close()
    assert len(stamps) == expected, (len(stamps), expected)
    stamps.sort()
    start = expected // 10
    return (expected - 1 - start) / max(stamps[-1] - stamps[start], 1) * 1000


def pipeline_rows(bootstrap: str, registry: str, quick: bool) -> list[dict[str, Any]]:
    commands = 5_000 if quick else 20_000
    rounds = 2 if quick else 5
    ours, theirs = [], []
    for n in range(rounds):
        progress(f"pipeline round {n + 1} of {rounds}")
        mine = entity("txn")
        with processor(mine, bootstrap, registry, snapshot_every=100) as ours_processor:
            fill(mine, bootstrap, ours_processor.store.serde, commands)
            stats = ours_processor.run(max_commands=commands)
            assert stats.accepted == commands, stats
        ours.append(steady_rate(bootstrap, mine.topic, commands))
        drop(all_topics(mine.topic), bootstrap)

        other = entity("alo")
        with processor(other, bootstrap, registry) as made:  # the same topics
            serde = made.store.serde
            fill(other, bootstrap, serde, commands)
            at_least_once(other, bootstrap, serde, commands)
        theirs.append(steady_rate(bootstrap, other.topic, commands))
        drop(all_topics(other.topic), bootstrap)
    mine_rate, their_rate = statistics.median(ours), statistics.median(theirs)
    return [
        {
            "operation": f"decide {commands:,} deposits (one process, one partition)",
            "against": "the same pipeline at-least-once (idempotent producer, flush, commit)",
            "ours_commands_per_s": mine_rate,
            "theirs_commands_per_s": their_rate,
            "ours_rounds": ours,
            "theirs_rounds": theirs,
            "ratio": mine_rate / their_rate,
        }
    ]


# -- commit interval vs throughput vs latency ------------------------------------------------


def serve(topic: str, bootstrap: str, registry: str, options: dict[str, Any], ready: Any) -> None:
    """A processor process (until SIGTERM); sets ``ready`` once it owns its partition."""
    import logging
    import threading

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    faulthandler.dump_traceback_later(600, repeat=True)
    descriptor = dataclasses.replace(account.ENTITY, topic=topic)
    with processor(descriptor, bootstrap, registry, **options) as running:

        def watch() -> None:
            while not running.ready_partitions:
                time.sleep(0.01)
            ready.set()

        threading.Thread(target=watch, daemon=True).start()
        running.run()


def start(topic: str, bootstrap: str, registry: str, **options: Any) -> Any:
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    child = context.Process(
        target=serve, args=(topic, bootstrap, registry, options, ready), daemon=True
    )
    child.start()
    child.ready = ready  # type: ignore[attr-defined]
    return child


def stop(child: Any) -> None:
    if child.is_alive():
        os.kill(child.pid, signal.SIGTERM)
    child.join(60)
    assert child.exitcode == 0, child.exitcode


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def interval_rows(bootstrap: str, registry: str, quick: bool) -> list[dict[str, Any]]:
    descriptor = entity("interval")
    intervals = (0.005, 0.02, 0.1) if quick else (0.005, 0.01, 0.02, 0.05, 0.1)
    sequential = 100 if quick else 300
    concurrent = 1_000 if quick else 4_000
    in_flight = 64
    deposit = account.Deposit(amount=D("1.00"))
    rows = []
    progress("creating the topics")
    child = start(descriptor.topic, bootstrap, registry)
    assert child.ready.wait(120)
    stop(child)
    client: CommandClient[Any, Any] = CommandClient(
        descriptor, bootstrap, registry, auto_register=True
    )
    opened = False
    for interval in intervals:
        progress(f"commit interval {interval * 1000:g} ms")
        child = start(descriptor.topic, bootstrap, registry, commit_interval=interval)
        assert child.ready.wait(120), "the processor did not take its partition"
        if not opened:
            for n in range(in_flight):
                client.send(f"acc-{n}", account.OpenAccount(owner="Ann"), timeout=60)
            opened = True
        for _ in range(10):  # warm
            client.send("acc-0", deposit, timeout=30)
        one: list[float] = []
        for n in range(sequential):
            began = time.perf_counter()
            client.send(f"acc-{n % in_flight}", deposit, timeout=30)
            one.append(time.perf_counter() - began)

        async def storm() -> tuple[float, list[float]]:
            latencies: list[float] = []

            async def worker(n: int) -> None:
                for _ in range(concurrent // in_flight):
                    began = time.perf_counter()
                    await client.send_async(f"acc-{n}", deposit, timeout=60)
                    latencies.append(time.perf_counter() - began)

            began = time.perf_counter()
            await asyncio.gather(*(worker(n) for n in range(in_flight)))
            return time.perf_counter() - began, latencies

        seconds, many = asyncio.run(storm())
        stop(child)
        rows.append(
            {
                "commit_interval_ms": interval * 1000,
                "send_p50_ms": percentile(one, 0.5) * 1000,
                "send_p99_ms": percentile(one, 0.99) * 1000,
                "in_flight": in_flight,
                "commands_per_s": len(many) / seconds,
                "in_flight_p50_ms": percentile(many, 0.5) * 1000,
                "in_flight_p99_ms": percentile(many, 0.99) * 1000,
            }
        )
    client.close()
    drop(all_topics(descriptor.topic), bootstrap)
    return rows


# -- failover after kill -9 ------------------------------------------------------------------


def members(bootstrap: str, group: str) -> int:
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    return len(admin.describe_consumer_groups([group])[group].result(timeout=30).members)


def failover_rows(bootstrap: str, registry: str, quick: bool) -> list[dict[str, Any]]:
    descriptor = entity("failover")
    group = f"{descriptor.topic}-group"
    kills = 2 if quick else 4
    owner = start(descriptor.topic, bootstrap, registry, group_id=group)
    assert owner.ready.wait(120)
    client: CommandClient[Any, Any] = CommandClient(
        descriptor, bootstrap, registry, auto_register=True
    )
    client.send("acc-1", account.OpenAccount(owner="Ann"), timeout=60)
    deposit = account.Deposit(amount=D("1.00"))
    seconds = []
    for n in range(kills):
        progress(f"kill {n + 1} of {kills}")
        standby = start(descriptor.topic, bootstrap, registry, group_id=group)
        deadline = time.monotonic() + 60
        while members(bootstrap, group) < 2:
            assert time.monotonic() < deadline, "the standby did not join"
            time.sleep(0.1)
        for _ in range(20):  # commands flow through the owner
            client.send("acc-1", deposit, timeout=30)
        os.kill(owner.pid, signal.SIGKILL)
        killed = time.monotonic()
        owner.join(30)
        command_id = str(uuid.uuid4())
        while True:
            try:
                client.send("acc-1", deposit, command_id=command_id, timeout=0.5)
                break
            except CommandTimeout:
                continue  # the same id again: applied at most once
        seconds.append(time.monotonic() - killed)
        owner = standby
    stop(owner)
    expected = D("1.00") * (kills * 21)
    client.close()
    store: EventStore[Any, Any] = EventStore(descriptor, bootstrap, registry)
    balance = store.load("acc-1").balance
    store.close(snapshot=False)
    assert balance == expected, (balance, expected)
    drop(all_topics(descriptor.topic), bootstrap)
    return [
        {
            "case": "kill -9 of the owner, a standby in the group (session.timeout.ms 6000)",
            "kills": kills,
            "seconds": seconds,
            "median_s": statistics.median(seconds),
            "max_s": max(seconds),
        }
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer commands and rounds")
    args = parser.parse_args()
    faulthandler.dump_traceback_later(600, repeat=True)  # where a stuck run is
    bootstrap, registry = services()
    pipeline = pipeline_rows(bootstrap, registry, args.quick)
    intervals = interval_rows(bootstrap, registry, args.quick)
    failover = failover_rows(bootstrap, registry, args.quick)
    print("| operation | against | ours | theirs | ratio |")
    print("| --- | --- | ---: | ---: | ---: |")
    for row in pipeline:
        print(
            f"| {row['operation']} | {row['against']} | "
            f"{row['ours_commands_per_s']:,.0f} commands/s | "
            f"{row['theirs_commands_per_s']:,.0f} commands/s | {row['ratio']:.2f}x |"
        )
    print()
    print(
        "| commit interval | send p50 | send p99 | commands/s (64 in flight) "
        "| p50 (64 in flight) | p99 (64 in flight) |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in intervals:
        print(
            f"| {row['commit_interval_ms']:g} ms | {row['send_p50_ms']:.1f} ms | "
            f"{row['send_p99_ms']:.1f} ms | {row['commands_per_s']:,.0f} | "
            f"{row['in_flight_p50_ms']:.1f} ms | {row['in_flight_p99_ms']:.1f} ms |"
        )
    print()
    for row in failover:
        times = ", ".join(f"{s:.1f}" for s in row["seconds"])
        print(
            f"failover, {row['case']}: median {row['median_s']:.1f} s, "
            f"max {row['max_s']:.1f} s over {row['kills']} kills ({times} s)"
        )
    report = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "quick": args.quick,
        "pipeline": pipeline,
        "commit_interval": intervals,
        "failover": failover,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "runtime_commands.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
