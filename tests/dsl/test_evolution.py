"""Declared evolution in definitions: renamed_from, deprecated, upcasts checked against the
lock's real old schemas (tests/codegen/cases/evolution holds the lock: PriceSet v1
{price_cents}, v2 {price_cents, currency}, OwnerNamed v1 {name}, Noted, Cleared, Tagged)."""

from __future__ import annotations

from pathlib import Path

import pytest

from esgen import model
from esgen.check.lock import load_definitions, old_versions
from esgen.dsl import load_project
from esgen.errors import DefinitionErrors

CASE = Path(__file__).parents[1] / "codegen" / "cases" / "evolution"
LOCK = CASE / "schemas.lock"
TODAY = (CASE / "schemas" / "shelf.yaml").read_text()


def _load(tmp_path: Path, text: str, lock: Path | None = LOCK) -> model.Project:
    (tmp_path / "shelf.yaml").write_text(text)
    return load_definitions(tmp_path, lock)


def _errors(tmp_path: Path, text: str, lock: Path | None = LOCK) -> str:
    with pytest.raises(DefinitionErrors) as caught:
        _load(tmp_path, text, lock)
    return str(caught.value)


def _with_upcast(upcast: str) -> str:
    """Today's definition with its upcasts replaced by ``upcast`` (YAML of one list item)."""
    head = TODAY[: TODAY.index("upcasts:")]
    return head + "upcasts:\n" + upcast


def test_the_declarations_reach_the_model(tmp_path: Path) -> None:
    project = _load(tmp_path, TODAY)
    (entity,) = project.entities
    events = {e.name: e for e in entity.events}
    assert events["Remarked"].renamed_from == ("test.evo.Noted",)
    assert events["Cleared"].deprecated and not events["Remarked"].deprecated
    price, owner, tagged = entity.upcasts
    assert (price.source.full_name, price.source.number) == ("test.evo.PriceSet", 2)
    # v1 has no upcast of its own and resolves into v2: read through it (a chain)
    assert [v.number for v in price.reads] == [2, 1]
    assert price.source.label == "schemas.lock/test.evo.item-test.evo.PriceSet/v2.avsc"
    assert price.source.schema == old_versions(LOCK)["test.evo.PriceSet"][1].schema
    (emission,) = owner.outputs
    assert emission.event == "test.evo.OwnerNamed" and emission.when is not None
    assert tagged.function == "evo_hatch.upcasts:tagged" and tagged.outputs == ()
    assert price.location.line == TODAY[: TODAY.index("- from: PriceSet@2")].count("\n") + 1


def test_an_upcast_needs_the_lock(tmp_path: Path) -> None:
    text = _errors(tmp_path, TODAY, lock=None)
    assert "upcasts are checked against the old schemas in the lock, and no lock was given" in (
        text
    )
    assert "run `esgen lock`" in text
    (tmp_path / "shelf.yaml").write_text(TODAY)
    with pytest.raises(DefinitionErrors):
        load_project(tmp_path)


@pytest.mark.parametrize(
    ("upcast", "message"),
    [
        (
            "  - from: PriceSet@3\n    into: []\n",
            "has no version 3 of test.evo.PriceSet (it has 1, 2)",
        ),
        ("  - from: Gone@1\n    into: []\n", "has no version 1 of test.evo.Gone (it has none)"),
        ("  - from: PriceSet\n    into: []\n", "'from' is EventName@VERSION, not 'PriceSet'"),
        (
            "  - from: PriceSet@2\n    into:\n      - PriceSet: {price: event.price}\n",
            "'event' (test.evo.PriceSet@2) has no field 'price' (did you mean 'price_cents'?)",
        ),
        (  # the real old type: price_cents is a long, not a decimal
            "  - from: PriceSet@2\n    into:\n      - PriceSet: {price: event.currency}\n",
            "field 'price'",
        ),
        (
            "  - from: PriceSet@2\n    into:\n      - PriceSet: {price: state.price}\n",
            "'state' cannot be used in upcasts",
        ),
        (
            "  - from: PriceSet@2\n    into:\n      - PriceSet: {}\n",
            "no value for 'price'",
        ),
        (
            "  - from: PriceSet@2\n    into:\n      - Sold: {}\n",
            "unknown event 'Sold'",
        ),
        (
            "  - from: PriceSet@2\n    call: not a function\n",
            "'call' needs 'package.module:function'",
        ),
        (
            "  - from: PriceSet@2\n    into: []\n    call: a.b:c\n",
            "needs one of 'into'",
        ),
        (
            "  - from: PriceSet@2\n    into: []\n  - from: PriceSet@2\n    into: []\n",
            "is declared twice",
        ),
        (
            "  - from: PriceSet@2\n    into:\n"
            "      - PriceSet: {price: 'unscaled(event.price_cents, event.price_cents)'}\n",
            "the scale of 'unscaled' is a whole number from 0 to 38",
        ),
        (
            "  - from: OwnerNamed@1\n    into:\n"
            "      - OwnerNamed: {first_name: \"before(event.name, '')\", last_name: \"''\"}\n",
            "the separator of 'before' is a non-empty quoted string",
        ),
        (
            "  - from: PriceSet@2\n    into:\n"
            "      - PriceSet: {price: 'to_long(event.price_cents)'}\n",
            "is already long",
        ),
    ],
)
def test_upcast_errors_are_located(tmp_path: Path, upcast: str, message: str) -> None:
    text = _errors(tmp_path, _with_upcast(upcast))
    assert message in text, text
    assert f"{tmp_path / 'shelf.yaml'}:" in text


