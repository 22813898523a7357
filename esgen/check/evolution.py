"""Where the check decides that a break is covered by declared evolution, not a problem.

Avro's resolution cannot map every change an event history meets (SPEC §8): an event type
renamed, an event retired, a field split or re-typed. The definitions will be able to say how
such old events are read today (renamed event types, ``deprecated: true``, upcasts); then a
break that a declaration covers is not a problem, and the replay (which reads every recorded
event through :func:`esgen.check.replay.read_event`, where the declarations apply) proves it
on recorded events.

:class:`Evolution` holds what the definitions declare and :meth:`Evolution.covers` is the one
decision, per finding, of whether a declaration covers it. :func:`declared` builds it from the
model: ``renamed_from`` and ``deprecated: true`` of events, and the file's ``upcasts``.
:func:`retired_findings` reports where something still emits a retired event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from esgen.check.findings import ERROR, Finding
from esgen.check.semantic import (
    EVENT_TYPE_REMOVED,
    FIELD_RENAMED_WITHOUT_ALIAS,
    FOLD_READS_MISSING_FIELD,
)
from esgen.compat import rules
from esgen.compat.rules import Rule
from esgen.model import Project

RETIRED_EVENT_EMITTED = Rule(
    "RETIRED_EVENT_EMITTED",
    "a command emits a retired event",
    "Emit today's event instead, or remove `deprecated: true` if the event is not retired.",
)
_UPCAST_REASON = "old versions are upcast"
UPCAST_COVERED = f"covered: {_UPCAST_REASON}"
"""How an accepted finding that an upcast covers begins (``esgen register`` relaxes the
registry's level of its subject)."""
_UPCAST_FIX = (
    " Or, if old events must be read differently, declare an upcast of their version: "
    "`upcasts: [{from: EventName@N, into: [...]}]` (docs/evolution.md)."
)

# Schema rules an upcast of the old shape answers: the old events are read by the upcast,
# not by Avro resolution into today's schema.
_READ_BY_UPCAST = frozenset(
    r.id
    for r in (
        rules.FIELD_ADDED_WITHOUT_DEFAULT,
        rules.TYPE_CHANGED,
        rules.NAME_CHANGED,
        rules.ENUM_SYMBOL_REMOVED,
        rules.UNION_BRANCH_MISSING,
        rules.FIXED_SIZE_CHANGED,
        FOLD_READS_MISSING_FIELD,
        FIELD_RENAMED_WITHOUT_ALIAS,  # the upcast maps the old fields itself
    )
)


@dataclass(frozen=True)
class Evolution:
    """What the definitions declare about reading old events, by event full name.

    ``renamed``: an old full name -> today's event that reads it; ``upcasts``: an event full
    name -> where (``file:line``) the upcast of its old shapes is declared; ``retired``:
    events kept readable but never appended again.
    """

    renamed: Mapping[str, str] = field(default_factory=dict)
    upcasts: Mapping[str, str] = field(default_factory=dict)
    retired: frozenset[str] = frozenset()

    def covers(self, finding: Finding) -> str | None:
        """Why ``finding`` is covered by a declaration (the reason printed with it), or
        None when it stays a problem."""
        name = finding.schema
        if finding.rule == EVENT_TYPE_REMOVED.id:
            if name in self.renamed:
                return f"renamed: its events are read as {self.renamed[name]}"
            if name in self.upcasts:
                return f"upcast declared at {self.upcasts[name]}"
        elif (
            finding.rule in _READ_BY_UPCAST
            and finding.direction != "FORWARD"  # old readers of new events gain nothing
            and name in self.upcasts
        ):
            return f"{_UPCAST_REASON} (declared at {self.upcasts[name]})"
        return None


def declared(project: Project) -> Evolution:
    """The evolution ``project`` declares."""
    renamed: dict[str, str] = {}
    upcasts: dict[str, str] = {}
    retired: set[str] = set()
    for entity in project.entities:
        for event in entity.events:
            renamed.update(dict.fromkeys(event.renamed_from, event.full_name))
            if event.deprecated:
                retired.add(event.full_name)
        for upcast in entity.upcasts:
            at = f"{upcast.location.path}:{upcast.location.line}"
            upcasts.setdefault(upcast.source.full_name, at)
            for event in entity.events:  # an upcast of an old name also reads its new one
                if upcast.source.full_name in event.renamed_from:
                    upcasts.setdefault(event.full_name, at)
    return Evolution(renamed, upcasts, frozenset(retired))


def apply_evolution(findings: list[Finding], evolution: Evolution) -> list[Finding]:
    """The findings, those a declaration covers marked as accepted with the reason; those
    an upcast could cover say so in their fix."""
    out = []
    for finding in findings:
        reason = evolution.covers(finding)
        if reason is not None:
            out.append(finding.accept(f"covered: {reason}"))
        elif (
            finding.rule in _READ_BY_UPCAST
            and finding.direction != "FORWARD"
            and finding.severity == ERROR  # not the snapshot cache's warnings
        ):
            out.append(replace(finding, fix=finding.fix + _UPCAST_FIX))
        else:
            out.append(finding)
    return out


def retired_findings(project: Project) -> list[Finding]:
    """A command's ``emits`` that names an event retired with ``deprecated: true``."""
    retired = {e.full_name for entity in project.entities for e in entity.events if e.deprecated}
    found = []
    for entity in project.entities:
        for command in entity.commands:
            for emission in command.emits:
                if emission.event in retired:
                    name = emission.event.rpartition(".")[2]
                    found.append(
                        Finding(
                            emission.event,
                            emission.event,
                            RETIRED_EVENT_EMITTED.id,
                            f"command {command.name} of {entity.name} still emits {name}, "
                            "which is retired (deprecated: true): the runtime refuses to "
                            "append it",
                            RETIRED_EVENT_EMITTED.fix,
                            emission.location,
                        )
                    )
    return found
