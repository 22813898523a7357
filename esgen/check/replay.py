"""Replay check: recorded sample events must still decode with today's code and fold.

Every recorded event (:mod:`esgen.check.recording`) is read through :func:`read_event`, the
one way this check turns an old event into today's: the runtime's own decode with the
recording's writer schema (Avro resolution: defaults, aliases, promotions), with the code
generated in memory from today's definitions (:mod:`esgen.check.current`). Then every
recorded stream is folded from ``initial_state`` with versions 1, 2, 3... and the invariants
are checked after each event.

Each problem has the YAML line where the fix goes and names the recording (file, index,
stream, ``streams.json`` line). A decode failure is explained by esgen's own BACKWARD check
of today's schema against the recording's writer schema, so its path and fix are those of
the rule that breaks (an enum symbol removed: keep it or give the enum a default), not a
generic one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from esgen.check.current import CurrentCode
from esgen.check.findings import Finding
from esgen.check.locate import locate
from esgen.check.recording import STREAMS, Recording, read_streams, recordings
from esgen.check.semantic import EVENT_TYPE_REMOVED, line_of_key
from esgen.compat.check import check
from esgen.compat.rules import Rule
from esgen.errors import Location
from esgen.model import Direction, Entity, Project
from esgen.runtime import DecodeError, EventMeta, InvariantViolation

REPLAY_DECODE_FAILED = Rule(
    "REPLAY_DECODE_FAILED",
    "a recorded event no longer decodes",
    "Make today's schema read the old one (defaults for new fields, aliases for renamed "
    "ones, keep removed enum symbols or give the enum a default).",
)
REPLAY_FOLD_FAILED = Rule(
    "REPLAY_FOLD_FAILED",
    "the fold raises on recorded events",
    "Make the fold handle values old events carry (e.g. defaults, `coalesce`, a `when:`).",
)
REPLAY_INVARIANT_BROKEN = Rule(
    "REPLAY_INVARIANT_BROKEN",
    "an invariant fails on a replayed history",
    "Old histories were valid when written: relax the invariant or make the fold keep it.",
)
REPLAY_RULES: tuple[Rule, ...] = (
    REPLAY_DECODE_FAILED,
    REPLAY_FOLD_FAILED,
    REPLAY_INVARIANT_BROKEN,
)


class UnknownEventType(Exception):
    """A recorded event type that today's definitions do not read."""


def read_event(
    code: CurrentCode, full_name: str, writer_schema: dict[str, Any], body: bytes
) -> list[Any]:
    """Today's events for one event of type ``full_name`` written with ``writer_schema``.

    A list because an old event may stand for zero or more of today's: this is the single
    place where the replay reads history, and so where declared evolution (renamed event
    types, retired events, upcasts) applies. Today every event type reads as itself.
    Raises :class:`UnknownEventType`, or ``esgen.runtime.DecodeError``.
    """
    descriptor = code.events.get(full_name)
    if descriptor is None:
        raise UnknownEventType(full_name)
    return [descriptor.decode(full_name, body, writer_schema)]


@dataclass(frozen=True)
class ReplayResult:
    findings: list[Finding]
    replayed: int  # recorded events decoded
    unrecorded: list[str]  # today's event types with no recording, in definition order


def replay_findings(project: Project, code: CurrentCode, folder: Path) -> ReplayResult:
    """Decode every recorded event with today's code and replay every stream."""
    types = project.all_types()
    entities = {e.full_name: e for e in project.entities}
    streams = read_streams(folder)
    lines = _stream_lines(folder / STREAMS)
    used: dict[str, list[str]] = {}  # recording -> "stream 'x' event 2" for each use
    for stream in streams:
        for version, (relative, index) in enumerate(stream["events"], start=1):
            used.setdefault(f"{relative}#{index}", []).append(
                f"stream {stream['id']!r} event {version}"
            )
    decoded: dict[str, list[list[Any] | None]] = {}
    findings: list[Finding] = []
    count = 0
    recorded_types: set[str] = set()
    for recording in recordings(folder):
        recorded_types.add(recording.event)
        events: list[list[Any] | None] = []
        failed: list[int] = []
        error = ""
        for index, body in enumerate(recording.bodies):
            try:
                events.append(read_event(code, recording.event, recording.writer_schema, body))
                count += 1
            except UnknownEventType:
                findings.append(_gone(recording, streams, entities, folder, lines))
                events = [None] * len(recording.bodies)
                break
            except Exception as exc:  # DecodeError, or whatever fastavro raises
                events.append(None)
                failed.append(index)
                error = error or f"{type(exc).__name__}: {exc}"
        if failed:
            uses = [u for i in failed for u in used.get(f"{recording.relative}#{i}", [])]
            findings.extend(_undecodable(recording, code, types, failed, uses, error))
        decoded[recording.relative] = events
    for stream in streams:
        findings.extend(_replay_stream(stream, decoded, code, types, folder, lines))
    unrecorded = [
        event.full_name
        for entity in project.entities
        for event in entity.events
        if event.full_name not in recorded_types
    ]
    return ReplayResult(findings, count, unrecorded)


def _stream_lines(path: Path) -> dict[str, int]:
    """The line of each stream's ``"id"`` in ``streams.json`` (for messages)."""
    out: dict[str, int] = {}
    if path.is_file():
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            stripped = line.strip()
            if stripped.startswith('"id": '):
                out.setdefault(stripped.removeprefix('"id": ').rstrip(","), number)
    return out


