""" "Did you mean" hints cost a bounded number of comparisons per typo, so thousands of
typos in scopes of thousands of names stay fast, and small scopes give difflib's answer."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esgen.dsl import hints, load_project
from esgen.dsl.hints import SMALL_SCOPE, Suggester, did_you_mean
from esgen.errors import DefinitionErrors

COUNT = 3000

HEAD = """\
entity: Thing
namespace: com.example.t
key: thing_id
"""


def _errors(folder: Path) -> list[str]:
    with pytest.raises(DefinitionErrors) as caught:
        load_project(folder)
    return [e.hint or "" for e in caught.value.errors]


def test_thousands_of_typos_in_fold_targets_cost_linear_work(tmp_path: Path) -> None:
    fields = "".join(f"    field_{i}: {{type: long, default: 0}}\n" for i in range(COUNT))
    steps = "".join(f"      - add: {{fieeld_{i}: event.x}}\n" for i in range(COUNT))
    (tmp_path / "t.yaml").write_text(
        HEAD
        + "state:\n  fields:\n    thing_id: string\n"
        + fields
        + "events:\n  Happened:\n    fields: {x: long}\n    fold:\n"
        + steps
    )
    before = hints.comparisons()
    found = _errors(tmp_path)
    work = hints.comparisons() - before
    assert len(found) == COUNT
    assert found == [f"did you mean 'field_{i}'?" for i in range(COUNT)]
    # Comparing every typo with every field would be 9,000,000 comparisons.
    assert work <= SMALL_SCOPE * COUNT


def test_thousands_of_unknown_types_among_thousands_of_types(tmp_path: Path) -> None:
    types = "".join(f"  Type{i}: {{fields: {{x: long}}}}\n" for i in range(COUNT))
    fields = "".join(f"    f{i}: Typo{i}?\n" for i in range(COUNT))
    (tmp_path / "t.yaml").write_text(
        HEAD + "types:\n" + types + "state:\n  fields:\n    thing_id: string\n" + fields
    )
    before = hints.comparisons()
    found = _errors(tmp_path)
    work = hints.comparisons() - before
    assert found == [f"did you mean 'Type{i}'?" for i in range(COUNT)]
    assert work <= SMALL_SCOPE * COUNT


def test_a_repeated_typo_is_answered_once() -> None:
    names = tuple(f"name_{i}" for i in range(500))
    assert did_you_mean("nmae_7", names) == "did you mean 'name_7'?"
    before = hints.comparisons()
    for _ in range(100):
        assert did_you_mean("nmae_7", names) == "did you mean 'name_7'?"
    assert hints.comparisons() == before


def test_long_words_get_no_hint() -> None:
    assert did_you_mean("x" * 101, ["x" * 100]) is None


def test_a_rebuilt_scope_is_not_served_from_the_cache() -> None:
    names = ["status"]
    assert did_you_mean("stauts", names) == "did you mean 'status'?"
    names.append("statutes")  # a different length: the cached answer is not reused
    assert Suggester(names).best("statute") == "statutes"
    assert did_you_mean("statute", names) == "did you mean 'statutes'?"


@settings(max_examples=200, deadline=None)
@given(
    st.text("abcdef_", min_size=1, max_size=8),
    st.lists(st.text("abcdef_", min_size=1, max_size=8), min_size=1, max_size=SMALL_SCOPE),
)
def test_small_scopes_answer_exactly_as_difflib(word: str, names: list[str]) -> None:
    expected = difflib.get_close_matches(word, list(dict.fromkeys(names)), n=1, cutoff=0.6)
    assert Suggester(names).best(word) == (expected[0] if expected else None)
