"""Replay scenarios: every fold step and guard of the example domain and the cases."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import uuid

import pytest

from esgen.runtime import EsgenError, EventMeta, InvariantViolation
from generated.bank import account
from generated.shop import order

D = decimal.Decimal
NOW = datetime.datetime(2026, 11, 26, 12, 30, tzinfo=datetime.UTC)


def test_initial_state_has_the_key_and_the_defaults() -> None:
    state = account.initial_state("acc-1")
    assert state == account.AccountState(account_id="acc-1")
    assert (state.owner, state.balance, state.status) == ("", D("0.00"), account.Status.OPEN)
    assert (state.tags, state.limits, state.closed_at) == ([], {}, None)


def test_set_add_subtract() -> None:
    state = account.replay(
        "acc-1",
        [
            account.AccountOpened(owner="Ada"),
            account.MoneyDeposited(amount=D("100.00")),
            account.MoneyWithdrawn(amount=D("30.25")),
            account.MoneyDeposited(amount=D("0.50")),
        ],
    )
    assert state.owner == "Ada"
    assert state.status is account.Status.OPEN
    assert state.balance == D("70.25")


def test_append_with_guard_and_remove_every_equal_element() -> None:
    tagged = account.replay(
        "acc-1",
        [account.AccountTagged(tag=t) for t in ("vip", "new", "vip", "old")],
    )
    assert tagged.tags == ["vip", "new", "old"]  # the guard kept "vip" once
    untagged = account.fold(tagged, account.AccountUntagged(tag="new"))
    assert untagged.tags == ["vip", "old"]


def test_put_and_delete_on_maps() -> None:
    state = account.replay(
        "acc-1",
        [
            account.LimitSet(name="atm", value=500),
            account.LimitSet(name="card", value=2000),
            account.LimitSet(name="atm", value=300),
            account.LimitRemoved(name="card"),
            account.LimitRemoved(name="never-set"),
        ],
    )
    assert state.limits == {"atm": 300}


def test_guard_on_enum_state() -> None:
    frozen = account.replay("a", [account.AccountFrozen()])
    assert frozen.status is account.Status.FROZEN
    closed_then_frozen = account.replay("a", [account.AccountClosed(), account.AccountFrozen()])
    assert closed_then_frozen.status is account.Status.CLOSED


def test_meta_is_unknown_without_metadata_and_known_with_it() -> None:
    state = account.initial_state("acc-1")
    assert account.fold(state, account.AccountClosed()).closed_at is None
    event_id = uuid.uuid4()
    meta = EventMeta(entity_id="acc-1", version=7, timestamp=NOW, event_id=event_id)
    closed = account.fold(state, account.AccountClosed(), meta)
    assert closed.closed_at == NOW
    audited = account.fold(state, account.AccountAudited(), meta)
    assert (audited.last_event_id, audited.version) == (event_id, 7)
    # coalesce falls back when the version is unknown
    assert account.fold(audited, account.AccountAudited()).version == 8


def test_replay_numbers_versions_from_one() -> None:
    events = [account.AccountOpened(owner="x"), account.AccountAudited(), account.AccountAudited()]
    assert account.replay("a", events).version == 3


def test_fold_never_mutates_its_inputs() -> None:
    before = account.replay(
        "a", [account.AccountTagged(tag="vip"), account.LimitSet(name="atm", value=1)]
    )
    snapshot = dataclasses.replace(before, tags=list(before.tags), limits=dict(before.limits))
    after = account.fold(before, account.AccountTagged(tag="new"))
    after = account.fold(after, account.LimitSet(name="x", value=2))
    after = account.fold(after, account.LimitRemoved(name="atm"))
    assert before == snapshot
    assert after.tags == ["vip", "new"] and after.limits == {"x": 2}


def test_mutable_defaults_are_never_shared() -> None:
    one, two = account.initial_state("1"), account.initial_state("2")
    one.tags.append("x")
    one.limits["y"] = 1
    assert two.tags == [] and two.limits == {}
    a, b = order.initial_state("o1"), order.initial_state("o2")
    assert a.shipping_address == b.shipping_address
    assert a.shipping_address is not b.shipping_address


def test_invariants() -> None:
    account.check_invariants(account.replay("a", [account.MoneyDeposited(amount=D("1.00"))]))
    overdrawn = account.replay("a", [account.MoneyWithdrawn(amount=D("1.00"))])
    with pytest.raises(InvariantViolation, match=r"state\.balance >= 0") as caught:
        account.check_invariants(overdrawn)
    assert caught.value.entity == "Account" and caught.value.state is overdrawn


def test_an_invariant_violation_names_entity_id_invariant_and_the_values_it_read() -> None:
    overdrawn = account.replay("acc-1", [account.MoneyWithdrawn(amount=D("5.00"))])
    with pytest.raises(InvariantViolation) as caught:
        account.check_invariants(overdrawn)
    assert str(caught.value) == (
        "Account 'acc-1': invariant 'state.balance >= 0' broken (state.balance = -5.00)"
    )
    assert (caught.value.entity_id, caught.value.values) == (
        "acc-1",
        {"state.balance": D("-5.00")},
    )
    odd = order.initial_state("o-1")
    odd.discount_rate = 1.5
    with pytest.raises(
        InvariantViolation,
        match=r"'0 <= state.discount_rate <= 1' broken "
        r"\(state.discount_rate = 1.5\)",
    ):
        order.check_invariants(odd)


def _item(sku: str, quantity: int, price: str) -> order.LineItem:
    return order.LineItem(sku=sku, quantity=quantity, unit_price=account.Money(amount=D(price)))


def test_order_lifecycle_with_nested_paths_functions_and_a_call() -> None:
    customer = uuid.uuid4()
    created = datetime.datetime(2026, 11, 26, 9, 0)
    events: list[order.OrderEvent] = [
        order.OrderCreated(customer_id=customer, created_at=created),
        order.ItemAdded(item=_item("A", 2, "19.99"), weight_kg=1.5),
        order.ItemAdded(item=_item("B", 1, "5.00")),
        order.ItemRemoved(item=_item("B", 1, "5.00")),
        order.ItemRemoved(item=_item("never-added", 9, "1.00")),
        order.DiscountGranted(rate=0.25),
        order.DiscountGranted(rate=0.125),
        order.NoteAdded(topic="Gift", text="wrap it"),
        order.NoteAdded(topic="door", text="ring twice"),
        order.NoteDeleted(topic="DOOR"),
        order.ShippingAddressSet(address=order.Address(street="Main 1", city="Bonn"), gift=True),
        order.ShippingCityCorrected(city="köln"),
        order.ShippingCityCorrected(city=""),
        order.OrderPlaced(placed_at=NOW),
    ]
    state = order.replay("o-1", events)
    assert state.customer_id == customer and state.created_at == created
    assert [i.sku for i in state.items] == ["A"]
    assert (state.item_count, state.total, state.weight_kg) == (2, D("39.98"), 1.5)
    assert state.discount_rate == 0.25  # max() kept the larger one
    assert state.notes == {"gift": "wrap it"}  # keys lower-cased by the fold
    assert state.shipping_address == order.Address(street="Main 1", city="KÖLN")
    assert state.gift is True
    assert state.status is order.OrderStatus.PLACED
    assert (state.placed_at, state.placed_version) == (NOW, 14)

    paid = order.fold(
        state,
        order.OrderPaid(
            paid_at=NOW, amount=account.Money(amount=D("39.98")), reference=b"0123456789abcdef"
        ),
    )
    assert paid.status is order.OrderStatus.PAID and paid.payment_reference == b"0123456789abcdef"
    cancelled = order.fold(paid, order.OrderCancelled(reason="changed my mind"))
    assert cancelled.status is order.OrderStatus.CANCELLED
    assert cancelled.cancel_reason == "changed my mind"
    shipped = order.fold(
        paid, order.OrderShipped(shipped_at=datetime.datetime(2026, 11, 27), invoice_pdf=b"%PDF")
    )
    assert order.fold(shipped, order.OrderCancelled()).status is order.OrderStatus.SHIPPED


def test_placing_an_empty_order_is_ignored_by_its_guard() -> None:
    state = order.replay("o", [order.OrderPlaced(placed_at=NOW)])
    assert state.status is order.OrderStatus.DRAFT and state.placed_at is None


def test_nested_record_paths_replace_frozen_records() -> None:
    from gen_nested import profile as p

    state = p.replay(
        "p",
        [
            p.HomeRenamed(name="Home"),
            p.HomeMoved(dx=3, dy=4),
            p.HomeMoved(dx=1, dy=1),
            p.HomeLabelled(label="cosy"),
            p.HomeLabelled(label="cosy"),
            p.HomeLabelled(label="big"),
            p.HomeUnlabelled(label="big"),
            p.HomeCounted(counter="doors", value=2),
            p.HomeCounted(counter="windows", value=5),
            p.HomeCounterDropped(counter="doors"),
            p.HomeRated(stars=4, of=3),
            p.Scored(game="chess", score=1.5),
            p.Scored(game="go", score=0.5),
        ],
    )
    home = state.home
    assert (home.name, home.at, home.labels) == ("Home", p.Point(x=4, y=-5), ["cosy"])
    assert home.counters == {"windows": 5}
    assert home.rating == D("13.0")  # 4 * 10 // 3, stored at scale 1
    assert (state.scores, state.best) == ({"chess": 1.5, "go": 0.5}, 1.5)
    swapped = p.fold(state, p.Swapped())
    assert (swapped.best, swapped.home.at) == (-1.5, p.Point(x=-5, y=4))  # simultaneous
    assert state.home.at == p.Point(x=4, y=-5)


def test_every_expression_function() -> None:
    from gen_functions import meter as m

    state = m.replay("m", [m.Read(value=-21, label="kWh")])
    assert (state.reading, state.peak, state.half, state.rest) == (21, 0, -11, 1)
    assert state.ratio == pytest.approx(-7.0)
    assert state.label == "kwh"  # value <= 10: lower(coalesce(label, 'none'))
    state = m.fold(state, m.Read(value=12, label=None))
    assert (state.label, state.peak) == ("KWH", 12)  # upper(coalesce(None, state.label))
    priced = m.fold(state, m.Priced(cents=1999))
    assert priced.price == D("19.99")  # decimal division quantized to the field's scale
    assert m.fold(state, m.Priced(cents=500)).price == D("6.00")  # guard: not > 1000 and != 0
    assert m.fold(state, m.UnitChanged(unit=m.Unit.JOULE)).unit is m.Unit.WATT
    seen = m.replay("m", [m.Seen(), m.Seen(), m.Seen()])
    assert (seen.seen, seen.last_version) == (3, 6)  # meta.version 3 + min(seen, 100)
    assert m.fold(seen, m.Noted(text="")).note is None
    assert m.fold(seen, m.Noted(text="hi")).note == "hi"
    with pytest.raises(InvariantViolation):
        m.check_invariants(m.fold(state, m.Read(value=1, label="x" * 21)))


def test_an_event_without_fields_or_fold_steps() -> None:
    from gen_empty import ping

    assert ping.replay("p", [ping.Pinged(), ping.Pinged()]) == ping.initial_state("p")
    assert (
        ping.ENTITY.decode("test.empty.Pinged", ping.ENTITY.encode(ping.Pinged())) == ping.Pinged()
    )


def test_an_unknown_event_type_is_refused_with_the_runtime_error() -> None:
    with pytest.raises(EsgenError, match="not an event of entity Account"):
        account.fold(account.initial_state("a"), order.OrderPlaced(placed_at=NOW))  # type: ignore[arg-type]
    with pytest.raises(EsgenError, match="not an event of entity Account"):
        account.replay("a", [order.OrderPlaced(placed_at=NOW)])  # type: ignore[list-item]


def test_the_descriptor_folds_like_the_module() -> None:
    """Generic code that holds only ``ENTITY`` gets the same states as the module's API."""
    events = [
        account.AccountOpened(owner="Ada"),
        account.AccountTagged(tag="vip"),
        account.AccountAudited(),
    ]
    assert account.ENTITY.replay("a", events) == account.replay("a", events)
    state = account.replay("a", events)
    event = account.LimitSet(name="atm", value=5)
    assert account.ENTITY.fold(state, event) == account.fold(state, event)
    assert state.limits == {}
