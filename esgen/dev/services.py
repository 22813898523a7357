"""Starting and stopping the services: what ``esgen dev`` and the pytest plugin call.

:func:`start_kafka` and :func:`start_registry` each resolve the service (downloading it
on first use), write its configuration into a work folder, start it detached and wait
until it answers; :func:`start` does the requested ones in parallel. Each returns a
:class:`ServiceRecord`; :func:`stop` ends one. Data is not kept across starts: the
registry is in memory, so Kafka starts from a freshly formatted log folder too (schema
ids in old records would otherwise point nowhere).
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from esgen.dev import config, download, health, java, nodes, paths, ports, process, versions
from esgen.dev.errors import ServiceError
from esgen.dev.state import ServiceRecord
from esgen.dev.watchdog import spawn_watchdog

NAMES = ("kafka", "registry")
KAFKA_TIMEOUT = 90.0
REGISTRY_TIMEOUT = 120.0


def start_kafka(
    workdir: Path, usual_ports: bool, taken: set[int] | None = None, owner_pid: int | None = None
) -> ServiceRecord:
    taken = taken if taken is not None else set()
    exe, libs = nodes.runtime()
    began = time.monotonic()
    layout = config.KafkaLayout(
        workdir=workdir,
        port=ports.pick(versions.KAFKA_PORT if usual_ports else None, taken),
        controller_port=ports.pick(versions.KAFKA_CONTROLLER_PORT if usual_ports else None, taken),
    )
    nodes.prepare(exe, libs, layout, config.new_cluster_id())
    pid = nodes.spawn(exe, libs, layout, owner_pid)
    marker = nodes.marker(layout)
    try:
        health.wait_until(
            "Kafka",
            lambda: health.kafka_ready(layout.bootstrap),
            pid,
            layout.log,
            KAFKA_TIMEOUT,
            port_open=lambda: ports.is_listening(layout.port),
        )
    except ServiceError:
        process.stop(pid, marker, timeout=5)
        raise
    return ServiceRecord(
        name="kafka",
        pid=pid,
        address=layout.bootstrap,
        workdir=str(workdir),
        log=str(layout.log),
        marker=marker,
        started_at=time.time(),
        startup_seconds=round(time.monotonic() - began, 2),
    )


def start_registry(
    workdir: Path, usual_ports: bool, taken: set[int] | None = None, owner_pid: int | None = None
) -> ServiceRecord:
    taken = taken if taken is not None else set()
    app = download.ensure_registry()
    exe = java.find_java(
        versions.REGISTRY_MIN_JAVA, f"Apicurio Registry {versions.APICURIO_VERSION}"
    )
    began = time.monotonic()
    layout = config.RegistryLayout(
        workdir=workdir,
        port=ports.pick(versions.REGISTRY_PORT if usual_ports else None, taken),
        management_port=ports.pick(None, taken),
    )
    paths.fresh(workdir)
    pid = process.spawn(config.registry_command(exe, app, layout), layout.log, workdir)
    marker = f"{config.MARKER}registry:{workdir}"
    if owner_pid is not None:
        spawn_watchdog(owner_pid, pid, marker)
    url = layout.base_url + versions.CCOMPAT_PATH
    try:
        health.wait_until(
            "Apicurio Registry",
            lambda: health.registry_ready(url),
            pid,
            layout.log,
            REGISTRY_TIMEOUT,
            port_open=lambda: ports.is_listening(layout.port),
        )
        _confluent_defaults(url)
    except ServiceError:
        process.stop(pid, marker, timeout=5)
        raise
    return ServiceRecord(
        name="registry",
        pid=pid,
        address=url,
        workdir=str(workdir),
        log=str(layout.log),
        marker=marker,
        started_at=time.time(),
        startup_seconds=round(time.monotonic() - began, 2),
    )


def _confluent_defaults(url: str) -> None:
    """Make the global compatibility level BACKWARD, Confluent's default (Apicurio's is NONE)."""
    request = urllib.request.Request(
        f"{url}/config",
        data=json.dumps({"compatibility": "BACKWARD"}).encode(),
        method="PUT",
        headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    except OSError as exc:
        raise ServiceError(f"setting the registry's global compatibility failed: {exc}") from exc


def start(
    names: Iterable[str],
    root: Path,
    usual_ports: bool,
    owner_pid: int | None = None,
    taken: set[int] | None = None,
) -> dict[str, ServiceRecord | ServiceError]:
    """Start the named services in parallel, each in ``root/<name>``.

    With ``owner_pid``, each service gets a watchdog that stops it when that process is gone.
    ``taken`` holds ports already handed out (by a cluster starting beside them).

    The result maps each name to its record, or to the error that stopped it: one
    service failing does not stop the other.
    """
    wanted = [name for name in NAMES if name in set(names)]
    taken = taken if taken is not None else set()
    starters = {"kafka": start_kafka, "registry": start_registry}
    results: dict[str, ServiceRecord | ServiceError] = {}
    with ThreadPoolExecutor(max_workers=len(wanted) or 1) as pool:
        futures = {
            name: pool.submit(starters[name], root / name, usual_ports, taken, owner_pid)
            for name in wanted
        }
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except ServiceError as exc:
                results[name] = exc
            except Exception as exc:  # a bug or an OS error: still report it per service
                results[name] = ServiceError(f"{name} failed to start: {exc!r}")
    return results


def stop(record: ServiceRecord, timeout: float = 20.0) -> bool:
    """Stop the service of ``record``; False when it was not running (stale record)."""
    return process.stop(record.pid, record.marker, timeout=timeout)


def responds(record: ServiceRecord, patience: float = 10.0) -> bool:
    """Whether the running service of ``record`` answers within ``patience`` seconds. A
    busy machine can keep a JVM from answering one 3-second probe (seen: the registry,
    while a 3-broker cluster stopped beside it), so a service is called not responding
    only when it has not answered for the whole time."""
    ready = health.kafka_ready if record.name == "kafka" else health.registry_ready
    deadline = time.monotonic() + patience
    while not ready(record.address):
        if time.monotonic() >= deadline or not record.is_running():
            return False
        time.sleep(0.5)
    return True
