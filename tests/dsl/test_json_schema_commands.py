"""The editor schema knows commands: it accepts the example domain's and catches their typos."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).parents[2]
SCHEMA = json.loads((ROOT / "esgen" / "definition.schema.json").read_text())
ACCOUNT = yaml.safe_load((ROOT / "schemas" / "bank" / "account.yaml").read_text())


def _with(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(ACCOUNT)
    change(data["commands"])
    return data


def test_the_example_commands_validate() -> None:
    assert ACCOUNT["commands"]["Transfer"]["decide"] == "example_rules.bank:transfer"
    jsonschema.validate(ACCOUNT, SCHEMA)
    jsonschema.validate(_with(lambda c: c["Close"].update(emits=["AccountClosed"])), SCHEMA)


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c["Withdraw"].update(emit=c["Withdraw"].pop("emits")),
        lambda c: c["Transfer"].update(emits=[{"MoneyWithdrawn": {"amount": 1}}]),
        lambda c: c["Transfer"].pop("decide"),
        lambda c: c["Withdraw"]["requires"].append({"check": "true"}),
        lambda c: c["Withdraw"]["requires"].append({"check": "true", "reason": ""}),
        lambda c: c["Withdraw"].update(emits=[]),
        lambda c: c["Transfer"].update(decide="not a function"),
        lambda c: c.update(withdraw=c.pop("Withdraw")),
        lambda c: c["Close"].update(emits=["account_closed"]),
    ],
    ids=[
        "unknown-key",
        "emits-and-decide",
        "neither",
        "no-reason",
        "empty-reason",
        "no-events",
        "bad-function",
        "not-pascal-case",
        "bad-event-name",
    ],
)
def test_command_mistakes_are_caught(change: Any) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_with(change), SCHEMA)
