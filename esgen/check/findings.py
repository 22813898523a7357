"""What ``esgen check`` reports: problems tied to a subject and a YAML line, in three formats.

A ``Finding`` wraps either a schema problem from the offline checker (``esgen.compat.check``,
through :mod:`esgen.check.schemas`) or a semantic problem (:mod:`esgen.check.semantic`) or a
replay failure (:mod:`esgen.check.replay`), with the definition line it comes from so editors
and CI annotations point at YAML, not at generated files. Accepted findings stay in every
report, marked with the reason. A finding of severity ``warning`` (a snapshot subject's
change: snapshots are a cache) is printed and never fails the run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from esgen.errors import Location, one_line

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One reason the change is unsafe for events already written.

    ``schema``: full name of the record whose subject is affected; ``path``: dotted path like
    the offline checker's; ``rule``: a stable rule id (``esgen.compat.rules`` or
    ``esgen.check.semantic``); ``versus``: which history entry it was compared with (e.g.
    ``v2`` or ``main``), empty when not a comparison; ``accepted``: the reason given in the
    accept file (or the declared evolution that covers it), when the break is acknowledged;
    ``severity``: ``error`` or ``warning`` (printed, never failing); ``direction``: that of
    a schema rule's problem (``BACKWARD``, ``FORWARD``, ``SCHEMA``), empty for other rules.
    """

    schema: str
    path: str
    rule: str
    message: str
    fix: str
    location: Location | None
    subject: str = ""
    versus: str = ""
    accepted: str | None = None
    severity: str = ERROR
    direction: str = ""  # of a schema rule: BACKWARD, FORWARD or SCHEMA

    @property
    def fails(self) -> bool:
        return self.accepted is None and self.severity == ERROR

    def accept(self, reason: str) -> Finding:
        return replace(self, accepted=reason)

    def sort_key(self) -> tuple[str, int, int, str, str, str]:
        loc = self.location or Location("", 0, 0)
        return (loc.path, loc.line, loc.column, self.schema, self.path, self.rule)

    def format_text(self) -> str:
        where = f"{self.location}: " if self.location else ""
        level = f"accepted ({self.accepted})" if self.accepted is not None else self.severity
        against = f" (vs {self.versus})" if self.versus else ""
        return one_line(
            f"{where}{level}: {self.schema}: `{self.path}`: {self.message}{against}. "
            f"{self.fix} [{self.rule}]"
        )

    def format_github(self) -> str:
        # Workflow commands: one annotation per finding; accepted ones are notices.
        kind = "notice" if self.accepted is not None else self.severity
        props = []
        if self.location is not None:
            props = [
                f"file={_escape_property(self.location.path)}",
                f"line={self.location.line}",
                f"col={self.location.column}",
            ]
        props.append(f"title={_escape_property(f'esgen {self.rule}')}")
        body = f"{self.schema}: `{self.path}`: {self.message}. {self.fix}"
        if self.accepted is not None:
            body = f"accepted ({self.accepted}): {body}"
        return f"::{kind} {','.join(props)}::{_escape_data(body)}"

    def to_dict(self) -> dict[str, Any]:
        loc = self.location
        return {
            "schema": self.schema,
            "subject": self.subject,
            "path": self.path,
            "rule": self.rule,
            "versus": self.versus,
            "message": self.message,
            "fix": self.fix,
            "file": loc.path if loc else None,
            "line": loc.line if loc else None,
            "column": loc.column if loc else None,
            "severity": self.severity,
            "accepted": self.accepted is not None,
            "reason": self.accepted,
        }


def _escape_data(text: str) -> str:
    escaped = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return one_line(escaped)  # what else cannot be printed (lone surrogates) is escaped


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


@dataclass(frozen=True)
class CheckResult:
    """Every finding of one ``esgen check`` run, plus what was compared and replayed."""

    findings: tuple[Finding, ...]
    source: str  # "lock schemas.lock", "git main", "registry http://...", "no history"
    subjects_checked: int
    notes: tuple[str, ...] = ()  # warnings that do not fail the check (e.g. stale accepts)
    replayed: int = 0  # recorded events decoded
    fixtures: str = ""  # where they were recorded; empty when the replay did not run

    @property
    def failures(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.fails)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.accepted is None and not f.fails)

    @property
    def ok(self) -> bool:
        return not self.failures

    def format(self, output_format: str) -> str:
        if output_format == "json":
            return json.dumps(self.to_dict(), indent=2)
        findings = sorted(self.findings, key=Finding.sort_key)
        if output_format == "github":
            lines = [f.format_github() for f in findings]
            lines.extend(f"::warning::{_escape_data(n)}" for n in self.notes)
        else:
            lines = [f.format_text() for f in findings]
            lines.extend(one_line(f"warning: {n}") for n in self.notes)
        if self.fixtures:
            lines.append(
                one_line(f"replayed {self.replayed} recorded event(s) from {self.fixtures}")
            )
        lines.append(self.summary())
        return "\n".join(lines)

    def summary(self) -> str:
        failed = len(self.failures)
        warned = len(self.warnings)
        accepted = len(self.findings) - failed - warned
        verdict = "OK" if self.ok else "FAILED"
        warnings = f", {warned} warning(s)" if warned else ""
        return one_line(
            f"esgen check against {self.source}: {self.subjects_checked} subject(s) checked, "
            f"{failed} problem(s), {accepted} accepted{warnings}: {verdict}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "ok": self.ok,
            "subjects_checked": self.subjects_checked,
            "replayed": self.replayed,
            "problems": [f.to_dict() for f in sorted(self.findings, key=Finding.sort_key)],
            "notes": list(self.notes),
        }


def merge(*groups: Sequence[Finding]) -> tuple[Finding, ...]:
    """All findings once each (the same problem found against several versions is one)."""
    seen: dict[tuple[str, str, str, Location | None, str], Finding] = {}
    for group in groups:
        for finding in group:
            key = (finding.schema, finding.path, finding.rule, finding.location, finding.message)
            seen.setdefault(key, finding)
    return tuple(seen.values())
