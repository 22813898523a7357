"""A one-node Kafka broker of a test's own: restarted, frozen or thawed on purpose.

Private (its own ports and folder, started with the ``esgen.dev`` API), so the shared
broker other tests use is never disturbed.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

from esgen.dev import config, download, health, java, process, services, versions
from esgen.dev.state import ServiceRecord
from esgen.dev.watchdog import spawn_watchdog


class PrivateBroker:
    """A one-node Kafka of our own that can be restarted with its data kept."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        record = services.start_kafka(workdir, usual_ports=False, owner_pid=os.getpid())
        self.record: ServiceRecord = record
        self.pid = record.pid
        self.bootstrap = record.address
        properties = (workdir / "server.properties").read_text()
        found = re.search(r"CONTROLLER://[^:]+:(\d+)", properties)
        assert found is not None
        self.layout = config.KafkaLayout(
            workdir=workdir,
            port=int(self.bootstrap.rpartition(":")[2]),
            controller_port=int(found[1]),
        )

    def stop(self) -> None:
        assert process.stop(self.pid, self.record.marker, timeout=30)

    def freeze(self) -> None:
        """SIGSTOP: the broker keeps its connections and answers nothing (lost answers)."""
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def kill(self) -> None:
        self.thaw()  # a stopped process must run again to be stopped for good
        process.stop(self.pid, self.record.marker, timeout=30)

    def start(self) -> None:
        """Start again on the same folder (no format: the data survives)."""
        exe = java.find_java(versions.KAFKA_MIN_JAVA, "Kafka")
        command = config.kafka_command(exe, download.ensure_kafka(), self.layout)
        self.pid = process.spawn(command, self.layout.log, self.workdir)
        spawn_watchdog(os.getpid(), self.pid, self.record.marker)
        deadline = time.monotonic() + 90
        while not health.kafka_ready(self.bootstrap):
            assert time.monotonic() < deadline, process.tail(self.layout.log)
            time.sleep(0.5)
