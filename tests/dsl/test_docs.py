"""Every complete definition in docs/definitions.md loads without errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from esgen.dsl import load_project

DOC = Path(__file__).parents[2] / "docs" / "definitions.md"
BLOCKS = [
    b
    for b in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    if re.search(r"^entity:", b, re.M)
]


def test_the_docs_have_complete_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("block", BLOCKS, ids=[f"example{i}" for i in range(len(BLOCKS))])
def test_doc_example_loads(block: str, tmp_path: Path) -> None:
    (tmp_path / "example.yaml").write_text(block)
    project = load_project(tmp_path)
    assert len(project.entities) == 1
