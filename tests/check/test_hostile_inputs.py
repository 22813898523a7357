"""``esgen check`` and ``esgen lock`` on a hand-edited lock or accept file: each gives exit 2
with one line naming the file and the place, never a traceback."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import Result

from tests.check.esgen_project import Project


def _no_crash(result: Result) -> None:
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output and "internal error" not in result.output


@pytest.mark.parametrize(
    ("index", "message"),
    [
        (b"\xff\xfe", "index.json:1:1: cannot read the lock index: the file is not UTF-8"),
        (b'{"format": 1, "subjects": [', "cannot read the lock index: not valid JSON"),
        (b'{"format": 1, "n": ' + b"7" * 5000 + b"}", "a number with more than 4300 digits"),
        (b'{"format": 1, "subjects": []}', "'subjects' and 'entities' must be objects"),
        (
            b'{"format": 1, "subjects": {"../../etc": {"record": "x", "versions": []}}}',
            "subject '../../etc' is not a subject name",
        ),
        (
            b'{"format": 1, "subjects": {"s": {"record": "x", "versions": ["../v1.avsc"]}}}',
            "subject 's' needs 'record' (a full name) and 'versions'",
        ),
        (b'{"format": 1, "entities": {"e": 3}}', "entity 'e' needs 'topic'"),
    ],
)
def test_a_broken_lock_is_a_usage_error(
    project: Callable[..., Project], index: bytes, message: str
) -> None:
    p = project()
    p.write()
    assert p.cli("lock").exit_code == 0
    (p.root / "schemas.lock" / "index.json").write_bytes(index)
    for command in ("check", "lock"):
        result = p.cli(command)
        _no_crash(result)
        assert result.exit_code == 2, result.output
        assert message in result.output


def test_a_locked_schema_that_is_not_utf8(project: Callable[..., Project]) -> None:
    p = project()
    p.write()
    assert p.cli("lock").exit_code == 0
    [locked] = sorted((p.root / "schemas.lock").glob("*/v1.avsc"))[:1]
    locked.write_bytes(b'{"type": "record", "name": "\xe9"}')
    result = p.cli("check")
    _no_crash(result)
    assert result.exit_code == 2
    assert "v1.avsc:1:29: cannot read a locked schema: the file is not UTF-8 text" in (
        result.output
    )


@pytest.mark.parametrize(
    ("accept", "message"),
    [
        (b"accept:\n  - schema: caf\xe9\n", "esgen-accept.yaml:2:16: the file is not UTF-8 text"),
        (b"accept:\n  - reason: \x01\n", "not valid YAML"),
        (b"accept: " + b"[" * 2000 + b"]" * 2000 + b"\n", "nested too deeply to be an accept"),
        (b"accept: " + b"1" * 5000 + b"\n", "holds a number with more than 4300 digits"),
    ],
)
def test_a_broken_accept_file_is_a_usage_error(
    project: Callable[..., Project], accept: bytes, message: str
) -> None:
    p = project()
    p.write()
    assert p.cli("lock").exit_code == 0
    (p.root / "esgen-accept.yaml").write_bytes(accept)
    result = p.cli("check")
    _no_crash(result)
    assert result.exit_code == 2, result.output
    assert message in result.output


# ------------------------------------------------------------------------ recorded events


@pytest.mark.parametrize(
    ("streams", "message"),
    [
        (b"\xff", "streams.json:1:1: cannot read the recorded streams: the file is not UTF-8"),
        (b'{"id": 1}', "streams.json: expected a list of streams"),
        (
            b'[{"id": "t", "entity": "e", "events": [["../../x.avro", 0]]}]',
            "streams.json: stream 1 needs 'id', 'entity' and 'events'",
        ),
        (
            b'[{"id": "t", "entity": "e", "events": [["a.B/0123456789abcdef.avro", -1]]}]',
            "streams.json: stream 1 needs 'id', 'entity' and 'events'",
        ),
    ],
)
def test_a_broken_streams_file_is_a_usage_error(
    project: Callable[..., Project], streams: bytes, message: str
) -> None:
    p = project()
    p.write()
    p.record()
    (p.root / "tests/fixtures/events/streams.json").write_bytes(streams)
    for command in ("check", "record"):
        result = p.cli(command)
        _no_crash(result)
        assert result.exit_code == 2, result.output
        assert message in result.output


def test_a_recording_that_is_not_avro_is_a_usage_error(project: Callable[..., Project]) -> None:
    p = project()
    p.write()
    p.record()
    (recording,) = (p.root / "tests/fixtures/events/test.chk.Labelled").glob("*.avro")
    recording.write_bytes(b"not avro at all")
    result = p.cli("check")
    _no_crash(result)
    assert result.exit_code == 2, result.output
    assert "not an Avro container file esgen can read" in result.output
    assert "re-record" in result.output


def test_a_stream_that_refers_to_a_missing_recording_is_a_problem(
    project: Callable[..., Project],
) -> None:
    p = project()
    p.write()
    p.record()
    streams = p.root / "tests/fixtures/events/streams.json"
    text = streams.read_text()
    (label,) = {line.split('"')[1] for line in text.splitlines() if "Labelled/" in line}
    streams.write_text(text.replace(label, "test.chk.Labelled/0123456789abcdef.avro"))
    result = p.cli("check")
    _no_crash(result)
    assert result.exit_code == 1, result.output
    assert "[REPLAY_DECODE_FAILED]" in result.output
    assert "test.chk.Labelled/0123456789abcdef.avro is not recorded" in result.output
