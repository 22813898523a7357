"""``esgen init`` starts a project that works end to end (init -> validate -> generate ->
import -> fold), never overwrites, and ``esgen schema-path`` finds the editor schema."""

from __future__ import annotations

import importlib
import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner, Result

from esgen.cli import main
from esgen.dsl.editor_schema import SCHEMA_PATH


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def package(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"init_{uuid.uuid4().hex[:8]}"
    yield name
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        monkeypatch.delitem(sys.modules, module)


def test_init_validate_generate_import_fold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, package: str
) -> None:
    created = _run("init", str(tmp_path / "shop"), "--package", package)
    assert created.exit_code == 0, created.output
    root = tmp_path / "shop"
    assert (root / "pyproject.toml").read_text().count("[tool.esgen]") == 1
    monkeypatch.chdir(root)
    assert _run("validate").output == "1 entities OK in schemas\n"
    generated = _run("generate")
    assert generated.exit_code == 0, generated.output
    monkeypatch.syspath_prepend(str(root))
    task = importlib.import_module(f"{package}.todo.task")
    state = task.replay("t-1", [task.TaskAdded(title="write docs"), task.TaskDone()])
    assert (state.task_id, state.title, state.done) == ("t-1", "write docs", True)
    reopened = task.fold(state, task.TaskReopened())
    assert (reopened.done, reopened.times_reopened, state.done) == (False, 1, True)
    assert _run("generate", "--check").exit_code == 0


def test_the_example_points_editors_at_the_installed_schema(tmp_path: Path) -> None:
    assert _run("init", str(tmp_path)).exit_code == 0
    first = (tmp_path / "schemas/todo/task.yaml").read_text().splitlines()[0]
    assert first == f"# yaml-language-server: $schema={SCHEMA_PATH.as_posix()}"
    printed = _run("schema-path").output.strip()
    assert Path(printed) == SCHEMA_PATH and SCHEMA_PATH.is_file()
    jsonschema.Draft7Validator.check_schema(json.loads(Path(printed).read_text()))


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    assert _run("init", str(tmp_path)).exit_code == 0
    example = tmp_path / "schemas/todo/task.yaml"
    example.write_text("# mine\n")
    before = (tmp_path / "pyproject.toml").read_text()
    again = _run("init", str(tmp_path))
    assert again.exit_code == 1
    assert "refusing to overwrite" in again.output and "task.yaml" in again.output
    assert example.read_text() == "# mine\n"
    assert (tmp_path / "pyproject.toml").read_text() == before


def test_init_adds_the_section_to_an_existing_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "mine"\n')
    assert _run("init", str(tmp_path)).exit_code == 0
    text = (tmp_path / "pyproject.toml").read_text()
    assert text.startswith('[project]\nname = "mine"\n\n[tool.esgen]\n')
    (tmp_path / "schemas/todo/task.yaml").unlink()
    refused = _run("init", str(tmp_path))  # the section exists now
    assert refused.exit_code == 1 and "[tool.esgen] section" in refused.output


@pytest.mark.parametrize("name", ["my-events", "class", "a..b", "ünicode"])
def test_init_refuses_a_package_that_is_not_an_import_name(tmp_path: Path, name: str) -> None:
    result = _run("init", str(tmp_path), "--package", name)
    assert result.exit_code == 2
    assert "--package" in result.output
    assert not (tmp_path / "pyproject.toml").exists()
