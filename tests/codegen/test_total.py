"""Definitions that used to generate broken modules, and the shape of what is generated
now: one ``dataclasses.replace`` per nested record per step, temporaries only where a
value reads a field the step already changed, each schema once."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from esgen.codegen import render_project, write_files
from esgen.dsl import load_project
from esgen.errors import DefinitionErrors
from tests.codegen.support import CASE_NAMES, CASES, REPO

_PACKAGES = iter(range(10**6))


def _module(tmp_path: Path, definition: dict[str, Any]) -> tuple[Any, str]:
    """Generate ``definition`` and import it; (module, its source)."""
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    (schemas / "thing.yaml").write_text(yaml.safe_dump(definition, sort_keys=False))
    package = f"gen_total_{next(_PACKAGES)}"
    write_files(tmp_path / package, render_project(load_project(schemas), package))
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module(f"{package}.thing")
    finally:
        sys.path.remove(str(tmp_path))
    return module, (tmp_path / package / "thing.py").read_text()


def _thing(**extra: Any) -> dict[str, Any]:
    return {"entity": "Thing", "namespace": "test.total", "key": "thing_id", **extra}


def test_an_entity_without_events_generates_a_module_that_works(tmp_path: Path) -> None:
    module, _ = _module(tmp_path, _thing(state={"fields": {"thing_id": "string"}}))
    assert module.replay("t", []) == module.initial_state("t")
    assert module.ENTITY.events == ()


def test_a_map_of_records_with_long_names(tmp_path: Path) -> None:
    long = "a_field_name_long_enough_that_no_line_of_it_fits_eighty_eight_columns_x"
    definition = _thing(
        types={"Entry": {"fields": {long: {"type": "long", "default": 0}}}},
        state={
            "fields": {
                "thing_id": "string",
                long: {"type": "map<Entry>", "default": {}},
            }
        },
        events={
            "Put": {
                "fields": {"name": "string", "entry": "Entry"},
                "fold": [{"put": {long: {"key": "event.name", "value": "event.entry"}}}],
            }
        },
    )
    module, _ = _module(tmp_path, definition)
    entry = module.Entry(**{long: 7})
    state = module.replay("t", [module.Put(name="x", entry=entry)])
    assert getattr(state, long) == {"x": entry}
    assert module.ENTITY.state.decode(module.ENTITY.state.encode(state)) == state


def test_an_infinite_literal_is_refused_before_it_reaches_code(tmp_path: Path) -> None:
    # Validation refuses it (Avro defaults are JSON, which has no infinity; a double
    # cannot hold 1e999); the generator would write math.inf, never a bare name.
    definition = _thing(
        state={"fields": {"thing_id": "string", "limit": {"type": "double", "default": 0.0}}},
        events={"Unlimited": {"fold": [{"set": {"limit": "1e999"}}]}},
    )
    with pytest.raises(DefinitionErrors, match=r"thing\.yaml:\d+:\d+: .*1e999.* beyond the range"):
        _module(tmp_path, definition)


def test_one_replace_per_nested_record_per_step(tmp_path: Path) -> None:
    point = {"fields": {"x": {"type": "long", "default": 0}, "y": {"type": "long", "default": 0}}}
    place = {
        "fields": {
            "name": {"type": "string", "default": ""},
            "at": {"type": "Point", "default": {}},
        }
    }
    moved = {"home.name": "event.name", "home.at.x": "event.x", "home.at.y": "event.y"}
    definition = _thing(
        types={"Point": point, "Place": place},
        state={"fields": {"thing_id": "string", "home": {"type": "Place", "default": {}}}},
        events={
            "Moved": {
                "fields": {"name": "string", "x": "long", "y": "long"},
                "fold": [{"set": moved}],
            }
        },
    )
    module, source = _module(tmp_path, definition)
    fold = source[source.index("def _fold_moved") : source.index("def fold(")]
    assert fold.count("dataclasses.replace(") == 2  # home, home.at: once each
    state = module.replay("t", [module.Moved(name="Home", x=1, y=2)])
    assert state.home == module.Place(name="Home", at=module.Point(x=1, y=2))


def test_temporaries_only_for_values_that_read_a_field_the_step_changed(
    tmp_path: Path,
) -> None:
    definition = _thing(
        state={
            "fields": {
                "thing_id": "string",
                "a": {"type": "long", "default": 1},
                "b": {"type": "long", "default": 2},
                "c": {"type": "long", "default": 0},
            }
        },
        events={
            "Swapped": {"fold": [{"set": {"a": "state.b", "b": "state.a"}}]},
            "Summed": {"fold": [{"set": {"c": "state.a + state.b", "a": "0"}}]},
        },
    )
    module, source = _module(tmp_path, definition)
    swapped = source[source.index("def _fold_swapped") : source.index("def _fold_summed")]
    summed = source[source.index("def _fold_summed") : source.index("def fold(")]
    assert swapped.count("new_") == 2 and "new_" not in summed  # one temporary: b's value
    state = module.replay("t", [module.Swapped()])
    assert (state.a, state.b) == (2, 1)
    assert module.replay("t", [module.Summed()]).c == 3


PROJECTS = [(REPO / "schemas", "generated")] + [
    (CASES / case / "schemas", f"gen_{case}") for case in CASE_NAMES
]


@pytest.mark.parametrize(("folder", "package"), PROJECTS, ids=["example", *CASE_NAMES])
def test_each_schema_once_in_the_module_and_the_registered_ones_unchanged(
    folder: Path, package: str
) -> None:
    """``AVRO_TYPES`` holds each named type once; the runtime rebuilds from it exactly
    the self-contained schemas the ``.avsc`` files hold (what is registered)."""
    project = load_project(folder)
    files = render_project(project, package)
    for entity in project.entities:
        module = importlib.import_module(f"{package}.{entity.module}")
        assert sorted(module.AVRO_TYPES) == sorted(set(module.AVRO_TYPES))
        folder_of = entity.module.rpartition(".")[0].replace(".", "/")
        for full_name, schema in module.AVRO_SCHEMAS.items():
            path = f"{folder_of}/{full_name}.avsc" if folder_of else f"{full_name}.avsc"
            assert schema == json.loads(files[path]), full_name
        for schema in module.AVRO_TYPES.values():
            # defined here once: every other named type it uses is referred to by name
            assert _nested_definitions(schema.get("fields", [])) == []


def _nested_definitions(node: Any) -> list[str]:
    if isinstance(node, list):
        return [name for item in node for name in _nested_definitions(item)]
    if not isinstance(node, dict):
        return []
    if node.get("type") in ("record", "enum", "fixed"):
        return [node["name"]]
    return [name for value in node.values() for name in _nested_definitions(value)]
