"""The lock folder: an append-only history of every subject's schema, kept in git.

```
schemas.lock/
  index.json                      # strategy, subjects (record, entity, versions), entities
  bank.accounts-com.example.bank.MoneyDeposited/
    v1.avsc
    v2.avsc
```

``esgen lock`` appends ``vN+1.avsc`` to a subject only when today's schema differs from its
latest version (compared as parsed JSON), and never rewrites or deletes a version: like a
lockfile it records what shipped, so ``esgen check --lock`` can compare against every
version ever released even when git history is squashed.

The lock is read as untrusted input (it is edited by hand and merged by git): a file that
is not UTF-8 JSON, an index of another shape, or a subject or version name that would lead
outside the lock folder is a ``ConfigError`` naming the file and the place, never a crash.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from esgen.check.baseline import Baseline, EntityInfo, Version, entity_info
from esgen.errors import ConfigError, SourceError, quote
from esgen.model import OldVersion, Project
from esgen.registry.plan import SubjectPlan
from esgen.sources import read_json

INDEX = "index.json"
FORMAT = 1
_VERSION_FILE = re.compile(r"v[1-9][0-9]{0,8}\.avsc\Z")
_SUBJECT = re.compile(r"[A-Za-z0-9._-]+\Z")  # a topic, '-', a full name: no '/' nor '\\'


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _read(path: Path, what: str) -> Any:
    try:
        return read_json(path)
    except SourceError as exc:
        raise ConfigError(f"{exc.location}: cannot read {what}: {exc.message}") from None


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _index_problem(data: Any) -> str | None:
    """What is wrong with the shape of a parsed index, if anything."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return f"not an esgen lock index (format {FORMAT})"
    subjects, entities = data.get("subjects", {}), data.get("entities", {})
    if not isinstance(subjects, dict) or not isinstance(entities, dict):
        return "'subjects' and 'entities' must be objects"
    for subject, entry in subjects.items():
        if not _SUBJECT.match(subject) or subject in (".", ".."):
            return f"subject {quote(subject)} is not a subject name"
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("record"), str)
            and _strings(entry.get("versions"))
            and all(_VERSION_FILE.match(v) for v in entry["versions"])
        ):
            return (
                f"subject {quote(subject)} needs 'record' (a full name) and 'versions' "
                "(file names like 'v1.avsc')"
            )
    for name, info in entities.items():
        if not (
            isinstance(info, dict)
            and isinstance(info.get("topic"), str)
            and isinstance(info.get("key"), str | None)
            and isinstance(info.get("state"), str | None)
            and _strings(info.get("events", []))
        ):
            return f"entity {quote(name)} needs 'topic', 'key', 'state' and 'events'"
    return None


def _read_index(folder: Path) -> dict[str, Any]:
    path = folder / INDEX
    if not path.is_file():
        return {"format": FORMAT, "subjects": {}, "entities": {}}
    data = _read(path, "the lock index")
    problem = _index_problem(data)
    if problem is not None:
        raise ConfigError(f"{path}: {problem}")
    data.setdefault("subjects", {})
    data.setdefault("entities", {})
    assert isinstance(data, dict)
    return data


def read_lock(folder: Path) -> Baseline:
    """Every locked version of every subject, by record full name (oldest first)."""
    if not folder.is_dir():
        raise ConfigError(f"lock folder {folder} does not exist; run `esgen lock` first")
    index = _read_index(folder)
    baseline = Baseline(source=f"lock {folder}")
    for subject, entry in sorted(index["subjects"].items()):
        for file in entry["versions"]:
            schema = _read(folder / subject / file, "a locked schema")
            baseline.add(
                entry["record"], Version(f"{subject} {file.removesuffix('.avsc')}", schema)
            )
    for name, info in index["entities"].items():
        baseline.entities[name] = EntityInfo(
            name=name,
            topic=info["topic"],
            key=info.get("key"),
            events=tuple(info.get("events", ())),
            state=info.get("state"),
        )
    return baseline


@dataclass(frozen=True)
class LockChange:
    subject: str
    file: str  # "v2.avsc"


def write_lock(
    folder: Path,
    project: Project,
    schemas: dict[str, dict[str, Any]],
    plans: list[SubjectPlan],
    strategy: str,
    *,
    dry_run: bool = False,
) -> list[LockChange]:
    """Append today's schema to every subject whose latest locked version differs."""
    index = _read_index(folder)
    changes: list[LockChange] = []
    for plan in plans:
        schema = schemas[plan.full_name]
        entry = index["subjects"].setdefault(
            plan.subject,
            {"record": plan.full_name, "entity": plan.entity.name, "versions": []},
        )
        versions: list[str] = entry["versions"]
        if versions:
            latest = _read(folder / plan.subject / versions[-1], "a locked schema")
            if _same(latest, schema):
                continue
        file = f"v{len(versions) + 1}.avsc"
        changes.append(LockChange(plan.subject, file))
        if dry_run:
            continue
        (folder / plan.subject).mkdir(parents=True, exist_ok=True)
        target = folder / plan.subject / file
        if target.exists():  # never overwrite history, even if the index was edited
            raise ConfigError(f"{target} exists but is not in {folder / INDEX}; fix the lock")
        target.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
        versions.append(file)
    entities: dict[str, Any] = index["entities"]
    for entity in project.entities:
        info = entity_info(entity)
        before = entities.get(info.name, {})
        # Events are remembered forever: a removed event type still has events on the topic.
        events = list(dict.fromkeys([*before.get("events", []), *info.events]))
        entry = {"topic": info.topic, "key": info.key, "events": events, "state": info.state}
        if entry != before:
            entities[info.name] = entry
            changes.append(LockChange(INDEX, f"entity {info.name}"))
    index["strategy"] = index.get("strategy", strategy)
    if not dry_run and changes:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / INDEX).write_text(
            json.dumps(index, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
    return changes


def old_versions(folder: Path) -> dict[str, list[OldVersion]]:
    """Every locked version of every record, by full name, oldest first: the old shapes
    upcasts are checked against (``esgen.dsl.load_project``'s ``history``). A record locked
    under several subjects keeps the versions of the first subject by name."""
    index = _read_index(folder)
    found: dict[str, list[OldVersion]] = {}
    for subject, entry in sorted(index["subjects"].items()):
        record = entry["record"]
        if record in found:
            continue
        found[record] = [
            OldVersion(
                record,
                int(file.removeprefix("v").removesuffix(".avsc")),
                _read(folder / subject / file, "a locked schema"),
                f"{folder.name}/{subject}/{file}",  # the same wherever the lock is
            )
            for file in entry["versions"]
        ]
    return found


def load_definitions(definitions: Path, lock: Path | None) -> Project:
    """The definitions, their upcasts checked against the old schemas of the lock folder
    ``lock`` (when it exists; a file that declares an upcast needs it)."""
    from esgen.dsl import load_project

    history = old_versions(lock) if lock is not None and lock.is_dir() else None
    return load_project(definitions, history, str(lock) if lock is not None else "the lock")
