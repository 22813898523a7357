"""Definitions that must load, and what the resolved model holds for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from esgen import model
from esgen.dsl import load_project

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def project() -> model.Project:
    return load_project(ROOT / "schemas")


def _entity(project: model.Project, name: str) -> model.Entity:
    return next(e for e in project.entities if e.name == name)


def _event(entity: model.Entity, name: str) -> model.EventDef:
    return next(e for e in entity.events if e.name == name)


def test_examples_load_in_source_order(project: model.Project) -> None:
    assert [(e.source, e.module) for e in project.entities] == [
        ("bank/account.yaml", "bank.account"),
        ("shop/order.yaml", "shop.order"),
    ]
    assert sorted(project.types) == [
        "com.example.bank.Checksum",
        "com.example.bank.Money",
        "com.example.bank.Status",
        "com.example.shop.Address",
        "com.example.shop.LineItem",
        "com.example.shop.OrderStatus",
    ]


def test_topics_and_names(project: model.Project) -> None:
    account, order = project.entities
    assert account.topic == "bank.accounts"
    assert order.topic == "com.example.shop.order"
    assert order.state.full_name == "com.example.shop.OrderState"
    assert _event(order, "ItemAdded").full_name == "com.example.shop.ItemAdded"
    assert account.compatibility == "BACKWARD_TRANSITIVE" and order.compatibility is None
    assert account.state.location.path == str(ROOT / "schemas" / "bank" / "account.yaml")


def test_item_added_total_is_decimal(project: model.Project) -> None:
    add = _event(_entity(project, "Order"), "ItemAdded").fold[1]
    total = next(a for a in add.assignments if a.path == ("total",))
    assert add.op == "add"
    assert total.value.source == "event.item.unit_price.amount * event.item.quantity"
    assert total.value.tree.type == model.DecimalType(18, 2)
    assert isinstance(total.value.tree, model.Binary)
    assert total.value.tree.left == model.Ref(
        "event",
        ("item", "unit_price", "amount"),
        model.DecimalType(18, 2),
        total.value.tree.left.location,
    )


def test_defaults_are_normalized(project: model.Project) -> None:
    order = _entity(project, "Order")
    status = order.state.field("status")
    address = order.state.field("shipping_address")
    assert status is not None and status.default == model.Default("DRAFT")
    assert address is not None and address.default == model.Default(
        {"street": "", "city": "", "postcode": "", "country": "DE"}
    )
    customer = order.state.field("customer_id")
    assert customer is not None and customer.default == model.Default(None)
    key = order.state.field("order_id")
    assert key is not None and key.default is None
    enum = project.types["com.example.shop.OrderStatus"]
    assert isinstance(enum, model.EnumDef) and enum.default == "DRAFT"


def test_enum_symbols_and_meta(project: model.Project) -> None:
    account = _entity(project, "Account")
    closed = _event(account, "AccountClosed").fold[0]
    status, closed_at = closed.assignments
    assert status.value.tree == model.EnumSymbol(
        "com.example.bank.Status",
        "CLOSED",
        model.NamedRef("com.example.bank.Status"),
        status.value.tree.location,
    )
    assert closed_at.value.tree.type == model.OptionalType(model.Logical("timestamp-millis"))
    put = _event(account, "LimitSet").fold[0].assignments[0]
    assert put.key is not None and put.key.source == "event.name"
    call = _event(_entity(project, "Order"), "OrderCancelled").fold[0]
    assert call.op == "call" and call.function == "example_rules.orders:cancel_order"


def test_expression_locations_point_into_the_file(project: model.Project) -> None:
    account = _entity(project, "Account")
    (invariant,) = account.invariants
    assert (invariant.location.line, invariant.location.column) == (35, 7)
    tree = invariant.tree
    assert isinstance(tree, model.Compare)
    assert (tree.comparators[0].location.line, tree.comparators[0].location.column) == (35, 24)


VALID = """\
entity: Thing
namespace: com.example.test
key: thing_id
types:
  Color:
    enum: [RED, GREEN]
state:
  fields:
    thing_id: string
    color: {type: Color, default: RED}
    maybe_color: Color?
    colors: {type: array<Color>, default: []}
    labels: {type: "map<long>", default: {a: 1}}
    name: {type: string, default: ""}
    total: {type: decimal(10,2), default: "7"}
    half: {type: double, default: 0}
    at: timestamp-millis?
    day: {type: date, default: 2024-02-29}
    id: {type: uuid, default: 123E4567-E89B-12D3-A456-426614174000}
    stamp: {type: timestamp-micros, default: "2024-01-01T10:00:00.123456+02:00"}
    maybe: long?
  invariants:
    - |
      true if false else
      true
events:
  Changed:
    fields: {n: long, micros: timestamp-micros, s: string}
    fold:
      - set:
          color: coalesce(state.maybe_color, GREEN)
          maybe_color: RED if state.color == GREEN else null
          name: "state.name + lower(event.s)"
          total: state.total + event.n // 2
          half: event.n / 2
          at: event.micros
          maybe: "-event.n if event.s in state.labels else null"
        when: >-
          GREEN not in state.colors and 'x' in event.s
          and com.example.test.Color.RED != state.color and state.at != null
      - add: {total: 1}
      - set: {maybe: null}
        when: 0 <= event.n < 10 and len(state.colors) >= 1 and event.micros > state.stamp
"""


def test_tricky_but_valid(tmp_path: Path) -> None:
    (tmp_path / "thing.yaml").write_text(VALID)
    thing = load_project(tmp_path).entities[0]
    fields = {f.name: f.default for f in thing.state.fields}
    assert fields["total"] == model.Default("7.00")
    assert fields["half"] == model.Default(0.0)
    assert fields["day"] == model.Default("2024-02-29")
    assert fields["id"] == model.Default("123e4567-e89b-12d3-a456-426614174000")
    assert fields["labels"] == model.Default({"a": 1})
    step = thing.events[0].fold[0]
    types = {a.path[0]: a.value.tree.type for a in step.assignments}
    assert types["color"] == model.NamedRef("com.example.test.Color")
    assert types["maybe_color"] == model.OptionalType(model.NamedRef("com.example.test.Color"))
    assert types["total"] == model.DecimalType(10, 2)
    assert types["half"] == model.Primitive("double")
    assert types["maybe"] == model.OptionalType(model.Primitive("long"))
    assert types["at"] == model.Logical("timestamp-micros")
    assert step.when is not None and step.when.tree.type == model.Primitive("boolean")
