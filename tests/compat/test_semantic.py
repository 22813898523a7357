"""Each semantic rule: what no registry sees, pointed at the YAML line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from esgen.codegen import render_project
from esgen.compat.baseline import subjects
from esgen.compat.findings import CheckResult
from esgen.compat.lock import read_lock, write_lock
from esgen.compat.project_check import check_project, generated_schemas
from esgen.dsl import load_project
from tests.compat.esgen_project import Project


def lock_now(p: Project) -> None:
    project = load_project(Path("schemas"))
    files = render_project(project, p.package)
    plans = subjects(project, "topic_record")
    write_lock(Path("schemas.lock"), project, generated_schemas(files), plans, "topic_record")


def check_now(p: Project) -> CheckResult:
    project = load_project(Path("schemas"))
    files = render_project(project, p.package)
    return check_project(project, files, read_lock(Path("schemas.lock")))


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
    assert set(rules_at(result)) == {"ENUM_SYMBOL_REMOVED_FROM_HISTORY"}
    assert rules_at(result)["ENUM_SYMBOL_REMOVED_FROM_HISTORY"] == [
        f"schemas/thing.yaml:{p.line_of('Color:')}:3"
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


def test_key_changed(project: Callable[..., Project]) -> None:
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
    assert rules_at(result)["ENTITY_KEY_CHANGED"] == [
        f"schemas/thing.yaml:{p.line_of('key: id')}:1"
    ]


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
