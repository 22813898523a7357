"""Issue 12 item 3 on the real broker and registry: a poison record goes to the
dead-letter topic, the projection is fixed, ``esgen dlq redrive`` asks for it again,
and the fixed runner applies it exactly once, however often it is redriven; a redrive
that fails again is dead-lettered again; a running runner picks redrives up and the CLI
waits for its answers; the event store's letters are never redriven."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from confluent_kafka import Producer

from esgen.runtime import EntityDescriptor, deadletter
from esgen.runtime.kafka import KafkaClients
from esgen.runtime.redrive import DeadLetterLog
from generated.bank import account
from tests.runtime.conftest import StoreFactory
from tests.runtime.dlq_support import BrokenLedger, FixedLedger, Setup, deposits, setup
from tests.runtime.projection_support import read_topic, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.registry]
__all__ = ["setup"]  # the fixture


def poison(setup: Setup) -> None:
    """Two accounts whose 7.25 deposits the broken ledger cannot take, and a record that
    is no event at all."""
    setup.producer.send(deposits("acc-1", "1.00", "7.25", "2.00"))
    setup.producer.send(deposits("acc-2", "7.25", "3.00"))
    setup.producer.raw("acc-3", b"\x07not an event")


def lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line]


def test_a_fixed_projection_applies_a_redriven_record_once(setup: Setup) -> None:
    poison(setup)
    broken = setup.run(BrokenLedger())
    assert (broken.processed, broken.dead_lettered) == (3, 3)
    assert setup.model() == {"acc-1": Decimal("3.00"), "acc-2": Decimal("3.00")}
    listed = setup.cli("list", "--topic", setup.topic)
    assert listed.exit_code == 0, listed.output
    assert len(lines(listed.stdout)) == 3
    assert all(line.endswith("dead-lettered") for line in lines(listed.stdout))
    assert "3 letters: 3 dead-lettered" in listed.stderr

    # The fix is deployed; the undecodable record cannot be fixed and stays.
    asked = setup.cli("redrive", "--topic", setup.topic, "--stage", "handle")
    assert asked.exit_code == 0, asked.output
    assert f"requested 2 redrives in {setup.topic}.dlq (projection ledger: 2)" in asked.stdout
    fixed = setup.run(FixedLedger())
    assert (fixed.redriven, fixed.redrive_failed, fixed.processed) == (2, 0, 0)
    balances = {"acc-1": Decimal("10.25"), "acc-2": Decimal("10.25")}
    assert setup.model() == balances

    again = setup.cli("redrive", "--topic", setup.topic, "--stage", "handle")
    assert again.exit_code == 0, again.output
    assert "requested 0 redrives" in again.stdout
    assert "2 letters left alone: redriven before" in again.stderr
    forced = setup.cli("redrive", "--topic", setup.topic, "--stage", "handle", "--again")
    assert "requested 2 redrives" in forced.stdout
    for _ in range(2):  # a restart reads the requests it answered again: nothing twice
        assert setup.run(FixedLedger()).redriven == 0
    assert setup.model() == balances

    applied = setup.cli("list", "--topic", setup.topic, "--status", "applied")
    assert len(lines(applied.stdout)) == 2
    shown = setup.cli("show", "--topic", setup.topic, "--entity", "acc-2")
    assert shown.exit_code == 0, shown.output
    assert "status     applied" in shown.stdout
    assert "redrive 0@" in shown.stdout and " applied" in shown.stdout
    assert "skipped: the model holds no dead letter of this record" in shown.stdout
    left = setup.cli("list", "--topic", setup.topic, "--status", "dead-lettered")
    assert [line.split("  ")[4] for line in lines(left.stdout)] == ["decode"]


def test_a_running_runner_answers_redrives_and_the_cli_waits(setup: Setup) -> None:
    """A redrive that fails again (the fix is not deployed yet) is dead-lettered again
    and waits for the next; the runner that runs the fix applies it while it runs."""
    poison(setup)
    setup.run(BrokenLedger())

    def running(projection: Any) -> tuple[Any, threading.Thread]:
        runner = setup.runner(projection, redrive_interval=0.2, poll_timeout=0.1)
        thread = threading.Thread(target=runner.run, kwargs={"handle_signals": False})
        thread.start()
        wait_for(lambda: runner.lag() == 0, 60, "the runner to catch up")
        return runner, thread

    runner, thread = running(BrokenLedger())
    try:
        failed = setup.cli("redrive", "--topic", setup.topic, "--entity", "acc-1", "--wait", "30")
        assert failed.exit_code == 1, failed.output
        assert "0 applied, 0 skipped, 1 failed again" in failed.stdout
        assert "failed again: cannot take 7.25" in failed.stderr
    finally:
        runner.stop()
        thread.join(30)
    listed = setup.cli("list", "--topic", setup.topic, "--entity", "acc-1")
    assert "dead-lettered (failed again after redrive 0@" in listed.stdout

    runner, thread = running(FixedLedger())
    try:
        done = setup.cli("redrive", "--topic", setup.topic, "--entity", "acc-1", "--wait", "30")
        assert done.exit_code == 0, done.output
        assert "1 applied, 0 skipped, 0 failed again" in done.stdout
        assert runner.stats.redriven == 1
    finally:
        runner.stop()
        thread.join(30)
    assert setup.model() == {"acc-1": Decimal("10.25"), "acc-2": Decimal("3.00")}


def test_after_a_replay_with_the_fix_a_redrive_changes_nothing(setup: Setup) -> None:
    poison(setup)
    setup.run(BrokenLedger())
    replayed = setup.runner(FixedLedger()).replay()  # the model applies them itself now
    assert replayed.processed == 5
    balances = {"acc-1": Decimal("10.25"), "acc-2": Decimal("10.25")}
    assert setup.model() == balances
    asked = setup.cli("redrive", "--topic", setup.topic, "--stage", "handle")
    assert "requested 2 redrives" in asked.stdout
    answered = setup.run(FixedLedger())
    assert (answered.redriven, answered.redrive_failed) == (0, 0)
    assert setup.model() == balances
    skipped = setup.cli("list", "--topic", setup.topic, "--status", "skipped")
    assert len(lines(skipped.stdout)) == 2
    assert "it applied it already" in skipped.stdout


def test_the_event_stores_letters_are_never_redriven(
    account_entity: EntityDescriptor[Any, Any],
    make_store: StoreFactory,
    kafka_bootstrap: str,
    registry_url: str,
) -> None:
    store = make_store(account_entity)
    store.append("acc-1", [account.AccountOpened(owner="Ann")])
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(store.topic, None, b"acc-1", partition=0)  # a tombstone
    assert producer.flush(30) == 0
    try:
        assert store.version("acc-1") == 1  # skipped and dead-lettered
        read_topic(kafka_bootstrap, f"{store.topic}.dlq", expected=1)
        tools = Setup(store.topic, None, kafka_bootstrap, registry_url, None)  # type: ignore[arg-type]
        asked = tools.cli("redrive", "--topic", store.topic)
        assert asked.exit_code == 0, asked.output
        assert "requested 0 redrives" in asked.stdout
        assert "1 letters of event store of Account are not redriven" in asked.stderr
        shown = tools.cli("show", "--topic", store.topic)
        assert "value      none (a tombstone)" in shown.stdout
        assert "consumer   event store of Account" in shown.stdout
    finally:
        from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]

        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        admin.delete_topics([f"{store.topic}.dlq"])[f"{store.topic}.dlq"].result(timeout=30)


def test_a_forged_redrive_request_cannot_change_what_is_applied(setup: Setup) -> None:
    """Whoever may write to the dead-letter topic can ask for a redrive, but what is
    applied is the record the event topic holds at that place, not the request's copy."""
    poison(setup)
    setup.run(BrokenLedger())
    with DeadLetterLog(KafkaClients(setup.bootstrap)) as log:
        [letter] = [x for x in log.letters(setup.topic) if x.latest.entity_id == "acc-2"]
    _, forged_value = setup.producer.serde.encode_event(
        account.MoneyDeposited(amount=Decimal("1000.00"))
    )
    nowhere = letter.place._replace(offset=999)
    producer = Producer({"bootstrap.servers": setup.bootstrap})
    for place in (letter.place, nowhere):
        producer.produce(
            f"{setup.topic}.dlq",
            key=b"acc-2",
            value=forged_value,
            headers=[
                *letter.latest.source_headers(),
                (deadletter.H_KIND, b"redrive"),
                *deadletter.place_headers(place, "projection ledger"),
            ],
        )
    assert producer.flush(30) == 0
    answered = setup.run(FixedLedger())
    assert answered.redriven == 1
    assert setup.model()["acc-2"] == Decimal("10.25")  # 7.25 + 3.00, not 1,003.00
    shown = setup.cli("show", "--topic", setup.topic, "--entity", "acc-2")
    assert "status     applied" in shown.stdout
    with DeadLetterLog(KafkaClients(setup.bootstrap)) as log:
        outcomes = [e for e in log.read(setup.topic) if e.kind == deadletter.OUTCOME]
    assert sorted((e.place.offset, e.outcome) for e in outcomes) == [
        (letter.place.offset, "applied"),
        (999, "skipped"),
    ]
    [missing] = [e.detail for e in outcomes if e.outcome == "skipped"]
    assert missing == f"{setup.topic} has no record at {nowhere} any more"


