"""docs/compatibility.md: its Python snippets run, and every rule id is documented with a fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from esgen.check.project import known_rule_ids

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "compatibility.md").read_text()
SNIPPETS = re.findall(r"```python\n(.*?)```", DOC, re.S)

# The first snippet shows the API on schemas it does not define; these are they.
PRELUDE = """
def record(*fields):
    return {"type": "record", "name": "R", "namespace": "x", "fields": list(fields)}

v1 = record({"name": "a", "type": "int"})
v2 = record({"name": "a", "type": "long"})
new_schema = record({"name": "a", "type": "long"}, {"name": "b", "type": "string"})
"""


def test_the_docs_show_both_apis() -> None:
    assert len(SNIPPETS) >= 2


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_snippet_runs(snippet: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the project checker's snippet checks this repository
    exec(compile(PRELUDE + snippet, "docs/compatibility.md", "exec"), {})


@pytest.mark.parametrize("rule", known_rule_ids())
def test_every_rule_is_documented_with_a_fix(rule: str) -> None:
    heading = re.search(rf"^### [^\n]*\b{rule}\b[^\n]*\n(.*?)(?=^##)", DOC, re.S | re.M)
    row = re.search(rf"^\| `{rule}` \|(.*)\|(.*)\|$", DOC, re.M)
    if heading is not None:
        assert "Fix" in heading.group(1), rule
    else:
        assert row is not None, f"{rule} has neither a section nor a table row"
        assert row.group(2).strip(), f"{rule}: the table row has no fix"
