"""``esgen check`` accepts a break that declared evolution covers, and proves it by replaying
the recorded old events through it (renamed_from, upcasts, deprecated: docs/evolution.md)."""

from __future__ import annotations

from collections.abc import Callable

from tests.check.esgen_project import Project

TOTAL_LONG = "    total: {type: long, default: 0}"
TOTAL_DECIMAL = '    total: {type: decimal(12,2), default: "0"}'
AMOUNT_LONG = "      amount: long"
AMOUNT_DECIMAL = "      amount: decimal(10,2)"
UPCAST = 'upcasts:\n  - from: Added@1\n    into:\n      - Added: {{amount: "{amount}"}}\n'


def recorded(project: Callable[..., Project]) -> Project:
    """THING locked, with its samples recorded (t-1: Added 5, Painted, Labelled, Added 0)."""
    p = project()
    p.write()
    assert p.cli("lock").exit_code == 0
    p.record()
    assert p.cli("check").exit_code == 0
    return p


def test_a_type_change_fails_and_names_the_upcast_to_write(
    project: Callable[..., Project],
) -> None:
    p = recorded(project)
    p.edit(TOTAL_LONG, TOTAL_DECIMAL, AMOUNT_LONG, AMOUNT_DECIMAL)
    result = p.cli("check")
    assert result.exit_code == 1, result.output
    assert "TYPE_CHANGED" in result.output
    assert "declare an upcast of their version: `upcasts: [{from: EventName@N" in result.output


def test_an_upcast_covers_the_change_and_the_replay_proves_it(
    project: Callable[..., Project],
) -> None:
    p = recorded(project)
    p.edit(TOTAL_LONG, TOTAL_DECIMAL, AMOUNT_LONG, AMOUNT_DECIMAL)
    with p.yaml.open("a") as f:
        f.write(UPCAST.format(amount="unscaled(event.amount, 2)"))
    p.generate()
    result = p.cli("check")
    assert result.exit_code == 0, result.output
    line = p.line_of("- from: Added@1")
    assert f"covered: old versions are upcast (declared at schemas/thing.yaml:{line})" in (
        result.output
    )
    assert "replayed 5 recorded event(s)" in result.output


def test_an_upcast_that_breaks_the_history_fails_the_replay(
    project: Callable[..., Project],
) -> None:
    """The check does not take the declaration's word for it: the recorded events go
    through the upcast and the fold, and the invariant total >= 0 breaks."""
    p = recorded(project)
    p.edit(TOTAL_LONG, TOTAL_DECIMAL, AMOUNT_LONG, AMOUNT_DECIMAL)
    with p.yaml.open("a") as f:
        f.write(UPCAST.format(amount="unscaled(0 - event.amount, 2)"))
    p.generate()
    result = p.cli("check")
    assert result.exit_code == 1, result.output
    assert "REPLAY_INVARIANT_BROKEN" in result.output


def test_a_renamed_event_type_is_covered_and_replayed(project: Callable[..., Project]) -> None:
    p = recorded(project)
    p.edit("  Labelled:\n", "  Captioned:\n    renamed_from: [Labelled]\n")
    result = p.cli("check")
    assert result.exit_code == 0, result.output
    assert "covered: renamed: its events are read as test.chk.Captioned" in result.output
    assert "replayed 5 recorded event(s)" in result.output


def test_a_removed_event_type_fails_without_a_declaration(project: Callable[..., Project]) -> None:
    """Seen: a removed event made every entity that ever had one unloadable; the fix names
    the declarations that keep it readable."""
    p = recorded(project)
    text = p.yaml.read_text()
    p.yaml.write_text(text[: text.index("  Labelled:")])
    p.generate()
    result = p.cli("check")
    assert result.exit_code == 1, result.output
    assert "EVENT_TYPE_REMOVED" in result.output
    assert "`deprecated: true`" in result.output and "`renamed_from`" in result.output


def test_a_removed_event_type_upcast_into_nothing(project: Callable[..., Project]) -> None:
    p = recorded(project)
    text = p.yaml.read_text()
    p.yaml.write_text(
        text[: text.index("  Labelled:")] + "upcasts:\n  - from: Labelled@1\n    into: []\n"
    )
    p.generate()
    result = p.cli("check")
    assert result.exit_code == 0, result.output
    assert "covered: upcast declared at schemas/thing.yaml:" in result.output
    assert "replayed 5 recorded event(s)" in result.output


def test_a_command_that_emits_a_retired_event_fails(project: Callable[..., Project]) -> None:
    p = recorded(project)
    p.edit(
        "  Painted:\n",
        "  Painted:\n    deprecated: true\n",
    )
    with p.yaml.open("a") as f:
        f.write(
            "commands:\n  Paint:\n    fields: {color: Color}\n    emits:\n"
            "      - Painted: {color: command.color}\n"
        )
    p.generate()
    result = p.cli("check")
    assert result.exit_code == 1, result.output
    line = p.line_of("      - Painted: {color: command.color}")
    assert f"schemas/thing.yaml:{line}" in result.output
    assert "RETIRED_EVENT_EMITTED" in result.output
    assert "command Paint of Thing still emits Painted, which is retired" in result.output
