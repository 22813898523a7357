"""What OpenTelemetry costs the runtime's hot paths, on the real broker and registry, in one run.

    python benchmarks/telemetry.py [--quick] [--rounds N]

Each operation runs in three modes, rounds alternating, medians kept:

- none: the functions as they are without opentelemetry-api installed (the telemetry
  decorators then return the function itself: here their ``__wrapped__``);
- api: opentelemetry-api installed, no SDK configured (esgen.runtime.telemetry's
  decorators run; no span is made, metrics go to the API's no-op meter);
- sdk: the SDK configured through ``telemetry.use``: a tracer provider with a
  ``BatchSpanProcessor`` into an in-memory exporter, a meter provider with an in-memory
  reader (what an exporter costs on top is the exporter's business).

Operations: ``EventStore.append`` of one event (one Kafka transaction), ``load`` of an
entity whose state is current (nothing to replay: the cheapest call, so the largest
relative cost), ``load`` replaying 1,000 events, and ``ProjectionRunner.replay()`` of
20,000 events (batches of 500) whose records carry no trace context, and of 20,000
events written with a trace context each, 100 per append (in sdk mode: one more span
per append and batch, in the append's trace); and 1,000 commands sent at once through
``CommandClient.send_async`` to a command processor in a thread of the same process,
each decided and answered (in sdk mode: a span per send and per decision, one per batch
transaction), as the time per command.

A ratio is ``time without opentelemetry / time in this mode`` (1.0: no cost; 0.9: 10%
slower). Prints a Markdown table and writes ``benchmarks/results/telemetry.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import decimal
import json
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from confluent_kafka.admin import AdminClient  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)

from benchmarks.runtime_projection import Balances  # noqa: E402
from benchmarks.runtime_store import services  # noqa: E402
from esgen.runtime import (  # noqa: E402
    CommandClient,
    CommandProcessor,
    EventStore,
    InMemoryModelStore,
    ProjectionRunner,
    telemetry,
)
from esgen.runtime.subjects import (  # noqa: E402
    command_topic,
    dead_letter_topic,
    reply_topic,
    snapshot_topic,
)
from generated.bank import account  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
D = decimal.Decimal
MODES = ("none", "api", "sdk")
DEPOSIT = [account.MoneyDeposited(amount=D("1.00"))]


@contextlib.contextmanager
def mode(name: str) -> Iterator[None]:
    """The runtime as in mode ``name`` (see the module doc)."""
    originals = {
        (EventStore, "append"): EventStore.append,
        (EventStore, "load"): EventStore.load,
        (ProjectionRunner, "_process"): ProjectionRunner._process,
        (CommandClient, "send_async"): CommandClient.send_async,
        (CommandProcessor, "_decide"): CommandProcessor._decide,
        (CommandProcessor, "_commit"): CommandProcessor._commit,
    }
    tracer_provider = meter_provider = None
    if name == "none":
        for (owner, attribute), function in originals.items():
            setattr(owner, attribute, function.__wrapped__)  # type: ignore[attr-defined]
    elif name == "sdk":
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(BatchSpanProcessor(InMemorySpanExporter()))
        meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        telemetry.use(tracer_provider, meter_provider)
    try:
        yield
    finally:
        for (owner, attribute), function in originals.items():
            setattr(owner, attribute, function)
        telemetry.use(None, None)
        if tracer_provider is not None and meter_provider is not None:
            tracer_provider.shutdown()
            meter_provider.shutdown()


def timed(function: Callable[[], object], calls: int) -> float:
    """Seconds per call of ``function``, over ``calls`` calls."""
    began = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - began) / calls


def entity(tag: str) -> Any:
    return dataclasses.replace(account.ENTITY, topic=f"bench-otel-{tag}-{uuid.uuid4().hex[:8]}")


def replay(bootstrap: str, registry: str, topic: str, count: int) -> float:
    runner = ProjectionRunner(
        Balances(),
        InMemoryModelStore(),
        group_id=f"bench-otel-{uuid.uuid4().hex}",
        bootstrap=bootstrap,
        registry=registry,
        topics={account.ENTITY: topic},
    )
    began = time.perf_counter()
    stats = runner.replay(handle_signals=False)
    elapsed = time.perf_counter() - began
    runner.close()
    if stats.processed != count:
        raise SystemExit(f"the projection applied {stats.processed} of {count} events")
    return elapsed


class Processing:
    """A command processor in a thread and a client: ``round(n)`` sends ``n`` commands at
    once (each opens an account of its own) and waits for every outcome."""

    def __init__(self, bootstrap: str, registry: str, descriptor: Any) -> None:
        self.processor: CommandProcessor[Any, Any] = CommandProcessor(
            descriptor, bootstrap, registry, auto_register=True, partitions=1
        )
        self.thread = threading.Thread(target=self.processor.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.processor.ready_partitions:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise SystemExit("the command processor did not start")
            time.sleep(0.05)
        self.client = CommandClient(descriptor, bootstrap, registry, auto_register=True)
        self.sent = 0

    def round(self, count: int) -> float:
        first, self.sent = self.sent, self.sent + count

        async def send_all() -> None:
            await asyncio.gather(
                *(
                    self.client.send_async(f"acc-{n}", account.OpenAccount(owner="Ann"))
                    for n in range(first, first + count)
                )
            )

        began = time.perf_counter()
        asyncio.run(send_all())
        return time.perf_counter() - began

    def close(self) -> None:
        self.client.close()
        self.processor.stop()
        self.thread.join(60)
        self.processor.close()


def fill(store: EventStore[Any, Any], count: int) -> None:
    """``count`` events for 500 accounts, 100 per append."""
    per_account = count // 500
    for n in range(500):
        events: list[Any] = [account.AccountOpened(owner=f"owner {n}")]
        events += [account.MoneyDeposited(amount=D("1.00"))] * (per_account - 1)
        for start in range(0, per_account, 100):
            store.append(f"acc-{n}", events[start : start + 100])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls, one round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    appends, loads, replays, events, commands = (
        (50, 2_000, 5, 5_000, 200) if args.quick else (200, 3_000, 20, 20_000, 1_000)
    )
    bootstrap, registry = services()
    hot, cold, plain, traced = entity("hot"), entity("cold"), entity("plain"), entity("traced")
    stores = [
        EventStore(hot, bootstrap, registry, auto_register=True, partitions=1),
        EventStore(
            cold, bootstrap, registry, auto_register=True, partitions=1, snapshot_every=10**9
        ),
        EventStore(
            plain, bootstrap, registry, auto_register=True, partitions=1, snapshot_every=10**9
        ),
        EventStore(cold, bootstrap, registry),  # reads only: it never holds the lease
        EventStore(
            traced, bootstrap, registry, auto_register=True, partitions=1, snapshot_every=10**9
        ),
    ]
    hot_store, cold_store, plain_store, reader, traced_store = stores
    commanded = entity("commands")
    processing = Processing(bootstrap, registry, commanded)
    times: dict[str, dict[str, list[float]]] = {}

    def record(operation: str, name: str, seconds: float) -> None:
        times.setdefault(operation, {}).setdefault(name, []).append(seconds)

    def reload() -> object:
        reader._views.clear()  # no cached view: fold the history again
        return reader.load("acc-1")

    try:
        hot_store.append("acc-1", [account.AccountOpened(owner="Ann")])
        cold_store.append("acc-1", [account.AccountOpened(owner="Ann")])
        for _ in range(10):
            cold_store.append("acc-1", [account.MoneyDeposited(amount=D("1.00"))] * 100)
        with mode("none"):
            fill(plain_store, events)
        with mode("sdk"):
            fill(traced_store, events)  # every event carries its append's trace context
        replay(bootstrap, registry, plain.topic, events)  # warm up: registry, page cache
        for _ in range(rounds):
            for name in MODES:
                with mode(name):
                    record(
                        "append", name, timed(lambda: hot_store.append("acc-1", DEPOSIT), appends)
                    )
                    record("load", name, timed(lambda: hot_store.load("acc-1"), loads))
                    record("reload", name, timed(reload, replays))
                    assert reader.stats.events_replayed % 1001 == 0, reader.stats
                    record("replay", name, replay(bootstrap, registry, plain.topic, events))
                    # The records carry trace context: spans per record in sdk mode only.
                    traced_time = replay(bootstrap, registry, traced.topic, events)
                    record("replay traced", name, traced_time)
                    record("commands", name, processing.round(commands) / commands)
    finally:
        processing.close()
        for store in stores:
            store.close(snapshot=False)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        topics = [
            t
            for e in (hot, cold, plain, traced, commanded)
            for t in (
                e.topic,
                snapshot_topic(e.topic),
                dead_letter_topic(e.topic),
                command_topic(e.topic),
                reply_topic(e.topic),
                dead_letter_topic(command_topic(e.topic)),
            )
        ]
        for future in admin.delete_topics(topics, operation_timeout=30).values():
            with contextlib.suppress(Exception):
                future.result(30)

    names = {
        "append": "EventStore.append, 1 event",
        "load": "EventStore.load, state current",
        "reload": "EventStore.load, 1,000 events replayed",
        "replay": f"ProjectionRunner.replay, {events:,} events, no trace context",
        "replay traced": f"ProjectionRunner.replay, {events:,} events, each with trace context",
        "commands": f"{commands:,} commands at once (send_async), each decided and answered",
    }
    rows = []
    for operation, by_mode in times.items():
        base = statistics.median(by_mode["none"])
        row: dict[str, Any] = {"operation": names[operation], "none_s": base}
        for name in ("api", "sdk"):
            median = statistics.median(by_mode[name])
            row[f"{name}_s"] = median
            row[f"{name}_ratio"] = base / median
        rows.append(row)
    print(f"median of {rounds} round(s); ratio = time without opentelemetry / time in the mode\n")
    print("| operation | without otel | API, no SDK | ratio | SDK | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['operation']} | {fmt(row['none_s'])} | {fmt(row['api_s'])} | "
            f"{row['api_ratio']:.2f} | {fmt(row['sdk_s'])} | {row['sdk_ratio']:.2f} |"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "telemetry.json").write_text(
        json.dumps({"rounds": rounds, "rows": rows}, indent=2) + "\n"
    )


def fmt(seconds: float) -> str:
    if seconds >= 0.1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


if __name__ == "__main__":
    main()
