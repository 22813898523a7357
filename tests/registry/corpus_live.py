"""Replay the compatibility corpus against a live registry and compare with ``esgen.compat``.

For each case and mode: a fresh subject at level NONE receives the previous versions, then
gets the mode, then the new schema is registered. Registered = compatible; 409 (incompatible)
or 422 (invalid schema) = not. Apicurio's ``test_compatibility`` is not used: its verbose
answer is empty and a register attempt checks every version the mode selects.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from esgen.compat import check
from esgen.registry import Registry, RegistryError, connect
from tests.compat.corpus import CASES, MODES, Case

DIALECT = "avro-1.12"  # Apicurio 3.3 parses with Avro Java 1.12


@dataclass(frozen=True)
class Outcome:
    case: str
    mode: str
    offline: bool
    online: bool | None  # None: the registry refused a *previous* version (not comparable)
    detail: str  # the registry's answer for the new schema (or the previous refusal)

    @property
    def agrees(self) -> bool:
        return self.online is not None and self.online == self.offline


_clients = threading.local()


def _client(url: str) -> Registry:
    """One client per worker thread: building one loads a TLS context (~40 ms of CPU)."""
    if getattr(_clients, "url", None) != url:
        _clients.url, _clients.registry = url, connect(url)
    registry: Registry = _clients.registry
    return registry


def _one(url: str, prefix: str, case: Case, mode: str) -> Outcome:
    registry = _client(url)
    subject = f"{prefix}-{case.name}-{mode}"
    offline = check(case.new, case.previous, mode, dialect=DIALECT).compatible
    registry.set_level(subject, "NONE")
    for index, schema in enumerate(case.previous):
        try:
            registry.register(subject, schema)
        except RegistryError as exc:
            return Outcome(case.name, mode, offline, None, f"previous #{index}: {exc.code}")
    registry.set_level(subject, mode)
    try:
        registry.register(subject, case.new)
    except RegistryError as exc:
        return Outcome(case.name, mode, offline, False, f"{exc.status}/{exc.code}")
    return Outcome(case.name, mode, offline, True, "registered")


def replay_corpus(url: str, modes: tuple[str, ...] = MODES, workers: int = 8) -> list[Outcome]:
    prefix = f"corpus-{uuid.uuid4().hex[:8]}"
    jobs = [(case, mode) for case in CASES for mode in modes]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda job: _one(url, prefix, *job), jobs))


def disagreements(outcomes: list[Outcome]) -> Iterator[Outcome]:
    return (o for o in outcomes if o.online is not None and not o.agrees)
