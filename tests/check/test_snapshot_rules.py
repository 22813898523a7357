"""The snapshot (state) subject is a cache: its own rules and level, warnings not failures."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.check.esgen_project import Project

LABEL = '    label: {type: string, default: ""}\n'


def test_an_incompatible_state_change_warns_and_locks(project: Callable[..., Project]) -> None:
    p = project()
    p.write()
    assert p.cli("lock").exit_code == 0
    p.edit(LABEL, "    label: {type: long, default: 0}\n", "{label: event.text}", "{label: 0}")
    result = p.cli("check")
    assert result.exit_code == 0, result.output
    line = p.line_of("label: {type: long")
    assert f"schemas/thing.yaml:{line}:5: warning: test.chk.ThingState" in result.output
    assert "[TYPE_CHANGED]" in result.output
    assert "rebuilds states from events" in result.output
    assert "0 problem(s), 0 accepted, 1 warning(s): OK" in result.output
    data = json.loads(p.cli("check", "--format", "json").output)
    (warning,) = data["problems"]
    assert (warning["severity"], warning["subject"]) == (
        "warning",
        "test.things.snapshots-test.chk.ThingState",
    )
    github = p.cli("check", "--format", "github").output
    assert github.startswith(f"::warning file=schemas/thing.yaml,line={line},col=5")
    locked = p.cli("lock")
    assert locked.exit_code == 0, locked.output
    assert "test.things.snapshots-test.chk.ThingState/v2.avsc" in locked.output
    assert "warning: test.chk.ThingState" in locked.output


def test_state_fields_are_not_paired_as_renames(project: Callable[..., Project]) -> None:
    """Seen: the rename heuristic paired unrelated state fields once per snapshot version."""
    p = project()
    p.write()
    assert p.cli("lock").exit_code == 0
    for current, new in (("label", "note"), ("note", "remark")):
        p.edit(
            f'    {current}: {{type: string, default: ""}}\n',
            f'    {new}: {{type: string, default: ""}}\n',
            f"{{{current}: event.text}}",
            f"{{{new}: event.text}}",
        )
        locked = p.cli("lock")
        assert locked.exit_code == 0, locked.output
    result = p.cli("check")
    assert result.exit_code == 0, result.output
    assert "FIELD_RENAMED_WITHOUT_ALIAS" not in result.output


def test_an_event_rename_is_reported_once_over_several_versions(
    project: Callable[..., Project],
) -> None:
    p = project()
    p.write()
    assert p.cli("lock").exit_code == 0
    text = '      text: {type: string, default: ""}\n'
    p.edit(text, text + '      extra: {type: string, default: ""}\n')
    assert p.cli("lock").exit_code == 0
    p.edit(text, '      caption: {type: string, default: ""}\n', "event.text", "event.caption")
    result = p.cli("check", "--format", "json")
    renames = [f for f in json.loads(result.output)["problems"] if f["rule"] != "TYPE_CHANGED"]
    assert [(f["rule"], f["path"]) for f in renames] == [
        ("FIELD_RENAMED_WITHOUT_ALIAS", "test.chk.Labelled.caption")
    ], result.output
    assert "`text` is gone" in renames[0]["message"]
    assert "extra" not in renames[0]["message"]  # it is in the history: not a new field
