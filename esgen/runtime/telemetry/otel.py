"""The runtime's spans and metrics through the OpenTelemetry API (imported only when the
API is installed; see :mod:`esgen.runtime.telemetry` for the hooks).

Spans follow the semantic conventions for messaging where they fit
(``messaging.system=kafka``, ``messaging.destination.name``,
``messaging.destination.partition.id``, ``messaging.kafka.offset``,
``messaging.kafka.message.key``, ``messaging.operation.type``/``name``,
``messaging.consumer.group.name``, ``messaging.batch.message_count``, ``error.type``);
esgen's own are under ``esgen.*`` (``esgen.entity``, ``esgen.version``,
``esgen.correlation_id``, ``esgen.causation_id``, ``esgen.events_replayed``...).

Trace context
    An append's span is current while its events' headers are made, so each event
    carries the append's context (``trace_headers``: the global propagator, W3C
    ``traceparent``/``tracestate`` by default) and the append span's parent is whatever
    was current (a command's span, a web request's). A projection batch's span is a new
    root with a link to each trace context its records carry; for each such context the
    batch also makes a span ``process <topic>`` in that trace (parent: the context, i.e.
    the append that wrote the records; a link to the batch span; the batch's start and
    end times: the read-model update becomes visible when the batch commits), marked as
    an error when one of its records was dead-lettered, at one span per append and
    batch rather than per record (an SDK span costs about 75 µs here).

    A command: ``CommandClient.send`` is a span whose context the command's headers
    carry; the processor decides it in a span in that trace (current while its events
    are made, so they carry it), and commits each batch in a span linked to its
    decisions. So one trace shows a request, its command, the decision, the events and
    every read model that applied them.

Spans are made only when a tracer provider other than the API's default is configured
(globally or through :func:`use`); otherwise the decorators only time and count (the
API's no-op meter when no SDK is configured) and the trace context already current is
still passed on in headers.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from esgen import __version__
from esgen.runtime.headers import H_CAUSATION_ID, H_COMMAND_ID, H_CORRELATION_ID, H_EVENT_ID

if TYPE_CHECKING:
    from esgen.runtime.descriptor import EntityId
    from esgen.runtime.projections.runner import ProjectionRunner
    from esgen.runtime.store import EventStore, Position

F = TypeVar("F", bound=Callable[..., Any])

SCOPE = "esgen"

SYSTEM = "messaging.system"
DESTINATION = "messaging.destination.name"
PARTITION = "messaging.destination.partition.id"
OFFSET = "messaging.kafka.offset"
KEY = "messaging.kafka.message.key"
MESSAGE_ID = "messaging.message.id"
OPERATION_TYPE = "messaging.operation.type"
OPERATION_NAME = "messaging.operation.name"
GROUP = "messaging.consumer.group.name"
BATCH_COUNT = "messaging.batch.message_count"
ERROR_TYPE = "error.type"
ENTITY = "esgen.entity"
PROJECTION = "esgen.projection"
CONSUMER = "esgen.consumer"
STAGE = "esgen.dlq.stage"
CORRELATION = "esgen.correlation_id"
CAUSATION = "esgen.causation_id"
OUTCOME = "esgen.outcome"
REASON = "esgen.reason"


class _Instruments:
    """The metrics, made from one meter."""

    def __init__(self, meter: metrics.Meter) -> None:
        self.append_duration = meter.create_histogram(
            "esgen.append.duration",
            unit="s",
            description="Time of EventStore.append, from the call to the stored (or failed) "
            "append, retries included",
        )
        self.load_events = meter.create_histogram(
            "esgen.load.events",
            unit="{event}",
            description="Events folded by one EventStore.load (0: its state was current)",
        )
        self.dead_letters = meter.create_counter(
            "esgen.dead_letters",
            unit="{record}",
            description="Records written to a dead-letter topic (each record once per "
            "consumer), by stage and error type",
        )
        self.commands = meter.create_counter(
            "esgen.commands",
            unit="{command}",
            description="Commands a command processor committed an outcome for, by outcome "
            "(accepted, rejected, failed, duplicate)",
        )
        self.rejections = meter.create_counter(
            "esgen.commands.rejected",
            unit="{command}",
            description="Commands rejected by a precondition or an invariant, by reason",
        )
        self.lag = meter.create_observable_gauge(
            "esgen.projection.lag",
            callbacks=[_observe_lag],
            unit="{record}",
            description="Records of its assigned partitions a projection runner has not "
            "applied yet, as measured after its last batch",
        )


@dataclass
class _Providers:
    tracer_provider: Any = None  # None: the global one
    tracer: trace.Tracer = field(default_factory=lambda: trace.get_tracer(SCOPE, __version__))
    instruments: _Instruments = field(
        default_factory=lambda: _Instruments(metrics.get_meter(SCOPE, __version__))
    )


_runners: weakref.WeakSet[ProjectionRunner] = weakref.WeakSet()
_runners_lock = threading.Lock()  # runners are made in any thread; the reader reads in its own


def use(tracer_provider: Any, meter_provider: Any) -> None:
    """Report to these providers (None: the global ones); see the package doc."""
    global _now
    tracer = (
        trace.get_tracer(SCOPE, __version__)
        if tracer_provider is None
        else tracer_provider.get_tracer(SCOPE, __version__)
    )
    meter = (
        metrics.get_meter(SCOPE, __version__)
        if meter_provider is None
        else meter_provider.get_meter(SCOPE, __version__)
    )
    _now = _Providers(tracer_provider, tracer, _Instruments(meter))


def _tracing() -> bool:
    """Whether spans are recorded anywhere: a provider other than the API's default."""
    if _now.tracer_provider is not None:
        return True
    return not isinstance(
        trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider
    )


