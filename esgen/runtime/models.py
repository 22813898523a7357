"""Read-model stores for projections: a key-value model plus the bookkeeping that makes
applying events idempotent, committed together in one transaction.

A projection's handlers see a :class:`ReadModel` (``get``, ``put``, ``delete``,
``items``, and ``connection`` for stores with tables of their own): a view of one
:class:`ModelTransaction` that leaves out the bookkeeping. In the *same* transaction the
apply step records, per entity stream, the last applied entity version and, per
partition, the next offset to read. Because the model and that bookkeeping become
durable atomically, a crash at any point either keeps both or neither: events are
applied effectively once per entity version.

Two stores are provided:

:class:`InMemoryModelStore`
    Dicts behind a lock; for tests, benchmarks and models rebuilt on every start.
:class:`SqliteModelStore`
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
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from esgen.runtime.errors import EsgenError

TopicPartition = tuple[str, int]


class ModelError(EsgenError):
    """The read-model store failed or was misused (e.g. a transaction used after commit)."""


class ModelTransaction(ABC):
    """One atomic unit of model changes plus the apply step's bookkeeping.

    Projection handlers reach ``get``/``put``/``delete``/``items`` through a
    :class:`ReadModel`; the apply step uses the rest. Values must be treated as
    immutable once ``put`` (the in-memory store keeps the object itself; the SQLite store
    keeps its JSON).
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

    preloads = False  # whether preload_versions is worth calling

    def preload_versions(self, stream: str, entity_ids: Iterable[str]) -> None:  # noqa: B027
        """A hint: these applied versions are about to be read (one query, not many)."""

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


class ReadModel:
    """What a projection's handlers (and its ``setup``/``clear`` hooks) see: the model as
    the batch's transaction has it, without the bookkeeping (applied versions, offsets,
    commit), so a handler cannot move the runner's position or end the transaction.

    ``get(key, default)``, ``put(key, value)``, ``delete(key)``, ``items(prefix)`` are the
    transaction's own (bound once: no cost per call). ``connection`` is the transaction's
    ``connection`` attribute when its store has one (``SqliteModelStore``: the open
    ``sqlite3`` connection, for tables of the projection's own that commit with the model),
    else None.
    """

    __slots__ = ("connection", "delete", "get", "items", "put")

    get: Callable[..., Any]
    put: Callable[[str, Any], None]
    delete: Callable[[str], None]
    items: Callable[..., Iterator[tuple[str, Any]]]
    connection: Any

    def __init__(self, tx: ModelTransaction) -> None:
        self.get = tx.get
        self.put = tx.put
        self.delete = tx.delete
        self.items = tx.items
        self.connection = getattr(tx, "connection", None)


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


_MISSING = object()  # a deleted key in the write buffer
_NOT_WRITTEN = object()  # in an undo frame: the key had no buffered write before


