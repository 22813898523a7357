"""Every folder under ``cases/`` is a set of invalid definitions plus ``expected.txt``.

Run with ``ESGEN_UPDATE_EXPECTED=1`` to rewrite the expected files after a deliberate
change of messages (review the diff!).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from esgen.cli import main
from esgen.dsl import load_project
from esgen.errors import DefinitionErrors

CASES = Path(__file__).parent / "cases"
UPDATE = os.environ.get("ESGEN_UPDATE_EXPECTED") == "1"


def _case_names() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if p.is_dir())


def _errors_of(case: str) -> str:
    with pytest.raises(DefinitionErrors) as caught:
        load_project(Path(case))
    return "".join(f"{error}\n" for error in caught.value.errors)


@pytest.mark.parametrize("case", _case_names())
def test_case(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CASES)  # so messages carry the short relative paths users see
    actual = _errors_of(case)
    expected_file = CASES / case / "expected.txt"
    if UPDATE:
        expected_file.write_text(actual)
    assert actual == expected_file.read_text()


@pytest.mark.parametrize("case", ["several_files", "bad_defaults"])
def test_cli_prints_every_error_and_exits_1(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CASES)
    result = CliRunner().invoke(main, ["validate", "--definitions", case])
    assert result.exit_code == 1
    expected = (CASES / case / "expected.txt").read_text().splitlines()
    count = len(expected)
    assert result.output.splitlines() == [*expected, f"{count} error{'s' if count > 1 else ''}"]


def test_cli_accepts_the_example_domain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).parents[2])
    result = CliRunner().invoke(main, ["validate", "--definitions", "schemas"])
    assert result.exit_code == 0, result.output
    assert result.output == "2 entities OK in schemas\n"


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DefinitionErrors) as caught:
        load_project(tmp_path / "nowhere")
    assert [str(e) for e in caught.value.errors] == [
        f"{tmp_path / 'nowhere'}:1:1: error: the definitions folder does not exist "
        "(pass --definitions or set [tool.esgen] definitions)"
    ]


def test_folder_without_definitions(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a definition")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.yaml").write_text("entity: X\n")
    with pytest.raises(DefinitionErrors, match="no definition files"):
        load_project(tmp_path)


def test_an_internal_error_names_the_files(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(self: object) -> None:
        raise KeyError("oops")

    monkeypatch.setattr("esgen.dsl.build.Builder.build", boom)
    monkeypatch.chdir(Path(__file__).parents[2])
    result = CliRunner().invoke(main, ["validate", "--definitions", "schemas"])
    assert result.exit_code == 1
    assert "internal error while processing schemas" in result.output
    assert "schemas/bank/account.yaml, schemas/shop/order.yaml" in result.output
    assert "Traceback" not in result.output
