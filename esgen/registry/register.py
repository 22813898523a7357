"""``esgen register``: esgen's own rules first, then every subject, each outcome said.

``register_project`` reads every version of every subject of the project, runs esgen's
compatibility rules against them (the schema and semantic rules of ``esgen check
--registry``; the accept file applies), and registers nothing, dry run included, when they
fail. Then ``register_all`` goes through the plan. For each subject: set its compatibility
level first (so the registration is checked under it), register the schema unless the
registry already has it (a lookup), then read the level back with ``defaultToGlobal=true``
and fail if it is not the one asked for: a registry that silently ignores per-subject levels
must not be trusted with event history.

A subject whose old versions an upcast reads (a break covered by declared evolution,
docs/evolution.md) is given level NONE: the registry cannot know the upcast and would refuse
the very change it is for; esgen's rules and the replay of ``esgen check`` guard it.

A refusal of one subject does not stop the others: each subject's outcome is reported
(registered, unchanged, reused, refused with the registry's reason explained, or not
attempted), so the run says exactly which subjects it did and did not register. A schema
equal to an *old* version of its subject is not "unchanged": the registry adds no version
and returns the old id, which new events are then written with; that is reported as reused.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from esgen.check.accept import Acceptance
from esgen.check.evolution import UPCAST_COVERED
from esgen.check.findings import CheckResult
from esgen.check.project import generated_schemas, rules_against
from esgen.model import Project
from esgen.registry.connection import Reference, Registry
from esgen.registry.errors import RegistryError, RegistryUnavailable
from esgen.registry.history import read_registry, subject_versions
from esgen.registry.plan import Registration, registrations, subjects
from esgen.runtime.registry import union_schema
from esgen.runtime.subjects import SubjectStrategy


class Outcome(enum.StrEnum):
    REGISTERED = "registered"  # a new version (in a dry run: would be)
    UNCHANGED = "unchanged"  # today's schema is the subject's latest version
    REUSED = "reused"  # today's schema is an older version: its id is used again
    REFUSED = "refused"  # the registry answered with an error
    SKIPPED = "skipped"  # not attempted (the registry is gone, a reference is missing)


@dataclass(frozen=True)
class Action:
    subject: str
    outcome: Outcome
    level_set: bool  # the level was (or would be) changed
    level: str
    detail: str  # "version 3, id 42", "already registered as version 2 (id 17)"

    @property
    def registered(self) -> bool:
        return self.outcome is Outcome.REGISTERED

    @property
    def done(self) -> bool:
        """The subject holds today's schema (or would, in a dry run)."""
        return self.outcome not in (Outcome.REFUSED, Outcome.SKIPPED)

    def format_text(self, dry_run: bool) -> str:
        verb = "would register" if dry_run else "registered"
        heads = {
            Outcome.REGISTERED: f"{verb} {self.subject}",
            Outcome.UNCHANGED: f"unchanged {self.subject}",
            Outcome.REUSED: f"reused {self.subject}",
            Outcome.REFUSED: f"NOT registered {self.subject}",
            Outcome.SKIPPED: f"NOT registered {self.subject}",
        }
        head = f"{heads[self.outcome]}: {self.detail}"
        if self.level_set:
            head += f"; level {'would be ' if dry_run else ''}set to {self.level}"
        return head


@dataclass(frozen=True)
class Registered:
    """What ``register_project`` did: esgen's check, then one action per subject (none
    when the check failed)."""

    check: CheckResult
    actions: list[Action] = field(default_factory=list)

    @property
    def not_done(self) -> list[Action]:
        return [a for a in self.actions if not a.done]

    @property
    def ok(self) -> bool:
        return self.check.ok and not self.not_done


def register_project(
    registry: Registry,
    project: Project,
    files: Mapping[str, str],
    strategy: SubjectStrategy | str,
    *,
    accepts: Sequence[Acceptance] = (),
    dry_run: bool = False,
) -> Registered:
    """esgen's rules against the registry's history; if they pass, register every subject."""
    plans = subjects(project, strategy)
    versions = subject_versions(registry, plans)
    baseline = read_registry(
        registry, project, plans, strategy, versions=versions, event_types=False
    )
    result = rules_against(project, files, baseline, plans, accepts=accepts)
    if not result.ok:
        return Registered(result)
    accepted = {
        plan.subject: f.accepted
        for f in result.findings
        for plan in plans
        if f.accepted is not None and f.schema == plan.full_name
    }
    latest = {subject: numbers[-1][0] for subject, numbers in versions.items() if numbers}
    plan = registrations(project, generated_schemas(files), strategy)
    # A registry cannot know that an upcast reads a subject's old versions, and would refuse
    # the change the upcast is for: such a subject gets level NONE, and `esgen check`
    # (esgen's rules, the upcasts, the replay) is what guards it.
    upcast = {
        plan.subject
        for f in result.findings
        for plan in plans
        if (f.accepted or "").startswith(UPCAST_COVERED) and f.schema == plan.full_name
    }
    plan = [replace(item, level="NONE") if item.subject in upcast else item for item in plan]
    actions = register_all(registry, plan, latest=latest, accepted=accepted, dry_run=dry_run)
    return Registered(result, actions)


