"""A throwaway esgen project in tmp_path: definitions, generated package, CLI runs."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from esgen.cli import main

THING = """\
entity: Thing
namespace: test.chk
key: thing_id
topic: {topic}
compatibility: {level}

types:
  Color:
    enum: [RED, GREEN, BLUE]

state:
  fields:
    thing_id: string
    total: {{type: long, default: 0}}
    color: {{type: Color, default: RED}}
    label: {{type: string, default: ""}}
  invariants:
    - state.total >= 0

events:
  Added:
    fields:
      amount: long
    fold:
      - add: {{total: event.amount}}
  Painted:
    fields:
      color: Color
    fold:
      - set: {{color: event.color}}
  Labelled:
    fields:
      text: {{type: string, default: ""}}
    fold:
      - set: {{label: event.text}}
"""

SAMPLES = """\
from {package}.thing import Added, Labelled, Painted, Color

SAMPLES = {{
    "t-1": [Added(amount=5), Painted(color=Color.BLUE), Labelled(text="x"), Added(amount=0)],
    "t-2": [Added(amount=1)],
}}
"""


class Project:
    """One project folder; ``cli`` runs esgen there like a user would."""

    def __init__(self, root: Path, package: str, topic: str, monkeypatch: Any) -> None:
        self.root = root
        self.package = package
        self.topic = topic
        self.yaml = root / "schemas" / "thing.yaml"
        self.yaml.parent.mkdir(parents=True)
        (root / "pyproject.toml").write_text(
            f'[tool.esgen]\ndefinitions = "schemas"\noutput = "{package}"\n'
            f'package = "{package}"\nlock = "schemas.lock"\n'
        )
        self.records: set[str] = set()  # full names of every record generated so far
        monkeypatch.chdir(root)

    def write(
        self, text: str | None = None, level: str = "BACKWARD_TRANSITIVE", **edits: str
    ) -> str:
        """Write the definition (THING by default) with ``old=new`` text edits, generate it."""
        text = text if text is not None else THING.format(topic=self.topic, level=level)
        for old, new in edits.items():
            text = text.replace(old.replace("__", " "), new)
        self.yaml.write_text(text)
        self.generate()
        return text

    def edit(self, *pairs: str) -> None:
        """Replace ``old, new, old, new...`` in the definition, then regenerate."""
        text = self.yaml.read_text()
        for old, new in zip(pairs[::2], pairs[1::2], strict=True):
            assert old in text, old
            text = text.replace(old, new)
        self.yaml.write_text(text)
        self.generate()

    def generate(self) -> None:
        result = self.cli("generate")
        assert result.exit_code == 0, result.output
        self.records |= {path.stem for path in (self.root / self.package).rglob("*.avsc")}

    def record(self, samples: str = SAMPLES, expect: int = 0) -> Result:
        """Write ``samples`` (formatted with the package) as the samples file; ``esgen record``."""
        path = self.root / "tests" / "fixtures" / "samples.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(samples.format(package=self.package))
        result = self.cli("record")
        assert result.exit_code == expect, result.output
        return result

    def line_of(self, needle: str) -> int:
        for number, line in enumerate(self.yaml.read_text().splitlines(), start=1):
            if needle in line:
                return number
        raise AssertionError(needle)

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(main, list(args))

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.root, check=True, capture_output=True, text=True
        ).stdout
