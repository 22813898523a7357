"""The history ``esgen check`` compares today's definitions with, whatever its source.

A git ref, a lock folder and a registry all boil down to the same two things: the versions
of each record schema (oldest first), each with the role of the subject it came from, and,
where the source knows them, each entity's topic, key and event types. Semantic rules need
the second part; schema rules need the first.

A version keeps the schema JSON as the source stored it (what the registry-equivalent check
takes) and parses it once into the typed graph of :mod:`esgen.compat.schema` (what the
semantic rules walk): old versions are only known as JSON, so that graph is the one place
their structure is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from esgen.compat.dialect import AVRO_1_12
from esgen.compat.schema import Named, Parsed, parse_schema
from esgen.model import Entity
from esgen.registry.plan import Role


@dataclass(frozen=True)
class Version:
    """One past schema of a record and a label saying where it came from (``v3``, ``main``).

    ``role`` is the role of the subject it was read from, when the source knows it (a lock
    and a registry do; the ``.avsc`` files of a git ref do not).
    """

    label: str
    schema: Any
    role: Role | None = None

    @cached_property
    def parsed(self) -> Parsed:
        """The typed graph of the schema. Taken as stored: the most lenient parser (Java
        Avro 1.12's), its issues ignored; ``parsed.root`` is None when it is unusable."""
        return parse_schema(self.schema, AVRO_1_12)

    def named(self, full_name: str) -> Named | None:
        """The named type ``full_name`` as this version defines it (also when embedded)."""
        return self.parsed.named.get(full_name)


@dataclass(frozen=True)
class EntityInfo:
    """What a source remembers of an entity; ``key`` is None when the source cannot know."""

    name: str  # full name, e.g. com.example.bank.Account
    topic: str
    key: str | None
    events: tuple[str, ...]  # full record names
    state: str | None


@dataclass
class Baseline:
    """Past versions by record full name, and past entities by full name."""

    source: str
    versions: dict[str, list[Version]] = field(default_factory=dict)
    entities: dict[str, EntityInfo] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the source could not provide

    def add(self, full_name: str, version: Version) -> None:
        self.versions.setdefault(full_name, []).append(version)

    def history(self) -> Iterator[Version]:
        """Every version of every record whose data lives forever: event and command
        subjects (and versions of unknown role), not the snapshot cache."""
        for versions in self.versions.values():
            yield from (v for v in versions if v.role is not Role.SNAPSHOT)


def entity_info(entity: Entity) -> EntityInfo:
    return EntityInfo(
        name=entity.full_name,
        topic=entity.topic,
        key=entity.key,
        events=tuple(e.full_name for e in entity.events),
        state=entity.state.full_name,
    )
