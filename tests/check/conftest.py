"""Fixtures of the project checker's tests: a throwaway esgen project per test."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.check.esgen_project import Project


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Project]:
    def make(topic: str | None = None) -> Project:
        package = f"gen_{uuid.uuid4().hex[:8]}"
        return Project(tmp_path, package, topic or "test.things", monkeypatch)

    return make
