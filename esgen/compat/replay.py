"""Replay check: recorded sample events must still decode with today's classes and fold.

``esgen record`` writes each sample event into an Avro object container file per event
version (``<fixtures>/<event full name>/<schema fingerprint>.avro``, the writer schema is in
the file header), and lists the sample streams in ``streams.json`` as ``[file, index]`` pairs.
Recording is append-only: existing files are only ever appended to, so events recorded with
an old schema stay exactly as they were written. ``esgen check`` then reads every recorded
event with today's generated class as the reader schema (Avro resolution: defaults, aliases,
promotions) and replays every stream through the generated fold and invariants.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import fastavro

from esgen.compat.findings import Finding
from esgen.compat.rules import Rule
from esgen.errors import ConfigError
from esgen.model import Project, full_name
from esgen.runtime import EntityDescriptor, EventMeta, InvariantViolation
from esgen.runtime.serde import parse_schema

STREAMS = "streams.json"

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


def fingerprint(schema: Mapping[str, Any]) -> str:
    """A short, stable id of a schema's JSON (key order does not matter)."""
    return hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()[:16]


# ------------------------------------------------------------------------- importing


def load_samples(path: Path, root: Path) -> dict[str, list[object]]:
    """``SAMPLES`` of a Python samples file: stream (entity) id -> events, in order."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))  # the samples import the generated package
    spec = importlib.util.spec_from_file_location(
        f"_esgen_samples_{fingerprint({'p': str(path)})}", path
    )
    if spec is None or spec.loader is None or not path.is_file():
        raise ConfigError(f"samples file {path} not found")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    samples = getattr(module, "SAMPLES", None)
    if not isinstance(samples, dict):
        raise ConfigError(f"{path}: expected SAMPLES = {{entity id: [events...]}}")
    return {str(k): list(v) for k, v in samples.items()}


def entities(project: Project, package: str, root: Path) -> dict[str, EntityDescriptor[Any, Any]]:
    """Today's generated descriptors by event full name, imported from ``package``."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    # The check is about today's files: forget a copy of the package imported earlier.
    for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
        del sys.modules[name]
    importlib.invalidate_caches()
    out: dict[str, EntityDescriptor[Any, Any]] = {}
    for entity in project.entities:
        module: ModuleType = importlib.import_module(f"{package}.{entity.module}")
        descriptor: EntityDescriptor[Any, Any] = module.ENTITY
        for event in descriptor.events:
            out[event.full_name] = descriptor
    return out


# ------------------------------------------------------------------------- recording


@dataclass(frozen=True)
class Recorded:
    files_written: int
    events_added: int
    streams_added: int


def _read_records(path: Path) -> list[Any]:
    with path.open("rb") as f:
        return list(fastavro.reader(f))


def record(samples: Mapping[str, Sequence[object]], folder: Path) -> Recorded:
    """Append the samples to the fixtures folder (never rewriting what is there)."""
    manifest_path = folder / STREAMS
    streams: list[dict[str, Any]] = (
        json.loads(manifest_path.read_text("utf-8")) if manifest_path.is_file() else []
    )
    existing: dict[Path, list[Any]] = {}
    pending: dict[Path, tuple[dict[str, Any], list[Any]]] = {}
    files_written = events_added = streams_added = 0
    for stream_id, events in samples.items():
        refs: list[list[Any]] = []
        entity_name = ""
        for event in events:
            module = sys.modules.get(type(event).__module__)
            descriptor = getattr(module, "ENTITY", None)
            if not isinstance(descriptor, EntityDescriptor):
                raise ConfigError(f"{event!r} is not an instance of a generated event class")
            entity_name = full_name(descriptor.namespace, descriptor.name)
            event_type = descriptor.event_type(event)
            # Decode what we encode so the stored datum is what a reader would see.
            datum = event_type.codec.decode(event_type.encode(event))
            relative = Path(event_type.full_name) / f"{fingerprint(event_type.schema)}.avro"
            path = folder / relative
            if path not in existing:
                existing[path] = _read_records(path) if path.is_file() else []
            records = existing[path]
            if datum in records:
                position = records.index(datum)
            else:
                records.append(datum)
                position = len(records) - 1
                pending.setdefault(path, (event_type.schema, []))[1].append(datum)
                events_added += 1
            refs.append([relative.as_posix(), position])
        entry = {"id": stream_id, "entity": entity_name, "events": refs}
        if entry not in streams:
            streams.append(entry)
            streams_added += 1
    for path, (schema, new_records) in sorted(pending.items()):
        path.parent.mkdir(parents=True, exist_ok=True)
        appending = path.is_file()
        with path.open("a+b" if appending else "wb") as f:
            parsed = fastavro.parse_schema(json.loads(json.dumps(schema)), named_schemas={})
            fastavro.writer(f, parsed, new_records)
        files_written += 1
    if streams_added or files_written:
        folder.mkdir(parents=True, exist_ok=True)
        manifest_path.write_text(json.dumps(streams, indent=2) + "\n", encoding="utf-8")
    return Recorded(files_written, events_added, streams_added)


