"""The example domain's model and the official AsyncAPI JSON Schema, for the contract tests."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from esgen.dev import download
from esgen.dev.errors import ServiceError
from esgen.dev.pytest_plugin import unavailable
from esgen.dsl import load_project
from esgen.model import Project

REPO = Path(__file__).parents[2]


@pytest.fixture(scope="session")
def example() -> Project:
    return load_project(REPO / "schemas")


@functools.cache
def _official_schema() -> dict[str, Any] | str:
    try:
        path = download.ensure_asyncapi_schema()
    except ServiceError as exc:
        return f"the AsyncAPI JSON Schema is unavailable: {exc}"
    if not path.is_file():
        return f"the AsyncAPI JSON Schema is missing at {path} (remove its folder to refetch)"
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


@pytest.fixture
def asyncapi_schema() -> dict[str, Any]:
    """AsyncAPI 3.0.0's JSON Schema from @asyncapi/specs (fetched by `.ci/run`, or here on
    first use); a test that needs it and cannot have it FAILS with the reason."""
    found = _official_schema()
    if isinstance(found, str):
        raise unavailable(found)
    return found
