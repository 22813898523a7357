"""The generated ``decide`` of the golden case ``commands`` (``Wallet``) does what it says."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
from pathlib import Path
from typing import Any

import pytest
from gen_commands import wallet

from esgen.codegen import render_project
from esgen.dsl import load_project
from esgen.errors import DefinitionErrors
from esgen.runtime import CommandMeta, CommandRejected, EsgenError, InvariantViolation

D = decimal.Decimal
NOW = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC)


def meta(version: int, entity_id: str = "w-1") -> CommandMeta:
    return CommandMeta(entity_id=entity_id, version=version, command_id="cmd-1", timestamp=NOW)


def opened(**changes: Any) -> wallet.WalletState:
    state = wallet.replay("w-1", [wallet.OwnerAdded(owner="ann")])
    return dataclasses.replace(state, **changes)


def rejected(state: Any, command: Any, version: int = 1) -> CommandRejected:
    with pytest.raises(CommandRejected) as caught:
        wallet.decide(state, command, meta(version))
    return caught.value


def test_emits_every_event_in_order_from_command_state_and_meta() -> None:
    state = wallet.initial_state("w-1")
    events = wallet.decide(state, wallet.Open(owner="ann"), meta(0))
    assert events == [
        wallet.Opened(owners=[], coin=wallet.Coin.EUR, at=NOW, command_id="cmd-1"),
        wallet.OwnerAdded(owner="ann"),
    ]
    first = events[0]
    assert isinstance(first, wallet.Opened)
    assert first.owners is not state.owners  # the event never shares the state's list


def test_preconditions_are_checked_in_order_and_name_what_was_refused() -> None:
    refused = rejected(opened(frozen=True), wallet.Credit(amount=D("-1")))
    assert refused.reason == "command.amount > 0"  # the plain form: the text is the reason
    assert (refused.entity, refused.command, refused.entity_id) == ("Wallet", "Credit", "w-1")
    assert str(refused) == "Wallet 'w-1': Credit rejected: command.amount > 0"
    assert rejected(opened(frozen=True), wallet.Credit(amount=D("1"))).reason == (
        "the wallet is frozen"
    )
    assert rejected(opened(), wallet.AddOwner(owner="ann")).reason == "already an owner"
    assert rejected(wallet.initial_state("w-1"), wallet.Open(owner="x"), 3).reason == (
        "the wallet exists already"
    )


def test_guards_decide_which_events_are_emitted() -> None:
    state = opened()
    assert wallet.decide(state, wallet.Credit(amount=D("5.004")), meta(1)) == [
        wallet.Credited(amount=D("5.00"))  # quantized to the event field's scale
    ]
    assert wallet.decide(state, wallet.Credit(amount=D("100.5")), meta(1)) == [
        wallet.Credited(amount=D("100.50")),
        wallet.Credited(amount=D("1"), memo="bonus"),
    ]
    assert wallet.decide(state, wallet.Freeze(), meta(1)) == [wallet.Frozen()]
    assert wallet.decide(opened(frozen=True), wallet.Freeze(), meta(1)) == []
    debit = wallet.decide(opened(balance=D("9")), wallet.Debit(amount=D("2"), memo="rent"))
    assert debit == [wallet.Debited(amount=D("2")), wallet.Noted(text="rent")]


def test_events_that_break_an_invariant_reject_the_command() -> None:
    state = wallet.replay("w-1", [wallet.OwnerAdded(owner=n) for n in ("a", "b", "c")])
    refused = rejected(state, wallet.AddOwner(owner="d"), 3)
    assert refused.reason == "len(state.owners) <= 3"
    assert isinstance(refused.__cause__, InvariantViolation)
    assert rejected(opened(), wallet.Debit(amount=D("1"))).reason == "state.balance >= 0"
    assert state.owners == ["a", "b", "c"]  # decide changes nothing


def test_the_decide_function_runs_after_the_preconditions() -> None:
    assert wallet.decide(opened(balance=D("7.50")), wallet.Sweep(to="w-2"), meta(1)) == [
        wallet.Debited(amount=D("7.50"))
    ]
    assert rejected(opened(), wallet.Sweep(to="w-2")).reason == "nothing to sweep"
    refused = rejected(opened(balance=D("1")), wallet.Sweep(to="w-1"))
    assert refused.reason == "command.to != meta.entity_id"
    # A rejection raised by the function alone is completed with what was refused.
    assert rejected(opened(), wallet.Sweep(to="w-2")).command == "Sweep"


def test_commands_whose_rules_read_meta_need_it() -> None:
    with pytest.raises(EsgenError, match="deciding Open needs its CommandMeta"):
        wallet.decide(wallet.initial_state("w-1"), wallet.Open(owner="ann"))
    # Without meta the others decide as usual (the invariants folded without metadata).
    assert wallet.decide(opened(), wallet.SetLimit(limit=wallet.Limit(amount=D("5")))) == [
        wallet.LimitSet(limit=wallet.Limit(amount=D("5")))
    ]
    with pytest.raises(EsgenError, match="the CommandMeta is for 'w-2'"):
        wallet.decide(opened(), wallet.Freeze(), meta(1, entity_id="w-2"))


def test_what_is_not_a_command_or_not_a_list_of_events_is_refused() -> None:
    with pytest.raises(EsgenError, match="is not a command of entity Wallet"):
        wallet.ENTITY.decide(opened(), wallet.Frozen(), meta(1))
    broken = dataclasses.replace(wallet.ENTITY, rules=lambda state, command, meta: "nope")
    with pytest.raises(EsgenError, match="deciding Freeze of Wallet gave 'nope', not a list"):
        broken.decide(opened(), wallet.Freeze(), meta(1))
    foreign = dataclasses.replace(
        wallet.ENTITY, rules=lambda state, command, meta: [wallet.Freeze()]
    )
    with pytest.raises(EsgenError, match=r"gave Freeze\(\), which is not an event of Wallet"):
        foreign.decide(opened(), wallet.Freeze(), meta(1))


def test_commands_have_schemas_and_codecs() -> None:
    command = wallet.Debit(amount=D("1.25"), memo=None)
    command_type = wallet.ENTITY.command_type(command)
    assert command_type.full_name == "test.commands.Debit"
    assert wallet.ENTITY.command_type("Debit") is command_type
    assert wallet.ENTITY.is_command(command) and not wallet.ENTITY.is_command(wallet.Frozen())
    body = wallet.ENTITY.encode_command(command)
    assert wallet.ENTITY.decode_command("test.commands.Debit", body) == command
    assert wallet.AVRO_SCHEMAS["test.commands.Debit"]["name"] == "Debit"
    with pytest.raises(EsgenError, match="not a command of entity Wallet"):
        wallet.ENTITY.decode_command("test.commands.Debited", body)


ONE = """\
entity: {name}
namespace: t.{lower}
key: id
types:
  T{lower}:
    fields: {{x: string}}
state:
  fields:
    id: string
{state}events:
  Poked:
commands:
  Poke:
    fields:
      other: {other}
    emits:
      - Poked
"""


def test_a_command_field_of_another_files_type_is_imported(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(ONE.format(name="A", lower="a", state="", other="t.b.Tb"))
    (tmp_path / "b.yaml").write_text(ONE.format(name="B", lower="b", state="", other="string"))
    files = render_project(load_project(tmp_path), "gen")
    assert "from gen.b import Tb" in files["a.py"]
    # ... and a cycle through a command field is refused like one through any other field
    b_uses_a = ONE.format(name="B", lower="b", state="    mine: t.a.Ta?\n", other="string")
    (tmp_path / "b.yaml").write_text(b_uses_a)
    with pytest.raises(DefinitionErrors, match=r"a\.yaml -> b\.yaml -> a\.yaml"):
        render_project(load_project(tmp_path), "gen")
