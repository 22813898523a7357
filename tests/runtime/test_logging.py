"""Issue 12 item 2, logging: one logger per part of the runtime (esgen.runtime.logs), each
documented in docs/operations.md, and no print() in library code."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

from esgen.runtime import logs

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "esgen"


def calls(path: Path, name: str) -> list[int]:
    """Lines of ``path`` that call ``name(...)`` or ``<anything>.name(...)``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if called == name:
                found.append(node.lineno)
    return found


def test_runtime_modules_take_their_logger_from_logs() -> None:
    makers = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((PACKAGE / "runtime").rglob("*.py"))
        if path.name != "logs.py" and (lines := calls(path, "getLogger"))
    }
    assert makers == {}, "make the part's logger in esgen/runtime/logs.py instead"


def test_every_logger_is_a_part_under_esgen() -> None:
    assert len({logger.name for logger in logs.PARTS}) == len(logs.PARTS)
    for logger in logs.PARTS:
        assert logger.name.startswith(logs.ROOT + ".")
        assert logger.name.count(".") == 1, f"{logger.name}: one level under esgen"


def test_library_code_never_prints() -> None:
    printing = {
        str(path.relative_to(ROOT)): lines
        for path in sorted(PACKAGE.rglob("*.py"))
        if "cli" not in path.relative_to(PACKAGE).parts and (lines := calls(path, "print"))
    }
    assert printing == {}, "library code logs (esgen.runtime.logs); only the CLI prints"


def test_operations_docs_list_every_logger() -> None:
    docs = (ROOT / "docs" / "operations.md").read_text()
    missing = [logger.name for logger in logs.PARTS if f"| `{logger.name}` |" not in docs]
    assert missing == []


def test_the_store_logs_to_esgen_store(caplog: pytest.LogCaptureFixture) -> None:
    from esgen.runtime.store import log

    assert log is logs.store
    with caplog.at_level(logging.WARNING, logger="esgen"):
        log.warning("probe")
    assert [(r.name, r.levelname) for r in caplog.records] == [("esgen.store", "WARNING")]
