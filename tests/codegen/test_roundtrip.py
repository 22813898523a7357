"""encode -> decode gives back the original, for every event and state of the example
domain and of the golden cases, with values of every field type."""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esgen.model import Project, RecordDef
from tests.codegen.strategies import for_record
from tests.codegen.support import CASE_NAMES, CASES, REPO, load_case

PROJECTS = [(REPO / "schemas", "generated")] + [
    (CASES / case / "schemas", f"gen_{case}") for case in CASE_NAMES
]


@functools.cache
def _records(folder: Path, package: str) -> list[tuple[RecordDef, Any, Any]]:
    """(record, its class, its entity descriptor) for every event and state (cached)."""
    project: Project = load_case(folder)
    result = []
    for entity in project.entities:
        module = importlib.import_module(f"{package}.{entity.module}")
        for record in [*(e.record for e in entity.events), entity.state]:
            result.append((record, getattr(module, record.name), module.ENTITY))
    return result


@functools.cache
def _classes(folder: Path, package: str) -> tuple[dict[str, Any], dict[str, Any]]:
    project = load_case(folder)
    types = project.all_types()
    classes: dict[str, Any] = {}
    for entity in project.entities:
        module = importlib.import_module(f"{package}.{entity.module}")
        for full_name, named in types.items():
            if hasattr(module, named.name) and full_name.startswith(entity.namespace + "."):
                classes.setdefault(full_name, getattr(module, named.name))
    return types, classes


CASES_TO_CHECK = [
    pytest.param(folder, package, record.full_name, id=f"{package}:{record.name}")
    for folder, package in PROJECTS
    for record, _, _ in _records(folder, package)
]


@pytest.mark.parametrize(("folder", "package", "full_name"), CASES_TO_CHECK)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_encode_then_decode_is_identity(
    folder: Path, package: str, full_name: str, data: st.DataObject
) -> None:
    types, classes = _classes(folder, package)
    record = types[full_name]
    assert isinstance(record, RecordDef)
    value = data.draw(for_record(record, types, classes))
    entity = next(e for r, _, e in _records(folder, package) if r.full_name == full_name)
    if full_name == entity.state.full_name:
        assert entity.state.decode(entity.state.encode(value)) == value
    else:
        body = entity.encode(value)
        assert isinstance(body, bytes)
        assert entity.decode(full_name, body) == value
