"""The entry points: ``check`` (what ``esgen check`` runs), ``lock`` and ``record``.

``check(request)`` loads today's definitions, renders their generated files in memory (never
trusting ``generated/`` on disk), reads the history the request names, and runs every rule at
once:

1. schema rules per subject (:mod:`esgen.check.schemas`), the registry's own;
2. semantic rules on the definitions (:mod:`esgen.check.semantic`);
3. the replay of recorded events with today's code (:mod:`esgen.check.replay`);

then marks what declared evolution covers (:mod:`esgen.check.evolution`) and what the accept
file acknowledges (:mod:`esgen.check.accept`). Without any history the replay still runs and
the result says there was nothing to compare with. Each problem points at a YAML line; notes
say what could not be checked (stale accept entries, event types without a recording, a
stale ``generated/``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from esgen.check.accept import Acceptance, apply_accepts, load_accepts
from esgen.check.baseline import Baseline
from esgen.check.evolution import (
    RETIRED_EVENT_EMITTED,
    apply_evolution,
    declared,
    retired_findings,
)
from esgen.check.findings import CheckResult, Finding, merge
from esgen.check.lock import LockChange, load_definitions, read_lock, write_lock
from esgen.check.recording import Recorded
from esgen.check.schemas import schema_findings
from esgen.check.semantic import (
    ENUM_SYMBOL_REMOVED_FROM_HISTORY,
    SEMANTIC_RULES,
    semantic_findings,
)
from esgen.compat.dialect import STRICT, Dialect
from esgen.compat.rules import ALL_RULES, ENUM_SYMBOL_REMOVED
from esgen.compat.schema import Parsed, parse_schema
from esgen.errors import ConfigError
from esgen.model import Project
from esgen.registry.plan import Role, SubjectPlan, subjects
from esgen.runtime.subjects import SubjectStrategy

NO_HISTORY = "no history"


@dataclass(frozen=True)
class GitHistory:
    """The generated ``.avsc`` files and definitions at a git ref; ``output`` and
    ``definitions`` are the folders in the working tree (the same paths at the ref)."""

    ref: str
    output: Path
    definitions: Path


@dataclass(frozen=True)
class LockHistory:
    folder: Path


@dataclass(frozen=True)
class RegistryHistory:
    url: str


History = GitHistory | LockHistory | RegistryHistory


@dataclass(frozen=True)
class CheckRequest:
    """What to check: the definitions (rendered as ``package``) against ``history``.

    ``root`` is the project root (escape hatches import from it); ``fixtures`` the recorded
    events to replay (None: no replay); ``output`` the generated folder on disk, reported
    when the definitions disagree with it.
    """

    definitions: Path
    package: str
    root: Path
    history: History | None = None
    strategy: SubjectStrategy | str = SubjectStrategy.TOPIC_RECORD
    fixtures: Path | None = None
    accept_file: Path | None = None
    output: Path | None = None
    dialect: Dialect | str = STRICT
    lock: Path | None = None  # the lock folder upcasts are checked against


def known_rule_ids() -> list[str]:
    from esgen.check.replay import REPLAY_RULES

    return [r.id for r in (*ALL_RULES, *SEMANTIC_RULES, RETIRED_EVENT_EMITTED, *REPLAY_RULES)]


def generated_schemas(files: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Today's ``.avsc`` contents (from ``render_project``) by full name."""
    out: dict[str, dict[str, Any]] = {}
    for path, text in files.items():
        if path.endswith(".avsc"):
            out[path.rpartition("/")[2].removesuffix(".avsc")] = json.loads(text)
    return out


# -------------------------------------------------------------------------------- check


