"""Recorded sample events: what ``esgen record`` writes and the replay check reads.

```
tests/fixtures/events/
  streams.json                                   # [{"id", "entity", "events": [[file, index]]}]
  com.example.bank.MoneyDeposited/
    208f4073732e1a69.avro                        # Avro object container, writer schema inside
```

``esgen record`` runs the samples file (``SAMPLES = {entity id: [events...]}``) against
today's code generated in memory (:mod:`esgen.check.current`), so samples are built with
the classes the definitions say, never a stale module on disk. Each event goes into an Avro
object container file per event version (``<event full name>/<schema fingerprint>.avro``),
and the streams into ``streams.json`` as ``[file, index]`` pairs. Recording is append-only:
existing files are only ever appended to, so events recorded with an old schema stay exactly
as they were written.

A samples file that no longer runs (stale after a definition change: a field renamed, an
event removed) or that holds something else than events is a :class:`SamplesError` naming
the file, the line and what to do; never an internal error.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import re
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro

from esgen.errors import ConfigError, SourceError, one_line, quote
from esgen.model import full_name
from esgen.runtime import EntityDescriptor, EsgenError
from esgen.sources import read_json

STREAMS = "streams.json"
_RECORDING = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*/[0-9a-f]{16}\.avro\Z")


class SamplesError(Exception):
    """The samples file cannot be recorded: ``PATH[:LINE]: what; what to do``."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


def fingerprint(schema: Mapping[str, Any]) -> str:
    """A short, stable id of a schema's JSON (key order does not matter)."""
    return hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- samples


def load_samples(path: Path) -> dict[str, list[object]]:
    """``SAMPLES`` of a Python samples file: stream (entity) id -> events, in order.

    Run inside :func:`esgen.check.current.current_code`, so its imports of the generated
    package get today's classes.
    """
    if not path.is_file():
        raise ConfigError(f"samples file {path} not found")
    spec = importlib.util.spec_from_file_location(
        f"_esgen_samples_{fingerprint({'p': str(path)})}", path
    )
    if spec is None or spec.loader is None:
        raise ConfigError(f"samples file {path} cannot be imported (not a .py file?)")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # whatever the user's file raises is the user's to fix
        raise SamplesError(
            f"{path}{_line_in(exc, path)}: cannot build the samples: {type(exc).__name__}: "
            f"{exc}; update the samples to today's definitions (recordings already made stay "
            "as they were written)"
        ) from None
    samples = getattr(module, "SAMPLES", None)
    if not isinstance(samples, dict) or not all(
        isinstance(v, list | tuple) for v in samples.values()
    ):
        raise SamplesError(f"{path}: expected SAMPLES = {{entity id: [events...]}}")
    return {str(k): list(v) for k, v in samples.items()}


def _line_in(exc: BaseException, path: Path) -> str:
    """``:LINE`` of the innermost frame of ``exc`` in the samples file, if any."""
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f":{exc.lineno}"
    target = path.resolve()
    lines = [
        frame.lineno
        for frame in traceback.extract_tb(exc.__traceback__)
        if Path(frame.filename).resolve() == target
    ]
    return f":{lines[-1]}" if lines and lines[-1] else ""


# --------------------------------------------------------------------------- recording


@dataclass(frozen=True)
class Recorded:
    files_written: int
    events_added: int
    streams_added: int


def _read_records(path: Path) -> list[Any]:
    with path.open("rb") as f:
        return list(fastavro.reader(f))


