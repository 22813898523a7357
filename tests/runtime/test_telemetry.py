"""Issue 12 item 2 on the real broker and registry, with the OpenTelemetry SDK's
in-memory span exporter and metric reader: the spans and metrics of appends, loads and
projection batches, the trace context in the events' headers, and one trace from a
caller's span through the append to the projection that applies the events."""

from __future__ import annotations

import decimal
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from esgen.runtime import ConcurrencyError, EntityDescriptor
from esgen.runtime.meta import EventMeta
from esgen.runtime.models import InMemoryModelStore, ReadModel
from esgen.runtime.projections import handles
from generated.bank import account
from tests.runtime.conftest import StoreFactory
from tests.runtime.projection_support import Balances, read_topic
from tests.runtime.telemetry_support import Otel, otel
from tests.runtime.test_projections import make_runner

pytestmark = [pytest.mark.kafka, pytest.mark.registry]
__all__ = ["make_runner", "otel"]  # the fixtures

D = decimal.Decimal


class Picky(Balances):
    """Balances that cannot take a tag."""

    name = "picky"

    @handles(account.AccountTagged)
    def tagged(self, model: ReadModel, event: account.AccountTagged, meta: EventMeta) -> None:
        raise ValueError(f"cannot take tag {event.tag!r}")


def header(msg: Any, name: str) -> str | None:
    for key, value in msg.headers() or []:
        if key == name:
            return str(value.decode())
    return None


def store_event_ids(store: Any) -> list[Any]:
    return [meta.event_id for _, meta in store.read("acc-1")]


def traceparent(span: ReadableSpan) -> str:
    context = span.get_span_context()
    assert context is not None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def test_an_append_is_a_span_whose_context_its_events_carry(
    otel: Otel,
    make_store: StoreFactory,
    account_entity: EntityDescriptor[Any, Any],
    kafka_bootstrap: str,
) -> None:
    store = make_store(account_entity)
    with otel.tracer.start_as_current_span("handle request") as request:
        positions = store.append(
            "acc-1",
            [account.AccountOpened(owner="Ann"), account.MoneyDeposited(amount=D("5.00"))],
            expected_version=0,
            correlation_id="conversation-1",
            causation_id="request-1",
        )
    (append,) = otel.finished(f"append {store.topic}")
    assert append.kind is SpanKind.PRODUCER
    assert append.parent is not None
    assert append.parent.span_id == request.get_span_context().span_id
    assert append.context is not None
    assert append.context.trace_id == request.get_span_context().trace_id
    assert dict(append.attributes or {}) == {
        "messaging.system": "kafka",
        "messaging.destination.name": store.topic,
        "messaging.destination.partition.id": "0",
        "messaging.kafka.offset": positions[0].offset,
        "messaging.kafka.message.key": "acc-1",
        "messaging.operation.type": "send",
        "messaging.operation.name": "append",
        "messaging.batch.message_count": 2,
        "esgen.entity": "Account",
        "esgen.version": 2,
        "esgen.expected_version": 0,
        "esgen.correlation_id": "conversation-1",
        "esgen.causation_id": "request-1",
    }
    records = read_topic(kafka_bootstrap, store.topic, 2)
    assert [header(msg, "traceparent") for msg in records] == [traceparent(append)] * 2

    (point,) = otel.points("esgen.append.duration")
    assert point.count == 1 and point.sum > 0
    assert dict(point.attributes) == {
        "messaging.system": "kafka",
        "messaging.destination.name": store.topic,
    }


def test_a_refused_append_is_an_error_span_and_is_timed_with_its_error_type(
    otel: Otel, make_store: StoreFactory, account_entity: EntityDescriptor[Any, Any]
) -> None:
    store = make_store(account_entity)
    store.append("acc-1", [account.AccountOpened(owner="Ann")])
    with pytest.raises(ConcurrencyError):
        store.append("acc-1", [account.AccountTagged(tag="late")], expected_version=0)
    first, refused = otel.finished(f"append {store.topic}")
    assert first.status.status_code is StatusCode.UNSET
    assert refused.status.status_code is StatusCode.ERROR
    assert (refused.attributes or {})["error.type"] == "ConcurrencyError"
    assert [event.name for event in refused.events] == ["exception"]
    by_error = {
        point.attributes.get("error.type"): point.count
        for point in otel.points("esgen.append.duration")
    }
    assert by_error == {None: 1, "ConcurrencyError": 1}


def test_a_load_is_a_span_and_counts_the_events_it_replayed(
    otel: Otel, make_store: StoreFactory, account_entity: EntityDescriptor[Any, Any]
) -> None:
    writer = make_store(account_entity)
    writer.append("acc-1", [account.AccountOpened(owner="Ann")])
    writer.append("acc-1", [account.MoneyDeposited(amount=D("1.00"))] * 3)
    reader = make_store(account_entity)
    assert reader.load("acc-1").balance == D("3.00")
    assert reader.load("acc-1").balance == D("3.00")  # current: nothing to replay
    cold, warm = otel.finished(f"load {writer.topic}")
    assert cold.kind is SpanKind.CLIENT
    assert (cold.attributes or {})["esgen.events_replayed"] == 4
    assert (warm.attributes or {})["esgen.events_replayed"] == 0
    assert (cold.attributes or {})["messaging.kafka.message.key"] == "acc-1"
    loads = [p for p in otel.points("esgen.load.events")]
    assert [(p.count, p.sum, p.max) for p in loads] == [(2, 4, 4)]