# -- trace context in Kafka headers ------------------------------------------------------


class _HeaderGetter(Getter[Sequence[tuple[str, Any]]]):
    """Reads propagation fields from a record's headers (``(name, bytes)`` pairs)."""

    def get(self, carrier: Sequence[tuple[str, Any]], key: str) -> list[str] | None:
        found = [
            value.decode(errors="replace") if isinstance(value, bytes) else str(value)
            for name, value in carrier
            if name == key and value is not None
        ]
        return found or None

    def keys(self, carrier: Sequence[tuple[str, Any]]) -> list[str]:
        return [name for name, _ in carrier]


_GETTER = _HeaderGetter()


def trace_headers() -> list[tuple[str, bytes]]:
    """The current trace context as Kafka headers (none when there is no context)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [(name, value.encode()) for name, value in carrier.items()]


def _extract(headers: Sequence[tuple[str, Any]] | None) -> Context | None:
    """The trace context a record's headers carry, or None."""
    if not headers:
        return None
    context = propagate.extract(headers, getter=_GETTER)
    if not trace.get_current_span(context).get_span_context().is_valid:
        return None
    return context


def _header(headers: Sequence[tuple[str, Any]], name: str) -> str | None:
    for key, value in headers:
        if key == name and value is not None:
            return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return None


def _failed(span: trace.Span, exc: BaseException) -> None:
    span.set_attribute(ERROR_TYPE, type(exc).__qualname__)


# -- the event store ---------------------------------------------------------------------