def record(
    samples: Mapping[str, Sequence[object]],
    folder: Path,
    events: Mapping[str, EntityDescriptor[Any, Any]],
    samples_path: Path,
) -> Recorded:
    """Append the samples to the fixtures folder (never rewriting what is there).

    ``events`` are today's descriptors by event full name: a sample must be an instance of
    one of their event classes.
    """
    by_class = {t.cls: (t, d) for d in events.values() for t in d.events}
    streams = read_streams(folder)
    existing: dict[Path, list[Any]] = {}
    pending: dict[Path, tuple[dict[str, Any], list[Any]]] = {}
    files_written = events_added = streams_added = 0
    for stream_id, stream in samples.items():
        refs: list[list[Any]] = []
        entity_name = ""
        for index, event in enumerate(stream):
            where = f"{samples_path}: SAMPLES[{quote(stream_id)}][{index}]"
            found = by_class.get(type(event))
            if found is None:
                raise SamplesError(
                    f"{where}: {event!r:.80} is not an instance of a generated event class; "
                    "build it from the generated package"
                )
            event_type, descriptor = found
            entity_name = full_name(descriptor.namespace, descriptor.name)
            try:
                # Decode what we encode so the stored datum is what a reader would see.
                datum = event_type.codec.decode(event_type.encode(event))
            except EsgenError as exc:
                raise SamplesError(f"{where}: cannot record it: {exc}") from None
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
        (folder / STREAMS).write_text(json.dumps(streams, indent=2) + "\n", encoding="utf-8")
    return Recorded(files_written, events_added, streams_added)


# ----------------------------------------------------------------------------- reading


def read_streams(folder: Path) -> list[dict[str, Any]]:
    """The streams of ``streams.json`` (none if there is no such file), shape-checked: it
    is committed and merged by hand like the lock."""
    path = folder / STREAMS
    if not path.is_file():
        return []
    try:
        data = read_json(path)
    except SourceError as exc:
        raise ConfigError(
            f"{exc.location}: cannot read the recorded streams: {exc.message}"
        ) from None
    if not isinstance(data, list):
        raise ConfigError(f"{path}: expected a list of streams")
    for number, stream in enumerate(data, start=1):
        if not (
            isinstance(stream, dict)
            and isinstance(stream.get("id"), str)
            and isinstance(stream.get("entity"), str)
            and isinstance(stream.get("events"), list)
            and all(
                isinstance(e, list)
                and len(e) == 2
                and isinstance(e[0], str)
                and _RECORDING.match(e[0])
                and type(e[1]) is int
                and e[1] >= 0
                for e in stream["events"]
            )
        ):
            raise ConfigError(
                f"{path}: stream {number} needs 'id', 'entity' and 'events' "
                "([['<event full name>/<fingerprint>.avro', index], ...]); "
                "re-record it with `esgen record`"
            )
    return data


@dataclass(frozen=True)
class Recording:
    """One container file: the event type, its writer schema and each event's Avro body."""

    relative: str  # "<event full name>/<fingerprint>.avro", as streams.json names it
    path: Path  # the file, for messages
    event: str  # full name
    writer_schema: dict[str, Any]
    bodies: tuple[bytes, ...]


def recordings(folder: Path) -> Iterator[Recording]:
    """Every recorded file, in name order, with each event as the Avro body it was
    written as (the bytes a Kafka record carries after the wire format header)."""
    for path in sorted(folder.glob("*/*.avro")):
        relative = path.relative_to(folder).as_posix()
        try:
            with path.open("rb") as f:
                reader = fastavro.reader(f)
                # The header's own text: the schema as written, not fastavro's parsed form.
                header = reader.metadata["avro.schema"]
                schema = json.loads(header)
                datums = list(reader)
        except Exception as exc:  # a file fastavro cannot read at all: corrupt or not Avro
            raise ConfigError(
                f"{path}: not an Avro container file esgen can read ({type(exc).__name__}: "
                f"{exc}); restore it from version control or delete it and re-record"
            ) from None
        if not isinstance(schema, dict):
            raise ConfigError(f"{path}: the container holds no record schema")
        writer = fastavro.parse_schema(json.loads(header), named_schemas={})
        bodies = []
        for datum in datums:
            buffer = io.BytesIO()
            fastavro.schemaless_writer(buffer, writer, datum)
            bodies.append(buffer.getvalue())
        yield Recording(relative, path, path.parent.name, schema, tuple(bodies))
