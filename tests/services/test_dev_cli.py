"""``esgen dev up | down | status`` end to end, in a cache folder of its own.

The downloads are shared with the user's cache (a symlink), so this costs a start, not a
download. Ports: the usual ones are often taken by the session's own services, which
exercises the fallback to free ports.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from esgen.dev import config, download, paths, process, state
from esgen.dev.state import ServiceRecord

ESGEN = [str(Path(sys.executable).parent / "esgen")]


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ESGEN, "dev", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def own_cache(tmp_path: Path) -> dict[str, str]:
    download.ensure_kafka()
    download.ensure_registry()
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "dist").symlink_to(paths.dist_dir())
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESGEN_")}
    env["ESGEN_CACHE_DIR"] = str(tmp_path / "cache")
    return env


def test_up_is_idempotent_recovers_from_stale_pids_and_down_stops(
    own_cache: dict[str, str],
) -> None:
    env = own_cache
    try:
        first = _run(env, "up")
        assert first.returncode == 0, first.stdout + first.stderr
        exports = re.findall(r"^export (.*)$", first.stdout, re.M)
        assert exports and "ESGEN_BOOTSTRAP=127.0.0.1:" in exports[0]
        assert "ESGEN_REGISTRY_URL=http://127.0.0.1:" in exports[0]

        again = _run(env, "up")
        assert again.returncode == 0
        assert again.stdout.count("already running") == 2
        assert re.findall(r"^export (.*)$", again.stdout, re.M) == exports

        assert _run(env, "status").returncode == 0

        state_path = Path(env["ESGEN_CACHE_DIR"]) / "dev" / "state.json"
        kafka = state.load(state_path)["kafka"]
        os.kill(kafka.pid, signal.SIGKILL)
        for _ in range(100):
            if not process.is_alive(kafka.pid):
                break
            time.sleep(0.1)
        stale = _run(env, "status")
        assert stale.returncode == 1 and "stale" in stale.stdout

        recovered = _run(env, "up")
        assert recovered.returncode == 0, recovered.stdout + recovered.stderr
        assert "stale state" in recovered.stdout
        assert "Schema registry already running" in recovered.stdout
        assert _run(env, "status").returncode == 0
    finally:
        down = _run(env, "down")
    assert down.returncode == 0
    assert "stopped" in down.stdout
    assert _run(env, "status").returncode == 1


def test_a_pid_that_is_not_ours_is_stale(tmp_path: Path) -> None:
    record = ServiceRecord(
        name="kafka",
        pid=os.getpid(),
        address="127.0.0.1:1",
        workdir=str(tmp_path),
        log=str(tmp_path / "kafka.log"),
        marker=f"{config.MARKER}kafka:{tmp_path}",
        started_at=0.0,
        startup_seconds=0.0,
    )
    assert not record.is_running()  # alive, but not a JVM we started
    assert not process.stop(record.pid, record.marker)  # so never signalled
    state.save({"kafka": record}, tmp_path / "state.json")
    assert state.load(tmp_path / "state.json") == {"kafka": record}
