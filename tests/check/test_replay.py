"""``esgen record`` + the replay part of ``esgen check`` (old events must decode and fold)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import fastavro

from tests.check.esgen_project import SAMPLES, THING, Project


def recorded(p: Project) -> None:
    result = p.record()
    assert "5 new event(s) in 3 file(s), 2 new stream(s)" in result.output


def test_record_writes_container_files_with_writer_schema(
    project: Callable[..., Project],
) -> None:
    p = project()
    p.write()
    recorded(p)
    events = p.root / "tests/fixtures/events"
    (added,) = (events / "test.chk.Added").glob("*.avro")
    with added.open("rb") as f:
        reader = fastavro.reader(f)
        assert reader.writer_schema is not None
        assert reader.writer_schema["name"] == "test.chk.Added"
        assert [r["amount"] for r in reader] == [5, 0, 1]
    streams = json.loads((events / "streams.json").read_text())
    assert [s["id"] for s in streams] == ["t-1", "t-2"]
    again = p.cli("record")
    assert "0 new event(s) in 0 file(s), 0 new stream(s)" in again.output


def test_replay_passes_then_a_fold_that_raises_fails(project: Callable[..., Project]) -> None:
    p = project()
    p.write()
    recorded(p)
    p.cli("lock")
    ok = p.cli("check")
    assert ok.exit_code == 0, ok.output
    assert "replayed 5 recorded event(s)" in ok.output
    # A fold change the schema checks cannot see: old `Added(amount=0)` now divides by zero.
    p.edit("- add: {total: event.amount}", "- set: {total: state.total // event.amount}")
    result = p.cli("check")
    assert result.exit_code == 1
    assert "[REPLAY_FOLD_FAILED]" in result.output
    assert "ZeroDivisionError" in result.output
    assert "stream 't-1' event 4" in result.output
    assert f"schemas/thing.yaml:{p.line_of('  Added:')}:3" in result.output


def test_replay_catches_an_accepted_decode_break(project: Callable[..., Project]) -> None:
    """Accepting a schema break does not hide that recorded events stop decoding."""
    p = project()
    p.write()
    recorded(p)
    p.cli("lock")
    p.edit("[RED, GREEN, BLUE]", "[RED, GREEN]")
    (p.root / "esgen-accept.yaml").write_text(
        "accept:\n"
        + "".join(
            f"  - {{schema: {s}, rule: ENUM_SYMBOL_REMOVED, reason: BLUE never used}}\n"
            for s in ("test.chk.Painted", "test.chk.ThingState")
        )
    )
    result = p.cli("check")
    assert result.exit_code == 1
    assert "accepted (BLUE never used)" in result.output
    assert "[REPLAY_DECODE_FAILED]" in result.output
    assert "test.chk.Painted" in result.output


def test_replay_invariant_broken(project: Callable[..., Project]) -> None:
    p = project()
    p.write()
    recorded(p)
    p.edit("- add: {total: event.amount}", "- subtract: {total: event.amount}")
    result = p.cli("check", "--lock", str(Path("schemas.lock")))
    # No lock yet: usage error first; record a lock and check again.
    assert result.exit_code == 2
    p.cli("lock")
    result = p.cli("check")
    assert result.exit_code == 1
    assert "[REPLAY_INVARIANT_BROKEN]" in result.output


def test_example_domain_fixtures_replay() -> None:
    """The recorded samples of this repository still decode and fold, and every event type
    of the example domain has a recording."""
    from esgen.check import CheckRequest, check

    root = Path(__file__).resolve().parents[2]
    result = check(
        CheckRequest(
            definitions=root / "schemas",
            package="generated",
            root=root,
            fixtures=root / "tests/fixtures/events",
        )
    )
    assert result.replayed >= 25
    assert result.findings == ()
    assert not [n for n in result.notes if "no recorded events of" in n]


def test_replay_folds_with_the_id_in_the_key_type(project: Callable[..., Project]) -> None:
    """Stream ids are recorded as the message key's text; the replay reads them in the
    key's type (here long), and an id that is not one is a finding, not a crash."""
    p = project()
    text = THING.format(topic=p.topic, level="BACKWARD_TRANSITIVE")
    text = text.replace("thing_id: string", "thing_id: long\n    seen_as: long?")
    text = text.replace("- add: {total: event.amount}", "- set: {seen_as: meta.entity_id}")
    p.write(text)
    samples = SAMPLES.replace('"t-1"', '"7"').replace('"t-2"', '"-8"')
    p.record(samples)
    p.cli("lock")
    ok = p.cli("check")
    assert ok.exit_code == 0, ok.output
    assert "replayed 5 recorded event(s)" in ok.output
    p.record(samples.replace('"-8"', '"t-2"'))  # a stream whose id is no long
    result = p.cli("check")
    assert result.exit_code == 1, result.output
    assert "[REPLAY_DECODE_FAILED]" in result.output
    assert "stream 't-2' event 1" in result.output
    assert "message key 't-2' is not a long entity id" in result.output
