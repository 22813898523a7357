"""The project checker: today's definitions against their history, recorded events replayed.

``esgen.compat`` answers one question on plain Avro JSON (is this schema compatible with
those, in this mode?). This package answers the project's: can every event ever written
still be read, folded and keyed as today's definitions say? It is what ``esgen check``,
``esgen lock`` and ``esgen record`` run; the CLI only calls these entry points and prints:

- :func:`check` (a :class:`CheckRequest` in, a :class:`CheckResult` out);
- :func:`lock` (append today's schemas to the lock folder unless they break it);
- :func:`record` (record sample events for the replay).

Modules, one concept each:

| module | what |
| --- | --- |
| ``project`` | the entry points |
| ``baseline`` | the history, whatever its source: versions (typed once) and entities |
| ``gitref``, ``lock`` | history from a git ref, a lock folder (a registry: ``registry.history``) |
| ``schemas`` | registry-equivalent rules per subject; the snapshot subject as a cache |
| ``semantic`` | rules no registry applies (folds, renames, keys, topics, removed events) |
| ``current`` | today's generated code, imported from memory, ``sys.modules`` restored |
| ``recording``, ``replay`` | recorded events; decoding and folding them with today's code |
| ``evolution`` | where a break covered by declared evolution stops being a problem |
| ``accept`` | the accept file: acknowledged breaks and their lifecycle |
| ``findings``, ``locate`` | what is reported, at which YAML line, in text, JSON, GitHub form |
"""

from __future__ import annotations

from esgen.check.findings import CheckResult, Finding
from esgen.check.project import (
    CheckRequest,
    GitHistory,
    History,
    LockHistory,
    LockOutcome,
    RegistryHistory,
    check,
    lock,
    record,
)
from esgen.check.recording import SamplesError

__all__ = [
    "CheckRequest",
    "CheckResult",
    "Finding",
    "GitHistory",
    "History",
    "LockHistory",
    "LockOutcome",
    "RegistryHistory",
    "SamplesError",
    "check",
    "lock",
    "record",
]
