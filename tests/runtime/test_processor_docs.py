"""The examples of docs/commands.md and of the README's commands section run as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from esgen.runtime import EntityDescriptor
from tests.runtime.processing import running

DOC = Path(__file__).parents[2] / "docs" / "commands.md"
README = Path(__file__).parents[2] / "README.md"


def test_the_example_runs_and_prints_what_the_page_shows(
    command_entity: EntityDescriptor[Any, Any],
    kafka_bootstrap: str,
    registry_url: str,
    unique_name: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = DOC.read_text()
    code, shown = re.findall(r"```(?:python|text)\n(.*?)```", text, re.S)[:2]
    monkeypatch.setenv("ESGEN_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("ESGEN_REGISTRY_URL", registry_url)
    # On a topic of its own (registering its schemas there), in a group of its own.
    code = code.replace(
        'CommandProcessor(account.ENTITY, group_id="accounts")',
        f"CommandProcessor(ENTITY, group_id={unique_name('group')!r}, partitions=1, "
        "auto_register=True)",
    ).replace("CommandClient(account.ENTITY)", "CommandClient(ENTITY, auto_register=True)")
    assert "account.ENTITY" not in code, "the example changed: update this test"
    exec(compile(code, str(DOC), "exec"), {"__name__": "docs_example", "ENTITY": command_entity})
    assert capsys.readouterr().out == shown


def test_the_readme_example_runs_against_a_processor(
    command_entity: EntityDescriptor[Any, Any],
    kafka_bootstrap: str,
    registry_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Fenced as ```py so that tests/test_readme.py (no Kafka) leaves it to this test.
    section = README.read_text().split("### Deciding commands on Kafka", 1)[1]
    code = re.findall(r"```py\n(.*?)```", section, re.S)[0]
    monkeypatch.setenv("ESGEN_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("ESGEN_REGISTRY_URL", registry_url)
    code = code.replace(
        "CommandClient(account.ENTITY)", "CommandClient(ENTITY, auto_register=True)"
    )
    assert "account.ENTITY" not in code, "the example changed: update this test"
    with running(command_entity, kafka_bootstrap, registry_url):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme", "ENTITY": command_entity})
    assert capsys.readouterr().out == "insufficient funds\n"
