"""Codecs refuse what the Avro type cannot hold, naming record, field and value; what
they accept comes back exactly. Nothing is truncated, rounded or reinterpreted.

Values are checked when a record is built (records and events are frozen: they stay
valid); the state, which folds change in place, is checked in full when it is encoded.
"""

from __future__ import annotations

import copy
import datetime
import decimal
import functools
import importlib
import io
import math
import struct
import uuid
from pathlib import Path
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esgen.dsl import load_project
from esgen.model import (
    ArrayType,
    DecimalType,
    EnumDef,
    FixedDef,
    Logical,
    MapType,
    NamedRef,
    NamedType,
    OptionalType,
    Primitive,
    RecordDef,
    TypeRef,
)
from esgen.runtime import EncodeError
from generated.bank import account
from generated.shop import order
from tests.codegen.strategies import for_record, for_type
from tests.codegen.support import CASE_NAMES, CASES, REPO

D = decimal.Decimal
UTC = datetime.UTC
NOW = datetime.datetime(2026, 11, 26, 12, 30, tzinfo=UTC)
MONEY = account.Money(amount=D("1.50"))


def _line(quantity: Any) -> order.LineItem:
    return order.LineItem(sku="A-1", quantity=quantity, unit_price=MONEY)


SEEN = [
    # (what a user writes, the message it must give)
    (lambda: _line(2**31), r"LineItem: quantity = 2147483648: does not fit Avro int \(32-bit"),
    (lambda: _line(-(2**31) - 1), r"quantity = -2147483649: does not fit Avro int"),
    (lambda: _line(1.5), r"LineItem: quantity = 1.5: expected an int for Avro int, not float"),
    (lambda: _line(True), r"quantity = True: expected an int for Avro int, not bool"),
    (lambda: account.LimitSet(name="atm", value=2**63), r"LimitSet: value = 9223372036854775808"),
    (
        lambda: account.MoneyDeposited(amount=D("1E+16")),
        r"has 19 digits at scale 2; decimal\(18,2\)",
    ),
    (lambda: account.MoneyDeposited(amount=D("1.005")), r"has 3 decimal places; decimal\(18,2\)"),
    (lambda: account.MoneyDeposited(amount=D("NaN")), r"decimal holds finite numbers only"),
    (lambda: account.MoneyDeposited(amount=1), r"expected a decimal.Decimal, not int"),
    (
        lambda: order.OrderCreated(customer_id="not-a-uuid", created_at=NOW.replace(tzinfo=None)),
        r"OrderCreated: customer_id = 'not-a-uuid': expected a uuid.UUID, not str",
    ),
    (
        lambda: order.OrderPlaced(placed_at=datetime.datetime(2026, 1, 1)),
        r"holds an aware datetime",
    ),
    (
        lambda: order.OrderCreated(customer_id=uuid.uuid4(), created_at=NOW),
        r"created_at = .*: local-timestamp-millis holds a naive datetime",
    ),
    (
        lambda: order.OrderPlaced(placed_at=NOW.replace(microsecond=1)),
        r"has sub-millisecond digits; timestamp-millis would drop them",
    ),
    (
        lambda: order.DeliveryScheduled(
            date=NOW,  # a datetime is a date subclass: its time would be dropped
            window_start=datetime.time(9),
            window_end=datetime.time(10),
        ),
        r"DeliveryScheduled: date = .*: expected a datetime.date, not datetime",
    ),
    (
        lambda: order.DiscountGranted(rate=1e39),
        r"rate = 1e\+39: is beyond the range of Avro float",
    ),
    (
        lambda: account.AccountState(account_id="a", status="NOPE"),
        r"status = 'NOPE': is not a symbol of enum Status \(OPEN, FROZEN, CLOSED\)",
    ),
    (lambda: account.AccountOpened(owner="\udc80"), r"owner = '\\udc80': is not valid UTF-8 text"),
    (
        lambda: order.OrderPaid(paid_at=NOW, amount=MONEY, reference=b"short"),
        r"reference = b'short': has 5 bytes; fixed Checksum holds exactly 16",
    ),
    (lambda: order.ItemAdded(item=MONEY), r"ItemAdded: item = .*: expected a LineItem, not Money"),
    (
        lambda: account.AccountState(account_id="a", tags=("x",)),
        r"tags = \('x',\): expected a list, not tuple",
    ),
    (lambda: account.AccountState(account_id="a", limits={1: 2}), r"limits\[1\]|map keys are str"),
    (
        lambda: account.AccountState(account_id="a", tags=["ok", 5]),
        r"tags\[1\] = 5: expected a str, not int",
    ),
]