def test_one_trace_follows_a_request_through_its_events_to_the_projection(
    otel: Otel,
    make_store: StoreFactory,
    make_runner: Callable[..., Any],
    account_entity: EntityDescriptor[Any, Any],
) -> None:
    store = make_store(account_entity)
    with otel.tracer.start_as_current_span("open account") as request:
        opening = [account.AccountOpened(owner="Ann"), account.MoneyDeposited(amount=D("5.00"))]
        store.append("acc-1", opening, correlation_id="c-1")
    with otel.tracer.start_as_current_span("deposit") as other:
        store.append("acc-2", [account.AccountOpened(owner="Bo")])
        store.append("acc-2", [account.AccountTagged(tag="poison")])
    model = InMemoryModelStore()
    lags: list[int] = []

    def observe(runner: Any) -> None:
        lags.extend(point.value for point in otel.points("esgen.projection.lag"))

    runner = make_runner(store.topic, model, projection=Picky(), batch_size=2, on_batch=observe)
    stats = runner.run(until_caught_up=True)
    assert (stats.processed, stats.dead_lettered) == (3, 1)

    appends = otel.finished(f"append {store.topic}")
    processed = otel.finished(f"process {store.topic}")
    applied = [s for s in processed if "messaging.kafka.offset" in (s.attributes or {})]
    batches = [s for s in processed if s not in applied]
    # One span per append and batch, in the trace of the request that appended the events,
    # under its append: acc-1's two events were one append (in one batch, or in two).
    trace_id = request.get_span_context().trace_id
    opened = [s for s in applied if (s.attributes or {})["messaging.kafka.message.key"] == "acc-1"]
    assert (
        sum(int((s.attributes or {}).get("messaging.batch.message_count", 1)) for s in opened) == 2
    )
    for span in opened:
        assert span.context is not None and span.context.trace_id == trace_id
        assert span.parent is not None
        assert span.parent.span_id == appends[0].context.span_id  # type: ignore[union-attr]
    first = opened[0]
    attributes = dict(first.attributes or {})
    if attributes.pop("messaging.batch.message_count", 1) == 1:
        assert attributes.pop("messaging.message.id") == str(store_event_ids(store)[0])
    assert attributes == {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "apply",
        "messaging.destination.name": store.topic,
        "messaging.destination.partition.id": "0",
        "messaging.kafka.offset": 0,
        "messaging.kafka.message.key": "acc-1",
        "messaging.consumer.group.name": runner.group_id,
        "esgen.projection": "picky",
        "esgen.correlation_id": "c-1",
    }
    assert first.status.status_code is StatusCode.UNSET
    names = sorted(
        s.name
        for s in otel.spans.get_finished_spans()
        if s.context is not None and s.context.trace_id == trace_id
    )
    assert names == sorted(["open account", f"append {store.topic}"] + [first.name] * len(opened))
    # The batch spans are roots of their own, linked to the appends' contexts.
    assert sum(len(batch.links) for batch in batches) == len(applied)
    for batch in batches:
        assert batch.parent is None
        assert batch.kind is SpanKind.CONSUMER
    # The poison tag went to the dead-letter topic: an error in the deposit's trace.
    (failed,) = [s for s in applied if s.status.status_code is StatusCode.ERROR]
    assert failed.context is not None
    assert failed.context.trace_id == other.get_span_context().trace_id
    assert (failed.attributes or {})["esgen.dlq.stage"] == "handle"
    assert (failed.attributes or {})["error.type"] == "ValueError"
    assert (failed.attributes or {})["esgen.dead_lettered"] == 1
    (dead,) = otel.points("esgen.dead_letters")
    assert dead.value == 1
    assert dict(dead.attributes) == {
        "messaging.system": "kafka",
        "messaging.destination.name": store.topic,
        "esgen.dlq.stage": "handle",
        "error.type": "ValueError",
        "esgen.consumer": "projection picky",
    }
    # Lag was observed while the runner ran (records behind after the first batch).
    assert lags and lags[0] > 0, lags
    assert otel.points("esgen.projection.lag") == []  # stopped: nothing to report


def test_without_an_sdk_nothing_is_traced_and_no_header_is_added(
    make_store: StoreFactory, account_entity: EntityDescriptor[Any, Any], kafka_bootstrap: str
) -> None:
    from esgen.runtime.telemetry import otel

    assert not otel._tracing(), "a global tracer provider is set: this test needs none"
    store = make_store(account_entity)
    store.append("acc-1", [account.AccountOpened(owner="Ann")])
    (record,) = read_topic(kafka_bootstrap, store.topic, 1)
    assert [name for name, _ in record.headers()] == [
        "esgen.type",
        "esgen.event_id",
        "esgen.version",
        "esgen.timestamp",
    ]
