"""The state file of ``esgen dev up``: which services it started, their pids and addresses.

``<cache>/dev/state.json`` maps a service name to a :class:`ServiceRecord`. A record
whose pid is gone, or no longer carries esgen's marker, is stale: ``up`` replaces it,
``down`` and ``status`` report and drop it.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from esgen.dev import paths, process


@dataclass(frozen=True)
class ServiceRecord:
    name: str
    """``kafka``, ``registry``, or ``cluster-<node id>`` for a node of the cluster."""
    pid: int
    address: str
    """Kafka: ``host:port`` bootstrap; registry: the Confluent-compatible base URL."""
    workdir: str
    log: str
    marker: str
    """The command-line marker that identifies the process as this one."""
    started_at: float
    startup_seconds: float

    def is_running(self) -> bool:
        return process.is_ours(self.pid, self.marker)


@contextmanager
def locked() -> Iterator[None]:
    """Serialise ``esgen dev`` commands: two ``up`` at once would start two of each."""
    lock = paths.dev_dir() / ".lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def state_file() -> Path:
    return paths.dev_dir() / "state.json"


def load(path: Path | None = None) -> dict[str, ServiceRecord]:
    path = path or state_file()
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    records: dict[str, ServiceRecord] = {}
    for name, fields in raw.get("services", {}).items():
        try:
            records[name] = ServiceRecord(**fields)
        except TypeError:
            continue
    return records


def save(records: dict[str, ServiceRecord], path: Path | None = None) -> None:
    path = path or state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    payload = {"services": {name: asdict(record) for name, record in records.items()}}
    temporary.write_text(json.dumps(payload, indent=2) + "\n")
    temporary.replace(path)
