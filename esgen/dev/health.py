"""Waiting until a service answers, and checking that one still does.

Kafka is ready when its admin API returns cluster metadata with a broker; the registry
when ``GET <ccompat>/subjects`` returns 200. A wait gives up early when the process
has exited, and raises :class:`ServiceError` with the last lines of the log.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from esgen.dev import process
from esgen.dev.errors import ServiceError


def kafka_ready(bootstrap: str, timeout: float = 3.0) -> bool:
    from confluent_kafka.admin import AdminClient

    settings: dict[str, Any] = {"bootstrap.servers": bootstrap, "logger": _QUIET}
    admin = AdminClient(settings)
    try:
        metadata = admin.list_topics(timeout=timeout)
    except Exception:
        return False
    return bool(metadata.brokers)


_QUIET = logging.getLogger("esgen.dev.health.librdkafka")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


def registry_ready(url: str, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/subjects", timeout=timeout) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def failure(name: str, reason: str, log: Path, lines: int = 30) -> ServiceError:
    return ServiceError(
        f"{name} failed to start: {reason}\n--- last {lines} lines of {log} ---\n"
        f"{process.tail(log, lines)}"
    )


def wait_until(
    name: str,
    ready: Callable[[], bool],
    pid: int,
    log: Path,
    timeout: float,
    port_open: Callable[[], bool] | None = None,
) -> float:
    """Poll ``ready`` until true; the seconds it took. Raises if the pid dies or time runs out."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        if (port_open is None or port_open()) and ready():
            return time.monotonic() - started
        if not process.is_alive(pid):
            raise failure(name, f"the process (pid {pid}) exited", log)
        if time.monotonic() > deadline:
            raise failure(name, f"not ready after {timeout:.0f} s (pid {pid} still running)", log)
        time.sleep(0.2)
