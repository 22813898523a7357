"""Helpers of the command processor and client tests: processors in threads, the topics'
cleanup, and plain consumers that read what is on Kafka (never through the code under test)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import decimal
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]

from esgen.runtime import CommandProcessor, EntityDescriptor
from esgen.runtime import headers as h
from esgen.runtime.replies import Reply
from esgen.runtime.subjects import (
    command_topic,
    dead_letter_topic,
    reply_topic,
    snapshot_topic,
)


def topics_of(topic: str) -> list[str]:
    """Every topic a processor of ``topic`` may create."""
    commands = command_topic(topic)
    return [
        topic,
        snapshot_topic(topic),
        commands,
        reply_topic(topic),
        dead_letter_topic(commands),
    ]


def delete_topics(bootstrap: str, names: list[str]) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=30).topics)
    names = [n for n in names if n in existing]
    if not names:
        return
    for future in admin.delete_topics(names, operation_timeout=30).values():
        with contextlib.suppress(Exception):
            future.result(timeout=30)


def thread_stacks() -> str:
    """Where every thread of this process is now: what a hang is diagnosed from."""
    names = {t.ident: t.name for t in threading.enumerate()}
    return "\n".join(
        f"--- thread {names.get(ident, ident)}:\n{''.join(traceback.format_stack(frame))}"
        for ident, frame in sys._current_frames().items()
    )


@dataclasses.dataclass
class Running:
    """A processor running in a thread (``failure``: what its run() raised)."""

    processor: CommandProcessor[Any, Any]
    thread: threading.Thread
    failure: list[BaseException]

    def wait_ready(self, partitions: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.processor.ready_partitions) < partitions:
            assert not self.failure, self.failure
            assert self.thread.is_alive(), "the processor stopped"
            assert time.monotonic() < deadline, (
                f"ready {self.processor.ready_partitions} of {partitions} partitions"
            )
            time.sleep(0.02)

    def stop(self) -> None:
        self.processor.stop()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), f"the processor did not stop\n{thread_stacks()}"


@contextlib.contextmanager
def running(
    descriptor: EntityDescriptor[Any, Any],
    bootstrap: str,
    registry: str,
    *,
    ready: int | None = None,
    **options: Any,
) -> Iterator[Running]:
    """A processor in a thread, ready (its ``ready`` partitions restored, default all);
    stopped, closed and checked for failures after."""
    options.setdefault("auto_register", True)
    options.setdefault("partitions", 1)
    options.setdefault("timeout", 20.0)
    processor: CommandProcessor[Any, Any] = CommandProcessor(
        descriptor, bootstrap, registry, **options
    )
    failure: list[BaseException] = []

    def run() -> None:
        try:
            processor.run()
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name="processor", daemon=True)
    thread.start()
    handle = Running(processor, thread, failure)
    try:
        handle.wait_ready(processor.partitions if ready is None else ready)
        yield handle
    finally:
        if thread.is_alive():
            handle.stop()
        processor.close()
    assert not failure, failure


@dataclasses.dataclass(frozen=True)
class Stored:
    """One record as a plain read_committed consumer reads it."""

    partition: int
    offset: int
    key: str
    headers: dict[str, str]
    value: bytes

    @property
    def version(self) -> int:
        return int(self.headers[h.H_VERSION])

    @property
    def causation_id(self) -> str | None:
        return self.headers.get(h.H_CAUSATION_ID)


def read_all(bootstrap: str, topic: str, *, committed: bool = True) -> list[Stored]:
    """Every record of every partition of ``topic`` up to the end it has now."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"check-{topic}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed" if committed else "read_uncommitted",
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        partitions = sorted(consumer.list_topics(topic, timeout=30).topics[topic].partitions)
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
            for p in partitions
        }
        todo = {p for p in partitions if ends[p] > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in todo])
        records: list[Stored] = []
        deadline = time.monotonic() + 120
        while todo:
            assert time.monotonic() < deadline, f"{topic}: read {len(records)} records"
            msg = consumer.poll(0.5)
            if msg is None:
                for tp in consumer.position([TopicPartition(topic, p) for p in todo]):
                    if tp.offset >= ends[tp.partition]:
                        todo.discard(tp.partition)
                continue
            error = msg.error()
            if error is not None:
                assert error.code() == KafkaError._PARTITION_EOF, error
                p = msg.partition() or 0
                if consumer.position([TopicPartition(topic, p)])[0].offset >= ends[p]:
                    todo.discard(p)
                continue
            key, value = msg.key(), msg.value()
            records.append(
                Stored(
                    msg.partition() or 0,
                    msg.offset() or 0,
                    key.decode(errors="backslashreplace") if isinstance(key, bytes) else "",
                    h.header_map(msg.headers()),
                    value if isinstance(value, bytes) else b"",
                )
            )
            if (msg.offset() or 0) >= ends[msg.partition() or 0] - 1:
                todo.discard(msg.partition() or 0)
        return records
    finally:
        consumer.close()


