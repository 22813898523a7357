"""Stops a service when the process that owns it is gone.

The pytest plugin starts services for its session and stops them at session end; if the
session is killed before it can (SIGKILL, a CI timeout), this small process — started
beside each service as ``python -m esgen.dev.watchdog OWNER_PID SERVICE_PID MARKER`` —
stops the service within about a second. Services of ``esgen dev up`` have no watchdog.
"""

from __future__ import annotations

import subprocess
import sys
import time

from esgen.dev import process


def watch(owner_pid: int, service_pid: int, marker: str, interval: float = 1.0) -> None:
    while process.is_ours(service_pid, marker):
        if not process.is_alive(owner_pid):
            process.stop(service_pid, marker, timeout=15)
            return
        time.sleep(interval)


def spawn_watchdog(owner_pid: int, service_pid: int, marker: str) -> None:
    subprocess.Popen(
        [sys.executable, "-m", "esgen.dev.watchdog", str(owner_pid), str(service_pid), marker],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


if __name__ == "__main__":
    watch(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