@pytest.mark.parametrize(("build", "message"), SEEN)
def test_a_value_the_type_cannot_hold_is_refused_naming_record_field_and_value(
    build: Any, message: str
) -> None:
    with pytest.raises(EncodeError, match=message):
        build()


def test_the_state_is_checked_in_full_when_it_is_encoded() -> None:
    state = account.replay("a", [account.AccountOpened(owner="Ann")])
    state.version = 2**64  # folds change the state in place: only encoding can tell
    with pytest.raises(
        EncodeError, match=r"cannot encode AccountState: version = 18446744073709551616"
    ):
        account.ENTITY.state.encode(state)
    state.version = 1
    state.tags.append(5)  # type: ignore[arg-type]
    with pytest.raises(EncodeError, match=r"AccountState: tags\[0\] = 5: expected a str"):
        account.ENTITY.state.encode(state)


def test_a_value_changed_behind_the_checks_is_named_when_fastavro_refuses_it() -> None:
    event = account.AccountOpened(owner="Ann")
    object.__setattr__(event, "owner", 5)  # around the frozen dataclass
    with pytest.raises(
        EncodeError, match=r"cannot encode AccountOpened: owner = 5: expected a str"
    ):
        account.ENTITY.encode(event)


def test_defaults_of_a_field_an_old_writer_lacked_are_values_of_the_field_type() -> None:
    """fastavro fills a field the writer did not have with the default as the schema
    writes it (a decimal as a string of bytes, one list for every record); decode
    converts it and gives each record its own list."""
    today = account.AVRO_SCHEMAS["com.example.bank.AccountState"]
    old = copy.deepcopy(today)
    old["fields"] = [f for f in old["fields"] if f["name"] in ("account_id", "owner")]
    buffer = io.BytesIO()
    fastavro.schemaless_writer(
        buffer, fastavro.parse_schema(old), {"account_id": "a", "owner": "Ann"}
    )
    first = account.ENTITY.state.decode(buffer.getvalue(), old)
    second = account.ENTITY.state.decode(buffer.getvalue(), old)
    assert first == account.AccountState(account_id="a", owner="Ann")
    assert isinstance(first.balance, D) and first.balance == D("0.00")
    assert first.status is account.Status.OPEN
    first.tags.append("mine")
    assert second.tags == [] and account.ENTITY.state.decode(buffer.getvalue(), old).tags == []


# ------------------------------------------------------------------------ property

_INT32, _INT64 = 2**31, 2**63


def _edges(
    t: TypeRef, types: dict[str, NamedType], classes: dict[str, Any]
) -> st.SearchStrategy[Any]:
    """Values near and beyond what ``t`` holds, and values of neighbouring types."""
    wrong = st.sampled_from([None, True, 1, 1.5, "1", b"1", [], {}, D("1"), NOW])
    if isinstance(t, OptionalType):
        return st.none() | _edges(t.inner, types, classes)
    if isinstance(t, Primitive):
        edge: st.SearchStrategy[Any] = {
            "boolean": st.sampled_from([True, False, 0, 1]),
            "int": st.sampled_from([0, _INT32 - 1, _INT32, -_INT32, -_INT32 - 1, 2**40, 1.0]),
            "long": st.sampled_from([_INT64 - 1, _INT64, -_INT64, -_INT64 - 1, 2**100, 7.0]),
            "float": st.sampled_from(
                [0.0, -0.0, 1e38, 3.5e38, 1e39, math.inf, math.nan, 2**24, 2**24 + 1, 0.1]
            ),
            "double": st.sampled_from(
                [1e308, math.inf, -math.inf, math.nan, 2**53, 2**53 + 1, 2**1100, 0.1]
            ),
            "string": st.text() | st.sampled_from(["\udc80", "\x00", "a\ud800b"]),
            "bytes": st.binary() | st.sampled_from([bytearray(b"ab"), "ab"]),
        }[t.name]
        return edge | wrong
    if isinstance(t, DecimalType):
        digits = st.integers(-(10**22), 10**22)
        exponents = st.integers(-t.scale - 2, t.precision)
        decimals = st.builds(lambda d, e: D(d).scaleb(e), digits, exponents)
        return decimals | st.sampled_from([D("NaN"), D("-Infinity"), D("-0")]) | wrong
    if isinstance(t, Logical):
        moments = st.datetimes(
            min_value=datetime.datetime(1, 1, 2), max_value=datetime.datetime(9999, 12, 30)
        )
        if t.name == "uuid":
            return (
                st.uuids() | st.sampled_from(["6f9619ff-8b86-d011-b42d-00c04fc964ff", "x"]) | wrong
            )
        if t.name == "date":
            return st.dates() | moments | wrong
        if t.name.startswith("time-"):
            return st.times() | st.times(timezones=st.just(UTC)) | wrong
        return moments | moments.map(lambda m: m.replace(tzinfo=UTC)) | wrong
    if isinstance(t, ArrayType):
        return st.lists(_edges(t.items, types, classes), max_size=3) | st.tuples() | wrong
    if isinstance(t, MapType):
        keys = st.text(max_size=3) | st.integers()
        return st.dictionaries(keys, _edges(t.values, types, classes), max_size=3) | wrong
    assert isinstance(t, NamedRef)
    named = types[t.full_name]
    if isinstance(named, FixedDef):
        return st.binary(min_size=named.size - 1, max_size=named.size + 1) | wrong
    if isinstance(named, EnumDef):
        return st.sampled_from([*named.symbols, "NOPE", named.symbols[0].lower()]) | wrong
    return for_type(t, types, classes) | wrong