def check(request: CheckRequest) -> CheckResult:
    """Every problem of today's definitions against the request's history and recordings."""
    project, files = render(request.definitions, request.package, request.lock)
    plans = subjects(project, request.strategy)
    notes: list[str] = []
    if request.history is None:
        baseline = Baseline(source=NO_HISTORY)
        notes.append(
            "no history to compare with (no --against, --lock or --registry, and no lock "
            "folder): schema and semantic rules were skipped; run `esgen lock` to start one"
        )
    else:
        baseline = read_history(request.history, project, plans, request.strategy, request.lock)
    accepts = _accepts(request.accept_file)
    extra: list[Finding] = []
    replayed = 0
    if request.fixtures is None:
        notes.append("no recorded events to replay: see `esgen record`")
    else:
        if not request.fixtures.is_dir():
            raise ConfigError(f"fixtures folder {request.fixtures} does not exist")
        from esgen.check.current import current_code
        from esgen.check.replay import replay_findings

        with current_code(project, request.package, files, request.root) as code:
            replay = replay_findings(project, code, request.fixtures)
        extra, replayed = replay.findings, replay.replayed
        if replay.unrecorded:
            notes.append(
                f"no recorded events of {', '.join(replay.unrecorded)}: the replay cannot show "
                "they still decode and fold; add samples of them and run `esgen record`"
            )
    if request.output is not None:
        notes.extend(_stale_output(request.output, files))
    result = rules_against(
        project,
        files,
        baseline,
        plans,
        accepts=accepts,
        extra=extra,
        dialect=request.dialect,
    )
    return replace(
        result,
        notes=(*result.notes, *notes),
        replayed=replayed,
        fixtures=str(request.fixtures) if request.fixtures is not None else "",
    )


def rules_against(
    project: Project,
    files: Mapping[str, str],
    baseline: Baseline,
    plans: Sequence[SubjectPlan],
    *,
    accepts: Sequence[Acceptance] = (),
    extra: Sequence[Finding] = (),
    dialect: Dialect | str = STRICT,
) -> CheckResult:
    """Schema and semantic rules against ``baseline``, plus ``extra`` findings (the replay's),
    with declared evolution and the accept file applied."""
    schemas = generated_schemas(files)
    baseline = _with_roles(baseline, project, plans)
    by_schema, compared = schema_findings(project, schemas, baseline, plans, dialect)
    today: dict[str, Parsed] = {name: parse_schema(s) for name, s in schemas.items()}
    semantic = semantic_findings(project, today, baseline)
    # A removed enum symbol already reported by a schema check needs no second report.
    reported_enums = {f.message for f in by_schema if f.rule == ENUM_SYMBOL_REMOVED.id and f.fails}
    semantic = [
        f
        for f in semantic
        if f.rule != ENUM_SYMBOL_REMOVED_FROM_HISTORY.id
        or not any(f"`{f.schema}`" in m for m in reported_enums)
    ]
    semantic += retired_findings(project)
    findings = apply_evolution(list(merge(by_schema, semantic, extra)), declared(project))
    findings, unused = apply_accepts(findings, accepts)
    return CheckResult(
        findings=tuple(findings),
        source=baseline.source,
        subjects_checked=compared,
        notes=(*baseline.notes, *(a.stale(baseline.source) for a in unused)),
    )


def read_history(
    history: History,
    project: Project,
    plans: Sequence[SubjectPlan],
    strategy: SubjectStrategy | str,
    lock: Path | None = None,
) -> Baseline:
    if isinstance(history, GitHistory):
        from esgen.check.gitref import read_git

        return read_git(history.ref, history.output, history.definitions, lock=lock)
    if isinstance(history, RegistryHistory):
        from esgen.registry import connect
        from esgen.registry.history import read_registry

        return read_registry(connect(history.url), project, plans, strategy)
    return read_lock(history.folder)


def render(
    definitions: Path, package: str, lock: Path | None = None
) -> tuple[Project, dict[str, str]]:
    """Today's model and its generated files, rendered in memory (nothing is written);
    upcasts are checked against the old schemas of the lock folder ``lock``."""
    from esgen.codegen import render_project

    project = load_definitions(definitions, lock)
    return project, render_project(project, package)


