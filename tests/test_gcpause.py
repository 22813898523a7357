"""Loading and rendering raise the garbage collector's threshold while they run, and give
the caller's settings back afterwards, also when loading fails or runs in several threads."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from esgen.codegen import render_project
from esgen.dsl import load_project
from esgen.errors import DefinitionErrors
from esgen.gcpause import fewer_collections

EXAMPLE = Path(__file__).resolve().parents[1] / "schemas"


@pytest.fixture
def own_thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    gc.set_threshold(1234, 7, 3)
    yield (1234, 7, 3)
    gc.set_threshold(*before)


def test_the_callers_thresholds_come_back_after_load_and_render(
    own_thresholds: tuple[int, int, int], tmp_path: Path
) -> None:
    render_project(load_project(EXAMPLE), "generated")
    assert gc.get_threshold() == own_thresholds
    (tmp_path / "broken.yaml").write_text("entity: [\n")
    with pytest.raises(DefinitionErrors):
        load_project(tmp_path)
    assert gc.get_threshold() == own_thresholds


def test_nested_and_concurrent_uses_restore_the_thresholds_once_all_have_left(
    own_thresholds: tuple[int, int, int],
) -> None:
    with fewer_collections():
        raised = gc.get_threshold()
        assert raised[0] > own_thresholds[0] and raised[1:] == own_thresholds[1:]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: load_project(EXAMPLE), range(8)))
        assert gc.get_threshold() == raised  # another user is still inside
    assert gc.get_threshold() == own_thresholds
