"""Replays the corpus: every case, every mode, every dialect, plus the rule ids reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from esgen.compat import Mode, check
from esgen.compat.rules import ALL_RULES, RULES_BY_ID
from tests.compat.corpus import CASES, DIALECT_NAMES, MODES, Case, as_json

CORPUS_JSON = Path(__file__).with_name("corpus.json")


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_verdict_in_every_mode(case: Case, dialect: str) -> None:
    expected = case.expected(dialect)
    assert set(expected) == set(MODES)
    got = {
        mode: check(case.new, list(case.previous), mode, dialect=dialect).compatible
        for mode in MODES
    }
    assert got == expected


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_rules(case: Case) -> None:
    report = check(case.new, list(case.previous), Mode.FULL_TRANSITIVE)
    assert report.rules() == set(case.rules), report.format_text()
    for problem in report.problems:
        assert problem.rule in RULES_BY_ID
        assert problem.message and problem.fix and problem.path.startswith(problem.schema)


def test_every_rule_is_exercised_by_the_corpus() -> None:
    used = set().union(*(c.rules for c in CASES))
    assert used == {r.id for r in ALL_RULES}


def test_corpus_json_is_in_sync() -> None:
    """``corpus.json`` is what a registry replay reads; regenerate it when the corpus changes:
    ``python -c "from tests.compat.corpus import as_json; print(as_json(), end='')"
    > tests/compat/corpus.json``."""
    assert CORPUS_JSON.read_text() == as_json()
    assert len(json.loads(CORPUS_JSON.read_text())) == len(CASES)
