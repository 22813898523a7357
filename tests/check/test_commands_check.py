"""Commands are subjects of their own (on ``<topic>.commands``): locked, checked, registered."""

from __future__ import annotations

from collections.abc import Callable

from esgen.dsl import load_project
from esgen.registry.plan import registrations, subjects
from esgen.runtime.subjects import SubjectStrategy
from tests.check.esgen_project import THING, Project

COMMANDS = """
commands:
  Add:
    fields:
      amount: long
    requires:
      - "command.amount > 0"
    emits:
      - Added: {amount: command.amount}
"""


def thing(p: Project) -> str:
    return THING.format(topic=p.topic, level="BACKWARD_TRANSITIVE") + COMMANDS


def test_a_command_change_old_clients_cannot_send_is_caught(
    project: Callable[..., Project],
) -> None:
    p = project()
    p.write(thing(p))
    locked = p.cli("lock")
    assert locked.exit_code == 0, locked.output
    assert "appended schemas.lock/test.things.commands-test.chk.Add/v1.avsc" in locked.output
    assert p.cli("check").exit_code == 0
    # A new required field: commands sent by clients on the old schema cannot be read.
    p.edit(
        "      amount: long\n    requires:",
        "      amount: long\n      note: string\n    requires:",
    )
    result = p.cli("check")
    assert result.exit_code == 1, result.output
    assert "test.chk.Add.note" in result.output
    assert "[FIELD_ADDED_WITHOUT_DEFAULT]" in result.output
    assert "vs test.things.commands-test.chk.Add v1" in result.output
    # With a default it is a compatible change again, and lock appends v2.
    p.edit("      note: string\n", "      note: {type: string, default: ''}\n")
    assert p.cli("check").exit_code == 0
    assert "test.things.commands-test.chk.Add/v2.avsc" in p.cli("lock").output


def test_command_subjects_under_every_strategy(project: Callable[..., Project]) -> None:
    p = project()
    p.write(thing(p))
    model = load_project(p.root / "schemas")
    by_strategy = {
        s: {plan.subject for plan in subjects(model, s) if plan.is_command}
        for s in SubjectStrategy
    }
    assert by_strategy == {
        SubjectStrategy.TOPIC_RECORD: {"test.things.commands-test.chk.Add"},
        SubjectStrategy.RECORD: {"test.chk.Add"},
        SubjectStrategy.TOPIC: {"test.chk.Add"},
    }
    plans = subjects(model, SubjectStrategy.TOPIC)
    schemas = {plan.full_name: {"name": plan.full_name} for plan in plans}
    unions = {
        r.subject: r.union_of
        for r in registrations(model, schemas, SubjectStrategy.TOPIC)
        if r.is_union
    }
    assert unions == {
        "test.things-value": ("test.chk.Added", "test.chk.Painted", "test.chk.Labelled"),
        "test.things.commands-value": ("test.chk.Add",),
    }
