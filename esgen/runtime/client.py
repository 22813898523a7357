"""The command client: send a command to the processors of an entity and wait for its outcome.

::

    from generated.bank import account
    from esgen.runtime import CommandClient, CommandRejected

    with CommandClient(account.ENTITY) as client:
        result = client.send("acc-1", account.Deposit(amount=Decimal("10.00")))
        result.version, result.events      # the version after it, the events it caused
        try:
            client.send("acc-1", account.Withdraw(amount=Decimal("99.00")))
        except CommandRejected as rejected:
            rejected.reason                # "insufficient funds"

Sending
    A command goes to ``<topic>.commands``, partition ``murmur2(entity id) % N`` (the
    partition of its entity's events), key = the entity id, value = the command record in
    the Confluent wire format, headers ``esgen.type``, ``esgen.command_id``,
    ``esgen.timestamp`` (when it was sent) and the optional correlation and causation ids;
    produced idempotently with ``acks=all``. Its id is ``command_id`` or a new UUID.

Waiting for the outcome
    A background thread reads every partition of ``<topic>.replies`` ``read_committed``
    from the end it had when the client started (so no reply of a command sent since is
    missed) and hands each reply to the call waiting for its command id. An accepted
    command returns a :class:`~esgen.runtime.commands.CommandResult` once its events are
    visible to readers (a ``load`` started afterwards in any process sees them); a
    rejected one raises ``CommandRejected`` with the reason; one the processor could not
    execute raises ``CommandFailed`` (nothing written; the id is free). No outcome within
    ``timeout`` raises ``CommandTimeout``: the command was applied once or not at all,
    and sending it again **with the same command id** is safe (it is applied at most once
    and answers with the first outcome, within the processor's idempotency window).

A reply whose digest is not the digest of the command sent (another command was sent
under the same id before) raises ``EsgenError``: a retry must repeat itself, and a new
command needs a new id.

``send`` may be called from many threads at once; ``send_async`` is its asyncio form.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Self, TypeVar

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from esgen.runtime import headers as h
from esgen.runtime import logs, replies, settings, telemetry, wire
from esgen.runtime.appending import now_millis
from esgen.runtime.commands import CommandResult
from esgen.runtime.descriptor import EntityDescriptor
from esgen.runtime.errors import (
    CommandFailed,
    CommandRejected,
    CommandTimeout,
    DecodeError,
    EsgenError,
    StoreError,
    TopicsNotCoPartitioned,
)
from esgen.runtime.kafka import KafkaClients, take
from esgen.runtime.partitioning import key_text, partition_for
from esgen.runtime.registry import DEFAULT_TIMEOUT, RegistryClient
from esgen.runtime.replies import Reply, command_digest
from esgen.runtime.scan import PartitionReader
from esgen.runtime.store import Registry
from esgen.runtime.subjects import DEFAULT_STRATEGY, SubjectStrategy, command_topic, reply_topic
from esgen.runtime.topics import TopicAdmin

S = TypeVar("S")
E = TypeVar("E")

log = logs.client


@dataclass
class _Waiter:
    """One call waiting for the reply to its command."""

    entity_id: Any
    digest: str
    command: str
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[Any] | None = None
    done: threading.Event = field(default_factory=threading.Event)
    reply: Reply | None = None
    error: BaseException | None = None

    def finish(self, reply: Reply | None, error: BaseException | None = None) -> None:
        if self.done.is_set():
            return
        self.reply, self.error = reply, error
        self.done.set()
        loop, future = self.loop, self.future
        if loop is not None and future is not None:
            loop.call_soon_threadsafe(_resolve, future, reply, error)


def _resolve(
    future: asyncio.Future[Any], reply: Reply | None, error: BaseException | None
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(reply)


@dataclass
class _StoredEvent:
    """An event of a reply as :func:`wire.decode_message` reads a record."""

    _topic: str
    _partition: int
    _offset: int
    _key: bytes
    _value: bytes
    _type: str
    _millis: int

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return self._key

    def value(self) -> bytes:
        return self._value

    def headers(self) -> dict[str, str | bytes | None]:
        return {h.H_TYPE: self._type.encode()}

    def timestamp(self) -> tuple[int, int]:
        return (1, self._millis)


class CommandClient(Generic[S, E]):
    """Sends commands of one entity type and waits for their outcomes (see the module doc).

    ``bootstrap`` and ``registry`` are found by the rule of :mod:`esgen.runtime.settings`
    when not given. ``timeout`` is the default of :meth:`send`. ``kafka_config`` goes to
    every Kafka client; ``producer_config`` to the commands' producer. The topics must
    exist (a :class:`~esgen.runtime.processor.CommandProcessor` creates them).

    An accepted reply is returned once its events are visible; when they are not after
    ``visible_wait`` seconds (their partition's leader is away), the call raises
    ``CommandTimeout`` saying so, and a retry with the same id answers the outcome.
    """

    visible_wait: float = 5.0

    def __init__(
        self,
        descriptor: EntityDescriptor[S, E],  # type: ignore[type-var]
        bootstrap: str | None = None,
        registry: Registry | None = None,
        *,
        timeout: float = 10.0,
        strategy: SubjectStrategy | str = DEFAULT_STRATEGY,
        auto_register: bool = False,
        kafka_config: Mapping[str, Any] | None = None,
        producer_config: Mapping[str, Any] | None = None,
    ) -> None:
        if not descriptor.commands:
            raise EsgenError(f"entity {descriptor.name} declares no commands")
        self.descriptor = descriptor
        self.timeout = timeout
        self.topic = descriptor.topic
        self.command_topic = command_topic(self.topic)
        self.reply_topic = reply_topic(self.topic)
        self.bootstrap = settings.bootstrap_servers(bootstrap)
        registry_client = RegistryClient.connect(
            settings.registry_setting(registry), timeout=min(timeout, DEFAULT_TIMEOUT)
        )
        self.serde = wire.RegistrySerde(
            descriptor, registry_client, strategy=strategy, auto_register=auto_register
        )
        self.clients = KafkaClients(self.bootstrap, kafka_config)
        self.partitions = self._check_topics()
        self._producer = self.clients.producer({"linger.ms": 1, **(producer_config or {})})
        self._waiting: dict[str, list[_Waiter]] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._visible = PartitionReader(self.clients, timeout=max(timeout, 5.0))
        self._visible_end: dict[int, int] = {}
        self._replies = self.clients.reader(
            {"enable.partition.eof": False, "fetch.wait.max.ms": 100}
        )
        try:
            # From the committed end each reply partition has now: a reply to any command
            # sent after this point is at or after it.
            self._replies.assign(
                [
                    TopicPartition(
                        self.reply_topic, p, self._visible.watermarks(self.reply_topic, p)[1]
                    )
                    for p in range(self.partitions)
                ]
            )
        except BaseException:
            self._replies.close()
            self._visible.close()
            raise
        self._listener = threading.Thread(
            target=self._listen, name=f"esgen-replies-{self.topic}", daemon=True
        )
        self._listener.start()

    def _check_topics(self) -> int:
        admin = TopicAdmin(self.clients.admin(), self.bootstrap, self.timeout)
        counts = {}
        for topic in (self.topic, self.command_topic, self.reply_topic):
            found = admin.describe(topic)
            if found is None:
                raise StoreError(
                    f"topic {topic} does not exist on Kafka at {self.bootstrap}: start a "
                    f"CommandProcessor for {self.descriptor.name} (`esgen process`), which "
                    "creates the command and reply topics"
                )
            counts[topic] = found.partitions
        for topic in (self.command_topic, self.reply_topic):
            if counts[topic] != counts[self.topic]:
                raise TopicsNotCoPartitioned(
                    f"{topic} has {counts[topic]} partitions but {self.topic} has "
                    f"{counts[self.topic]} on Kafka at {self.bootstrap}; they must match",
                    topic=topic,
                    expected=counts[self.topic],
                    actual=counts[topic],
                )
        return counts[self.topic]

    # -- sending -------------------------------------------------------------------------

    @telemetry.traced_send
    def send(
        self,
        entity_id: Any,
        command: object,
        *,
        command_id: str | None = None,
        timeout: float | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> CommandResult:
        """Send ``command`` to the entity and wait for its outcome (see the module doc)."""
        waiter = _Waiter(entity_id, "", "")
        command_id = self._submit(
            entity_id, command, command_id, correlation_id, causation_id, waiter
        )
        wait = self.timeout if timeout is None else timeout
        try:
            if not waiter.done.wait(wait):
                raise self._timed_out(waiter, command_id, wait)
        finally:
            self._forget(command_id, waiter)
        return self._outcome(waiter, command_id)

    @telemetry.traced_send
    async def send_async(
        self,
        entity_id: Any,
        command: object,
        *,
        command_id: str | None = None,
        timeout: float | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> CommandResult:
        """:meth:`send` for asyncio: ``await client.send_async(...)``."""
        loop = asyncio.get_running_loop()
        waiter = _Waiter(entity_id, "", "", loop, loop.create_future())
        command_id = self._submit(
            entity_id, command, command_id, correlation_id, causation_id, waiter
        )
        wait = self.timeout if timeout is None else timeout
        assert waiter.future is not None
        try:
            await asyncio.wait_for(asyncio.shield(waiter.future), wait)
        except TimeoutError:
            raise self._timed_out(waiter, command_id, wait) from None
        finally:
            self._forget(command_id, waiter)
        return self._outcome(waiter, command_id)

    def _submit(
        self,
        entity_id: Any,
        command: object,
        command_id: str | None,
        correlation_id: str | None,
        causation_id: str | None,
        waiter: _Waiter,
    ) -> str:
        if self._closed.is_set():
            raise EsgenError(f"the command client of {self.descriptor.name} is closed")
        full_name = self.descriptor.command_type(command).full_name  # refuses others'
        key = key_text(self.descriptor, entity_id).encode()
        value = self.serde.encode_command(command)
        command_id = command_id or str(uuid.uuid4())
        waiter.digest = command_digest(key, full_name, value)
        waiter.command = full_name
        headers: h.Headers = [
            (h.H_TYPE, full_name.encode()),
            (h.H_COMMAND_ID, command_id.encode()),
            (h.H_TIMESTAMP, b"%d" % h.to_millis(now_millis())),
            *telemetry.trace_headers(),  # the send's span, when traced
        ]
        if correlation_id is not None:
            headers.append((h.H_CORRELATION_ID, correlation_id.encode()))
        if causation_id is not None:
            headers.append((h.H_CAUSATION_ID, causation_id.encode()))
        with self._lock:  # waiting before it is sent: the reply cannot be missed
            self._waiting.setdefault(command_id, []).append(waiter)

        def delivered(error: KafkaError | None, _msg: Message) -> None:
            if error is not None:
                waiter.finish(
                    None,
                    StoreError(
                        f"the command could not be written to {self.command_topic}: {error.str()}"
                    ),
                )

        partition = partition_for(key, self.partitions)
        while True:
            try:
                self._producer.produce(
                    self.command_topic,
                    value,
                    key,
                    partition=partition,
                    headers=headers,
                    on_delivery=delivered,
                )
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                self._producer.poll(0.05)
            except KafkaException as exc:
                self._forget(command_id, waiter)
                raise StoreError(
                    f"cannot send the command to {self.command_topic} on Kafka at "
                    f"{self.bootstrap}: {exc.args[0]}"
                ) from exc
        self._producer.poll(0)
        return command_id

    def _forget(self, command_id: str, waiter: _Waiter) -> None:
        with self._lock:
            waiting = self._waiting.get(command_id)
            if waiting is not None and waiter in waiting:
                waiting.remove(waiter)
                if not waiting:
                    del self._waiting[command_id]

    def _timed_out(self, waiter: _Waiter, command_id: str, wait: float | None) -> CommandTimeout:
        """``wait`` None: the call ended early because of ``waiter.error``."""
        within = f" within {wait:g} s" if wait is not None else ""
        cause = f" ({waiter.error})" if waiter.error is not None else ""
        name = waiter.command.rpartition(".")[2]
        return CommandTimeout(
            f"no outcome of {name} {command_id!r} for {self.descriptor.name} "
            f"{waiter.entity_id!r}{within}{cause}: it was applied once or not at "
            f"all. Sending it again with command_id={command_id!r} is safe: it is applied at "
            "most once and answers with its first outcome. (Is a CommandProcessor running "
            f"for {self.topic}?)",
            command_id=command_id,
            entity_id=waiter.entity_id,
        )

    def _outcome(self, waiter: _Waiter, command_id: str) -> CommandResult:
        reply, error = waiter.reply, waiter.error
        if error is not None:
            if isinstance(error, StoreError):  # not written: as good as no outcome
                raise self._timed_out(waiter, command_id, None) from error
            raise error
        assert reply is not None
        name = waiter.command.rpartition(".")[2]
        if reply.digest and reply.digest != waiter.digest:
            raise EsgenError(
                f"command id {command_id!r} was used for another command ({reply.command} on "
                f"{reply.entity_id!r}); a retry must send the same command to the same "
                "entity, a new command needs a new id"
            )
        if reply.outcome == replies.REJECTED:
            raise CommandRejected(
                reply.reason,
                entity=self.descriptor.name,
                command=name,
                entity_id=waiter.entity_id,
            )
        if reply.outcome == replies.FAILED:
            raise CommandFailed(
                f"{self.descriptor.name} {waiter.entity_id!r}: {name} {command_id!r} could not "
                f"be executed: {reply.error}. Nothing was written; the command id is free "
                "for a corrected command",
                command_id=command_id,
                error=reply.error,
            )
        key = key_text(self.descriptor, waiter.entity_id).encode()
        events = []
        for stored in reply.events:
            record = _StoredEvent(
                self.topic,
                reply.partition,
                stored.offset,
                key,
                stored.value,
                stored.type,
                reply.decided_at,
            )
            event, _ = wire.decode_message(self.serde, record)
            events.append(event)
        return CommandResult(waiter.entity_id, command_id, reply.version, events)

    # -- the replies -----------------------------------------------------------------------

    def _listen(self) -> None:
        consumer = self._replies
        while not self._closed.is_set():
            try:
                messages = take(consumer, 500, 0.1)
            except RuntimeError:  # closed meanwhile
                return
            self._producer.poll(0)
            if not messages:
                continue
            arrived: list[tuple[list[_Waiter], Reply]] = []
            for msg in messages:
                error = msg.error()
                if error is not None:
                    if error.fatal():
                        self._fail_all(StoreError(f"reading {self.reply_topic}: {error.str()}"))
                        return
                    continue
                key = msg.key()
                if key is None:
                    continue
                command_id = key.decode(errors="replace") if isinstance(key, bytes) else key
                with self._lock:
                    waiting = list(self._waiting.get(command_id, ()))
                if not waiting:
                    continue  # another client's command
                value = msg.value()
                try:
                    reply = Reply.decode(value if isinstance(value, bytes) else b"")
                except DecodeError as exc:
                    log.warning(
                        "%s: unreadable reply to %r: %s", self.reply_topic, command_id, exc
                    )
                    continue
                arrived.append((waiting, reply))
            lagging = self._await_visible(arrived)
            for waiting, reply in arrived:
                invisible = lagging.get(reply.partition) if reply.events else None
                for waiter in waiting:
                    waiter.finish(None if invisible else reply, invisible)

    def _await_visible(self, arrived: list[tuple[list[_Waiter], Reply]]) -> dict[int, StoreError]:
        """Wait until the events of the accepted replies are visible to ``read_committed``
        readers (Kafka writes a transaction's commit markers partition by partition), at
        most ``visible_wait`` seconds. The partitions still not visible, with why: their
        calls end in ``CommandTimeout`` (a retry with the same id answers the outcome), so
        an accepted result always means events a ``load`` sees."""
        needed: dict[int, int] = {}
        for _, reply in arrived:
            if reply.events:
                last = reply.events[-1].offset
                needed[reply.partition] = max(needed.get(reply.partition, -1), last)
        lagging: dict[int, StoreError] = {}
        for partition, last in needed.items():
            deadline = time.monotonic() + self.visible_wait
            while self._visible_end.get(partition, -1) <= last and not self._closed.is_set():
                try:
                    end = self._visible.watermarks(self.topic, partition)[1]
                except StoreError as exc:
                    lagging[partition] = exc
                    break
                self._visible_end[partition] = end
                if end > last:
                    break
                if time.monotonic() > deadline:
                    lagging[partition] = StoreError(
                        f"the command's transaction is committed, but its events in "
                        f"{self.topic}[{partition}] (up to offset {last}) were still not "
                        f"visible to read_committed readers after {self.visible_wait:g} s "
                        f"(the visible end is {end})"
                    )
                    break
                time.sleep(0.001)
        for partition, error in lagging.items():
            log.warning("%s[%d]: %s", self.topic, partition, error)
        return lagging

    def _fail_all(self, error: BaseException) -> None:
        with self._lock:
            waiting = [w for ws in self._waiting.values() for w in ws]
        for waiter in waiting:
            waiter.finish(None, error)

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Stop reading replies and close the clients (calls still waiting time out)."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._listener.join(timeout=5)
        self._producer.flush(self.timeout)
        self._replies.close()
        self._visible.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