# --------------------------------------------------------------------------- replay


def replay_findings(
    project: Project, package: str, root: Path, folder: Path
) -> tuple[list[Finding], int]:
    """Decode every recorded event with today's classes and replay every stream."""
    types = project.all_types()
    by_event = entities(project, package, root)
    decoded: dict[str, list[object] | None] = {}
    findings: list[Finding] = []
    count = 0

    def location(full_name: str) -> Any:
        named = types.get(full_name)
        return named.location if named is not None else None

    for path in sorted(folder.glob("*/*.avro")):
        relative = path.relative_to(folder).as_posix()
        full_name = path.parent.name
        descriptor = by_event.get(full_name)
        if descriptor is None:
            findings.append(
                _failure(
                    REPLAY_DECODE_FAILED,
                    full_name,
                    f"{relative}: the event type is "
                    "no longer generated, so its recorded events cannot be read",
                    None,
                    relative,
                )
            )
            decoded[relative] = None
            continue
        event_type = descriptor.event_type(full_name)
        try:
            with path.open("rb") as f:
                reader = fastavro.reader(f, reader_schema=parse_schema(event_type.schema))
                events = [event_type.cls.from_avro(datum) for datum in reader]
        except Exception as exc:  # fastavro's resolution errors have no common base class
            findings.append(
                _failure(
                    REPLAY_DECODE_FAILED,
                    full_name,
                    f"events recorded in {relative} no longer decode: {type(exc).__name__}: {exc}",
                    location(full_name),
                    relative,
                )
            )
            decoded[relative] = None
            continue
        decoded[relative] = events
        count += len(events)
    manifest = folder / STREAMS
    streams = json.loads(manifest.read_text("utf-8")) if manifest.is_file() else []
    for stream in streams:
        findings.extend(_replay_stream(stream, decoded, by_event, location))
    return findings, count


def _replay_stream(
    stream: dict[str, Any],
    decoded: dict[str, list[object] | None],
    by_event: dict[str, EntityDescriptor[Any, Any]],
    location: Any,
) -> Iterator[Finding]:
    entity_id = str(stream["id"])
    state: Any = None
    for version, (relative, position) in enumerate(stream["events"], start=1):
        events = decoded.get(relative)
        if events is None or position >= len(events):
            return  # already reported as undecodable
        full_name = relative.split("/")[0]
        descriptor = by_event[full_name]
        if state is None:
            state = descriptor.initial_state(entity_id)
        where = f"stream {entity_id!r} event {version} ({relative}#{position})"
        try:
            state = descriptor.apply(state, events[position], EventMeta(entity_id, version))
        except Exception as exc:  # any error of the fold is the finding
            yield _failure(
                REPLAY_FOLD_FAILED,
                full_name,
                f"the fold raises on {where}: {type(exc).__name__}: {exc}",
                location(full_name),
                relative,
            )
            return
        try:
            descriptor.check_invariants(state)
        except InvariantViolation as exc:
            yield _failure(
                REPLAY_INVARIANT_BROKEN,
                full_name,
                f"after {where}: {exc}",
                location(full_name),
                relative,
            )
            return


def _failure(rule: Rule, schema: str, message: str, where: Any, versus: str) -> Finding:
    return Finding(schema, schema, rule.id, message, rule.fix, where, versus=versus)
