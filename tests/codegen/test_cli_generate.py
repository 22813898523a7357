"""``esgen generate``: writing, idempotence, ``--check`` and exit codes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from esgen.cli import main
from tests.codegen.support import REPO


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(REPO / "schemas", tmp_path / "schemas")
    (tmp_path / "pyproject.toml").write_text('[tool.esgen]\noutput = "src/events"\n')
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_generate_writes_then_writes_nothing(project: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["generate"])
    assert first.exit_code == 0, first.output
    module = project / "src" / "events" / "shop" / "order.py"
    assert "from events.bank.account import Money" in module.read_text()
    assert (project / "src/events/bank/com.example.bank.Money.avsc").is_file()
    second = runner.invoke(main, ["generate"])
    assert second.exit_code == 0 and "wrote 0 of" in second.output


def test_check_names_each_stale_file_and_writes_nothing(project: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["generate"]).exit_code == 0
    out = project / "src" / "events"
    account = project / "schemas" / "bank" / "account.yaml"
    account.write_text(account.read_text().replace("A customer's bank account.", "An account."))
    (out / "bank" / "com.example.bank.Money.avsc").unlink()
    orphan = out / "bank" / "com.example.bank.Gone.avsc"
    orphan.write_text("{}")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    result = runner.invoke(main, ["generate", "--check"])
    assert result.exit_code == 1
    assert "bank/account.py: out of date" in result.output
    assert "com.example.bank.Money.avsc: missing" in result.output
    assert "com.example.bank.Gone.avsc: no longer generated" in result.output
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before

    assert runner.invoke(main, ["generate"]).exit_code == 0
    assert not orphan.exists()
    assert runner.invoke(main, ["generate", "--check"]).exit_code == 0


def test_definition_errors_exit_1_with_locations(project: Path) -> None:
    account = project / "schemas" / "bank" / "account.yaml"
    account.write_text(
        account.read_text().replace("amount: decimal(18,2)\n", "amount: decmal\n", 1)
    )
    result = CliRunner().invoke(main, ["generate"])
    assert result.exit_code == 1
    assert result.output.startswith("schemas/bank/account.yaml:13:15: error: type 'Money'")
    assert "did you mean" in result.output
    assert "Traceback" not in result.output
    assert not (project / "src").exists()


def test_usage_errors_exit_2(project: Path) -> None:
    result = CliRunner().invoke(main, ["generate", "--no-such-flag"])
    assert result.exit_code == 2
    (project / "pyproject.toml").write_text('[tool.esgen]\noutputs = "x"\n')
    result = CliRunner().invoke(main, ["generate"])
    assert result.exit_code == 2 and "unknown key 'outputs'" in result.output


def test_flags_override_the_configuration(project: Path) -> None:
    result = CliRunner().invoke(main, ["generate", "--output", "other/pkg", "--package", "my.pkg"])
    assert result.exit_code == 0, result.output
    text = (project / "other/pkg/shop/order.py").read_text()
    assert "from my.pkg.bank.account import Money" in text


def test_edit_regenerate_import_replay(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's promise: edit a definition, regenerate, import, replay."""
    account = project / "schemas" / "bank" / "account.yaml"
    account.write_text(
        account.read_text().replace(
            "\nevents:\n",
            "\nevents:\n"
            "  AccountRenamed:\n"
            "    doc: The owner's name changed.\n"
            "    fields: {owner: string}\n"
            "    fold:\n"
            "      - set: {owner: upper(event.owner)}\n",
        )
    )
    assert CliRunner().invoke(main, ["generate"]).exit_code == 0
    monkeypatch.syspath_prepend(str(project / "src"))
    import importlib

    module = importlib.import_module("events.bank.account")
    state = module.replay(
        "acc-9", [module.AccountOpened(owner="ada"), module.AccountRenamed(owner="grace")]
    )
    assert state.owner == "GRACE"
    assert "The owner's name changed." in (module.AccountRenamed.__doc__ or "")
