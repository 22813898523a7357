"""Files that use each other's types would give generated modules that cannot import each
other: that is reported as a definition error at the field that closes the cycle."""

from __future__ import annotations

from pathlib import Path

import pytest

from esgen.codegen import render_project
from esgen.dsl import load_project
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


def test_a_cycle_between_two_files_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(ENTITY.format(name="A", lower="a", other="b"))
    (tmp_path / "b.yaml").write_text(ENTITY.format(name="B", lower="b", other="a"))
    with pytest.raises(DefinitionErrors) as caught:
        render_project(load_project(tmp_path), "gen")
    [error] = caught.value.errors
    assert "a.yaml -> b.yaml -> a.yaml" in error.message
    assert (error.location.path, error.location.line) == (str(tmp_path / "a.yaml"), 10)
    assert error.hint == "move the shared types into one file that the others use"


def test_one_way_use_is_fine(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(ENTITY.format(name="A", lower="a", other="b"))
    b = ENTITY.format(name="B", lower="b", other="b").replace("    other: t.b.Tb?\n", "")
    (tmp_path / "b.yaml").write_text(b)
    files = render_project(load_project(tmp_path), "gen")
    assert "from gen.b import Tb" in files["a.py"]
