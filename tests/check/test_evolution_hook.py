"""The place where declared evolution covers a break (``esgen.check.evolution``).

The definition format declares no renamed events or upcasts yet; these tests give the check
declarations directly, as the definitions will, and show what a covered break becomes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from esgen.check.evolution import Evolution
from esgen.check.findings import Finding
from esgen.check.lock import read_lock
from esgen.check.project import render, rules_against
from esgen.registry.plan import subjects
from tests.check.esgen_project import Project


def finding(rule: str, schema: str, direction: str = "") -> Finding:
    return Finding(schema, schema, rule, "m", "f", None, direction=direction)


def test_what_each_declaration_covers() -> None:
    declared = Evolution(
        renamed={"x.Old": "x.New"}, upcasts={"x.Paid": "schemas/x.yaml:12"}, retired=frozenset()
    )
    assert declared.covers(finding("EVENT_TYPE_REMOVED", "x.Old")) == (
        "renamed: its events are read as x.New"
    )
    assert declared.covers(finding("TYPE_CHANGED", "x.Paid", "BACKWARD")) == (
        "old versions are upcast (declared at schemas/x.yaml:12)"
    )
    # An upcast helps today's reader, not consumers still on an old schema.
    assert declared.covers(finding("TYPE_CHANGED", "x.Paid", "FORWARD")) is None
    assert declared.covers(finding("ENTITY_TOPIC_CHANGED", "x.Paid")) is None
    assert declared.covers(finding("EVENT_TYPE_REMOVED", "x.Other")) is None
    assert Evolution().covers(finding("EVENT_TYPE_REMOVED", "x.Old")) is None


def test_a_covered_break_is_printed_and_does_not_fail(
    project: Callable[..., Project], monkeypatch: pytest.MonkeyPatch
) -> None:
    p = project()
    p.write()
    assert p.cli("lock").exit_code == 0
    text = p.yaml.read_text()
    p.yaml.write_text(text[: text.index("  Labelled:")])
    project_, files = render(Path("schemas"), p.package)
    plans = subjects(project_, "topic_record")
    baseline = read_lock(Path("schemas.lock"))
    assert not rules_against(project_, files, baseline, plans).ok
    declared = Evolution(renamed={"test.chk.Labelled": "test.chk.Captioned"})
    monkeypatch.setattr("esgen.check.project.declared", lambda project: declared)
    result = rules_against(project_, files, baseline, plans)
    assert result.ok, result.format("text")
    (covered,) = [f for f in result.findings if f.rule == "EVENT_TYPE_REMOVED"]
    assert covered.accepted == "covered: renamed: its events are read as test.chk.Captioned"
    assert "accepted (covered: renamed" in result.format("text")