def traced_append(func: F) -> F:
    """``EventStore.append`` with a span and its duration (see the module doc)."""

    @functools.wraps(func)
    def append(
        store: EventStore[Any, Any],
        entity_id: EntityId,
        events: Iterable[Any],
        expected_version: int | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> list[Position]:
        now = _now
        started = time.perf_counter()
        attributes: dict[str, str] = {SYSTEM: "kafka", DESTINATION: store.topic}
        try:
            if not _tracing():
                positions: list[Position] = func(
                    store, entity_id, events, expected_version, correlation_id, causation_id
                )
                return positions
            batch = list(events)
            with now.tracer.start_as_current_span(
                f"append {store.topic}", kind=SpanKind.PRODUCER
            ) as span:
                span.set_attributes(
                    {
                        **attributes,
                        OPERATION_TYPE: "send",
                        OPERATION_NAME: "append",
                        KEY: str(entity_id),
                        ENTITY: store.descriptor.name,
                        BATCH_COUNT: len(batch),
                    }
                )
                if expected_version is not None:
                    span.set_attribute("esgen.expected_version", expected_version)
                if correlation_id is not None:
                    span.set_attribute(CORRELATION, correlation_id)
                if causation_id is not None:
                    span.set_attribute(CAUSATION, causation_id)
                try:
                    positions = func(
                        store, entity_id, batch, expected_version, correlation_id, causation_id
                    )
                except BaseException as exc:
                    _failed(span, exc)
                    raise
                if positions:
                    span.set_attributes(
                        {
                            PARTITION: str(positions[0].partition),
                            OFFSET: positions[0].offset,
                            "esgen.version": positions[-1].version,
                        }
                    )
                return positions
        except BaseException as exc:
            attributes[ERROR_TYPE] = type(exc).__qualname__
            raise
        finally:
            now.instruments.append_duration.record(time.perf_counter() - started, attributes)

    return cast(F, append)


def traced_load(func: F) -> F:
    """``EventStore.load`` with a span and the number of events it replayed."""

    @functools.wraps(func)
    def load(store: EventStore[Any, Any], entity_id: EntityId) -> Any:
        now = _now
        stats = store.stats
        before = stats.events_replayed
        attributes: dict[str, str] = {SYSTEM: "kafka", DESTINATION: store.topic}
        try:
            if not _tracing():
                return func(store, entity_id)
            with now.tracer.start_as_current_span(
                f"load {store.topic}", kind=SpanKind.CLIENT
            ) as span:
                span.set_attributes(
                    {
                        **attributes,
                        OPERATION_TYPE: "receive",
                        OPERATION_NAME: "load",
                        KEY: str(entity_id),
                        ENTITY: store.descriptor.name,
                    }
                )
                try:
                    state = func(store, entity_id)
                except BaseException as exc:
                    _failed(span, exc)
                    raise
                span.set_attribute("esgen.events_replayed", stats.events_replayed - before)
                return state
        except BaseException as exc:
            attributes[ERROR_TYPE] = type(exc).__qualname__
            raise
        finally:
            now.instruments.load_events.record(stats.events_replayed - before, attributes)

    return cast(F, load)


# -- projections ---------------------------------------------------------------------------


@dataclass
class _Batch:
    """What the dead-letter hook tells the batch being traced."""

    dead: dict[tuple[str, int, int], tuple[str, str]] = field(default_factory=dict)
    """(topic, partition, offset) -> (stage, error type) of the batch's dead letters."""


_batch: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar("esgen_batch", default=None)


@dataclass
class _Traced:
    """The records of a batch that carry one trace context (one append's events)."""

    context: Context
    records: list[Any] = field(default_factory=list)


def _traced(messages: Sequence[Any]) -> list[_Traced]:
    """The batch's records grouped by the trace context they carry (records without
    one are left out). Each distinct context is parsed once."""
    fields = propagate.get_global_textmap().fields
    groups: dict[tuple[Any, ...], _Traced | None] = {}
    for msg in messages:
        headers = msg.headers() if msg.error() is None else None
        if not headers:
            continue
        carried = tuple((name, value) for name, value in headers if name in fields)
        if not carried:
            continue
        key = (msg.topic(), carried)
        if key not in groups:
            context = _extract(carried)
            groups[key] = None if context is None else _Traced(context)
        group = groups[key]
        if group is not None:
            group.records.append(msg)
    return [group for group in groups.values() if group is not None]


def traced_projection_batch(func: F) -> F:
    """``ProjectionRunner._process`` with a batch span and a span per trace context."""

    @functools.wraps(func)
    def process(
        runner: ProjectionRunner, consumer: Any, messages: list[Any], **options: Any
    ) -> None:
        if not _tracing():
            func(runner, consumer, messages, **options)
            return
        tracer = _now.tracer
        traced = _traced(messages)
        links = [Link(trace.get_current_span(t.context).get_span_context()) for t in traced]
        topics = sorted({msg.topic() for msg in messages if msg.error() is None})
        name = f"process {topics[0]}" if len(topics) == 1 else "process"
        attributes: dict[str, Any] = {
            SYSTEM: "kafka",
            OPERATION_TYPE: "process",
            OPERATION_NAME: "apply",
            GROUP: runner.group_id,
            PROJECTION: runner.projection.name,
            BATCH_COUNT: len(messages),
        }
        if len(topics) == 1:
            attributes[DESTINATION] = topics[0]
        stats = runner.stats
        counts = (stats.processed, stats.skipped, stats.dead_lettered)
        batch = _Batch()
        token = _batch.set(batch)
        started = time.time_ns()
        try:
            with tracer.start_as_current_span(
                name, kind=SpanKind.CONSUMER, attributes=attributes, links=links
            ) as span:
                try:
                    func(runner, consumer, messages, **options)
                except BaseException as exc:
                    _failed(span, exc)
                    raise
                span.set_attributes(
                    {
                        "esgen.processed": stats.processed - counts[0],
                        "esgen.skipped": stats.skipped - counts[1],
                        "esgen.dead_lettered": stats.dead_lettered - counts[2],
                    }
                )
        finally:
            _batch.reset(token)
        ended = time.time_ns()
        batch_link = [Link(span.get_span_context())]
        for group in traced:
            _traced_span(tracer, runner, group, batch, batch_link, started, ended)

    return cast(F, process)


def _traced_span(
    tracer: trace.Tracer,
    runner: ProjectionRunner,
    group: _Traced,
    batch: _Batch,
    links: list[Link],
    started: int,
    ended: int,
) -> None:
    """The span of the records of one trace context, in that trace: one per append whose
    events the batch applied (they share their topic, entity and ids)."""
    first = group.records[0]
    topic = first.topic()
    headers = first.headers() or []
    key = first.key()
    attributes: dict[str, Any] = {
        SYSTEM: "kafka",
        OPERATION_TYPE: "process",
        OPERATION_NAME: "apply",
        DESTINATION: topic,
        PARTITION: str(first.partition()),
        OFFSET: first.offset(),
        GROUP: runner.group_id,
        PROJECTION: runner.projection.name,
    }
    if len(group.records) > 1:
        attributes[BATCH_COUNT] = len(group.records)
    if key is not None:
        attributes[KEY] = key.decode(errors="replace") if isinstance(key, bytes) else key
    for header, attribute in (
        (H_EVENT_ID, MESSAGE_ID),
        (H_CORRELATION_ID, CORRELATION),
        (H_CAUSATION_ID, CAUSATION),
    ):
        value = _header(headers, header)
        if value is not None and (attribute != MESSAGE_ID or len(group.records) == 1):
            attributes[attribute] = value
    span = tracer.start_span(
        f"process {topic}",
        context=group.context,
        kind=SpanKind.CONSUMER,
        attributes=attributes,
        links=links,
        start_time=started,
    )
    dead = [
        found
        for msg in group.records
        if (found := batch.dead.get((topic, msg.partition(), msg.offset()))) is not None
    ]
    if dead:
        stage, error_type = dead[0]
        span.set_attributes(
            {STAGE: stage, ERROR_TYPE: error_type, "esgen.dead_lettered": len(dead)}
        )
        span.set_status(
            Status(
                StatusCode.ERROR,
                f"{len(dead)} of {len(group.records)} dead-lettered ({stage}: {error_type})",
            )
        )
    span.end(end_time=ended)


# -- commands ------------------------------------------------------------------------------

DUPLICATE = "duplicate"  # a command id with an outcome already: answered again


def traced_send(func: F) -> F:
    """``CommandClient.send``/``send_async`` with a span ``send <topic>.commands``, current
    while the command's headers are made (so they carry its context) and its reply awaited."""

    def attributes(client: Any, entity_id: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = {
            SYSTEM: "kafka",
            DESTINATION: client.command_topic,
            OPERATION_TYPE: "send",
            OPERATION_NAME: "send",
            KEY: str(entity_id),
            ENTITY: client.descriptor.name,
        }
        for name, attribute in (("correlation_id", CORRELATION), ("causation_id", CAUSATION)):
            if kwargs.get(name) is not None:
                found[attribute] = kwargs[name]
        return found

    def finished(span: trace.Span, result: Any) -> None:
        span.set_attributes({OUTCOME: "accepted", MESSAGE_ID: result.command_id})
        span.set_attribute("esgen.version", result.version)

    def refused(span: trace.Span, exc: BaseException) -> None:
        _failed(span, exc)
        if type(exc).__name__ == "CommandRejected":  # an answer: its reason says why
            span.set_attributes({OUTCOME: "rejected", REASON: getattr(exc, "reason", "")})
        elif type(exc).__name__ == "CommandFailed":
            span.set_attribute(OUTCOME, "failed")

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def send_async(client: Any, entity_id: Any, command: Any, **kwargs: Any) -> Any:
            if not _tracing():
                return await func(client, entity_id, command, **kwargs)
            with _now.tracer.start_as_current_span(
                f"send {client.command_topic}",
                kind=SpanKind.PRODUCER,
                attributes=attributes(client, entity_id, kwargs),
            ) as span:
                try:
                    result = await func(client, entity_id, command, **kwargs)
                except BaseException as exc:
                    refused(span, exc)
                    raise
                finished(span, result)
                return result

        return cast(F, send_async)

    @functools.wraps(func)
    def send(client: Any, entity_id: Any, command: Any, **kwargs: Any) -> Any:
        if not _tracing():
            return func(client, entity_id, command, **kwargs)
        with _now.tracer.start_as_current_span(
            f"send {client.command_topic}",
            kind=SpanKind.PRODUCER,
            attributes=attributes(client, entity_id, kwargs),
        ) as span:
            try:
                result = func(client, entity_id, command, **kwargs)
            except BaseException as exc:
                refused(span, exc)
                raise
            finished(span, result)
            return result

    return cast(F, send)


_batch_links: dict[int, list[Link]] = {}
"""Per partition being processed (``id`` of the processor's record of it): the spans of
the commands decided into its open batch, for the batch transaction's links."""


def traced_decide(func: F) -> F:
    """``CommandProcessor._decide`` with a span ``process <topic>.commands`` in the
    command's trace (its headers' context), current while its events are made."""

    @functools.wraps(func)
    def decide(processor: Any, owned: Any, msg: Any, *args: Any) -> None:
        if not _tracing():
            func(processor, owned, msg, *args)
            return
        context = _extract(msg.headers())
        key = msg.key()
        attributes: dict[str, Any] = {
            SYSTEM: "kafka",
            DESTINATION: msg.topic(),
            PARTITION: str(msg.partition()),
            OFFSET: msg.offset(),
            OPERATION_TYPE: "process",
            OPERATION_NAME: "decide",
            GROUP: processor.group_id,
            ENTITY: processor.descriptor.name,
        }
        if key is not None:
            attributes[KEY] = key.decode(errors="replace") if isinstance(key, bytes) else key
        headers = msg.headers() or []
        for header, attribute in (
            (H_COMMAND_ID, MESSAGE_ID),
            (H_CORRELATION_ID, CORRELATION),
            (H_CAUSATION_ID, CAUSATION),
        ):
            value = _header(headers, header)
            if value is not None:
                attributes[attribute] = value
        before = len(owned.batch.pending) if owned.batch is not None else 0
        with _now.tracer.start_as_current_span(
            f"process {msg.topic()}",
            context=context,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
        ) as span:
            try:
                func(processor, owned, msg, *args)
            except BaseException as exc:
                _failed(span, exc)
                raise
            batch = owned.batch
            if batch is None:
                return
            if batch.commands == 1:  # a new batch: the links of the last one are gone
                _batch_links[id(owned)] = []
            _batch_links.setdefault(id(owned), []).append(Link(span.get_span_context()))
            if len(batch.pending) > before:
                pending = batch.pending[-1]
                outcome = _outcome(pending)
                span.set_attributes({OUTCOME: outcome, "esgen.events": pending.count})
                if outcome == "rejected":
                    span.set_attribute(REASON, pending.reply.reason)
                elif outcome == "failed":
                    span.set_status(Status(StatusCode.ERROR, pending.reply.reason[:200]))

    return cast(F, decide)


def _outcome(pending: Any) -> str:
    if pending.again is not None or pending.same_as is not None:
        return DUPLICATE
    return str(pending.reply.outcome)


def traced_commit(func: F) -> F:
    """``CommandProcessor._commit`` (one batch's transaction) with a span linked to its
    commands' spans, and the commands it committed counted by outcome and reason."""

    @functools.wraps(func)
    def commit(processor: Any, consumer: Any, owned: Any) -> None:
        batch = owned.batch
        links = _batch_links.pop(id(owned), [])
        topic = processor.command_topic
        if not _tracing():
            func(processor, consumer, owned)
        else:
            with _now.tracer.start_as_current_span(
                f"commit {topic}",
                kind=SpanKind.PRODUCER,
                links=links,
                attributes={
                    SYSTEM: "kafka",
                    DESTINATION: topic,
                    PARTITION: str(owned.partition),
                    OPERATION_TYPE: "settle",
                    OPERATION_NAME: "commit",
                    GROUP: processor.group_id,
                    BATCH_COUNT: len(batch.pending) if batch is not None else 0,
                    "esgen.events": len(batch.events) if batch is not None else 0,
                },
            ) as span:
                try:
                    func(processor, consumer, owned)
                except BaseException as exc:
                    _failed(span, exc)
                    raise
        if batch is None:
            return
        instruments = _now.instruments
        for pending in batch.pending:
            outcome = _outcome(pending)
            instruments.commands.add(1, {SYSTEM: "kafka", DESTINATION: topic, OUTCOME: outcome})
            if outcome == "rejected":
                instruments.rejections.add(
                    1, {SYSTEM: "kafka", DESTINATION: topic, REASON: pending.reply.reason}
                )

    return cast(F, commit)


# -- dead letters and lag ------------------------------------------------------------------


def dead_letter(
    topic: str, partition: int, offset: int, stage: str, error: BaseException, consumer: str
) -> None:
    """Count a record written to a dead-letter topic (and tell the batch being traced)."""
    error_type = type(error).__name__
    _now.instruments.dead_letters.add(
        1,
        {
            SYSTEM: "kafka",
            DESTINATION: topic,
            STAGE: stage,
            ERROR_TYPE: error_type,
            CONSUMER: consumer,
        },
    )
    batch = _batch.get()
    if batch is not None:
        batch.dead[(topic, partition, offset)] = (stage, error_type)


def watch_lag(runner: ProjectionRunner) -> None:
    """Report ``runner.lag()`` in ``esgen.projection.lag`` while the runner exists."""
    with _runners_lock:
        _runners.add(runner)


def _observe_lag(_options: CallbackOptions) -> Iterator[Observation]:
    with _runners_lock:
        runners = list(_runners)
    for runner in runners:
        lag = runner.lag()
        if lag is not None:
            yield Observation(
                lag,
                {
                    SYSTEM: "kafka",
                    PROJECTION: runner.projection.name,
                    GROUP: runner.group_id,
                },
            )


_now = _Providers()  # last: its instruments name the callbacks above
