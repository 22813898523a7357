"""``esgen validate`` refuses what ``esgen generate`` could not write or import: cycles of
imports between files, over-long names, names that differ only in case, ``__init__.yaml``,
and a file beside a folder of the same name. Each is one located error."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from esgen.cli import main
from esgen.codegen import render_project
from esgen.dsl import load_project
from esgen.dsl.outputs import import_edges
from esgen.errors import DefinitionErrors

ENTITY = """\
entity: {name}
namespace: t.{lower}
key: id
types:
  T{lower}:
    fields: {{x: string}}
state:
  fields:
    id: string
    other: t.{other}.T{other}?
events: {{}}
"""


def _errors(folder: Path) -> list[str]:
    with pytest.raises(DefinitionErrors) as caught:
        load_project(folder)
    return [str(e).removeprefix(f"{folder}/") for e in caught.value.errors]


def _validate(folder: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["validate", "--definitions", str(folder)])
    return result.exit_code, result.output


def test_a_cycle_between_two_files_is_one_error_of_validate(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(ENTITY.format(name="A", lower="a", other="b"))
    (tmp_path / "b.yaml").write_text(ENTITY.format(name="B", lower="b", other="a"))
    with pytest.raises(DefinitionErrors) as caught:
        load_project(tmp_path)
    [error] = caught.value.errors
    assert "a.yaml -> b.yaml -> a.yaml" in error.message
    assert (error.location.path, error.location.line) == (str(tmp_path / "a.yaml"), 10)
    assert error.hint == "move the shared types into one file that the others use"
    code, output = _validate(tmp_path)
    assert code == 1 and "a.yaml -> b.yaml -> a.yaml" in output


def test_a_cycle_of_three_files_is_reported_once(tmp_path: Path) -> None:
    for name, other in (("a", "b"), ("b", "c"), ("c", "a")):
        (tmp_path / f"{name}.yaml").write_text(
            ENTITY.format(name=name.upper(), lower=name, other=other)
        )
    [error] = _errors(tmp_path)
    assert "(a.yaml -> b.yaml -> c.yaml -> a.yaml)" in error


def test_one_way_use_is_fine(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(ENTITY.format(name="A", lower="a", other="b"))
    b = ENTITY.format(name="B", lower="b", other="b").replace("    other: t.b.Tb?\n", "")
    (tmp_path / "b.yaml").write_text(b)
    files = render_project(load_project(tmp_path), "gen")
    assert "from gen.b import Tb" in files["a.py"]


def test_a_long_chain_of_files_is_checked_in_linear_time(tmp_path: Path) -> None:
    # 400 files, each using the next one's type: a quadratic search would walk 80,000 edges
    count = 400
    for i in range(count):
        text = ENTITY.format(name=f"E{i}", lower=f"m{i}", other=f"m{i + 1}")
        if i == count - 1:
            text = text.replace(f"    other: t.m{count}.Tm{count}?\n", "")
        (tmp_path / f"m{i}.yaml").write_text(text)
    project = load_project(tmp_path)
    assert len(import_edges(project)) == count - 1
    # closing the chain makes one cycle of all 400 files: still one error
    last = (tmp_path / f"m{count - 1}.yaml").read_text()
    (tmp_path / f"m{count - 1}.yaml").write_text(
        last.replace("    id: string\n", "    id: string\n    other: t.m0.Tm0?\n")
    )
    [error] = _errors(tmp_path)
    assert error.count(" -> ") == count


MINIMAL = """\
entity: {name}
namespace: {namespace}
key: id
state:
  fields:
    id: string
events:
  {event}: {{}}
"""


def test_a_full_name_too_long_for_a_file_name(tmp_path: Path) -> None:
    event = "E" + "x" * 260
    (tmp_path / "a.yaml").write_text(MINIMAL.format(name="A", namespace="t.a", event=event))
    [error] = _errors(tmp_path)
    assert error.startswith("a.yaml:8:3: error: the full name 't.a.Exxxxx")
    assert "the name of its schema file would be 270 bytes, over the 255 that" in error
    assert _validate(tmp_path)[0] == 1


def test_names_that_differ_only_in_case(tmp_path: Path) -> None:
    text = MINIMAL.format(name="A", namespace="t.a", event="Done").replace(
        "state:", "types:\n  DONE: {enum: [X]}\nstate:"
    )
    (tmp_path / "a.yaml").write_text(text)
    [error] = _errors(tmp_path)
    assert error.startswith("a.yaml:10:3: error: 't.a.Done.avsc' and 't.a.DONE.avsc'")
    assert "differ only in case" in error


def test_init_yaml_is_refused(tmp_path: Path) -> None:
    (tmp_path / "__init__.yaml").write_text(MINIMAL.format(name="A", namespace="t", event="E"))
    assert _errors(tmp_path) == [
        "__init__.yaml:1:1: error: '__init__' in the file path is reserved by Python for a "
        "package's own files (such as __init__.py); the path becomes the module '__init__' "
        "(rename the file or folder)"
    ]


def test_a_file_beside_a_folder_of_the_same_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bank.yaml").write_text(MINIMAL.format(name="A", namespace="t.a", event="E"))
    (tmp_path / "bank").mkdir()
    (tmp_path / "bank" / "account.yaml").write_text(
        MINIMAL.format(name="B", namespace="t.b", event="F")
    )
    assert _errors(tmp_path) == [
        "bank.yaml:1:1: error: 'bank.yaml' becomes the module 'bank', and the folder 'bank/' "
        "becomes a package of the same name; Python would import only one of them "
        "(rename the file or the folder)"
    ]
