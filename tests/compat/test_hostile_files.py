"""``esgen compat`` on hostile files: deep JSON, huge integers, escaped lone surrogates,
non-UTF-8 bytes, a record named after a primitive. Each gives exit 1 or 2 with one line per
problem, never a traceback; a fuzz test throws malformed schema files at ``esgen compat``.
(Hand-edited lock and accept files: ``tests/check/test_hostile_files.py``.)"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esgen.cli import main
from esgen.compat import check

RECORD = '{"type": "record", "name": "R", "fields": [%s]}'


def _compat(tmp_path: Path, new: bytes, *previous: bytes, json_output: bool = False) -> Result:
    args = ["compat", "--mode", "FULL_TRANSITIVE", *(["--format", "json"] if json_output else [])]
    for i, data in enumerate(previous):
        (tmp_path / f"p{i}.avsc").write_bytes(data)
        args += ["--previous", str(tmp_path / f"p{i}.avsc")]
    (tmp_path / "new.avsc").write_bytes(new)
    return CliRunner().invoke(main, [*args, str(tmp_path / "new.avsc")])


def _no_crash(result: Result) -> None:
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output and "internal error" not in result.output


@pytest.mark.parametrize(
    ("data", "code", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, 2, "new.avsc:1:129: nested too deeply (limit 128"),
        (
            (RECORD % ('{"name": "a", "type": "int", "default": %s}' % ("9" * 5000))).encode(),
            2,
            "new.avsc:1:84: a number with more than 4300 digits",
        ),
        (b'{"type": "record", "name": "R\xe9", "fields": []}', 2, "new.avsc:1:30: the file is "),
        (b'{"type": "record",\n "name": }', 2, "new.avsc:2:10: not valid JSON: Expecting value"),
        (
            b'{"type": "record", "name": "R\\ud800", "fields": []}',
            1,
            "`R\\ud800` is not a valid name",
        ),
        (
            (RECORD % '{"name": "a", "type": "string", "default": "\\udc80"}').encode(),
            1,
            'default "\\udc80" holds a lone surrogate, which UTF-8 cannot encode',
        ),
        (
            b'{"type": "record", "name": "int", "namespace": "x", "fields": []}',
            1,
            "`x.int`: a type cannot be named after the primitive `int`",
        ),
    ],
    ids=[
        "deep",
        "huge-int",
        "latin-1",
        "bad-json",
        "surrogate-name",
        "surrogate-default",
        "x.int",
    ],
)
def test_compat_on_hostile_files(tmp_path: Path, data: bytes, code: int, message: str) -> None:
    result = _compat(tmp_path, data)
    _no_crash(result)
    assert result.exit_code == code, result.output
    assert message in result.output
    previous = _compat(tmp_path, b'{"type": "record", "name": "R", "fields": []}', data)
    _no_crash(previous)


def test_a_primitive_name_in_a_namespace_follows_each_dialect() -> None:
    schema = {"type": "record", "name": "int", "namespace": "x", "fields": []}
    assert not check(schema)  # the specification: no primitive name in any namespace
    assert check(schema, dialect="avro-1.11")  # Java compares the full name only
    assert not check({"type": "record", "name": "long", "fields": []}, dialect="avro-1.12")


def test_a_python_int_too_long_to_print_is_a_problem_not_a_crash() -> None:
    schema = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]}
    schema["fields"][0]["default"] = 10**5000
    [problem] = check(schema).problems
    assert "a number of 16610 bits" in problem.message


# ------------------------------------------------------------------------------------ fuzz

_keys = st.sampled_from(
    ["type", "name", "namespace", "fields", "items", "values", "symbols", "size", "default",
     "aliases", "logicalType", "precision", "scale", "order"]
)  # fmt: skip
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
    st.sampled_from(["record", "enum", "fixed", "array", "map", "int", "long", "string", "R"]),
)
_shapes = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(_keys, st.text(max_size=3)), inner)
    ),
    max_leaves=25,
)
_hostile = st.sampled_from(
    [
        b"[" * 3000 + b"]" * 3000,
        b'{"type": "int", "default": ' + b"1" * 4400 + b"}",
        b'"\\ud800"',
        b'{"type": "enum", "name": "E", "symbols": ["\\udfff"]}',
        b"\xff\xfe{",
        b"",
        b"NaN",
        b'{"type": "fixed", "name": "F", "size": 1e400}',
    ]
)
_files = st.one_of(
    _shapes.map(lambda value: json.dumps(value).encode()),
    _hostile,
    st.binary(max_size=40),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(new=_files, previous=st.lists(_files, max_size=2))
def test_fuzz_compat_never_crashes_and_prints_one_line_per_problem(
    new: bytes, previous: list[bytes]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        result = _compat(Path(folder), new, *previous)
        _no_crash(result)
        if result.exit_code == 2:
            assert "Error: Invalid value" in result.output
            return
        as_json = _compat(Path(folder), new, *previous, json_output=True)
    problems = len(json.loads(as_json.output)["problems"])
    lines = result.output.splitlines()
    # a head line, one line per problem, and the count (or the head alone when compatible)
    assert len(lines) == (problems + 2 if problems else 1), result.output