def test_an_upcast_of_todays_schema_is_refused(tmp_path: Path) -> None:
    # Remarked's old name Noted@1 has Noted's schema; today's Labelled is not in the lock, so
    # write today's Cleared (unchanged since v1) as the source.
    text = _errors(tmp_path, _with_upcast("  - from: Cleared@1\n    into: []\n"))
    assert "that version is today's schema of Cleared" in text


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("    renamed_from: [Noted]", "    renamed_from: [Labelled]"),
            "'renamed_from' lists test.evo.Labelled, which is still a type",
        ),
        (("    renamed_from: [Noted]", "    renamed_from: ['1x']"), "is not an Avro name"),
        (("    deprecated: true", "    deprecated: yes please"), "'deprecated' is true or false"),
    ],
)
def test_event_declarations_are_checked(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    assert edit[0] in TODAY
    assert message in _errors(tmp_path, TODAY.replace(*edit))


def test_an_upcast_that_would_read_todays_schema_through_a_chain_is_refused(
    tmp_path: Path,
) -> None:
    """Today's PriceSet went back to version 1's shape: version 1 resolves into version 2,
    so the upcast of version 2 would read every PriceSet written today."""
    head = TODAY[: TODAY.index("upcasts:")]
    text = head.replace(
        "      price: decimal(12,2)\n      currency: {type: string, default: EUR}\n"
        "    fold:\n      - set: {price: event.price, currency: event.currency}",
        "      price_cents: long\n    fold:\n"
        "      - set: {price: 'unscaled(event.price_cents, 2)'}",
    )
    assert text != head
    text += (
        "upcasts:\n  - from: PriceSet@2\n    into:\n"
        "      - PriceSet: {price_cents: event.price_cents}\n"
    )
    message = _errors(tmp_path, text)
    assert "version 1, which it reads through resolution, is today's schema of PriceSet" in message


def test_two_upcasts_of_versions_that_write_the_same_bytes_are_refused(tmp_path: Path) -> None:
    """PriceSet went back to version 1's shape in a version 3: a reader cannot tell them
    apart (it knows a writer schema by its fingerprint), so one upcast must read both."""
    import json
    import shutil

    lock = tmp_path / "schemas.lock"
    shutil.copytree(LOCK, lock)
    subject = "test.evo.item-test.evo.PriceSet"
    shutil.copy(lock / subject / "v1.avsc", lock / subject / "v3.avsc")
    index = json.loads((lock / "index.json").read_text())
    index["subjects"][subject]["versions"].append("v3.avsc")
    (lock / "index.json").write_text(json.dumps(index))
    definitions = tmp_path / "schemas"
    definitions.mkdir()
    upcast = "\n    into:\n      - PriceSet: {price: 'unscaled(event.price_cents, 2)'}\n"
    text = _with_upcast(f"  - from: PriceSet@1{upcast}  - from: PriceSet@3{upcast}")
    message = _errors(definitions, text, lock)
    assert "the upcast of PriceSet@3: that version writes exactly what PriceSet@1 writes" in (
        message
    )
