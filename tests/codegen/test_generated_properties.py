"""Every definition ``validate`` accepts generates a module that compiles, imports, folds,
encodes and decodes, and decides its commands; a batch of them passes ``mypy --strict``,
``ruff check`` and ``ruff format --check``. Definitions are drawn by
``tests.codegen.definitions``; one that ``validate`` refuses must be refused with located
errors only."""

from __future__ import annotations

import datetime
import importlib
import itertools
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from esgen.codegen import render_project, write_files
from esgen.dsl import load_project
from esgen.errors import DefinitionErrors
from esgen.model import Project
from esgen.runtime import CommandMeta, CommandRejected, EncodeError
from tests.codegen.definitions import definitions
from tests.codegen.strategies import for_record, for_type
from tests.codegen.support import REPO
from tests.codegen.test_static_checks import RULES

_COUNTER = itertools.count()
NOW = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC)
_LOCATED = re.compile(r".+:\d+:\d+: error: \S")


def _generate(folder: Path, defs: list[dict[str, Any]]) -> tuple[Project, str] | None:
    """Write and generate ``defs``; None when validation refuses them (located)."""
    schemas = folder / "schemas"
    schemas.mkdir(parents=True)
    for number, definition in enumerate(defs):
        (schemas / f"entity_{number}.yaml").write_text(yaml.safe_dump(definition))
    try:
        project = load_project(schemas)
    except DefinitionErrors as exc:
        for error in exc.errors:
            assert _LOCATED.match(str(error)) and "\n" not in str(error), str(error)
        return None
    package = f"gen_prop_{next(_COUNTER)}"
    write_files(folder / package, render_project(project, package))
    return project, package


def _classes(module: Any, project: Project) -> dict[str, Any]:
    return {
        full_name: getattr(module, named.name)
        for full_name, named in project.all_types().items()
        if hasattr(module, named.name)
    }


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(definition=definitions(), data=st.data())
def test_an_accepted_definition_generates_a_module_that_works(
    tmp_path_factory: Any, definition: dict[str, Any], data: st.DataObject
) -> None:
    folder = tmp_path_factory.mktemp("prop")
    generated = _generate(folder, [definition])
    if generated is None:
        return
    project, package = generated
    (entity,) = project.entities
    sys.path.insert(0, str(folder))
    try:
        module = importlib.import_module(f"{package}.{entity.module}")
    finally:
        sys.path.remove(str(folder))
    types = project.all_types()
    classes = _classes(module, project)
    key = entity.state.field(entity.key)
    assert key is not None
    entity_id = data.draw(for_type(key.type, types, classes))
    state = module.initial_state(entity_id)
    events = [data.draw(for_record(e.record, types, classes)) for e in entity.events]
    replayed = module.replay(entity_id, events)
    folded = state
    for event in events:
        folded = module.fold(folded, event)
        body = module.ENTITY.encode(event)
        assert module.ENTITY.decode(module.ENTITY.event_type(event).full_name, body) == event
    assert replayed == module.ENTITY.replay(entity_id, events)
    assert module.initial_state(entity_id) == state  # fold never changed its input
    module.check_invariants(replayed)
    for command in entity.commands:  # each one decides, or is rejected with its reason
        sent = data.draw(for_record(command.record, types, classes))
        meta = CommandMeta(entity_id, data.draw(st.integers(0, 3)), "c-1", NOW)
        body = module.ENTITY.encode_command(sent)
        assert module.ENTITY.decode_command(command.full_name, body) == sent
        try:
            decided = module.decide(state, sent, meta)
        except CommandRejected as rejected:
            assert rejected.reason in [p.reason for p in command.requires], rejected.reason
        else:
            (emission,) = command.emits
            assert all(type(e).__name__ == emission.event.rpartition(".")[2] for e in decided)
            assert len(decided) <= 1
    try:
        body = module.ENTITY.state.encode(replayed)
    except EncodeError as exc:  # a fold's arithmetic left the field's range: said loudly
        assert str(exc).startswith(f"cannot encode {entity.state.name}: "), str(exc)
        overflows = ("does not fit Avro", "beyond the range", "digits at scale")
        assert any(reason in str(exc) for reason in overflows), str(exc)
        return
    assert module.ENTITY.state.decode(body) == replayed  # a snapshot is the state


@settings(
    max_examples=1, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.generate]
)
@given(st.lists(definitions(long_names=False), min_size=6, max_size=6))
def test_generated_modules_pass_mypy_strict_and_ruff(
    tmp_path_factory: Any, batch: list[dict[str, Any]]
) -> None:
    for number, definition in enumerate(batch):  # six entities of one project
        definition["entity"] += f"N{number}"
        definition["namespace"] += f".n{number}"
    folder = tmp_path_factory.mktemp("static")
    generated = None
    for size in range(len(batch), 0, -1):  # the largest prefix validate accepts
        attempt = folder / f"attempt_{size}"
        generated = _generate(attempt, batch[:size])
        if generated is not None:
            folder = attempt
            break
    assert generated is not None, "not one drawn definition was valid"
    _, package = generated
    env = {**os.environ, "MYPYPATH": os.pathsep.join([str(folder), str(REPO)])}
    checks = [
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "-p", package],
        [sys.executable, "-m", "ruff", "check", "--isolated", *RULES,
         "--config", 'lint.isort.known-third-party=["esgen"]',
         "--config", f'lint.isort.known-first-party=["{package}"]', package],
        [sys.executable, "-m", "ruff", "format", "--isolated", "--check", package],
    ]  # fmt: skip
    for args in checks:
        result = subprocess.run(args, cwd=folder, capture_output=True, text=True, env=env)
        assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}{result.stderr}"
