"""Waiting until a service answers, and checking that one still does.

Kafka is ready when its admin API returns cluster metadata with a broker; a cluster of N
brokers when the metadata lists all N and a probe topic with replication factor N gets a
leader and N in-sync replicas for every partition (then the probe is deleted); the
registry when ``GET <ccompat>/subjects`` returns 200. A wait gives up early when the
process has exited, and raises :class:`ServiceError` with the last lines of the log.
"""

from __future__ import annotations

import contextlib
import logging
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from esgen.dev import process
from esgen.dev.errors import ServiceError


def admin(bootstrap: str) -> Any:
    """An admin client from the runtime's one client factory (so a metadata probe never
    creates a topic either), with librdkafka's connection noise kept out of the logs.

    Imported on first use: ``esgen dev`` pays for the runtime only when it talks to Kafka.
    """
    from esgen.runtime.kafka import KafkaClients

    return KafkaClients(bootstrap, {"logger": _QUIET}).admin()


def kafka_brokers(bootstrap: str, timeout: float = 3.0) -> set[int]:
    """The node ids of the live brokers the cluster reports; empty when it does not answer."""
    try:
        metadata = admin(bootstrap).list_topics(timeout=timeout)
    except Exception:
        return set()
    return set(metadata.brokers)


def kafka_ready(bootstrap: str, timeout: float = 3.0) -> bool:
    return bool(kafka_brokers(bootstrap, timeout))


def cluster_ready(bootstrap: str, brokers: int, timeout: float = 10.0) -> bool:
    """All ``brokers`` registered, and a probe topic replicated to each of them in sync."""
    if len(kafka_brokers(bootstrap)) < brokers:
        return False
    from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

    client = admin(bootstrap)
    probe = f"esgen-health-{uuid.uuid4().hex[:12]}"
    try:
        created = client.create_topics(
            [NewTopic(probe, num_partitions=brokers, replication_factor=brokers)],
            operation_timeout=timeout,
        )
        created[probe].result(timeout=timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            topic = client.list_topics(probe, timeout=timeout).topics.get(probe)
            if topic is not None and _in_sync(topic, brokers):
                return True
            time.sleep(0.2)
        return False
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            client.delete_topics([probe], operation_timeout=timeout)[probe].result(timeout)


_QUIET = logging.getLogger("esgen.dev.health.librdkafka")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


def _in_sync(topic: Any, brokers: int) -> bool:
    partitions = topic.partitions.values()
    return (
        topic.error is None
        and len(partitions) == brokers
        and all(p.leader >= 0 and len(p.isrs) == brokers for p in partitions)
    )


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