def test_the_command_processors_letters_are_not_redriven_and_the_cli_says_what_to_do(
    command_entity: EntityDescriptor[Any, Any], kafka_bootstrap: str, registry_url: str
) -> None:
    """A record of the command topic that is no command was answered 'failed': the fix is
    a corrected command sent again, so a redrive of the command topic requests nothing and
    says so (not that it is an event-topic notice)."""
    from tests.runtime.processing import running, wait_reply

    commands = f"{command_entity.topic}.commands"
    with running(command_entity, kafka_bootstrap, registry_url):
        producer = Producer({"bootstrap.servers": kafka_bootstrap})
        producer.produce(
            commands, b"not avro", b"acc-1", headers=[("esgen.command_id", b"c-garbage")]
        )
        assert producer.flush(30) == 0
        assert wait_reply(kafka_bootstrap, command_entity.topic, "c-garbage").outcome == "failed"
    tools = Setup(command_entity.topic, None, kafka_bootstrap, registry_url, None)  # type: ignore[arg-type]
    listed = tools.cli("list", "--topic", commands)
    assert listed.exit_code == 0, listed.output
    assert "command processor of Account" in listed.stdout
    asked = tools.cli("redrive", "--topic", commands)
    assert asked.exit_code == 0, asked.output
    assert "requested 0 redrives" in asked.stdout
    consumer = "command processor of Account (group "
    assert f"1 letters of {consumer}" in asked.stderr
    assert "each was answered 'failed' (its command id is free)" in asked.stderr
    assert "send the corrected command again" in asked.stderr
    entries = DeadLetterLog(KafkaClients(kafka_bootstrap)).read(commands)
    assert [e.kind for e in entries] == [deadletter.LETTER]  # no redrive request written
