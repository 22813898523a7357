"""``esgen tail`` and ``esgen replay`` through click's CliRunner, on the real services."""

from __future__ import annotations

import decimal
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from esgen.cli import main
from esgen.cli.runtime import Progress
from esgen.runtime.models import SqliteModelStore
from generated.bank import account
from tests.runtime.projection_support import EventProducer, balances_of, history

SPEC = "tests.runtime.projection_support:Balances"


@pytest.fixture
def env(kafka_bootstrap: str, registry_url: str) -> dict[str, str]:
    return {"ESGEN_BOOTSTRAP": kafka_bootstrap, "ESGEN_REGISTRY_URL": registry_url}


@pytest.fixture
def filled_topic(
    kafka_bootstrap: str, registry_url: str, new_topic: Callable[..., str]
) -> tuple[str, EventProducer]:
    topic = new_topic("accounts", partitions=2)
    producer = EventProducer(kafka_bootstrap, registry_url, topic)
    producer.send(
        [
            ("acc-1", 1, account.AccountOpened(owner="Ann")),
            ("acc-2", 1, account.AccountOpened(owner="Bob")),
            ("acc-1", 2, account.MoneyDeposited(amount=decimal.Decimal("10.00"))),
            ("acc-2", 2, account.MoneyDeposited(amount=decimal.Decimal("7.50"))),
            ("acc-1", 3, account.MoneyWithdrawn(amount=decimal.Decimal("2.25"))),
        ]
    )
    return topic, producer


def test_tail_prints_events_from_the_beginning(
    env: dict[str, str], filled_topic: tuple[str, EventProducer]
) -> None:
    topic, producer = filled_topic
    producer.raw("acc-1", b"garbage")
    result = CliRunner().invoke(
        main,
        ["tail", "generated.bank.account", "--topic", topic, "--from-beginning", "--until-end"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 5
    assert any('acc-1  v2  MoneyDeposited  {"amount": "10.00"}' in line for line in lines), lines
    assert lines[0].startswith("2026-01-01T00:00:00+00:00  ")
    assert "\r" not in result.stdout  # no progress line when stdout is not a terminal
    assert "undecodable record" in result.stderr
    assert "magic byte" in result.stderr


def test_tail_filters_one_entity_and_stops_after_max_events(
    env: dict[str, str], filled_topic: tuple[str, EventProducer]
) -> None:
    topic, _ = filled_topic
    args = ["tail", "generated.bank.account", "--topic", topic, "--from-beginning"]
    result = CliRunner().invoke(main, [*args, "--entity", "acc-1", "--until-end"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split("  ")[1:3] for line in lines] == [["acc-1", f"v{v}"] for v in (1, 2, 3)]
    result = CliRunner().invoke(main, [*args, "--max-events", "2"], env=env)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 2


def test_tail_errors(env: dict[str, str], unique_name: Callable[[str], str]) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["tail", "no.such.module"], env=env)
    assert result.exit_code == 2
    assert "cannot import no.such.module" in result.output
    result = runner.invoke(main, ["tail", "esgen.runtime"], env=env)
    assert result.exit_code == 2
    assert "not an entity descriptor" in result.output
    missing = unique_name("missing")
    result = runner.invoke(
        main, ["tail", "generated.bank.account", "--topic", missing, "--until-end"], env=env
    )
    assert result.exit_code == 1
    assert f"topic {missing} does not exist" in result.stderr
    assert "Traceback" not in result.output
    result = runner.invoke(main, ["tail", "generated.bank.account"], env={"ESGEN_BOOTSTRAP": ""})
    assert result.exit_code == 2
    assert "no Kafka bootstrap servers" in result.output


def test_replay_rebuilds_into_a_sqlite_model(
    env: dict[str, str],
    filled_topic: tuple[str, EventProducer],
    kafka_bootstrap: str,
    registry_url: str,
    tmp_path: Path,
) -> None:
    topic, producer = filled_topic
    events = history(accounts=3, per_account=5, first=10)
    producer.send(events.events)
    db = tmp_path / "balances.db"
    args = ["replay", SPEC, "--topic", f"Account={topic}", "--db", str(db), "--print-model"]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    assert "replayed balances: 20 events applied, 0 skipped, 0 dead-lettered" in result.stdout
    assert 'balance/acc-1\t"7.75"' in result.stdout
    model = SqliteModelStore(db)
    expected = {"acc-1": decimal.Decimal("7.75"), "acc-2": decimal.Decimal("7.50")}
    assert balances_of(model.snapshot()) == {**expected, **events.balances()}
    model.close()

    # Again: the model is emptied first, so nothing is counted twice.
    again = CliRunner().invoke(main, args, env=env)
    assert again.exit_code == 0, again.output
    assert balances_of(SqliteModelStore(db).snapshot()) == {**expected, **events.balances()}


def test_replay_errors(env: dict[str, str], unique_name: Callable[[str], str]) -> None:
    runner = CliRunner()
    for spec, message in [
        ("tests.runtime.projection_support", "expected MODULE:PROJECTION"),
        ("tests.runtime.projection_support:Nope", "is nothing, not a Projection"),
        ("tests.runtime.projection_support:ZERO", "is Decimal, not a Projection"),
    ]:
        result = runner.invoke(main, ["replay", spec], env=env)
        assert result.exit_code == 2, result.output
        assert message in result.output
    result = runner.invoke(main, ["replay", SPEC, "--topic", "Order=x"], env=env)
    assert result.exit_code == 2
    assert "'Order' is not an entity of balances (it reads Account)" in result.output
    missing = unique_name("missing")
    result = runner.invoke(main, ["replay", SPEC, "--topic", f"Account={missing}"], env=env)
    assert result.exit_code == 1
    assert f"topic {missing} does not exist" in result.stderr
    assert "Traceback" not in result.output


def test_progress_line_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    quiet = Progress(enabled=False)
    assert not quiet.due()
    shown = Progress(enabled=True, interval=0.0)
    assert shown.due()
    shown.show(1500, 42, "records")
    shown.clear()
    text = out.getvalue()
    assert text.startswith("\r\x1b[K1,500 records  ")
    assert "/s  lag 42" in text
    assert text.endswith("\r\x1b[K")