def _accepts(path: Path | None) -> list[Acceptance]:
    return load_accepts(path, known_rule_ids()) if path is not None else []


def _with_roles(baseline: Baseline, project: Project, plans: Sequence[SubjectPlan]) -> Baseline:
    """The baseline with the role of every version a source could not tell (a git ref's
    ``.avsc`` files): today's subject role of the record, or snapshot for what an old
    entity called its state."""
    roles: dict[str, Role] = {p.full_name: p.role for p in plans}
    for info in baseline.entities.values():
        if info.state is not None:
            roles.setdefault(info.state, Role.SNAPSHOT)
    versions = {
        name: [v if v.role is not None else replace(v, role=roles.get(name)) for v in vs]
        for name, vs in baseline.versions.items()
    }
    return replace(baseline, versions=versions)


def _stale_output(output: Path, files: Mapping[str, str]) -> list[str]:
    from esgen.codegen import stale_files

    stale = stale_files(output, dict(files))
    if not stale:
        return []
    modules = [(p, r) for p, r in stale if p.endswith(".py")] or stale
    path, reason = modules[0]
    what = "is out of date with the definitions" if reason == "out of date" else f"is {reason}"
    more = f" (and {len(stale) - 1} more file(s))" if len(stale) > 1 else ""
    return [
        f"{path} {what}{more}: the check used code generated in memory from the "
        "definitions; run `esgen generate`"
    ]


# --------------------------------------------------------------------------------- lock


@dataclass(frozen=True)
class LockOutcome:
    result: CheckResult  # the check against the lock before anything was appended
    changes: list[LockChange] = field(default_factory=list)  # empty when refused
    stale: list[str] = field(default_factory=list)  # accept entries the lock made stale


def lock(
    definitions: Path,
    package: str,
    folder: Path,
    *,
    strategy: SubjectStrategy | str = SubjectStrategy.TOPIC_RECORD,
    accept_file: Path | None = None,
    dry_run: bool = False,
) -> LockOutcome:
    """Append today's schemas to the lock folder unless they break its history.

    After appending, the rules run again against the new lock: accept entries that matched
    a problem before and match nothing now acknowledged a change the lock now holds.
    """
    project, files = render(definitions, package, folder)
    plans = subjects(project, strategy)
    baseline = read_lock(folder) if folder.is_dir() else Baseline(source=f"lock {folder}")
    accepts = _accepts(accept_file)
    before = rules_against(project, files, baseline, plans, accepts=accepts)
    if not before.ok:
        return LockOutcome(before)
    changes = write_lock(
        folder, project, generated_schemas(files), plans, str(strategy), dry_run=dry_run
    )
    stale: list[str] = []
    if changes and not dry_run:
        after = rules_against(project, files, read_lock(folder), plans, accepts=accepts)
        unused = _unmatched(accepts, before)
        stale = [
            a.stale("", "the lock holds the change it acknowledged")
            for a in _unmatched(accepts, after)
            if a not in unused
        ]
    return LockOutcome(before, changes, stale)


def _unmatched(accepts: Sequence[Acceptance], result: CheckResult) -> list[Acceptance]:
    return [a for a in accepts if not any(a.matches(f) for f in result.findings)]


# ------------------------------------------------------------------------------- record


def record(
    definitions: Path,
    package: str,
    root: Path,
    samples: Path,
    fixtures: Path,
    lock: Path | None = None,
) -> Recorded:
    """Record the samples file's events into ``fixtures``, built with today's code
    (upcasts checked against the lock folder ``lock``)."""
    from esgen.check.current import current_code
    from esgen.check.recording import load_samples
    from esgen.check.recording import record as append

    project, files = render(definitions, package, lock)
    with current_code(project, package, files, root) as code:
        return append(load_samples(samples), fixtures, code.events, samples)