def register_all(
    registry: Registry,
    plan: Sequence[Registration],
    *,
    latest: Mapping[str, int] | None = None,
    accepted: Mapping[str, str] | None = None,
    dry_run: bool = False,
) -> list[Action]:
    """Register each subject of ``plan``; ``latest`` is each subject's latest version
    number before the run (read from the registry for subjects it lacks)."""
    versions: dict[str, int] = {}  # subject -> version, for unions of references
    actions: list[Action] = []
    gone = ""  # why the registry can no longer be asked
    for item in plan:
        missing = [s for s in item.union_of if not _done(actions, s)]
        if gone or missing:
            why = gone or f"it references {', '.join(missing)}, not registered in this run"
            actions.append(
                Action(item.subject, Outcome.SKIPPED, False, item.level, f"not attempted: {why}")
            )
            continue
        try:
            if latest is not None and (item.subject in latest or not item.is_union):
                newest = latest.get(item.subject)  # a planned subject absent there is new
            else:  # a union (not read before), or no versions given
                newest = _latest(registry, item.subject)
            actions.append(_register(registry, item, versions, newest, dry_run))
        except RegistryUnavailable as exc:
            gone = f"the registry could not be reached ({exc})"
            actions.append(
                Action(item.subject, Outcome.SKIPPED, False, item.level, f"not attempted: {gone}")
            )
        except RegistryError as exc:
            reason = (accepted or {}).get(item.subject)
            actions.append(
                Action(
                    item.subject, Outcome.REFUSED, False, item.level, _refusal(item, exc, reason)
                )
            )
    return actions


def _done(actions: Sequence[Action], subject: str) -> bool:
    return any(a.subject == subject and a.done for a in actions)


def _latest(registry: Registry, subject: str) -> int | None:
    numbers = registry.versions(subject)
    return numbers[-1][0] if numbers else None


def _register(
    registry: Registry,
    item: Registration,
    versions: dict[str, int],
    newest: int | None,
    dry_run: bool,
) -> Action:
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
        return _existing(item, schema_id, version, newest, level_set)
    if dry_run:
        number = (newest or 0) + 1
        return Action(
            item.subject, Outcome.REGISTERED, level_set, item.level, f"new version {number}"
        )
    schema_id = registry.register(item.subject, schema, references)
    again = registry.lookup(item.subject, schema, references)
    version = again[1] if again else 0
    versions[item.subject] = version
    if newest is not None and version <= newest:  # the registry answered with an old one
        return _existing(item, schema_id, version, newest, level_set)
    detail = f"version {version}, id {schema_id}; new events are written with id {schema_id}"
    return Action(item.subject, Outcome.REGISTERED, level_set, item.level, detail)


def _existing(
    item: Registration, schema_id: int, version: int, newest: int | None, level_set: bool
) -> Action:
    if newest is None or version >= newest:
        detail = f"already registered as version {version} (id {schema_id})"
        return Action(item.subject, Outcome.UNCHANGED, level_set, item.level, detail)
    detail = (
        f"today's schema is version {version} (id {schema_id}), not the latest (version "
        f"{newest}); the registry adds no version and new events are written with id "
        f"{schema_id}"
    )
    return Action(item.subject, Outcome.REUSED, level_set, item.level, detail)


def _refusal(item: Registration, exc: RegistryError, accepted: str | None) -> str:
    """The registry's refusal, with what it means and what to do."""
    status = getattr(exc, "status", 0)
    if status == 409:
        meaning = (
            f"the registry refused it as incompatible with a registered version at level "
            f"{item.level} (HTTP 409)"
        )
        if accepted is not None:
            meaning += (
                f"; esgen's check passed only because the accept file acknowledges the break "
                f"({accepted}), which the registry still enforces: register the change as a "
                "new event type, or lower the subject's level deliberately"
            )
        else:
            meaning += (
                "; esgen's rules found no break, so compare the registry's verdict with "
                "`esgen compat --dialect avro-1.12` and report the difference"
            )
    elif status == 422:
        meaning = (
            "the registry refused the schema as invalid (HTTP 422); compare with "
            "`esgen compat --mode NONE --dialect avro-1.12` (the registry's Avro version)"
        )
    else:
        meaning = "the registry answered with an error"
    return f"{meaning}. The registry said: {exc}"


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
