"""Contract documents of a project, for the tools other teams already use.

``esgen contracts`` writes two files from the resolved model (never from YAML):

- ``asyncapi.json``: the AsyncAPI 3.0 document of every topic, message, key and header
  (:mod:`esgen.contracts.asyncapi`), for catalogs, portals and code generators in other
  languages;
- ``entities.md``: a Mermaid diagram per entity, commands -> events -> the state fields
  they change (:mod:`esgen.contracts.mermaid`), which GitHub renders.

Both are deterministic (byte-identical for the same definitions and settings), so
``esgen contracts --check`` can keep committed copies fresh in CI like
``esgen generate --check``. Unlike ``esgen generate`` nothing else in the output folder is
touched: only these two files are written or compared.
"""

from __future__ import annotations

from pathlib import Path

from esgen.contracts import asyncapi, mermaid
from esgen.contracts.asyncapi import ContractError
from esgen.model import Project
from esgen.runtime.subjects import SubjectStrategy

ASYNCAPI_FILE = "asyncapi.json"
DIAGRAMS_FILE = "entities.md"

__all__ = ["ASYNCAPI_FILE", "DIAGRAMS_FILE", "ContractError", "render", "stale", "write"]


def render(
    project: Project,
    *,
    title: str,
    version: str,
    strategy: SubjectStrategy | str = SubjectStrategy.TOPIC_RECORD,
) -> dict[str, str]:
    """File name -> content of the contract documents of ``project``."""
    document = asyncapi.build(project, title=title, version=version, strategy=strategy)
    return {
        ASYNCAPI_FILE: asyncapi.dumps(document),
        DIAGRAMS_FILE: mermaid.render(project, ASYNCAPI_FILE),
    }


def stale(folder: Path, files: dict[str, str]) -> list[tuple[Path, str]]:
    """``(path, reason)`` for each file that :func:`write` would change."""
    found = []
    for name, content in files.items():
        path = folder / name
        if not path.is_file():
            found.append((path, "missing"))
        elif path.read_text(encoding="utf-8") != content:
            found.append((path, "out of date"))
    return found


def write(folder: Path, files: dict[str, str]) -> int:
    """Write the files that differ; how many were written."""
    changed = stale(folder, files)
    for path, _ in changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path.name], encoding="utf-8")
    return len(changed)
