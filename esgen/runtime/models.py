"""Read-model stores for projections: a key-value model plus the bookkeeping that makes
applying events idempotent, committed together in one transaction.

A projection writes its read model through a :class:`ModelTransaction` (``get``, ``put``,
``delete``, ``items``). In the *same* transaction the runner records, per entity stream,
the last applied entity version and, per partition, the next offset to read. Because the
model and that bookkeeping become durable atomically, a crash at any point either keeps
both or neither: events are applied effectively once per entity version.

Two stores are provided:

:class:`InMemoryModelStore`
    Dicts behind a lock; for tests, benchmarks and models rebuilt on every start.
:class:`SQLiteModelStore`
    A SQLite file (stdlib ``sqlite3``, WAL, ``synchronous=FULL``). Model values are stored
    as JSON (``Decimal``, ``datetime``, ``date``, ``UUID`` kept as such). Several runners
    (threads or processes) of one consumer group may share the file: every transaction is
    ``BEGIN IMMEDIATE``, so they serialize. ``tx.connection`` is the open connection, for
    projections that keep tables of their own inside the same transaction.

One store holds one projection's model.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import json
import sqlite3
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from esgen.runtime.errors import EsgenError

TopicPartition = tuple[str, int]


class ModelError(EsgenError):
    """The read-model store failed or was misused (e.g. a transaction used after commit)."""


class ModelTransaction(ABC):
    """One atomic unit of model changes plus the runner's bookkeeping.

    Projection handlers use ``get``/``put``/``delete``/``items``; the runner uses the
    rest. Values must be treated as immutable once ``put`` (the in-memory store keeps the
    object itself; the SQLite store keeps its JSON).
    """

    @abstractmethod
    def get(self, key: str, default: Any = None) -> Any:
        """The value under ``key``, as this transaction sees it."""

    @abstractmethod
    def put(self, key: str, value: Any) -> None:
        """Set ``key`` to ``value``."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key`` (no error if absent)."""

    @abstractmethod
    def items(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        """``(key, value)`` pairs whose key starts with ``prefix``, sorted by key."""

    @abstractmethod
    def applied_version(self, stream: str, entity_id: str) -> int:
        """The last entity version applied for ``entity_id`` on ``stream`` (0: none)."""

    @abstractmethod
    def set_applied_version(self, stream: str, entity_id: str, version: int) -> None:
        """Record that ``version`` of ``entity_id`` on ``stream`` has been applied."""

    @abstractmethod
    def set_offset(self, topic: str, partition: int, next_offset: int) -> None:
        """Record the next offset to read on a partition (kept monotonic)."""

    @abstractmethod
    def savepoint(self) -> contextlib.AbstractContextManager[None]:
        """A nested scope: an exception inside undoes only the changes made inside."""

    @abstractmethod
    def commit(self) -> None:
        """Make every change durable, atomically."""

    @abstractmethod
    def rollback(self) -> None:
        """Discard every change."""


class ModelStore(ABC):
    """Where a projection's read model lives."""

    @abstractmethod
    def begin(self) -> ModelTransaction:
        """Start a transaction; concurrent transactions on one store serialize."""

    @abstractmethod
    def offsets(self) -> dict[TopicPartition, int]:
        """The committed next offset of every partition the model has read."""

    @abstractmethod
    def reset(self) -> None:
        """Forget everything: model, applied versions and offsets (a fresh model)."""

    def get(self, key: str, default: Any = None) -> Any:
        """Read one committed value."""
        tx = self.begin()
        try:
            return tx.get(key, default)
        finally:
            tx.rollback()

    def snapshot(self, prefix: str = "") -> dict[str, Any]:
        """Every committed ``key -> value`` whose key starts with ``prefix``."""
        tx = self.begin()
        try:
            return dict(tx.items(prefix))
        finally:
            tx.rollback()

    def close(self) -> None:  # noqa: B027  # optional: only stores holding resources need it
        """Release resources."""


_MISSING = object()


class _InMemoryTransaction(ModelTransaction):
    __slots__ = ("_done", "_offsets", "_store", "_undo", "_versions", "_writes")

    def __init__(self, store: InMemoryModelStore) -> None:
        self._store = store
        self._writes: dict[str, Any] = {}  # key -> value, or _MISSING for a delete
        self._versions: dict[tuple[str, str], int] = {}
        self._offsets: dict[TopicPartition, int] = {}
        self._undo: list[dict[str, Any]] = []  # one frame per open savepoint
        self._done = False

    def _check(self) -> None:
        if self._done:
            raise ModelError("transaction already committed or rolled back")

    def get(self, key: str, default: Any = None) -> Any:
        value = self._writes.get(key, self._store._data.get(key, default))
        return default if value is _MISSING else value

    def _remember(self, key: str) -> None:
        if self._undo:
            frame = self._undo[-1]
            if key not in frame:
                frame[key] = self._writes.get(key, _NOT_WRITTEN)

    def put(self, key: str, value: Any) -> None:
        self._check()
        self._remember(key)
        self._writes[key] = value

    def delete(self, key: str) -> None:
        self._check()
        self._remember(key)
        self._writes[key] = _MISSING

    def items(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        merged = {k: v for k, v in self._store._data.items() if k.startswith(prefix)}
        for key, value in self._writes.items():
            if key.startswith(prefix):
                if value is _MISSING:
                    merged.pop(key, None)
                else:
                    merged[key] = value
        return iter(sorted(merged.items()))

    def applied_version(self, stream: str, entity_id: str) -> int:
        key = (stream, entity_id)
        found = self._versions.get(key)
        if found is None:
            found = self._store._versions.get(key, 0)
        return found

    def set_applied_version(self, stream: str, entity_id: str, version: int) -> None:
        self._check()
        self._versions[(stream, entity_id)] = version

    def set_offset(self, topic: str, partition: int, next_offset: int) -> None:
        self._check()
        self._offsets[(topic, partition)] = next_offset

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        self._check()
        self._undo.append({})
        try:
            yield
        except BaseException:
            for key, previous in self._undo.pop().items():
                if previous is _NOT_WRITTEN:
                    self._writes.pop(key, None)
                else:
                    self._writes[key] = previous
            raise
        else:
            frame = self._undo.pop()
            if self._undo:  # an enclosing savepoint must still be able to undo these
                outer = self._undo[-1]
                for key, previous in frame.items():
                    outer.setdefault(key, previous)

    def commit(self) -> None:
        self._check()
        store = self._store
        for key, value in self._writes.items():
            if value is _MISSING:
                store._data.pop(key, None)
            else:
                store._data[key] = value
        store._versions.update(self._versions)
        for tp, offset in self._offsets.items():
            if offset > store._offsets.get(tp, -1):
                store._offsets[tp] = offset
        self._finish()

    def rollback(self) -> None:
        if not self._done:
            self._finish()

    def _finish(self) -> None:
        self._done = True
        self._store._lock.release()


_NOT_WRITTEN = object()


class InMemoryModelStore(ModelStore):
    """A model in dicts; transactions hold a lock, so they serialize across threads."""

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self._versions: dict[tuple[str, str], int] = {}
        self._offsets: dict[TopicPartition, int] = {}
        self._lock = threading.Lock()

    def begin(self) -> ModelTransaction:
        self._lock.acquire()
        return _InMemoryTransaction(self)

    def offsets(self) -> dict[TopicPartition, int]:
        with self._lock:
            return dict(self._offsets)

    def reset(self) -> None:
        with self._lock:
            self._data.clear()
            self._versions.clear()
            self._offsets.clear()


# --- SQLite -------------------------------------------------------------------------------

_TAGS = "__esgen__"


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return {_TAGS: "decimal", "v": str(value)}
    if isinstance(value, datetime.datetime):
        return {_TAGS: "datetime", "v": value.isoformat()}
    if isinstance(value, datetime.date):
        return {_TAGS: "date", "v": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {_TAGS: "uuid", "v": str(value)}
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"a read-model value cannot hold {type(value).__name__}: {value!r}")


_DECODERS: Mapping[str, Any] = {
    "decimal": decimal.Decimal,
    "datetime": datetime.datetime.fromisoformat,
    "date": datetime.date.fromisoformat,
    "uuid": uuid.UUID,
}


def _json_hook(obj: dict[str, Any]) -> Any:
    tag = obj.get(_TAGS)
    if tag is not None and len(obj) == 2:
        return _DECODERS[tag](obj["v"])
    return obj


def encode_value(value: Any) -> str:
    """JSON for a model value (tags keep ``Decimal``/``datetime``/``date``/``UUID``)."""
    try:
        return json.dumps(value, default=_json_default, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ModelError(str(exc)) from exc


def decode_value(text: str) -> Any:
    """The value ``encode_value`` wrote."""
    return json.loads(text, object_hook=_json_hook)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS esgen_model (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS esgen_applied (
    stream TEXT NOT NULL, entity_id TEXT NOT NULL, version INTEGER NOT NULL,
    PRIMARY KEY (stream, entity_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS esgen_offsets (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
) WITHOUT ROWID;
"""


class _SQLiteTransaction(ModelTransaction):
    __slots__ = ("_depth", "_done", "_offsets", "_store", "_versions", "connection")

    def __init__(self, store: SQLiteModelStore, connection: sqlite3.Connection) -> None:
        self._store = store
        self.connection = connection
        # Versions are read once and written at commit: this transaction holds the write
        # lock (BEGIN IMMEDIATE), so nobody else can change them meanwhile.
        self._versions: dict[tuple[str, str], tuple[int, bool]] = {}
        self._offsets: dict[TopicPartition, int] = {}
        self._depth = 0
        self._done = False

    def _check(self) -> None:
        if self._done:
            raise ModelError("transaction already committed or rolled back")

    def get(self, key: str, default: Any = None) -> Any:
        row = self.connection.execute(
            "SELECT value FROM esgen_model WHERE key = ?", (key,)
        ).fetchone()
        return default if row is None else decode_value(row[0])

    def put(self, key: str, value: Any) -> None:
        self._check()
        self.connection.execute(
            "INSERT OR REPLACE INTO esgen_model (key, value) VALUES (?, ?)",
            (key, encode_value(value)),
        )

    def delete(self, key: str) -> None:
        self._check()
        self.connection.execute("DELETE FROM esgen_model WHERE key = ?", (key,))

    def items(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        # substr() rather than LIKE: keys may contain % and _.
        rows = self.connection.execute(
            "SELECT key, value FROM esgen_model WHERE substr(key, 1, ?) = ? ORDER BY key",
            (len(prefix), prefix),
        ).fetchall()
        return ((key, decode_value(value)) for key, value in rows)

    def applied_version(self, stream: str, entity_id: str) -> int:
        key = (stream, entity_id)
        cached = self._versions.get(key)
        if cached is not None:
            return cached[0]
        row = self.connection.execute(
            "SELECT version FROM esgen_applied WHERE stream = ? AND entity_id = ?", key
        ).fetchone()
        version = 0 if row is None else int(row[0])
        self._versions[key] = (version, False)
        return version

    def set_applied_version(self, stream: str, entity_id: str, version: int) -> None:
        self._check()
        self._versions[(stream, entity_id)] = (version, True)

    def set_offset(self, topic: str, partition: int, next_offset: int) -> None:
        self._check()
        self._offsets[(topic, partition)] = next_offset

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        self._check()
        self._depth += 1
        name = f"esgen_sp{self._depth}"
        versions = dict(self._versions)
        self.connection.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.connection.execute(f"ROLLBACK TO {name}")
            self.connection.execute(f"RELEASE {name}")
            self._versions = versions
            raise
        else:
            self.connection.execute(f"RELEASE {name}")
        finally:
            self._depth -= 1

    def commit(self) -> None:
        self._check()
        connection = self.connection
        try:
            connection.executemany(
                "INSERT OR REPLACE INTO esgen_applied (stream, entity_id, version) "
                "VALUES (?, ?, ?)",
                [(s, e, v) for (s, e), (v, dirty) in self._versions.items() if dirty],
            )
            connection.executemany(
                "INSERT INTO esgen_offsets (topic, partition, next_offset) VALUES (?, ?, ?) "
                "ON CONFLICT (topic, partition) DO UPDATE SET "
                "next_offset = max(next_offset, excluded.next_offset)",
                [(t, p, o) for (t, p), o in self._offsets.items()],
            )
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            self.rollback()
            raise ModelError(f"cannot commit the read model: {exc}") from exc
        self._finish()

    def rollback(self) -> None:
        if self._done:
            return
        try:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
        finally:
            self._finish()

    def _finish(self) -> None:
        self._done = True
        self._store._lock.release()


class SQLiteModelStore(ModelStore):
    """A model in a SQLite file; the model and the bookkeeping commit in one transaction."""

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        self.path = str(path)
        try:
            # Autocommit mode: transactions are begun explicitly (BEGIN IMMEDIATE).
            self._connection = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=FULL")  # durable at COMMIT
            self._connection.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise ModelError(f"cannot open the read model {self.path}: {exc}") from exc
        self._lock = threading.Lock()  # one connection: one transaction at a time

    def begin(self) -> ModelTransaction:
        self._lock.acquire()
        try:
            self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._lock.release()
            raise ModelError(f"cannot begin a transaction on {self.path}: {exc}") from exc
        return _SQLiteTransaction(self, self._connection)

    def offsets(self) -> dict[TopicPartition, int]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT topic, partition, next_offset FROM esgen_offsets"
            ).fetchall()
        return {(t, int(p)): int(o) for t, p, o in rows}

    def reset(self) -> None:
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                for table in ("esgen_model", "esgen_applied", "esgen_offsets"):
                    self._connection.execute(f"DELETE FROM {table}")
                self._connection.execute("COMMIT")
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._connection.close()