def replies_by_id(bootstrap: str, topic: str) -> dict[str, list[Reply]]:
    """Every reply on ``<topic>.replies`` (committed), by command id, in offset order."""
    found: dict[str, list[Reply]] = {}
    for record in read_all(bootstrap, reply_topic(topic)):
        found.setdefault(record.key, []).append(Reply.decode(record.value))
    return found


def wait_reply(bootstrap: str, topic: str, command_id: str, timeout: float = 30) -> Reply:
    """The first reply to ``command_id`` once it is committed."""
    deadline = time.monotonic() + timeout
    while True:
        found = replies_by_id(bootstrap, topic).get(command_id)
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no reply to {command_id!r}"
        time.sleep(0.2)


ROOT = Path(__file__).parents[2]


class ProcessorProcess:
    """A processor in a process of its own (``tests/runtime/processors.py``)."""

    def __init__(
        self,
        topic: str,
        bootstrap: str,
        registry: str,
        hold: Path | None = None,
        **options: Any,
    ) -> None:
        options.setdefault("auto_register", True)
        options.setdefault("timeout", 20.0)
        self.hold = hold
        env = {**os.environ, "ESGEN_BOOTSTRAP": bootstrap, "ESGEN_REGISTRY_URL": registry}
        args = [sys.executable, "-m", "tests.runtime.processors", topic, json.dumps(options)]
        if hold is not None:
            hold.mkdir(parents=True, exist_ok=True)
            args.append(str(hold))
        self.process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.ready: list[int] = []
        self.stats: dict[str, Any] | None = None
        self.errors: list[str] = []
        self._threads = [
            threading.Thread(target=self._read_out, daemon=True),
            threading.Thread(target=self._read_err, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read_out(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            kind, _, data = line.strip().partition(" ")
            if kind == "ready":
                self.ready = json.loads(data)
            elif kind == "stats":
                self.stats = json.loads(data)

    def _read_err(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.errors.append(line.rstrip())

    def wait_ready(self, partitions: list[int] | int, timeout: float = 60) -> float:
        """Until it has restored these partitions (or this many); the seconds it took."""
        began = time.monotonic()
        while True:
            ready = self.ready
            if (
                len(ready) >= partitions
                if isinstance(partitions, int)
                else set(partitions) <= set(ready)
            ):
                return time.monotonic() - began
            assert self.process.poll() is None, self.log()
            assert time.monotonic() - began < timeout, f"ready {ready}\n{self.log()}"
            time.sleep(0.02)

    def log(self, lines: int = 40) -> str:
        return "\n".join(self.errors[-lines:])

    def arm(self, timeout: float = 60) -> None:
        """Until the processor is inside a transaction, held before its commit."""
        assert self.hold is not None
        (self.hold / "arm").touch()
        deadline = time.monotonic() + timeout
        while not (self.hold / "holding").exists():
            assert self.process.poll() is None, self.log()
            assert time.monotonic() < deadline, "no transaction to hold\n" + self.log()
            time.sleep(0.01)

    def release(self) -> None:
        assert self.hold is not None
        (self.hold / "release").touch()

    def kill(self) -> None:
        """SIGKILL: the processor dies at once, in whatever it was doing."""
        self.process.kill()
        self.process.wait(timeout=30)
        if self.hold is not None:
            for name in ("arm", "holding", "release"):
                (self.hold / name).unlink(missing_ok=True)

    def freeze(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def terminate(self, timeout: float = 60) -> dict[str, Any]:
        """SIGTERM: it commits, leaves its group and exits 0; its stats."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        for thread in self._threads:
            thread.join(timeout=10)
        assert code == 0, f"exit {code}\n{self.log()}"
        assert self.stats is not None, self.log()
        return self.stats

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=30)


@dataclasses.dataclass
class Outcome:
    """What the storm learned of one command."""

    command_id: str
    entity_id: str
    kind: str  # "deposit", "withdraw" or "open"
    outcome: str = ""  # "accepted", "rejected", or "" (still unknown)
    version: int = 0
    reason: str = ""
    attempts: int = 0


class Storm:
    """Clients sending commands to a few accounts from asyncio in a thread, each command
    retried with its own id after every timeout until it has an outcome."""

    def __init__(
        self,
        descriptor: EntityDescriptor[Any, Any],
        bootstrap: str,
        registry: str,
        entities: list[str],
        *,
        concurrency: int = 8,
        timeout: float = 5.0,
        withdraw_every: int = 2,
    ) -> None:
        from esgen.runtime import CommandClient

        self.client: Any = CommandClient(
            descriptor, bootstrap, registry, timeout=timeout, auto_register=True
        )
        self.entities = entities
        self.concurrency = concurrency
        self.withdraw_every = withdraw_every
        self.outcomes: list[Outcome] = []
        self.failures: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="storm", daemon=True)
        self._answered = 0
        self._lock = threading.Lock()

    def start(self) -> Storm:
        self._thread.start()
        return self

    @property
    def answered(self) -> int:
        with self._lock:
            return self._answered

    def wait_for(self, more: int, timeout: float = 120) -> None:
        """Until ``more`` commands beyond those answered now have their outcome."""
        target = self.answered + more
        deadline = time.monotonic() + timeout
        while self.answered < target:
            assert not self.failures, self.failures
            assert time.monotonic() < deadline, (
                f"the storm stalled at {self.answered}\n{thread_stacks()}"
            )
            time.sleep(0.05)

    def stop(self, timeout: float = 180) -> list[Outcome]:
        """Stop sending new commands; every command sent is answered before it returns."""
        self._stop.set()
        self._thread.join(timeout=timeout)
        assert not self._thread.is_alive(), "commands still unanswered"
        self.client.close()
        assert not self.failures, self.failures
        return self.outcomes

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self.failures.append(exc)

    async def _main(self) -> None:
        for entity_id in self.entities:
            opened = Outcome(f"open-{entity_id}-{uuid.uuid4()}", entity_id, "open")
            await self._until_answered(opened)
        await asyncio.gather(*(self._worker(n) for n in range(self.concurrency)))

    async def _worker(self, number: int) -> None:
        turn = 0
        while not self._stop.is_set():
            entity_id = self.entities[(number + turn) % len(self.entities)]
            kind = "withdraw" if turn % self.withdraw_every == 0 else "deposit"
            await self._until_answered(Outcome(str(uuid.uuid4()), entity_id, kind))
            turn += 1

    async def _until_answered(self, outcome: Outcome) -> None:
        from esgen.runtime import CommandRejected, CommandTimeout
        from generated.bank import account

        one = decimal.Decimal("1.00")
        command: Any
        if outcome.kind == "open":
            command = account.OpenAccount(owner=outcome.entity_id)
        elif outcome.kind == "deposit":
            command = account.Deposit(amount=one)
        else:
            command = account.Withdraw(amount=one)
        with self._lock:
            self.outcomes.append(outcome)
        while True:
            outcome.attempts += 1
            try:
                result = await self.client.send_async(
                    outcome.entity_id, command, command_id=outcome.command_id
                )
            except CommandTimeout:
                continue  # the same id again: applied at most once
            except CommandRejected as rejected:
                outcome.outcome, outcome.reason = "rejected", rejected.reason
            else:
                outcome.outcome, outcome.version = "accepted", result.version
            with self._lock:
                self._answered += 1
            return


_CHANGE = {
    "com.example.bank.AccountOpened": 0,
    "com.example.bank.MoneyDeposited": 100,
    "com.example.bank.MoneyWithdrawn": -100,
}


def check_exact(
    bootstrap: str, topic: str, outcomes: list[Outcome], *, direct: int = 0
) -> dict[str, int]:
    """What a command storm must have left on Kafka, read with plain consumers:

    - every command was answered, and the events of each entity have versions 1..n;
    - each accepted command's events are in the log exactly once (causation id), at the
      offsets and versions its reply names; no rejected command has events;
    - every reply to one command id is the same bytes (its first outcome, repeated);
    - each balance is the accepted deposits minus the accepted withdrawals (plus the
      ``direct`` appends' events, which have no causation id), never below zero.

    Returns the balance of each entity (in cents)."""
    assert all(o.outcome for o in outcomes), [o for o in outcomes if not o.outcome][:3]
    events = read_all(bootstrap, topic)
    by_cause: dict[str, list[Stored]] = {}
    uncaused = 0
    for event in events:
        if event.causation_id is None:
            uncaused += 1
        else:
            by_cause.setdefault(event.causation_id, []).append(event)
    assert uncaused == direct, f"{uncaused} events without a command, {direct} appended"
    replies = replies_by_id(bootstrap, topic)
    for outcome in outcomes:
        caused = by_cause.pop(outcome.command_id, [])
        answers = replies.get(outcome.command_id, [])
        assert answers, f"no committed reply to {outcome}"
        assert len({a.encode() for a in answers}) == 1, f"{outcome}: replies differ"
        reply = answers[0]
        assert reply.outcome == outcome.outcome, (reply, outcome)
        if outcome.outcome == "accepted":
            assert len(caused) == 1, f"{outcome.command_id}: {len(caused)} events"
            assert [e.offset for e in caused] == [e.offset for e in reply.events]
            assert caused[0].version == outcome.version == reply.version
            assert caused[0].key == outcome.entity_id
        else:
            assert not caused, f"rejected {outcome} has events {caused}"
    assert not by_cause, f"events of no command of the storm: {list(by_cause)[:5]}"
    balances: dict[str, int] = {}
    versions: dict[str, int] = {}
    for event in events:  # in offset order per partition: per entity, in version order
        entity_id = event.key
        assert event.version == versions.get(entity_id, 0) + 1, f"{entity_id}: {event}"
        versions[entity_id] = event.version
        balances[entity_id] = balances.get(entity_id, 0) + _CHANGE[event.headers[h.H_TYPE]]
        assert balances[entity_id] >= 0, f"{entity_id} below zero at version {event.version}"
    return balances
