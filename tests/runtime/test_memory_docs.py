"""The examples of docs/runtime.md's "Unit tests without Kafka" run as written."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).parents[2] / "docs" / "runtime.md"


def test_the_unit_test_examples_run() -> None:
    section = DOC.read_text().split("## Unit tests without Kafka", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, "docs/runtime.md", "exec"), {})
