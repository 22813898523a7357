"""Old events decode into today's classes: Avro schema resolution through ``decode``."""

from __future__ import annotations

import copy
import decimal
import io
from typing import Any

import fastavro
import pytest

from esgen.runtime import DecodeError, EncodeError
from generated.bank import account
from generated.shop import order


def _write(schema: dict[str, Any], datum: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(schema), datum)
    return buffer.getvalue()


def test_a_field_added_with_a_default_reads_as_the_default() -> None:
    v2 = order.AVRO_SCHEMAS["com.example.shop.ItemAdded"]
    v1 = copy.deepcopy(v2)
    v1["fields"] = [f for f in v1["fields"] if f["name"] != "weight_kg"]
    item = {
        "sku": "A",
        "quantity": 1,
        "unit_price": {"amount": decimal.Decimal("2.50"), "currency": "EUR"},
    }
    old = _write(v1, {"item": item})
    decoded = order.ENTITY.decode("com.example.shop.ItemAdded", old, writer_schema=v1)
    assert decoded == order.ItemAdded(
        item=order.LineItem(
            sku="A", quantity=1, unit_price=account.Money(amount=decimal.Decimal("2.50"))
        ),
        weight_kg=0.0,
    )


def test_a_renamed_field_reads_through_its_alias() -> None:
    v1 = {
        "type": "record",
        "name": "OrderCancelled",
        "namespace": "com.example.shop",
        "fields": [{"name": "why", "type": "string"}],
    }
    old = _write(v1, {"why": "too slow"})
    decoded = order.ENTITY.decode("OrderCancelled", old, writer_schema=v1)
    assert decoded == order.OrderCancelled(reason="too slow")


def test_an_int_written_field_is_promoted_to_long() -> None:
    v1 = {
        "type": "record",
        "name": "LimitSet",
        "namespace": "com.example.bank",
        "fields": [{"name": "name", "type": "string"}, {"name": "value", "type": "int"}],
    }
    decoded = account.ENTITY.decode("LimitSet", _write(v1, {"name": "atm", "value": 7}), v1)
    assert decoded == account.LimitSet(name="atm", value=7)


def test_garbage_is_a_decode_error_naming_the_record() -> None:
    with pytest.raises(DecodeError, match="MoneyDeposited"):
        account.ENTITY.decode("MoneyDeposited", b"\x08")


def test_a_decimal_with_too_many_places_is_an_encode_error() -> None:
    with pytest.raises(EncodeError, match="MoneyDeposited"):
        account.ENTITY.encode(account.MoneyDeposited(amount=decimal.Decimal("1.005")))


def test_schemas_in_the_descriptor() -> None:
    schemas = order.ENTITY.schemas
    assert set(schemas) >= {"com.example.shop.ItemAdded", "com.example.shop.OrderState"}
    assert order.ENTITY.topic == "com.example.shop.order"
    assert order.ENTITY.key == "order_id"
    assert order.ENTITY.compatibility == "BACKWARD_TRANSITIVE"
    assert account.ENTITY.topic == "bank.accounts"
