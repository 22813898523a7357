"""Each semantic rule: what no registry sees, pointed at the YAML line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from esgen.check.findings import CheckResult
from esgen.check.lock import read_lock, write_lock
from esgen.check.project import generated_schemas, render, rules_against
from esgen.registry.plan import subjects
from tests.check.esgen_project import Project


def lock_now(p: Project) -> None:
    project, files = render(Path("schemas"), p.package)
    plans = subjects(project, "topic_record")
    write_lock(Path("schemas.lock"), project, generated_schemas(files), plans, "topic_record")


def check_now(p: Project) -> CheckResult:
    project, files = render(Path("schemas"), p.package)
    plans = subjects(project, "topic_record")
    return rules_against(project, files, read_lock(Path("schemas.lock")), plans)


def rules_at(result: CheckResult) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in result.findings:
        out.setdefault(f.rule, []).append(str(f.location))
    return out


def test_fold_reads_field_old_events_lack(project: Callable[..., Project]) -> None:
    p = project()
    p.write(level="NONE")  # under NONE no registry rule objects: only the semantic rule does
    lock_now(p)
    p.edit("      amount: long\n", "      amount: long\n      fee: long\n")
    p.edit("      - add: {total: event.amount}", "      - add: {total: event.amount - event.fee}")
    result = check_now(p)
    assert not result.ok
    found = [f for f in result.findings if f.rule == "FOLD_READS_MISSING_FIELD"]
    assert len(found) == 1, result.format("text")
    line = p.line_of("event.amount - event.fee")
    column = p.yaml.read_text().splitlines()[line - 1].index("event.fee") + 1
    assert str(found[0].location) == f"schemas/thing.yaml:{line}:{column}"
    assert found[0].path == "test.chk.Added.fee"
    assert "fee" in found[0].message and found[0].fix
    assert set(rules_at(result)) == {"FOLD_READS_MISSING_FIELD"}


def test_fold_read_with_default_is_fine(project: Callable[..., Project]) -> None:
    p = project()
    p.write()
    lock_now(p)
    p.edit("      amount: long\n", "      amount: long\n      fee: {type: long, default: 0}\n")
    p.edit("      - add: {total: event.amount}", "      - add: {total: event.amount - event.fee}")
    assert check_now(p).ok


def test_rename_without_alias(project: Callable[..., Project]) -> None:
    p = project()
    p.write()
    lock_now(p)
    p.edit(
        '      text: {type: string, default: ""}',
        '      caption: {type: string, default: ""}',
        "{label: event.text}",
        "{label: event.caption}",
    )
    result = check_now(p)
    found = [f for f in result.findings if f.rule == "FIELD_RENAMED_WITHOUT_ALIAS"]
    assert len(found) == 1, result.format("text")
    assert found[0].location is not None
    assert found[0].location.line == p.line_of("caption:")
    assert "aliases: [text]" in found[0].message
    # The registry's own rules pass this change (a new field with a default): only we see it.
    assert set(rules_at(result)) == {"FIELD_RENAMED_WITHOUT_ALIAS"}


def test_rename_with_alias_is_fine(project: Callable[..., Project]) -> None:
    p = project()
    p.write()
    lock_now(p)
    p.edit(
        '      text: {type: string, default: ""}',
        '      caption: {type: string, default: "", aliases: [text]}',
        "{label: event.text}",
        "{label: event.caption}",
    )
    assert check_now(p).ok


def test_enum_symbol_removed_under_none(project: Callable[..., Project]) -> None:
    p = project()
    p.write(level="NONE")
    lock_now(p)
    p.edit("[RED, GREEN, BLUE]", "[RED, GREEN]")
    result = check_now(p)
    assert [(f.rule, str(f.location)) for f in result.failures] == [
        ("ENUM_SYMBOL_REMOVED_FROM_HISTORY", f"schemas/thing.yaml:{p.line_of('Color:')}:3")
    ]
    # The state's copy of the enum is a snapshot's: a warning, not a second problem.
    assert [(f.rule, f.schema) for f in result.warnings] == [
        ("ENUM_SYMBOL_REMOVED", "test.chk.ThingState")
    ]


def test_enum_symbol_removed_reported_once_by_schema_rule(
    project: Callable[..., Project],
) -> None:
    p = project()
    p.write()
    lock_now(p)
    p.edit("[RED, GREEN, BLUE]", "[RED, GREEN]")
    result = check_now(p)
    assert set(rules_at(result)) == {"ENUM_SYMBOL_REMOVED"}  # no semantic duplicate
    # Painted.color and ThingState.color both carry the enum.
    assert {f.schema for f in result.findings} == {"test.chk.Painted", "test.chk.ThingState"}


def test_enum_with_default_may_drop_symbol(project: Callable[..., Project]) -> None:
    p = project()
    p.write()
    lock_now(p)
    p.edit("[RED, GREEN, BLUE]", "[RED, GREEN]\n    default: RED")
    assert "ENUM_SYMBOL_REMOVED_FROM_HISTORY" not in rules_at(check_now(p))


def test_a_renamed_key_field_is_not_a_key_change(project: Callable[..., Project]) -> None:
    """Seen: ENTITY_KEY_CHANGED fired for a rename of the key field; the Kafka key (the
    entity id as text) is the same."""
    p = project()
    p.write()
    lock_now(p)
    text = (
        p.yaml.read_text()
        .replace("key: thing_id", "key: id")
        .replace("thing_id: string", "id: string")
    )
    p.yaml.write_text(text)
    result = check_now(p)
    assert "ENTITY_KEY_CHANGED" not in rules_at(result), result.format("text")


def test_a_key_type_change_is_a_key_change(project: Callable[..., Project]) -> None:
    """The key's type decides the text form of the Kafka key: a change of type is reported.

    The lock is edited to say the key was a ``long`` when it was locked (what another
    version of the definitions wrote)."""
    p = project()
    p.write()
    lock_now(p)
    (state,) = Path("schemas.lock").glob("*.snapshots-test.chk.ThingState/v1.avsc")
    schema = json.loads(state.read_text())
    for field in schema["fields"]:
        if field["name"] == "thing_id":
            field["type"] = "long"
    state.write_text(json.dumps(schema))
    result = check_now(p)
    (found,) = [f for f in result.findings if f.rule == "ENTITY_KEY_CHANGED"]
    assert str(found.location) == f"schemas/thing.yaml:{p.line_of('key: thing_id')}:1"
    assert "from long to string" in found.message
    assert not found.accepted and found.severity == "error"


def test_topic_changed(project: Callable[..., Project]) -> None:
    p = project()
    p.write()
    lock_now(p)
    p.edit("topic: test.things", "topic: test.things.v2")
    result = check_now(p)
    found = [f for f in result.findings if f.rule == "ENTITY_TOPIC_CHANGED"]
    assert len(found) == 1
    assert "`test.things` to `test.things.v2`" in found[0].message
    assert found[0].location is not None and found[0].location.line == p.line_of("topic:")


def test_event_type_removed(project: Callable[..., Project]) -> None:
    p = project()
    p.write()
    lock_now(p)
    text = p.yaml.read_text()
    p.yaml.write_text(text[: text.index("  Labelled:")])
    result = check_now(p)
    found = [f for f in result.findings if f.rule == "EVENT_TYPE_REMOVED"]
    assert [f.schema for f in found] == ["test.chk.Labelled"]
    assert found[0].location is not None and found[0].location.line == p.line_of("events:")


def test_removed_event_stays_in_lock_history(project: Callable[..., Project]) -> None:
    """Locking after an accepted removal must not forget the event: its events still exist."""
    p = project()
    p.write()
    lock_now(p)
    text = p.yaml.read_text()
    p.yaml.write_text(text[: text.index("  Labelled:")])
    lock_now(p)
    assert "EVENT_TYPE_REMOVED" in rules_at(check_now(p))
