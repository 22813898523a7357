"""Seen (issue 11): after ``long -> int`` on an event field, ``read()`` failed but ``load()``
succeeded from a snapshot, because the fingerprint ignored event schemas. Now a change of an
event schema is a change of fingerprint: the snapshot is not used, and ``load`` fails on the
history as ``read`` does (on the real broker and registry)."""

from __future__ import annotations

import dataclasses
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from esgen.codegen import render_project, write_files
from esgen.dsl import load_project
from esgen.runtime import DecodeError
from tests.runtime.conftest import StoreFactory

pytestmark = [pytest.mark.kafka, pytest.mark.registry]

THING = """\
entity: Thing
namespace: test.fp
key: thing_id
state:
  fields:
    thing_id: string
    total: {{type: long, default: 0}}
events:
  Added:
    fields:
      amount: {amount}
    fold:
      - add: {{total: event.amount}}
"""


def _module(tmp_path: Path, package: str, amount: str) -> ModuleType:
    schemas = tmp_path / package / "schemas"
    schemas.mkdir(parents=True)
    (schemas / "thing.yaml").write_text(THING.format(amount=amount))
    write_files(tmp_path / package / package, render_project(load_project(schemas), package))
    sys.path.insert(0, str(tmp_path / package))
    try:
        return importlib.import_module(f"{package}.thing")
    finally:
        sys.path.remove(str(tmp_path / package))


def test_a_snapshot_never_hides_a_history_that_no_longer_decodes(
    tmp_path: Path, unique_name: Callable[[str], str], make_store: StoreFactory
) -> None:
    topic = unique_name("things")
    before = _module(tmp_path, "fp_long", "long")
    after = _module(tmp_path, "fp_int", "int")
    assert before.ENTITY.fingerprint != after.ENTITY.fingerprint
    old: Any = dataclasses.replace(before.ENTITY, topic=topic)
    new: Any = dataclasses.replace(after.ENTITY, topic=topic)
    writer = make_store(old, snapshot_every=2)
    writer.append("t-1", [before.Added(amount=5), before.Added(amount=7)])  # v2, a snapshot
    again = make_store(old)
    assert again.load("t-1").total == 12
    assert again.stats.events_replayed == 0  # from the snapshot
    today = make_store(new)
    with pytest.raises(DecodeError, match=r"cannot decode Added"):
        list(today.read("t-1"))
    with pytest.raises(DecodeError, match=r"cannot decode Added"):
        today.load("t-1")
