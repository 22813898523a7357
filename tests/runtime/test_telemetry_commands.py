"""Issue 12 item 2 for commands, on the real broker and registry with the SDK's in-memory
exporter and reader: one trace from a caller's span through ``CommandClient.send``, the
command processor's decision and its events to the projection that applies them; a span
per batch transaction linked to its commands; commands and rejections counted by outcome
and reason."""

from __future__ import annotations

import decimal
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from esgen.runtime import CommandClient, CommandRejected, EntityDescriptor
from esgen.runtime.models import InMemoryModelStore
from esgen.runtime.subjects import command_topic
from generated.bank import account
from tests.runtime.processing import running
from tests.runtime.projection_support import Balances
from tests.runtime.telemetry_support import Otel, otel
from tests.runtime.test_projections import make_runner

pytestmark = [pytest.mark.kafka, pytest.mark.registry]
__all__ = ["make_runner", "otel"]  # the fixtures

D = decimal.Decimal


def test_one_trace_follows_a_command_through_its_events_to_the_projection(
    otel: Otel,
    command_entity: EntityDescriptor[Any, Any],
    kafka_bootstrap: str,
    registry_url: str,
    make_runner: Callable[..., Any],
) -> None:
    commands = command_topic(command_entity.topic)
    with (
        running(command_entity, kafka_bootstrap, registry_url) as processor,
        CommandClient(command_entity, kafka_bootstrap, registry_url, auto_register=True) as client,
    ):
        with otel.tracer.start_as_current_span("open account request") as request:
            opened = client.send("acc-1", account.OpenAccount(owner="Ann"), correlation_id="c-1")
        deposited = client.send("acc-1", account.Deposit(amount=D("5.00")))
        with pytest.raises(CommandRejected, match="insufficient funds"):
            client.send("acc-1", account.Withdraw(amount=D("100.00")))
        processor.stop()
    assert (opened.version, deposited.version) == (1, 2)
    model = InMemoryModelStore()
    make_runner(command_entity.topic, model, projection=Balances()).run(until_caught_up=True)
    assert model.snapshot()["balance/acc-1"] == D("5.00")

    trace_id = request.get_span_context().trace_id
    in_trace = [
        s
        for s in otel.spans.get_finished_spans()
        if s.context is not None and s.context.trace_id == trace_id
    ]
    by_name = {s.name: s for s in in_trace}
    assert sorted(by_name) == sorted(
        [
            "open account request",
            f"send {commands}",
            f"process {commands}",
            f"process {command_entity.topic}",
        ]
    )
    assert len(in_trace) == 4
    send, decide = by_name[f"send {commands}"], by_name[f"process {commands}"]
    applied = by_name[f"process {command_entity.topic}"]
    # request -> send -> the processor's decision -> the projection applying its event
    assert send.parent is not None and send.parent.span_id == request.get_span_context().span_id
    assert decide.parent is not None and decide.parent.span_id == send.context.span_id  # type: ignore[union-attr]
    assert applied.parent is not None and applied.parent.span_id == decide.context.span_id  # type: ignore[union-attr]
    assert send.kind is SpanKind.PRODUCER and decide.kind is SpanKind.CONSUMER
    assert (send.attributes or {})["esgen.outcome"] == "accepted"
    assert (send.attributes or {})["messaging.message.id"] == opened.command_id
    assert (send.attributes or {})["esgen.correlation_id"] == "c-1"
    decided = dict(decide.attributes or {})
    assert decided["esgen.outcome"] == "accepted"
    assert decided["esgen.events"] == 1
    assert decided["esgen.correlation_id"] == "c-1"
    assert decided["messaging.message.id"] == opened.command_id
    assert decided["messaging.kafka.message.key"] == "acc-1"
    assert (applied.attributes or {})["esgen.causation_id"] == opened.command_id

    # The refused withdrawal: its decision says why, in a trace of its own.
    decisions = otel.finished(f"process {commands}")
    (rejected,) = [s for s in decisions if (s.attributes or {})["esgen.outcome"] == "rejected"]
    assert (rejected.attributes or {})["esgen.reason"] == "insufficient funds"
    assert rejected.status.status_code is StatusCode.UNSET  # a rejection is an answer
    (refusal,) = [
        s
        for s in otel.finished(f"send {commands}")
        if (s.attributes or {}).get("esgen.outcome") == "rejected"
    ]
    assert (refusal.attributes or {})["esgen.reason"] == "insufficient funds"
    assert (refusal.attributes or {})["error.type"] == "CommandRejected"
    # Each batch transaction is a span linked to the decisions it committed.
    commits = otel.finished(f"commit {commands}")
    assert commits and all(c.parent is None for c in commits)
    linked = {link.context.span_id for c in commits for link in c.links}
    assert linked == {s.context.span_id for s in decisions if s.context is not None}

    outcomes = {p.attributes["esgen.outcome"]: p.value for p in otel.points("esgen.commands")}
    assert outcomes == {"accepted": 2, "rejected": 1}
    (reason,) = otel.points("esgen.commands.rejected")
    assert reason.value == 1
    assert reason.attributes["esgen.reason"] == "insufficient funds"
    assert reason.attributes["messaging.destination.name"] == commands
