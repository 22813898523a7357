"""One Kafka node's life on this machine: its work folder, storage format, process.

Shared by the single dev broker (:mod:`esgen.dev.services`) and the cluster
(:mod:`esgen.dev.cluster`): :func:`prepare` writes a fresh work folder (configuration,
log4j2 config) and formats the storage with the cluster id, :func:`spawn` starts the node
detached on what is there (a restart keeps the data), with a watchdog when an owner is
given. Every node's JVM carries the marker ``-Desgen.dev.service=kafka:<workdir>``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from esgen.dev import config, download, health, java, paths, process, versions
from esgen.dev.errors import ServiceError
from esgen.dev.watchdog import spawn_watchdog

FORMAT_TIMEOUT = 120.0


def runtime() -> tuple[Path, Path]:
    """The Java executable and the jar folder Kafka runs with (downloaded on first use)."""
    libs = download.ensure_kafka()
    exe = java.find_java(versions.KAFKA_MIN_JAVA, f"Kafka {versions.KAFKA_VERSION}")
    return exe, libs


def marker(layout: config.KafkaLayout) -> str:
    return f"{config.MARKER}kafka:{layout.workdir}"


def prepare(exe: Path, libs: Path, layout: config.KafkaLayout, cluster_id: str) -> None:
    """A fresh work folder with the node's configuration and formatted storage."""
    paths.fresh(layout.workdir)
    layout.properties.write_text(config.kafka_properties(layout))
    layout.log4j.write_text(config.LOG4J2_XML)
    formatted = subprocess.run(
        config.kafka_format_command(exe, libs, layout, cluster_id),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        cwd=layout.workdir,
        timeout=FORMAT_TIMEOUT,
    )
    layout.log.write_text(formatted.stdout + formatted.stderr)
    if formatted.returncode != 0:
        raise health.failure("Kafka", "formatting the storage failed", layout.log)


def spawn(exe: Path, libs: Path, layout: config.KafkaLayout, owner_pid: int | None) -> int:
    """Start the node on its work folder as it is; its pid. The log is appended to."""
    pid = process.spawn(config.kafka_command(exe, libs, layout), layout.log, layout.workdir)
    if owner_pid is not None:
        spawn_watchdog(owner_pid, pid, marker(layout))
    return pid


def check_formatted(layout: config.KafkaLayout) -> None:
    """A restart needs the node's folder as :func:`prepare` left it."""
    if not (layout.properties.is_file() and (layout.data / "meta.properties").is_file()):
        raise ServiceError(
            f"cannot restart the Kafka node in {layout.workdir}: its configuration or "
            "formatted storage is missing; start the whole cluster anew"
        )
