"""Local state stores: the latest snapshot of each entity, per partition, on this machine.

Like a Kafka Streams state store, a state store is a local, disposable cache of a
compacted changelog, here the snapshot topic ``<topic>.snapshots``. It holds, per
partition of the event topic, the latest snapshot of each entity (state bytes, entity
version, the event offset the snapshot covers, the event topic's id, the descriptor
fingerprint), the partition's manifest (see :mod:`esgen.runtime.manifest`) and a
checkpoint: how far into the snapshot topic's partition it has been restored. Deleting
it loses nothing: it is rebuilt from the snapshot topic.

:class:`SqliteStateStore` (default) keeps one SQLite file per partition in a folder, so a
restarted process restores only the snapshot records written since its checkpoint;
:class:`MemoryStateStore` keeps everything in memory (restored afresh on every start).
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SnapshotEntry:
    """One entity's latest snapshot as the state store keeps it."""

    entity_id: str
    version: int
    source_offset: int
    """Offset (in the event topic's partition) of the last event the snapshot covers."""
    fingerprint: str
    value: bytes
    """The state in the wire format (as on the snapshot topic)."""
    topic_id: str = ""
    """Kafka's id of the event topic the snapshot was made from ("": unknown)."""


class StateStore(Protocol):
    """What the event store needs from a local state store."""

    def get(self, partition: int, entity_id: str) -> SnapshotEntry | None: ...
    def put(self, partition: int, entry: SnapshotEntry) -> None: ...
    def checkpoint(self, partition: int) -> int:
        """The next snapshot-topic offset to restore from (0 when never restored)."""
        ...

    def set_checkpoint(self, partition: int, offset: int) -> None: ...
    def manifest(self, partition: int) -> bytes | None:
        """The partition's manifest record as restored (None: none seen yet)."""
        ...

    def set_manifest(self, partition: int, value: bytes) -> None: ...
    def clear(self, partition: int) -> None:
        """Forget a partition (its topics were recreated): it is restored from scratch."""
        ...

    def close(self) -> None: ...


class MemoryStateStore:
    """A state store in memory: restored from the snapshot topic on every start."""

    def __init__(self) -> None:
        self._entries: dict[tuple[int, str], SnapshotEntry] = {}
        self._checkpoints: dict[int, int] = {}
        self._manifests: dict[int, bytes] = {}

    def get(self, partition: int, entity_id: str) -> SnapshotEntry | None:
        return self._entries.get((partition, entity_id))

    def put(self, partition: int, entry: SnapshotEntry) -> None:
        self._entries[(partition, entry.entity_id)] = entry

    def checkpoint(self, partition: int) -> int:
        return self._checkpoints.get(partition, 0)

    def set_checkpoint(self, partition: int, offset: int) -> None:
        self._checkpoints[partition] = offset

    def manifest(self, partition: int) -> bytes | None:
        return self._manifests.get(partition)

    def set_manifest(self, partition: int, value: bytes) -> None:
        self._manifests[partition] = value

    def clear(self, partition: int) -> None:
        self._checkpoints.pop(partition, None)
        self._manifests.pop(partition, None)
        for key in [k for k in self._entries if k[0] == partition]:
            del self._entries[key]

    def close(self) -> None:
        self._entries.clear()


_SCHEMA_VERSION = 2  # files of another version are caches of another layout: rebuilt
_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    entity_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    source_offset INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    value BLOB NOT NULL,
    topic_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoint (id INTEGER PRIMARY KEY CHECK (id = 0), offset INTEGER);
CREATE TABLE IF NOT EXISTS manifest (id INTEGER PRIMARY KEY CHECK (id = 0), value BLOB);
"""


class SqliteStateStore:
    """One SQLite file per partition: ``<directory>/<topic>-<partition>.sqlite``."""

    def __init__(self, directory: str | Path, topic: str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.topic = topic
        self._connections: dict[int, sqlite3.Connection] = {}
        self._lock = threading.Lock()

    def path(self, partition: int) -> Path:
        return self.directory / f"{self.topic}-{partition}.sqlite"

    def _db(self, partition: int) -> sqlite3.Connection:
        db = self._connections.get(partition)
        if db is None:
            db = sqlite3.connect(self.path(partition), check_same_thread=False)
            # A cache that can be rebuilt from Kafka: durability of each write is not needed.
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=OFF")
            if db.execute("PRAGMA user_version").fetchone()[0] != _SCHEMA_VERSION:
                db.executescript(
                    "DROP TABLE IF EXISTS snapshots; DROP TABLE IF EXISTS checkpoint;"
                    f"DROP TABLE IF EXISTS manifest; PRAGMA user_version={_SCHEMA_VERSION};"
                )
            db.executescript(_SCHEMA)
            self._connections[partition] = db
        return db

    def get(self, partition: int, entity_id: str) -> SnapshotEntry | None:
        with self._lock:
            row = (
                self._db(partition)
                .execute(
                    "SELECT version, source_offset, fingerprint, value, topic_id FROM snapshots "
                    "WHERE entity_id = ?",
                    (entity_id,),
                )
                .fetchone()
            )
        if row is None:
            return None
        return SnapshotEntry(
            entity_id, int(row[0]), int(row[1]), str(row[2]), bytes(row[3]), str(row[4])
        )

    def put(self, partition: int, entry: SnapshotEntry) -> None:
        with self._lock:
            db = self._db(partition)
            db.execute(
                "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?, ?, ?)",
                (
                    entry.entity_id,
                    entry.version,
                    entry.source_offset,
                    entry.fingerprint,
                    entry.value,
                    entry.topic_id,
                ),
            )
            db.commit()

    def checkpoint(self, partition: int) -> int:
        with self._lock:
            row = self._db(partition).execute("SELECT offset FROM checkpoint").fetchone()
        return int(row[0]) if row else 0

    def set_checkpoint(self, partition: int, offset: int) -> None:
        with self._lock:
            db = self._db(partition)
            db.execute("INSERT OR REPLACE INTO checkpoint VALUES (0, ?)", (offset,))
            db.commit()

    def manifest(self, partition: int) -> bytes | None:
        with self._lock:
            row = self._db(partition).execute("SELECT value FROM manifest").fetchone()
        return bytes(row[0]) if row else None

    def set_manifest(self, partition: int, value: bytes) -> None:
        with self._lock:
            db = self._db(partition)
            db.execute("INSERT OR REPLACE INTO manifest VALUES (0, ?)", (value,))
            db.commit()

    def clear(self, partition: int) -> None:
        with self._lock:
            db = self._db(partition)
            db.execute("DELETE FROM snapshots")
            db.execute("DELETE FROM checkpoint")
            db.execute("DELETE FROM manifest")
            db.commit()

    def close(self) -> None:
        with self._lock:
            for db in self._connections.values():
                db.close()
            self._connections.clear()
