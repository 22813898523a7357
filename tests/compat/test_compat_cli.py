"""``esgen compat`` through click's CliRunner: exit codes, messages, JSON output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from esgen.cli import main

OLD = {
    "type": "record",
    "name": "MoneyDeposited",
    "namespace": "com.example.bank",
    "fields": [{"name": "account", "type": "string"}],
}
ADDED = {**OLD, "fields": [*OLD["fields"], {"name": "amount", "type": "long"}]}
ADDED_WITH_DEFAULT = {
    **OLD,
    "fields": [*OLD["fields"], {"name": "amount", "type": "long", "default": 0}],
}


def write(tmp_path: Path, name: str, schema: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(schema))
    return str(path)


def run(*args: str) -> Any:
    return CliRunner().invoke(main, ["compat", *args])


def test_compatible_exits_0(tmp_path: Path) -> None:
    old = write(tmp_path, "v1.avsc", OLD)
    new = write(tmp_path, "v2.avsc", ADDED_WITH_DEFAULT)
    result = run("--mode", "FULL_TRANSITIVE", "--previous", old, new)
    assert result.exit_code == 0, result.output
    assert "compatible" in result.output


def test_incompatible_exits_1_and_explains(tmp_path: Path) -> None:
    old = write(tmp_path, "v1.avsc", OLD)
    new = write(tmp_path, "v2.avsc", ADDED)
    result = run("--mode", "BACKWARD", "--previous", old, new)
    assert result.exit_code == 1
    assert (
        "`com.example.bank.MoneyDeposited.amount`: field added without a default; events "
        "written before it cannot be read (BACKWARD vs previous #0). Add `default:` to the "
        "field. [FIELD_ADDED_WITHOUT_DEFAULT]"
    ) in result.output


def test_mode_is_case_insensitive(tmp_path: Path) -> None:
    old = write(tmp_path, "v1.avsc", OLD)
    new = write(tmp_path, "v2.avsc", ADDED)
    assert run("--mode", "forward", "--previous", old, new).exit_code == 0
    assert run("--mode", "full", "--previous", old, new).exit_code == 1


def test_transitive_uses_every_previous_version_oldest_first(tmp_path: Path) -> None:
    v1 = write(tmp_path, "v1.avsc", OLD)
    v2 = write(tmp_path, "v2.avsc", ADDED_WITH_DEFAULT)
    v3 = write(tmp_path, "v3.avsc", ADDED)
    assert run("--mode", "BACKWARD", "--previous", v1, "--previous", v2, v3).exit_code == 0
    result = run("--mode", "BACKWARD_TRANSITIVE", "--previous", v1, "--previous", v2, v3)
    assert result.exit_code == 1
    assert "BACKWARD vs previous #0" in result.output


def test_none_mode_still_rejects_an_invalid_schema(tmp_path: Path) -> None:
    bad = {**OLD, "fields": [{"name": "amount", "type": "long", "default": "0"}]}
    result = run("--mode", "NONE", write(tmp_path, "bad.avsc", bad))
    assert result.exit_code == 1
    assert "INVALID_DEFAULT" in result.output


def test_no_previous_is_compatible(tmp_path: Path) -> None:
    assert run("--mode", "BACKWARD", write(tmp_path, "v1.avsc", OLD)).exit_code == 0


def test_json_format(tmp_path: Path) -> None:
    old = write(tmp_path, "v1.avsc", OLD)
    new = write(tmp_path, "v2.avsc", ADDED)
    result = run("--mode", "FULL", "--format", "json", "--previous", old, new)
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["compatible"] is False
    assert data["mode"] == "FULL"
    assert data["new"] == new and data["previous"] == [old]
    [problem] = data["problems"]
    assert problem == {
        "schema": "com.example.bank.MoneyDeposited",
        "path": "com.example.bank.MoneyDeposited.amount",
        "rule": "FIELD_ADDED_WITHOUT_DEFAULT",
        "direction": "BACKWARD",
        "previous_index": 0,
        "message": "field added without a default; events written before it cannot be read",
        "fix": "Add `default:` to the field.",
    }


def test_dialect_option(tmp_path: Path) -> None:
    schema = {**OLD, "fields": [{"name": "note", "type": ["null", "string"], "default": "x"}]}
    path = write(tmp_path, "v1.avsc", schema)
    assert run("--mode", "NONE", path).exit_code == 1
    assert run("--mode", "NONE", "--dialect", "avro-1.12", path).exit_code == 0


def test_unknown_mode_is_a_usage_error(tmp_path: Path) -> None:
    result = run("--mode", "SIDEWAYS", write(tmp_path, "v1.avsc", OLD))
    assert result.exit_code == 2
    assert "Invalid value for '--mode'" in result.output
    assert "'SIDEWAYS' is not one of" in result.output
    assert "BACKWARD_TRANSITIVE" in result.output


def test_mode_is_required(tmp_path: Path) -> None:
    result = run(write(tmp_path, "v1.avsc", OLD))
    assert result.exit_code == 2
    assert "--mode" in result.output


@pytest.mark.parametrize("which", ["new", "previous"])
def test_missing_file_is_a_usage_error(tmp_path: Path, which: str) -> None:
    present = write(tmp_path, "v1.avsc", OLD)
    missing = str(tmp_path / "nope.avsc")
    args = ["--previous", missing, present] if which == "previous" else [missing]
    result = run("--mode", "BACKWARD", *args)
    assert result.exit_code == 2
    assert f"{missing}:1:1: cannot read the file: No such file or directory" in result.output
    assert "Traceback" not in result.output


def test_invalid_json_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.avsc"
    path.write_text('{"type": "record",')
    result = run("--mode", "BACKWARD", str(path))
    assert result.exit_code == 2
    assert "broken.avsc:1:19: not valid JSON: Expecting property name" in result.output


def test_directory_is_a_usage_error(tmp_path: Path) -> None:
    result = run("--mode", "BACKWARD", str(tmp_path))
    assert result.exit_code == 2


def test_help_lists_the_modes() -> None:
    result = run("--help")
    assert result.exit_code == 0
    assert "FULL_TRANSITIVE" in result.output and "--previous" in result.output
