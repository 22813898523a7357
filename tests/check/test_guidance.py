"""What ``esgen check``, ``esgen lock`` and ``esgen record`` tell a user: a location and a fix
for every problem, stale acknowledgements, missing recordings, missing history."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.check.esgen_project import Project

TOPIC_ACCEPT = (
    "accept:\n"
    "  - schema: test.chk.Thing\n"
    "    rule: ENTITY_TOPIC_CHANGED\n"
    "    reason: the topic was copied by hand\n"
)


def test_an_accept_entry_is_stale_once_the_lock_holds_the_change(
    project: Callable[..., Project],
) -> None:
    p = project()
    p.write()
    assert p.cli("lock").exit_code == 0
    p.edit("topic: test.things", "topic: test.things2")
    (p.root / "esgen-accept.yaml").write_text(TOPIC_ACCEPT)
    accepted = p.cli("check")
    assert accepted.exit_code == 0, accepted.output
    assert "accepted (the topic was copied by hand)" in accepted.output
    locked = p.cli("lock")
    assert locked.exit_code == 0, locked.output
    assert (
        "esgen-accept.yaml entry 1 (test.chk.Thing ENTITY_TOPIC_CHANGED) is stale now: "
        "the lock holds the change it acknowledged; remove the entry" in locked.output
    )
    again = p.cli("check")
    assert again.exit_code == 0
    assert "esgen-accept.yaml entry 1 (test.chk.Thing ENTITY_TOPIC_CHANGED) is stale" in (
        again.output
    )
    assert "remove the entry" in again.output


def test_record_with_stale_samples_is_a_located_error(project: Callable[..., Project]) -> None:
    """Seen: `esgen record` with stale samples printed "internal error ... a bug in esgen"."""
    p = project()
    p.write()
    p.record()
    p.edit(
        '      text: {type: string, default: ""}',
        '      caption: {type: string, default: ""}',
        "{label: event.text}",
        "{label: event.caption}",
    )
    result = p.record(expect=1)
    assert "internal error" not in result.output and "Traceback" not in result.output
    assert "tests/fixtures/samples.py:4: cannot build the samples: TypeError:" in result.output
    assert "text" in result.output
    assert "update the samples to today's definitions" in result.output


def test_a_sample_that_is_no_event_names_its_stream(project: Callable[..., Project]) -> None:
    p = project()
    p.write()
    result = p.record('SAMPLES = {{"t-1": [1, 2]}}\n', expect=1)
    assert "SAMPLES['t-1'][0]" in result.output
    assert "not an instance of a generated event class" in result.output


def test_check_without_history_still_replays(project: Callable[..., Project]) -> None:
    """Seen: `check` with no history at all could not run the replay alone."""
    p = project()
    p.write()
    p.record()
    result = p.cli("check")
    assert result.exit_code == 0, result.output
    assert "replayed 5 recorded event(s)" in result.output
    assert "warning: no history to compare with" in result.output
    assert "esgen check against no history: 0 subject(s) checked" in result.output
    p.edit("- add: {total: event.amount}", "- set: {total: state.total // event.amount}")
    failed = p.cli("check")
    assert failed.exit_code == 1
    assert "[REPLAY_FOLD_FAILED]" in failed.output


def test_a_ref_that_does_not_exist_says_so(project: Callable[..., Project]) -> None:
    """Seen: `--against nonexistent-ref` leaked an empty git error."""
    p = project()
    p.write()
    p.git("init", "-q", "-b", "main")
    p.git("-c", "user.email=t@e", "-c", "user.name=t", "add", "-A")
    p.git("-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qm", "v1")
    result = p.cli("check", "--against", "nonexistent-ref")
    assert result.exit_code == 2
    assert "git ref 'nonexistent-ref' does not exist" in result.output
    assert "fetch" in result.output  # what to do in CI, where shallow clones lack refs


def test_a_decode_failure_has_the_yaml_line_the_recording_and_a_fix(
    project: Callable[..., Project],
) -> None:
    """Seen: REPLAY_DECODE_FAILED had no file:line and a generic fix."""
    p = project()
    p.write()
    p.record()
    assert p.cli("lock").exit_code == 0
    p.edit("[RED, GREEN, BLUE]", "[RED, GREEN]")
    accept = "accept:\n" + "".join(
        f"  - {{schema: {s}, rule: ENUM_SYMBOL_REMOVED, reason: never used}}\n"
        for s in ("test.chk.Painted", "test.chk.ThingState")
    )
    (p.root / "esgen-accept.yaml").write_text(accept)
    data = json.loads(p.cli("check", "--format", "json").output)
    (failed,) = [f for f in data["problems"] if f["rule"] == "REPLAY_DECODE_FAILED"]
    assert (failed["file"], failed["line"]) == (
        "schemas/thing.yaml",
        p.line_of("      color: Color"),
    )
    assert failed["path"] == "test.chk.Painted.color"
    assert "tests/fixtures/events/test.chk.Painted/" in failed["message"]
    assert "BLUE" in failed["message"]
    assert "stream 't-1' event 2" in failed["message"]
    assert "give the enum a `default`" in failed["fix"]


def test_a_recorded_event_type_that_is_gone_points_at_the_entity(
    project: Callable[..., Project],
) -> None:
    p = project()
    p.write()
    p.record()
    text = p.yaml.read_text()
    p.yaml.write_text(text[: text.index("  Labelled:")])
    result = p.cli("check", "--format", "json")
    (failed,) = [
        f for f in json.loads(result.output)["problems"] if f["rule"] == "REPLAY_DECODE_FAILED"
    ]
    assert (failed["file"], failed["line"]) == ("schemas/thing.yaml", p.line_of("events:"))
    assert "test.chk.Labelled is no longer an event of test.chk.Thing" in failed["message"]
    assert "keep the event definition (`deprecated: true`" in failed["fix"]


def test_check_names_the_event_types_without_a_recording(
    project: Callable[..., Project],
) -> None:
    """Seen: nothing reminded the user that an event type has no recording."""
    p = project()
    p.write()
    p.record('from {package}.thing import Added\n\nSAMPLES = {{"t-1": [Added(amount=1)]}}\n')
    assert p.cli("lock").exit_code == 0
    result = p.cli("check")
    assert result.exit_code == 0, result.output
    assert (
        "warning: no recorded events of test.chk.Painted, test.chk.Labelled: the replay "
        "cannot show they still decode and fold" in result.output
    )
