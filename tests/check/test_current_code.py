"""``esgen check`` and ``esgen record`` use code generated in memory from today's definitions,
never a generated package on disk that the definitions disagree with, and leave the modules
already imported in the process as they were."""

from __future__ import annotations

import dataclasses
import importlib
import sys
from collections.abc import Callable

import pytest

from tests.check.esgen_project import Project

HATCH = """\
import dataclasses


def paint(state, event, meta):
    # Imported lazily, as the hatches of the example domain do.
    from {package}.thing import Painted, ThingState

    if not isinstance(event, Painted) or not isinstance(state, ThingState):
        raise TypeError("the hatch got classes of another module than the fold")
    return dataclasses.replace(state, color=event.color, painted=True)
"""


def test_a_break_before_generate_fails_the_replay(project: Callable[..., Project]) -> None:
    """Seen: before `esgen generate`, a change that breaks recorded events passed."""
    p = project()
    p.write()
    p.record()
    assert p.cli("lock").exit_code == 0
    # Old `Added(amount=0)` now divides by zero; `generated/` is not regenerated.
    p.yaml.write_text(
        p.yaml.read_text().replace(
            "- add: {total: event.amount}", "- set: {total: state.total // event.amount}"
        )
    )
    result = p.cli("check")
    assert result.exit_code == 1, result.output
    assert "[REPLAY_FOLD_FAILED]" in result.output
    assert "ZeroDivisionError" in result.output
    assert f"warning: {p.package}/thing.py is out of date with the definitions" in result.output
    assert "replayed 5 recorded event(s)" in result.output


def test_a_hatch_imports_todays_classes_and_sys_modules_is_restored(
    project: Callable[..., Project], monkeypatch: pytest.MonkeyPatch
) -> None:
    p = project()
    p.write()
    (p.root / "hatches_paint.py").write_text(HATCH.format(package=p.package))
    p.edit("      - set: {color: event.color}", '      - call: "hatches_paint:paint"')
    # A state field the hatch sets, added to the definitions without `esgen generate`: the
    # module on disk lacks it, so only today's code lets the hatch succeed.
    label = '    label: {type: string, default: ""}\n'
    painted = "    painted: {type: boolean, default: false}\n"
    p.yaml.write_text(p.yaml.read_text().replace(label, label + painted))
    monkeypatch.syspath_prepend(str(p.root))
    before = importlib.import_module(f"{p.package}.thing")
    p.record()
    assert p.cli("lock").exit_code == 0
    result = p.cli("check")
    assert result.exit_code == 0, result.output
    assert "replayed 5 recorded event(s)" in result.output
    # What this process imported before the check is what it has after it.
    assert sys.modules[f"{p.package}.thing"] is before
    assert sys.modules[p.package].thing is before  # the package's attribute too
    assert "hatches_paint" not in sys.modules  # imported for the replay only
    assert "painted" not in {f.name for f in dataclasses.fields(before.ThingState)}


def test_record_uses_todays_definitions(project: Callable[..., Project]) -> None:
    """Samples built with a stale module would be recorded with a stale writer schema."""
    p = project()
    p.write()
    p.yaml.write_text(
        p.yaml.read_text().replace(
            '      text: {type: string, default: ""}',
            '      text: {type: string, default: ""}\n      lang: {type: string, default: en}',
        )
    )
    samples = (
        "from {package}.thing import Labelled\n\n"
        'SAMPLES = {{"t-1": [Labelled(text="x", lang="fr")]}}\n'
    )
    p.record(samples)
    import fastavro

    (path,) = (p.root / "tests/fixtures/events/test.chk.Labelled").glob("*.avro")
    with path.open("rb") as f:
        assert [r["lang"] for r in fastavro.reader(f)] == ["fr"]
