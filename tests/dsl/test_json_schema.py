"""The editor schema (esgen/definition.schema.json) accepts the examples and catches typos."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).parents[2]
SCHEMA = json.loads((ROOT / "esgen" / "definition.schema.json").read_text())


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_schema_is_valid_draft_07() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("name", ["bank/account.yaml", "shop/order.yaml"])
def test_examples_validate(name: str) -> None:
    path = ROOT / "schemas" / name
    assert path.read_text().startswith(
        "# yaml-language-server: $schema=../../esgen/definition.schema.json\n"
    )
    jsonschema.validate(_load(path), SCHEMA)


def test_unknown_top_level_key_is_rejected() -> None:
    data = _load(ROOT / "schemas" / "bank" / "account.yaml")
    data["namepsace"] = data.pop("namespace")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, SCHEMA)


def test_fold_step_with_two_operations_is_rejected() -> None:
    data = _load(ROOT / "schemas" / "bank" / "account.yaml")
    data["events"]["AccountOpened"]["fold"][0]["add"] = {"balance": 1}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, SCHEMA)