def _float32(value: float) -> float:
    return struct.unpack("<f", struct.pack("<f", value))[0]  # type: ignore[no-any-return]


def _same(sent: Any, got: Any, t: TypeRef) -> bool:
    if isinstance(t, OptionalType) and sent is not None:
        t = t.inner
    if isinstance(sent, float) and math.isnan(sent):
        return isinstance(got, float) and math.isnan(got)
    if isinstance(t, Primitive) and t.name == "float" and sent is not None:
        return got == _float32(sent)  # float is 32 bits: within range it rounds, by design
    return bool(got == sent) and (type(sent) is not bool or type(got) is bool)


@functools.cache
def _domain(folder: Path, package: str) -> tuple[dict[str, NamedType], dict[str, Any], list[Any]]:
    project = load_project(folder)
    types = project.all_types()
    classes: dict[str, Any] = {}
    record_types: list[Any] = []
    for entity in project.entities:
        module = importlib.import_module(f"{package}.{entity.module}")
        for full_name, named in types.items():
            if hasattr(module, named.name) and full_name.startswith(entity.namespace + "."):
                classes.setdefault(full_name, getattr(module, named.name))
        record_types += [module.ENTITY.state, *module.ENTITY.events, *module.ENTITY.records]
    return types, classes, record_types


DOMAINS = [(REPO / "schemas", "generated")] + [
    (CASES / c / "schemas", f"gen_{c}") for c in CASE_NAMES
]
RECORDS = [
    pytest.param(folder, package, rt.full_name, id=f"{package}:{rt.name}")
    for folder, package in DOMAINS
    for rt in _domain(folder, package)[2]
    if rt.record.field_names
]


@pytest.mark.parametrize(("folder", "package", "full_name"), RECORDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_an_edge_value_round_trips_exactly_or_is_refused(
    folder: Path, package: str, full_name: str, data: st.DataObject
) -> None:
    types, classes, record_types = _domain(folder, package)
    record_type = next(rt for rt in record_types if rt.full_name == full_name)
    record = types[full_name]
    assert isinstance(record, RecordDef)
    field = data.draw(st.sampled_from(record.fields))
    value = data.draw(_edges(field.type, types, classes))
    valid = data.draw(for_record(record, types, classes))
    fields = {f.name: getattr(valid, f.name) for f in record.fields}
    fields[field.name] = value
    try:
        built = record_type.cls(**fields)
        body = record_type.encode(built)
    except EncodeError as exc:
        assert str(exc).startswith(f"cannot encode {record.name}: {field.name}"), str(exc)
        return
    decoded = record_type.decode(body)
    assert _same(value, getattr(decoded, field.name), field.type), (value, decoded)


def test_a_float_field_holds_what_avro_float_holds_before_and_after_encoding() -> None:
    """``float`` is 32 bits: a record rounds it when built and a fold rounds what it
    assigns, so a value is the same before it is written and after it is read back (a
    state rebuilt from a snapshot equals one rebuilt from events)."""
    granted = order.DiscountGranted(rate=0.1)
    assert granted.rate == struct.unpack("<f", struct.pack("<f", 0.1))[0] != 0.1
    assert order.ENTITY.decode("DiscountGranted", order.ENTITY.encode(granted)) == granted
    state = order.replay("o-1", [granted])
    assert order.ENTITY.state.decode(order.ENTITY.state.encode(state)) == state
