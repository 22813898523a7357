"""Type strings, naming rules and the type algebra, checked directly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from esgen import model
from esgen.dsl import names
from esgen.dsl.hints import did_you_mean
from esgen.dsl.typerules import assignable, describe, unify
from esgen.dsl.types import LOGICALS, PRIMITIVES, TypeNames, TypeSyntaxError, parse_type

NAMES = TypeNames(
    {"Money": "com.example.bank.Money"},
    {"com.example.bank.Money": "record", "com.example.shop.Status": "enum"},
)

_leaf = st.sampled_from(
    [
        *PRIMITIVES,
        *LOGICALS,
        "decimal(18,2)",
        "decimal(1,0)",
        "com.example.bank.Money",
        "com.example.shop.Status",
    ]
)
_plain = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        inner.map(lambda t: f"array<{t}>"),
        inner.map(lambda t: f"map<{t}>"),
        inner.map(lambda t: f"array<{t}?>"),
        inner.map(lambda t: f"map<{t}?>"),
    ),
    max_leaves=4,
)
TYPE_STRINGS = st.one_of(_plain, _plain.map(lambda t: t + "?"))


@given(TYPE_STRINGS)
def test_type_strings_round_trip(text: str) -> None:
    assert describe(parse_type(text, NAMES)) == text


def test_short_names_resolve_to_full_names() -> None:
    assert parse_type("Money?", NAMES) == model.OptionalType(
        model.NamedRef("com.example.bank.Money")
    )


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("decmal(18,2)", "did you mean 'decimal(P,S)'?"),
        (
            "Status",
            "types of other files need their full name: did you mean 'com.example.shop.Status'?",
        ),
        ("string??", "write 'string?'"),
        ("map<string,int>", "write 'map<int>'"),
    ],
)
def test_type_errors_carry_hints(text: str, hint: str) -> None:
    with pytest.raises(TypeSyntaxError) as caught:
        parse_type(text, NAMES)
    assert caught.value.hint == hint


def _t(text: str) -> model.TypeRef:
    return parse_type(text, NAMES)


@pytest.mark.parametrize(
    ("value", "target", "ok"),
    [
        ("int", "double", True),
        ("long", "int", False),
        ("int", "decimal(5,2)", True),
        ("decimal(28,9)", "decimal(5,2)", True),
        ("double", "decimal(5,2)", False),
        ("timestamp-millis", "timestamp-micros?", True),
        ("time-micros", "time-millis", True),
        ("timestamp-millis", "local-timestamp-millis", False),
        ("long?", "long", False),
        ("string", "string?", True),
        ("array<int>", "array<long>", False),
    ],
)
def test_assignability(value: str, target: str, ok: bool) -> None:
    assert assignable(_t(value), _t(target)) is ok


def test_unify() -> None:
    assert unify(model.NullType(), _t("long")) == _t("long?")
    assert unify(_t("int"), _t("double")) == _t("double")
    assert unify(_t("decimal(5,2)"), _t("float")) is None


@pytest.mark.parametrize(
    ("name", "snake"),
    [
        ("Order", "order"),
        ("OrderLine", "order_line"),
        ("HTTPRequest", "http_request"),
    ],
)
def test_snake_case(name: str, snake: str) -> None:
    assert names.snake_case(name) == snake


def test_name_rules() -> None:
    assert names.field_name("class") == "is a Python keyword"
    assert names.field_name("match") is None  # soft keywords are fine
    assert names.pascal_case("None") == "is a Python keyword"
    assert names.topic("a" * 250) is not None
    assert names.topic("orders.v1-x_y") is None
    assert names.module_part("my-folder") is not None
    assert did_you_mean("stauts", ["status", "owner"]) == "did you mean 'status'?"
    assert did_you_mean("zzz", ["status"]) is None