class _BufferedTransaction(ModelTransaction):
    """Changes are buffered in dicts and written in one go at commit.

    Reads see the buffer first, then the store. A savepoint keeps an undo frame of the
    buffer entries it overwrites (and, for SQLite, a SQL savepoint for the projection's
    own tables). Subclasses read the store and write the buffer out.
    """

    __slots__ = ("_done", "_offsets", "_undo", "_versions", "_writes")

    def __init__(self) -> None:
        self._writes: dict[str, Any] = {}  # key -> value, or _MISSING for a delete
        self._versions: dict[tuple[str, str], int] = {}  # (stream, entity) -> version
        self._offsets: dict[TopicPartition, int] = {}
        self._undo: list[dict[Any, Any]] = []  # one frame per open savepoint
        self._done = False

    # what subclasses provide

    @abstractmethod
    def _read(self, key: str) -> Any:
        """The stored value of ``key``, or _MISSING."""

    @abstractmethod
    def _read_items(self, prefix: str) -> dict[str, Any]:
        """Stored values whose key starts with ``prefix``."""

    @abstractmethod
    def _read_version(self, stream: str, entity_id: str) -> int:
        """The stored applied version (0: none)."""

    @abstractmethod
    def _write(self) -> None:
        """Write the buffers out and make them durable; raise ModelError if that fails."""

    @abstractmethod
    def _release(self, committed: bool) -> None:
        """End the transaction in the store (unlock; roll back if not committed)."""

    def _sql_savepoint(self, action: str, depth: int) -> None:
        """Stores with SQL tables of their own mirror savepoints there."""

    # the transaction

    def _check(self) -> None:
        if self._done:
            raise ModelError("transaction already committed or rolled back")

    def get(self, key: str, default: Any = None) -> Any:
        value = self._writes.get(key, _NOT_WRITTEN)
        if value is _NOT_WRITTEN:
            value = self._read(key)
        return default if value is _MISSING else value

    def _remember(self, undo_key: Any, buffer: dict[Any, Any]) -> None:
        frame = self._undo[-1]
        if undo_key not in frame:
            frame[undo_key] = buffer.get(undo_key[1], _NOT_WRITTEN)

    def put(self, key: str, value: Any) -> None:
        self._check()
        if self._undo:
            self._remember(("k", key), self._writes)
        self._writes[key] = value

    def delete(self, key: str) -> None:
        self._check()
        if self._undo:
            self._remember(("k", key), self._writes)
        self._writes[key] = _MISSING

    def items(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        merged = self._read_items(prefix)
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
            found = self._read_version(stream, entity_id)
        return found

    def set_applied_version(self, stream: str, entity_id: str, version: int) -> None:
        self._check()
        key = (stream, entity_id)
        if self._undo:
            self._remember(("v", key), self._versions)
        self._versions[key] = version

    def set_offset(self, topic: str, partition: int, next_offset: int) -> None:
        self._check()
        self._offsets[(topic, partition)] = next_offset

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        self._check()
        self._undo.append({})
        depth = len(self._undo)
        self._sql_savepoint("SAVEPOINT", depth)
        try:
            yield
        except BaseException:
            self._sql_savepoint("ROLLBACK TO", depth)
            self._sql_savepoint("RELEASE", depth)
            for (kind, key), previous in self._undo.pop().items():
                buffer: dict[Any, Any] = self._writes if kind == "k" else self._versions
                if previous is _NOT_WRITTEN:
                    buffer.pop(key, None)
                else:
                    buffer[key] = previous
            raise
        else:
            self._sql_savepoint("RELEASE", depth)
            frame = self._undo.pop()
            if self._undo:  # an enclosing savepoint must still be able to undo these
                outer = self._undo[-1]
                for undo_key, previous in frame.items():
                    outer.setdefault(undo_key, previous)

    def commit(self) -> None:
        self._check()
        try:
            self._write()
        except BaseException:
            self.rollback()
            raise
        self._done = True
        self._release(True)

    def rollback(self) -> None:
        if not self._done:
            self._done = True
            self._release(False)


class _InMemoryTransaction(_BufferedTransaction):
    __slots__ = ("_store",)

    def __init__(self, store: InMemoryModelStore) -> None:
        super().__init__()
        self._store = store

    def _read(self, key: str) -> Any:
        return self._store._data.get(key, _MISSING)

    def _read_items(self, prefix: str) -> dict[str, Any]:
        return {k: v for k, v in self._store._data.items() if k.startswith(prefix)}

    def _read_version(self, stream: str, entity_id: str) -> int:
        return self._store._versions.get((stream, entity_id), 0)

    def _write(self) -> None:
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

    def _release(self, committed: bool) -> None:
        self._store._lock.release()


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


_ENCODER = json.JSONEncoder(default=_json_default, separators=(",", ":"))
_DECODER = json.JSONDecoder(object_hook=_json_hook)  # made once: json.loads builds one per call


def encode_value(value: Any) -> str:
    """JSON for a model value (tags keep ``Decimal``/``datetime``/``date``/``UUID``)."""
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise ModelError(str(exc)) from exc


def decode_value(text: str) -> Any:
    """The value ``encode_value`` wrote."""
    return _DECODER.decode(text)


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


class _SqliteTransaction(_BufferedTransaction):
    __slots__ = ("_encoded", "_loaded", "_store", "connection")

    def __init__(self, store: SqliteModelStore, connection: sqlite3.Connection) -> None:
        super().__init__()
        self._store = store
        self.connection = connection
        self._encoded: dict[str, tuple[Any, str]] = {}  # key -> (value, its JSON)
        self._loaded: dict[tuple[str, str], int] = {}  # applied versions read ahead

    def put(self, key: str, value: Any) -> None:
        # Encoded now so that a value JSON cannot hold fails in the handler that put it.
        encoded = encode_value(value)
        super().put(key, value)
        self._encoded[key] = (value, encoded)

    def _json(self, key: str, value: Any) -> str:
        cached = self._encoded.get(key)
        return cached[1] if cached is not None and cached[0] is value else encode_value(value)

    def _read(self, key: str) -> Any:
        row = self.connection.execute(
            "SELECT value FROM esgen_model WHERE key = ?", (key,)
        ).fetchone()
        return _MISSING if row is None else decode_value(row[0])

    def _read_items(self, prefix: str) -> dict[str, Any]:
        # substr() rather than LIKE: keys may contain % and _.
        rows = self.connection.execute(
            "SELECT key, value FROM esgen_model WHERE substr(key, 1, ?) = ?",
            (len(prefix), prefix),
        ).fetchall()
        return {key: decode_value(value) for key, value in rows}

    def _read_version(self, stream: str, entity_id: str) -> int:
        loaded = self._loaded.get((stream, entity_id))
        if loaded is not None:
            return loaded
        row = self.connection.execute(
            "SELECT version FROM esgen_applied WHERE stream = ? AND entity_id = ?",
            (stream, entity_id),
        ).fetchone()
        return 0 if row is None else int(row[0])

    preloads = True

    def preload_versions(self, stream: str, entity_ids: Iterable[str]) -> None:
        wanted = [e for e in set(entity_ids) if (stream, e) not in self._versions]
        for start in range(0, len(wanted), 500):  # SQLite caps the number of parameters
            chunk = wanted[start : start + 500]
            rows = self.connection.execute(
                "SELECT entity_id, version FROM esgen_applied WHERE stream = ? "
                f"AND entity_id IN ({','.join('?' * len(chunk))})",
                (stream, *chunk),
            ).fetchall()
            found = dict(rows)
            for entity_id in chunk:
                # Not dirty: an unchanged version is not written back at commit.
                self._loaded[(stream, entity_id)] = int(found.get(entity_id, 0))

    def _sql_savepoint(self, action: str, depth: int) -> None:
        self.connection.execute(f"{action} esgen_sp{depth}")

    def _write(self) -> None:
        connection = self.connection
        puts = [(k, self._json(k, v)) for k, v in self._writes.items() if v is not _MISSING]
        deletes = [(k,) for k, v in self._writes.items() if v is _MISSING]
        try:
            connection.executemany(
                "INSERT OR REPLACE INTO esgen_model (key, value) VALUES (?, ?)", puts
            )
            connection.executemany("DELETE FROM esgen_model WHERE key = ?", deletes)
            connection.executemany(
                "INSERT OR REPLACE INTO esgen_applied (stream, entity_id, version) "
                "VALUES (?, ?, ?)",
                [(s, e, v) for (s, e), v in self._versions.items()],
            )
            connection.executemany(
                "INSERT INTO esgen_offsets (topic, partition, next_offset) VALUES (?, ?, ?) "
                "ON CONFLICT (topic, partition) DO UPDATE SET "
                "next_offset = max(next_offset, excluded.next_offset)",
                [(t, p, o) for (t, p), o in self._offsets.items()],
            )
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            raise ModelError(f"cannot commit the read model {self._store.path}: {exc}") from exc

    def _release(self, committed: bool) -> None:
        try:
            if not committed and self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
        finally:
            self._store._lock.release()


class SqliteModelStore(ModelStore):
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
        return _SqliteTransaction(self, self._connection)

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
