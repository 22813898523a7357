"""The reserved names are exactly what generated modules need for themselves.

The lists live in ``esgen.dsl.names``. Here they are checked against what the generated
code really reads (parsed from every module the golden cases and the example produce),
every reserved name is refused by ``validate`` at its location, and names that look
dangerous but are not reserved generate modules that work.
"""

from __future__ import annotations

import ast
import enum
import importlib
import re
import sys
from pathlib import Path

import pytest
import yaml

from esgen.codegen import render_project, write_files
from esgen.dsl import load_project
from esgen.dsl.names import RESERVED_FIELDS, RESERVED_SYMBOLS, RESERVED_TYPES, entity_unions
from esgen.errors import DefinitionErrors
from esgen.runtime import Record
from tests.codegen.support import CASE_NAMES, CASES, REPO

_SNAKE = re.compile(r"[a-z][a-z0-9_]*\Z")
_PASCAL = re.compile(r"[A-Z][A-Za-z0-9]*\Z")


def _generated_modules() -> list[ast.Module]:
    folders = [(REPO / "schemas", "generated")]
    folders += [(CASES / case / "schemas", f"gen_{case}") for case in CASE_NAMES]
    modules = []
    for folder, package in folders:
        project = load_project(folder)
        for path, text in render_project(project, package).items():
            if path.endswith(".py") and not path.endswith("__init__.py"):
                modules.append(ast.parse(text))
    return modules


def _names_read(nodes: list[ast.stmt]) -> set[str]:
    """Names the statements read, annotations (strings, as generated) included."""
    found: set[str] = set()
    for node in nodes:
        for inner in ast.walk(node):
            if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Load):
                found.add(inner.id)
            elif isinstance(inner, ast.AnnAssign):
                annotation = inner.annotation
                if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
                    found |= _names_read([ast.parse(annotation.value).body[0]])
    return found


def _own_names(module: ast.Module) -> set[str]:
    """The module's classes and its unions: named after the definition (the unions are
    refused as type, event or command names separately, by ``entity_unions``)."""
    own = {node.name for node in module.body if isinstance(node, ast.ClassDef)}
    for name in [n for n in own if n.endswith("State")]:
        own |= set(entity_unions(name.removesuffix("State")))
    return own


def test_every_name_a_class_body_reads_is_a_reserved_field_name() -> None:
    needed = {"to_avro", "from_avro"}  # what Record gives every instance
    needed |= {n for n in dir(Record) if not n.startswith("_")}
    for module in _generated_modules():
        for node in module.body:
            if isinstance(node, ast.ClassDef):
                needed |= _names_read(node.body)
    fields = {n for n in needed if _SNAKE.match(n) and n not in ("self",)}
    assert fields <= RESERVED_FIELDS, f"not reserved: {sorted(fields - RESERVED_FIELDS)}"


def test_every_module_level_name_is_a_reserved_type_name() -> None:
    needed: set[str] = set()
    for module in _generated_modules():
        own = _own_names(module)
        for node in module.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                bound = {a.asname or a.name.split(".")[0] for a in node.names}
                # names imported from other generated modules are chosen to be free
                if isinstance(node, ast.ImportFrom) and not (node.module or "").startswith(
                    ("esgen", "typing", "collections")
                ):
                    continue
                needed |= bound
            elif isinstance(node, ast.AnnAssign | ast.Assign | ast.FunctionDef):
                targets = (
                    [node.name]
                    if isinstance(node, ast.FunctionDef)
                    else [t.id for t in ast.walk(node) if isinstance(t, ast.Name)][:1]
                )
                needed |= set(targets)
        needed -= own
    types = {n for n in needed if _PASCAL.match(n)}
    assert types <= RESERVED_TYPES, f"not reserved: {sorted(types - RESERVED_TYPES)}"


def test_every_attribute_of_an_enum_member_is_a_reserved_symbol() -> None:
    class Probe(enum.StrEnum):
        A = "A"

    needed = {n for n in [*dir(Probe.A), *dir(Probe)] if not n.startswith("_") and n != "A"}
    needed.add("mro")  # Enum refuses it outright
    assert needed <= RESERVED_SYMBOLS, f"not reserved: {sorted(needed - RESERVED_SYMBOLS)}"


