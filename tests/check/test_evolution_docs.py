"""docs/evolution.md is run as written: its files and diffs applied in order, its commands run
with the CLI, their output compared with the lines the page shows (``...`` skips text)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from esgen.cli import main

DOC = Path(__file__).parents[2] / "docs" / "evolution.md"
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```$", DOC.read_text(), re.S | re.M)
DEFINITION = Path("schemas") / "item.yaml"


def _apply(diff: str, text: str) -> str:
    """Apply a block of ``@@``-separated hunks (context, ``-`` and ``+`` lines)."""
    for hunk in diff.split("@@\n"):
        old, new = [], []
        for line in hunk.splitlines():
            kind, rest = line[:1], line[1:]
            if kind in (" ", "-"):
                old.append(rest)
            if kind in (" ", "+"):
                new.append(rest)
        before, after = "\n".join(old) + "\n", "\n".join(new) + "\n"
        assert text.count(before) == 1, f"the diff's context is not in the file once:\n{before}"
        text = text.replace(before, after)
    return text


def _matches(expected: list[str], output: list[str]) -> bool:
    """Whether the output is the expected lines, ``...`` alone skipping lines and inside a
    line skipping text."""
    if not expected:
        return not output
    head, *rest = expected
    if head == "...":
        return any(_matches(rest, output[i:]) for i in range(len(output) + 1))
    pattern = ".*".join(re.escape(part) for part in head.split("..."))
    return (
        bool(output)
        and re.fullmatch(pattern, output[0]) is not None
        and _matches(rest, output[1:])
    )


def _session(block: str) -> list[tuple[str, list[str]]]:
    commands: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ esgen "):
            commands.append((line.removeprefix("$ esgen "), []))
        else:
            commands[-1][1].append(line)
    return commands


def test_the_page_has_a_year_of_changes() -> None:
    kinds = [kind for kind, _ in BLOCKS]
    assert kinds.count("diff") >= 7 and kinds.count("console") >= 8
    assert kinds[0] == "toml" and kinds[1] == "yaml" and kinds[-1] == "yaml"


def test_the_year_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # the samples import the generated package
    (tmp_path / "schemas").mkdir()
    runner = CliRunner()
    yamls = [body for kind, body in BLOCKS if kind == "yaml"]
    current = ""
    for kind, body in BLOCKS:
        if kind == "toml":
            (tmp_path / "pyproject.toml").write_text(body)
            continue
        if kind == "python":
            samples = tmp_path / "tests" / "fixtures" / "samples.py"
            samples.parent.mkdir(parents=True, exist_ok=True)
            samples.write_text(body)
            continue
        if kind == "yaml" and body is yamls[-1] and current:
            assert DEFINITION.read_text() == body, "the December file is what the diffs make"
            continue
        if kind in ("yaml", "diff"):
            current = body if kind == "yaml" else _apply(body, current)
            DEFINITION.write_text(current)
            generated = runner.invoke(main, ["generate"])
            assert generated.exit_code == 0, generated.output
            continue
        assert kind == "console", kind
        for command, expected in _session(body):
            result = runner.invoke(main, command.split())
            output = result.output.rstrip("\n").splitlines()
            assert _matches(expected, output), (
                f"$ esgen {command} printed:\n{result.output}\nthe page shows:\n"
                + "\n".join(expected)
            )
            failed = expected and expected[-1].endswith("FAILED")
            assert result.exit_code == (1 if failed else 0), result.output