def _stream_at(stream: Mapping[str, Any], folder: Path, lines: Mapping[str, int]) -> str:
    line = lines.get(json.dumps(stream["id"]))
    return f"{folder / STREAMS}:{line}" if line else str(folder / STREAMS)


def _undecodable(
    recording: Recording,
    code: CurrentCode,
    types: Mapping[str, Any],
    failed: list[int],
    uses: list[str],
    error: str,
) -> Iterator[Finding]:
    descriptor = code.events[recording.event]
    today = descriptor.event_type(recording.event).schema
    where = (
        f"{len(failed)} of {len(recording.bodies)} event(s) recorded in "
        f"{recording.path} (#{', #'.join(map(str, failed))}"
        + (f"; {', '.join(uses)}" if uses else "")
        + ") no longer decode"
    )
    report = check(today, [recording.writer_schema], "BACKWARD")
    problems = [p for p in report.problems if p.direction is Direction.BACKWARD]
    for problem in problems:
        yield Finding(
            recording.event,
            problem.path,
            REPLAY_DECODE_FAILED.id,
            f"{where}: {problem.message} [{problem.rule}]",
            problem.fix,
            locate(dict(types), recording.event, problem.path),
        )
    if not problems:  # the schemas resolve, yet a value does not (e.g. a decimal's scale)
        yield Finding(
            recording.event,
            recording.event,
            REPLAY_DECODE_FAILED.id,
            f"{where}: {error}",
            REPLAY_DECODE_FAILED.fix,
            locate(dict(types), recording.event, recording.event),
        )


def _gone(
    recording: Recording,
    streams: list[dict[str, Any]],
    entities: Mapping[str, Entity],
    folder: Path,
    lines: Mapping[str, int],
) -> Finding:
    owners = [
        s for s in streams if any(relative == recording.relative for relative, _ in s["events"])
    ]
    entity_name = owners[0]["entity"] if owners else "its entity"
    entity = entities.get(entity_name)
    location: Location | None = line_of_key(entity, "events") if entity else None
    if location is None and owners:
        line = lines.get(json.dumps(owners[0]["id"]))
        location = Location(str(folder / STREAMS), line, 1) if line else None
    return Finding(
        recording.event,
        recording.event,
        REPLAY_DECODE_FAILED.id,
        f"{recording.event} is no longer an event of {entity_name}, so the "
        f"{len(recording.bodies)} event(s) recorded in {recording.path} cannot be read",
        EVENT_TYPE_REMOVED.fix,
        location,
    )


def _replay_stream(
    stream: dict[str, Any],
    decoded: Mapping[str, list[list[Any] | None]],
    code: CurrentCode,
    types: Mapping[str, Any],
    folder: Path,
    lines: Mapping[str, int],
) -> Iterator[Finding]:
    entity_id: Any = stream["id"]  # its text until the stream's entity is known
    state: Any = None
    at = _stream_at(stream, folder, lines)
    for version, (relative, position) in enumerate(stream["events"], start=1):
        full_name = relative.split("/")[0]
        where = f"stream {entity_id!r} event {version} ({relative}#{position}, {at})"
        events = decoded.get(relative)
        if events is not None and position >= len(events):
            yield Finding(
                full_name,
                full_name,
                REPLAY_DECODE_FAILED.id,
                f"{where}: the recording has no event #{position}",
                "Restore the recordings from version control, or delete them and run "
                "`esgen record` again.",
                None,
            )
            return
        if events is None:  # no such file
            yield Finding(
                full_name,
                full_name,
                REPLAY_DECODE_FAILED.id,
                f"{where}: {relative} is not recorded",
                "Restore the recordings from version control, or delete them and run "
                "`esgen record` again.",
                None,
            )
            return
        today = events[position]
        if today is None:
            return  # already reported as undecodable
        descriptor = code.events[full_name]
        location = locate(dict(types), full_name, full_name)
        if state is None:
            try:  # the recorded id is the message key: the id's text
                entity_id = descriptor.parse_key(str(entity_id))
            except DecodeError as exc:
                yield Finding(
                    full_name,
                    full_name,
                    REPLAY_DECODE_FAILED.id,
                    f"{where}: {exc}",
                    "Old events are keyed by the text of the key's old type: keep the key's "
                    "type (see ENTITY_KEY_CHANGED).",
                    location,
                )
                return
            state = descriptor.initial_state(entity_id)
        for event in today:
            try:
                state = descriptor.apply(
                    state, event, EventMeta(entity_id=entity_id, version=version)
                )
            except Exception as exc:  # any error of the fold is the finding
                yield Finding(
                    full_name,
                    full_name,
                    REPLAY_FOLD_FAILED.id,
                    f"the fold raises on {where}: {type(exc).__name__}: {exc}",
                    REPLAY_FOLD_FAILED.fix,
                    location,
                )
                return
            try:
                descriptor.check_invariants(state)
            except InvariantViolation as exc:
                yield Finding(
                    full_name,
                    full_name,
                    REPLAY_INVARIANT_BROKEN.id,
                    f"after {where}: {exc}",
                    REPLAY_INVARIANT_BROKEN.fix,
                    location,
                )
                return
