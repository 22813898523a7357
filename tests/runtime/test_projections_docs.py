"""The projections examples of docs/runtime.md run as written: the API example on a topic
of its own, the unit-test example with no services."""

from __future__ import annotations

import decimal
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from generated.bank import account
from tests.runtime.projection_support import EventProducer

DOC = Path(__file__).parents[2] / "docs" / "runtime.md"


def test_the_api_example_runs(
    kafka_bootstrap: str,
    registry_url: str,
    new_topic: Callable[..., str],
    unique_name: Callable[[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    section = DOC.read_text().split("## Projections", 1)[1]
    block = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    topic = new_topic("accounts")
    EventProducer(kafka_bootstrap, registry_url, topic).send(
        [
            ("acc-1", 1, account.AccountOpened(owner="Ann")),
            ("acc-1", 2, account.MoneyDeposited(amount=decimal.Decimal("10.00"))),
            ("acc-1", 3, account.MoneyWithdrawn(amount=decimal.Decimal("2.25"))),
        ]
    )
    monkeypatch.setenv("ESGEN_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("ESGEN_REGISTRY_URL", registry_url)
    code = (
        block.replace('"bank.accounts"', repr(topic))
        .replace('"balances.db"', repr(str(tmp_path / "balances.db")))
        .replace('group_id="balances"', f"group_id={unique_name('group')!r}")
    )
    exec(compile(code, str(DOC), "exec"), {"__name__": "docs_example"})
    out = capsys.readouterr().out
    assert "{'balance/acc-1': Decimal('7.75')}" in out
    assert "RunnerStats(processed=3, skipped=0, dead_lettered=0" in out


def test_the_projection_unit_test_example_runs_without_services() -> None:
    section = DOC.read_text().split("### Testing a projection without Kafka", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section.split("\n### ", 1)[0], re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], str(DOC), "exec"), {"__name__": "docs_example"})
