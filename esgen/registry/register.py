"""``esgen register``: register a plan idempotently and make each subject's level stick.

For each subject: set its compatibility level first (so the registration is checked under
it), register the schema unless the registry already has it (a lookup), then read the level
back with ``defaultToGlobal=true`` and fail if it is not the one asked for: a registry that
silently ignores per-subject levels must not be trusted with event history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from esgen.registry.connection import Reference, Registry
from esgen.registry.errors import RegistryError
from esgen.registry.plan import Registration
from esgen.runtime.registry import union_schema


@dataclass(frozen=True)
class Action:
    subject: str
    registered: bool  # a new version was (or, in a dry run, would be) registered
    level_set: bool  # the level was (or would be) changed
    level: str
    detail: str  # "version 3, id 42", "already registered as version 2 (id 17)"

    def format_text(self, dry_run: bool) -> str:
        verb = "would register" if dry_run else "registered"
        if self.registered:
            head = f"{verb} {self.subject}: {self.detail}"
        else:
            head = f"unchanged {self.subject}: {self.detail}"
        if self.level_set:
            head += f"; level {'would be ' if dry_run else ''}set to {self.level}"
        return head


def register_all(
    registry: Registry, plan: Sequence[Registration], *, dry_run: bool = False
) -> list[Action]:
    versions: dict[str, int] = {}  # subject -> version, for unions of references
    actions: list[Action] = []
    for item in plan:
        references: list[Reference] = []
        schema: Any = item.schema
        if item.is_union:
            # Record-name subjects are the full names the union lists.
            schema, references = union_schema(
                [Reference(s, s, versions.get(s, -1)) for s in item.union_of]
            )
        level_set = _ensure_level(registry, item, dry_run)
        pending_reference = any(r.version < 0 for r in references)
        found = None if pending_reference else registry.lookup(item.subject, schema, references)
        if found is not None:
            schema_id, version = found
            versions[item.subject] = version
            detail = f"already registered as version {version} (id {schema_id})"
            actions.append(Action(item.subject, False, level_set, item.level, detail))
            continue
        if dry_run:
            actions.append(Action(item.subject, True, level_set, item.level, "new version"))
            continue
        schema_id = registry.register(item.subject, schema, references)
        again = registry.lookup(item.subject, schema, references)
        version = again[1] if again else 0
        versions[item.subject] = version
        detail = f"version {version}, id {schema_id}"
        actions.append(Action(item.subject, True, level_set, item.level, detail))
    return actions


def _ensure_level(registry: Registry, item: Registration, dry_run: bool) -> bool:
    """Give the subject its own level; True when it had to change."""
    current = registry.subject_level(item.subject)
    if current == item.level and item.level != "NONE":
        return False
    if item.level == "NONE" and current == "NONE":
        # Apicurio also answers NONE for "no level of its own" while enforcing the global
        # level, so NONE is only trusted when the effective level says so too.
        try:
            if registry.effective_level(item.subject) == "NONE":
                return False
        except RegistryError as exc:
            if exc.status != 404:
                raise
    if dry_run:
        return True
    registry.set_level(item.subject, item.level)
    effective = registry.effective_level(item.subject)
    if effective != item.level:
        raise RegistryError(
            f"set compatibility of {item.subject}: asked for {item.level} but the registry at "
            f"{registry.url} reports {effective or 'nothing'} (with defaultToGlobal=true); it "
            "does not keep per-subject levels",
            action=f"set compatibility of {item.subject}",
        )
    return True
