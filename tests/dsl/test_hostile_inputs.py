"""Hostile and careless definitions from issue 9: each is one located error line, never an
internal error. (The classes: characters YAML forbids, encodings, numbers too long or out
of range, nesting and length, constant expressions that cannot be computed, quoting.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from esgen.cli import main
from esgen.dsl import load_project
from esgen.errors import DefinitionErrors

BASE = """\
entity: Thing
namespace: com.example.t
key: thing_id
state:
  fields:
    thing_id: string
    n: {type: long, default: 0}
    f: {type: float, default: 0}
    d: {type: double, default: 0}
    i: {type: int, default: 0}
events:
  Happened:
    fields:
      x: long
    fold:
      - add: {n: event.x}
"""
BIG = "9" * 5000


def _state(line: str) -> str:
    """BASE with one more state field (line 11)."""
    return BASE.replace(
        "    i: {type: int, default: 0}\n", f"    i: {{type: int, default: 0}}\n{line}\n"
    )


def _step(step: str) -> str:
    """BASE with the fold step replaced (line 16)."""
    return BASE.replace("      - add: {n: event.x}", f"      - {step}")


def _errors(tmp_path: Path, text: str | bytes, name: str = "t.yaml") -> list[str]:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionErrors) as caught:
        load_project(tmp_path)
    return [str(e).removeprefix(f"{tmp_path}/") for e in caught.value.errors]


CASES = {
    # characters YAML forbids, anywhere
    "control character in a comment": (
        BASE + "# note \x01 here\n",
        "t.yaml:17:8: error: the character U+0001 (a control character) is not allowed "
        "anywhere in a YAML file, comments included",
    ),
    "NUL in a value": (
        BASE.replace("entity: Thing", "entity: Thing\ndoc: a\x00b"),
        "t.yaml:2:7: error: the character U+0000",
    ),
    "C1 control character in a key": (_state("    s\x85\x9f: string?"), "t.yaml:11:7: error:"),
    "noncharacter": (BASE + "# \uffff\n", "U+FFFF (a noncharacter)"),
    "escaped lone surrogate": (
        _state('    s: {type: string, default: "\\ud800"}'),
        "t.yaml:11:32: error: the text '\\ud800' holds the lone surrogate U+D800",
    ),
    # numbers longer than Python converts (4,300 digits) or than any Avro type holds
    "long default of 5000 digits": (
        BASE.replace("{type: long, default: 0}", f"{{type: long, default: {BIG}}}"),
        f"t.yaml:7:30: error: state, field 'n': default {'9' * 80}... (5000 characters) is "
        "out of range for 'long'",
    ),
    "int default of 5000 digits": (
        BASE.replace("{type: int, default: 0}", f"{{type: int, default: -{BIG}}}"),
        "out of range for 'int'",
    ),
    "double default of 5000 digits": (
        BASE.replace("{type: double, default: 0}", f"{{type: double, default: {BIG}}}"),
        "out of range for 'double'",
    ),
    "array default of huge numbers": (
        _state(f"    a: {{type: array<long>, default: [{BIG}]}}"),
        "out of range for 'long'",
    ),
    "fixed size of 5000 digits": (
        BASE.replace("state:", f"types:\n  F: {{fixed: {BIG}}}\nstate:"),
        "'fixed' must be a size in bytes (a whole number from 1 to 2147483647)",
    ),
    "decimal precision of 5000 digits": (
        _state(f"    p: decimal({BIG},2)?"),
        "precision must be at most 28",
    ),
    "decimal scale of 5000 digits": (
        _state(f"    p: decimal(10,{BIG})?"),
        "scale must not exceed precision",
    ),
    "decimal default of 5000 digits": (
        _state(f"    p: {{type: 'decimal(10,2)', default: '{BIG}'}}"),
        "does not fit 'decimal(10,2)' (at most 8 digits before the point)",
    ),
    # out of range defaults
    "decimal precision over 28": (
        _state("    p: {type: 'decimal(38,0)', default: '" + "9" * 38 + "'}"),
        "'decimal(38,0)': precision must be at most 28, the digits Python's decimal "
        "arithmetic keeps exactly",
    ),
    "timestamp before year 1 in UTC": (
        _state("    at: {type: timestamp-millis, default: '0001-01-01T00:00:00+01:00'}"),
        "default '0001-01-01T00:00:00+01:00' is outside the years 1 to 9999 in UTC",
    ),
    "timestamp after year 9999 in UTC": (
        _state("    at: {type: timestamp-micros, default: '9999-12-31T23:59:59-01:00'}"),
        "is outside the years 1 to 9999 in UTC",
    ),
    "float default beyond float32": (
        BASE.replace("{type: float, default: 0}", "{type: float, default: 1.0e39}"),
        "t.yaml:8:31: error: state, field 'f': default 1.0e39 is out of range for 'float' "
        "(at most 3.4028235e+38 either side of 0)",
    ),
    "float default of a big whole number": (
        BASE.replace("{type: float, default: 0}", "{type: float, default: " + "9" * 40 + "}"),
        "out of range for 'float'",
    ),
    "double default 1e999": (
        BASE.replace("{type: double, default: 0}", "{type: double, default: 1e999}"),
        "default 1e999 is out of range for 'double'",
    ),
    # constants in folds
    "literal 1e999": (
        _step("set: {d: 1e999}"),
        "t.yaml:16:18: error: event 'Happened', 'set' of 'd': the number '1e999' is beyond "
        "the range of a double (it would be infinity)",
    ),
    "constant float beyond float32": (
        _step("set: {f: 1e39}"),
        "the constant value 1e+39 does not fit 'float'",
    ),
    "constant 1 / 0": (
        _step("set: {d: 1 / 0}"),
        "t.yaml:16:18: error: event 'Happened', 'set' of 'd': division by zero: the divisor "
        "of '/' is always 0",
    ),
    "division by a constant zero": (
        _step("add: {n: event.x // (1 - 1)}"),
        "division by zero: the divisor of '//' is always 0",
    ),
    "modulo by zero": (_step("add: {n: event.x % 0}"), "the divisor of '%' is always 0"),
    "constant long overflow": (
        _step("add: {n: 9223372036854775807 + 1}"),
        "the constant value 9223372036854775808 is outside the range of a long",
    ),
    "constant overflow inside a larger expression": (
        _step("add: {n: event.x + abs(-9223372036854775807 - 1)}"),
        "t.yaml:16:28: error: event 'Happened', 'add' of 'n': the constant value "
        "9223372036854775808 is outside the range of a long",
    ),
    "constant beyond an int field": (
        _step("set: {i: 2147483647 + 1}"),
        "the constant value 2147483648 does not fit 'int'",
    ),
    "constant float overflow": (
        _step("set: {d: 1e308 * 10}"),
        "the constant value is beyond the range of a double (it would be infinity)",
    ),
    # nesting and length
    "YAML nested 450 deep": (
        _state("    a: {type: 'array<long>', default: " + "[" * 450 + "]" * 450 + "}"),
        "error: the YAML is nested too deeply (limit 64 levels)",
    ),
    "YAML nested 1000 deep (past libyaml's own limit)": (
        _state("    a: {type: 'array<long>', default: " + "[" * 1000 + "]" * 1000 + "}"),
        "error: the YAML is nested too deeply (limit 64 levels)",
    ),
    "block mappings nested 450 deep": (
        BASE + "".join("  " * i + f"k{i}:\n" for i in range(450)),
        "error: the YAML is nested too deeply (limit 64 levels)",
    ),
    "type nested 450 deep": (
        _state("    a: " + "array<" * 450 + "long" + ">" * 450 + "?"),
        "is nested too deeply (limit 32 levels)",
    ),
    "not nested 450 deep": (
        _step("add: {n: event.x}\n        when: " + "not " * 450 + "true"),
        "event 'Happened', 'when': the expression is nested too deeply (limit 100 levels)",
    ),
    "unary minus nested 450 deep": (
        _step("add: {n: " + "-" * 450 + "event.x}"),
        "the expression is nested too deeply (limit 100 levels)",
    ),
    "a sum of 500 terms": (
        _step("add: {n: " + " + ".join(["event.x"] * 500) + "}"),
        "the expression is nested too deeply (limit 100 levels)",
    ),
    "an expression of 30,000 characters": (
        _step("add: {n: " + " + ".join(["event.x"] * 3000) + "}"),
        "the expression is 29997 characters long (limit 10000)",
    ),
    # encodings
    "Latin-1 file": (
        BASE.replace("entity: Thing", "entity: Thing\ndoc: caf\xe9").encode("latin-1"),
        "t.yaml:2:9: error: the file is not UTF-8 text: byte 0xE9 cannot be decoded",
    ),
    "UTF-16 file": (BASE.encode("utf-16"), "t.yaml:1:1: error: the file is not UTF-8 text"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_located_error(case: str, tmp_path: Path) -> None:
    text, expected = CASES[case]
    errors = _errors(tmp_path, text)
    assert len(errors) == 1, errors
    assert expected in errors[0]
    assert errors[0].startswith("t.yaml:") and "\n" not in errors[0]


def test_the_cli_prints_one_line_per_error_and_no_internal_error(tmp_path: Path) -> None:
    for i, case in enumerate(CASES):
        text, _ = CASES[case]
        folder = tmp_path / f"c{i}"
        folder.mkdir()
        path = folder / "t.yaml"
        path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)
        result = CliRunner().invoke(main, ["validate", "--definitions", str(folder)])
        assert result.exit_code == 1, (case, result.output)
        lines = result.output.splitlines()
        assert lines[-1] == "1 error", (case, lines)
        assert lines[0].startswith(f"{folder}/t.yaml:"), (case, lines)
        assert "internal error" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('    "a\\nb": string?', "field name 'a\\nb' is not a valid Avro name"),
        ('    a: "str\\ning"', "unknown type 'str\\ning'"),
        ('    "a\\u2028b": string?', "field name 'a\\u2028b'"),
        ('    u: {type: uuid, default: "a\\nb"}', "got 'a\\nb'"),
    ],
)
def test_user_text_in_messages_is_escaped(tmp_path: Path, text: str, message: str) -> None:
    [error] = _errors(tmp_path, _state(text))
    assert message in error


def test_long_user_text_is_shortened(tmp_path: Path) -> None:
    [error] = _errors(tmp_path, _state("    a: " + "x" * 500))
    assert f"unknown type '{'x' * 80}'... (500 characters)" in error


def test_limits_are_not_hit_by_real_sizes(tmp_path: Path) -> None:
    """Just inside each limit is fine: nesting 60 YAML levels is not, 30 type levels are."""
    deep_type = "array<" * 31 + "long" + ">" * 31
    sum_of_99 = " + ".join(["event.x"] * 99)
    text = _state(f"    a: {{type: '{deep_type}', default: []}}").replace(
        "      - add: {n: event.x}", f"      - add: {{n: {sum_of_99}}}"
    )
    (tmp_path / "t.yaml").write_text(text)
    project = load_project(tmp_path)
    assert project.entities[0].name == "Thing"


def test_surrogate_pairs_written_as_escapes_are_one_character(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(_state('    s: {type: string, default: "\\ud83d\\ude00"}'))
    state = load_project(tmp_path).entities[0].state
    field = state.field("s")
    assert field is not None and field.default is not None
    assert field.default.value == "\U0001f600"


def test_thousands_of_events_and_types_validate_without_recursion(tmp_path: Path) -> None:
    events = "".join(
        f"  E{i}:\n    fields: {{x: long}}\n    fold:\n      - add: {{n: event.x}}\n"
        for i in range(3000)
    )
    types = "".join(f"  T{i}: {{fields: {{x: long}}}}\n" for i in range(3000))
    text = BASE.split("events:\n")[0].replace("state:", "types:\n" + types + "state:")
    (tmp_path / "t.yaml").write_text(text + "events:\n" + events)
    [entity] = load_project(tmp_path).entities
    assert (len(entity.events), len(entity.types)) == (3000, 3000)
    assert [t.name for t in entity.types[:3]] == ["T0", "T1", "T2"]  # in file order