def _definition(field: str = "value_x", type_name: str = "Extra", symbol: str = "ON") -> str:
    return yaml.safe_dump(
        {
            "entity": "Thing",
            "namespace": "test.reserved",
            "key": "thing_id",
            "types": {
                type_name: {"fields": {field: {"type": "long", "default": 0}}},
                "Mode": {"enum": [symbol, "OTHER"], "default": "OTHER"},
            },
            "state": {
                "fields": {
                    "thing_id": "string",
                    "extra": {"type": type_name, "default": {}},
                    "mode": {"type": "Mode", "default": "OTHER"},
                    field: {"type": "long", "default": 0},
                }
            },
            "events": {"Bumped": {"fold": [{"add": {field: 1}}]}},
        }
    )


def _errors(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "thing.yaml").write_text(text)
    with pytest.raises(DefinitionErrors) as caught:
        load_project(tmp_path)
    return [str(e) for e in caught.value.errors]


@pytest.mark.parametrize("name", sorted(RESERVED_FIELDS))
def test_a_reserved_field_name_is_refused_where_it_is_written(tmp_path: Path, name: str) -> None:
    errors = _errors(tmp_path, _definition(field=name))
    assert any(f"'{name}' is a name the generated record" in e for e in errors), errors
    assert all(re.match(r".*thing\.yaml:\d+:\d+: error: ", e) for e in errors), errors


@pytest.mark.parametrize("name", sorted(RESERVED_TYPES))
def test_a_reserved_type_name_is_refused_where_it_is_written(tmp_path: Path, name: str) -> None:
    errors = _errors(tmp_path, _definition(type_name=name))
    assert any(f"'{name}' is a name generated modules define or import" in e for e in errors), (
        errors
    )


@pytest.mark.parametrize("name", sorted(RESERVED_SYMBOLS))
def test_a_reserved_enum_symbol_is_refused_where_it_is_written(tmp_path: Path, name: str) -> None:
    errors = _errors(tmp_path, _definition(symbol=name))
    assert any(f"'{name}' is an attribute every enum member" in e for e in errors), errors


@pytest.mark.parametrize(("union", "of"), [("ThingEvent", "events"), ("ThingCommand", "commands")])
def test_the_unions_are_refused_as_type_names(tmp_path: Path, union: str, of: str) -> None:
    errors = _errors(tmp_path, _definition(type_name=union))
    assert any(f"taken by the union of the {of} of 'Thing'" in e for e in errors), errors


# Names that are not reserved, though the generated code or Python use them nearby.
UNRESERVED_FIELDS = [
    "self", "cls", "state", "event", "meta", "item", "k", "v", "value", "value_1",
    "new_count", "type", "id", "object", "field", "replace", "entity_id", "version",
    "events", "fold", "replay", "initial_state", "check_invariants", "no_change",
    "resolve_function", "record", "schema", "codec", "typing", "none", "inf",
]  # fmt: skip
UNRESERVED_TYPES = ["Entity", "State", "Event", "Meta", "Fold", "Codec", "Schema", "Mode2"]


@pytest.mark.parametrize(
    ("field", "type_name"),
    [(f, UNRESERVED_TYPES[i % len(UNRESERVED_TYPES)]) for i, f in enumerate(UNRESERVED_FIELDS)],
)
def test_unreserved_names_generate_modules_that_work(
    tmp_path: Path, field: str, type_name: str
) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "thing.yaml").write_text(_definition(field, type_name, "ON"))
    package = f"gen_unreserved_{field}"
    write_files(tmp_path / package, render_project(load_project(tmp_path / "schemas"), package))
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module(f"{package}.thing")
    finally:
        sys.path.remove(str(tmp_path))
    state = module.replay("t-1", [module.Bumped(), module.Bumped()])
    assert getattr(state, field) == 2
    assert module.ENTITY.state.decode(module.ENTITY.state.encode(state)) == state
    extra = getattr(module, type_name)(**{field: 5})
    assert getattr(extra, field) == 5
