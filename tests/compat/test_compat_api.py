"""The Python API: report shape, paths, modes, rule table, isolation from the runtime."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest

from esgen.compat import ALL_RULES, Direction, Mode, Problem, Report, check, rules
from esgen.compat.schema import parse_schema


def rec(name: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "com.shop", "fields": list(fields),
            **extra}  # fmt: skip


def fld(name: str, type_: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **extra}


def only_problem(report: Report) -> Problem:
    assert len(report.problems) == 1, report.format_text()
    return report.problems[0]


def test_report_basics() -> None:
    old = rec("Order", fld("id", "string"))
    new = rec("Order", fld("id", "string"), fld("total", "long"))
    report = check(new, [old], "backward")
    assert not report.compatible and not report
    assert report.mode is Mode.BACKWARD
    assert report.schema == "com.shop.Order"
    problem = only_problem(report)
    assert problem.path == "com.shop.Order.total"
    assert problem.rule == "FIELD_ADDED_WITHOUT_DEFAULT"
    assert problem.direction is Direction.BACKWARD and problem.previous_index == 0
    assert "events written before it cannot be read" in problem.message
    assert problem.fix == "Add `default:` to the field."
    json.dumps(report.to_dict())  # JSON-able
    assert check(new, [old], Mode.FORWARD).compatible


def test_non_transitive_checks_the_latest_only() -> None:
    versions = [rec("O", fld("a", "int")), rec("O", fld("a", "string"))]
    new = rec("O", fld("a", "string"))
    assert check(new, versions, "FULL").checked == (1,)
    assert check(new, versions, "FULL_TRANSITIVE").checked == (0, 1)
    assert check(new, versions, "NONE").checked == ()
    problems = check(new, versions, "FULL_TRANSITIVE").problems
    assert {(p.direction, p.previous_index) for p in problems} == {
        (Direction.BACKWARD, 0),
        (Direction.FORWARD, 0),
    }


@pytest.mark.parametrize(
    ("old_type", "new_type", "path"),
    [
        ({"type": "array", "items": "int"}, {"type": "array", "items": "string"}, ".xs[]"),
        ({"type": "map", "values": "int"}, {"type": "map", "values": "string"}, ".xs{}"),
        (["null", "int"], ["null", "string"], ".xs<int>"),
        (
            {"type": "array", "items": rec("Line", fld("q", "int"))},
            {"type": "array", "items": rec("Line", fld("q", "int"), fld("sku", "string"))},
            ".xs[].sku",
        ),
        (
            ["null", rec("Card", fld("n", "string"))],
            ["null", rec("Card", fld("n", "string"), fld("cvc", "int"))],
            ".xs<com.shop.Card>.cvc",
        ),
        (
            {"type": "map", "values": ["null", rec("V", fld("a", "int"))]},
            {"type": "map", "values": ["null", rec("V", fld("a", "boolean"))]},
            ".xs{}<com.shop.V>.a",
        ),
    ],
)
def test_paths_through_containers(old_type: Any, new_type: Any, path: str) -> None:
    report = check(rec("E", fld("xs", new_type)), [rec("E", fld("xs", old_type))], "BACKWARD")
    assert only_problem(report).path == "com.shop.E" + path


def test_alias_helps_backward_only_and_forward_says_why() -> None:
    old = rec("Moved", fld("city", "string"))
    new = rec("Moved", fld("town", "string", aliases=["city"]))
    assert check(new, [old], "BACKWARD").compatible
    problem = only_problem(check(new, [old], "FORWARD"))
    assert problem.rule == "FIELD_REMOVED_WITHOUT_DEFAULT"
    assert problem.path == "com.shop.Moved.city"
    assert "renamed to `town`" in problem.message and "aliases only help" in problem.message


def test_forward_path_uses_new_field_names_for_matched_fields() -> None:
    old = rec("R", fld("a", rec("In", fld("x", "int"))))
    new = rec("R", fld("b", rec("In", fld("x", "long")), aliases=["a"]))
    # old readers do not find `a` in new data: reported under the old name
    assert only_problem(check(new, [old], "FORWARD")).path == "com.shop.R.a"
    # BACKWARD: the new reader finds `a` through its alias: fine (int -> long)
    assert check(new, [old], "BACKWARD").compatible


def test_type_change_messages_name_both_types() -> None:
    old = rec("R", fld("n", "long"))
    new = rec("R", fld("n", "int"))
    message = only_problem(check(new, [old], "BACKWARD")).message
    assert "from `long` to `int`" in message
    forward = only_problem(check(old, [new], "FORWARD")).message
    assert "widening only helps readers of the new schema" in forward


def test_validity_problems_have_no_previous_index() -> None:
    bad = rec("R", fld("n", "int", default="1"))
    report = check(bad, [], "NONE")
    problem = only_problem(report)
    assert problem.direction is Direction.SCHEMA and problem.previous_index is None
    assert problem.path == "com.shop.R.n"
    assert "(invalid schema)" in problem.format_text()


def test_invalid_previous_schema_is_reported_with_its_index() -> None:
    good = rec("R", fld("n", "int"))
    broken = rec("R", fld("n", "nope"))
    report = check(good, [broken, good], "BACKWARD_TRANSITIVE")
    problem = only_problem(report)
    assert problem.direction is Direction.SCHEMA and problem.previous_index == 0
    assert problem.rule == "UNKNOWN_TYPE"
    assert "invalid previous schema #0" in problem.format_text()


def test_format_text_lists_every_problem() -> None:
    old = rec("R", fld("a", "int"), fld("b", "string"))
    new = rec("R", fld("a", "string"), fld("c", "int"))
    text = check(new, [old], "FULL").format_text()
    assert text.splitlines()[0].endswith("INCOMPATIBLE")
    assert text.splitlines()[-1] == f"{len(check(new, [old], 'FULL').problems)} problems"
    for rule_id in (
        "TYPE_CHANGED",
        "FIELD_ADDED_WITHOUT_DEFAULT",
        "FIELD_REMOVED_WITHOUT_DEFAULT",
    ):
        assert rule_id in text


def test_mode_parsing() -> None:
    assert Mode.parse(" full_transitive ") is Mode.FULL_TRANSITIVE
    with pytest.raises(ValueError, match="unknown compatibility mode 'up'"):
        check("int", ["int"], "up")
    with pytest.raises(TypeError):
        check("int", {"type": "int"}, "BACKWARD")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown dialect"):
        check("int", [], "NONE", dialect="avro-2")


def test_deeply_nested_records() -> None:
    def nest(depth: int, leaf: str) -> Any:
        schema: Any = leaf
        for i in range(depth):
            schema = rec(f"L{i}", fld("inner", schema))
        return schema

    report = check(nest(150, "long"), [nest(150, "int")], "FULL")
    assert only_problem(report).path.endswith(".inner" * 150)


def test_recursive_schemas_terminate() -> None:
    tree = rec(
        "Tree",
        fld("kids", {"type": "array", "items": "Tree"}),
        fld("by_name", {"type": "map", "values": "Tree"}),
        fld("parent", ["null", "Tree"], default=None),
    )
    assert check(tree, [tree, tree], "FULL_TRANSITIVE").compatible
    renamed = {**tree, "name": "Node", "aliases": ["Tree"]}
    renamed = json.loads(json.dumps(renamed).replace('"Tree"', '"Node"'))
    renamed["aliases"] = ["Tree"]
    assert check(renamed, [tree], "BACKWARD").compatible
    assert not check(renamed, [tree], "FORWARD").compatible


def test_logical_types_are_ignored() -> None:
    def dec(precision: int) -> Any:
        return {"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": 2}

    assert check(rec("M", fld("amount", dec(12))), [rec("M", fld("amount", dec(9)))], "FULL")


def test_namespace_is_ignored_when_matching_names() -> None:
    old = {**rec("Order", fld("id", "string")), "namespace": "com.old"}
    assert check(rec("Order", fld("id", "string")), [old], "FULL_TRANSITIVE").compatible


def test_aliases_are_resolved_against_the_namespace() -> None:
    old = {**rec("Old", fld("id", "string")), "namespace": "com.old"}
    short_alias = rec("New", fld("id", "string"), aliases=["Old"])  # means com.shop.Old
    full_alias = rec("New", fld("id", "string"), aliases=["com.old.Old"])
    assert not check(short_alias, [old], "BACKWARD").compatible
    assert check(full_alias, [old], "BACKWARD").compatible


def test_parse_collects_several_problems() -> None:
    parsed = parse_schema(rec("R", fld("a", "nope"), fld("a", "int"), fld("b-c", "int")))
    assert {i.rule.id for i in parsed.issues} == {
        "UNKNOWN_TYPE",
        "DUPLICATE_FIELD",
        "INVALID_NAME",
    }


def test_rule_table_documents_every_rule() -> None:
    doc = rules.__doc__ or ""
    for rule in ALL_RULES:
        assert re.fullmatch(r"[A-Z][A-Z_]+", rule.id)
        assert f"| ``{rule.id}`` |" in doc
        assert rule.fix.endswith(".") or rule.fix.endswith(")")
    assert len({r.id for r in ALL_RULES}) == len(ALL_RULES)


def test_compat_does_not_import_the_runtime_or_the_generator() -> None:
    code = (
        "import sys, esgen.compat, esgen.compat.check;"
        "bad = [m for m in sys.modules if m.startswith(('esgen.runtime', 'esgen.codegen',"
        " 'esgen.dsl', 'jinja2', 'fastavro', 'avro', 'click'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_absurdly_deep_schema_is_reported_not_crashed() -> None:
    schema: Any = "int"
    for i in range(3000):
        schema = rec(f"L{i}", fld("inner", schema))
    report = check(schema, [schema], "FULL")
    assert not report.compatible
    assert only_problem(report).rule == "MALFORMED_SCHEMA"
