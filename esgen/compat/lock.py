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
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from esgen.compat.baseline import Baseline, EntityInfo, SubjectPlan, Version, entity_info
from esgen.errors import ConfigError
from esgen.model import Project

INDEX = "index.json"
FORMAT = 1


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _read_index(folder: Path) -> dict[str, Any]:
    path = folder / INDEX
    if not path.is_file():
        return {"format": FORMAT, "subjects": {}, "entities": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the lock index: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(f"{path}: not an esgen lock index (format {FORMAT})")
    return data


def read_lock(folder: Path) -> Baseline:
    """Every locked version of every subject, by record full name (oldest first)."""
    if not folder.is_dir():
        raise ConfigError(f"lock folder {folder} does not exist; run `esgen lock` first")
    index = _read_index(folder)
    baseline = Baseline(source=f"lock {folder}")
    for subject, entry in sorted(index["subjects"].items()):
        for file in entry["versions"]:
            path = folder / subject / file
            try:
                schema = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise ConfigError(f"{path}: cannot read a locked schema: {exc}") from None
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
            latest = json.loads((folder / plan.subject / versions[-1]).read_text("utf-8"))
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
