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
import threading
import time
from pathlib import Path

import pytest

from esgen.dev import config, download, health, paths, process, state
from esgen.dev.cluster import Cluster
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

        # A registry that stalls for a moment (a busy machine) still responds; one that
        # answers nothing for the status's whole patience (10 s) does not.
        registry = state.load(state_path)["registry"]
        os.kill(registry.pid, signal.SIGSTOP)
        try:
            thaw = threading.Timer(6.0, os.kill, (registry.pid, signal.SIGCONT))
            thaw.start()
            assert _run(env, "status").returncode == 0
            thaw.join()
            os.kill(registry.pid, signal.SIGSTOP)
            began = time.monotonic()
            hung = _run(env, "status")
            assert hung.returncode == 1 and "NOT RESPONDING" in hung.stdout
            assert 10 <= time.monotonic() - began < 30
        finally:
            os.kill(registry.pid, signal.SIGCONT)
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


def _exports(stdout: str) -> str:
    found = re.findall(r"^export (.*)$", stdout, re.M)
    assert found, stdout
    return str(found[-1])


def test_a_cluster_beside_the_single_broker_restarts_a_dead_node_on_its_data(
    own_cache: dict[str, str],
) -> None:
    env = own_cache
    state_path = Path(env["ESGEN_CACHE_DIR"]) / "dev" / "state.json"
    try:
        first = _run(env, "up")
        assert first.returncode == 0, first.stdout + first.stderr
        before = state.load(state_path)

        up = _run(env, "up", "--brokers", "3")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "Schema registry already running" in up.stdout
        records = state.load(state_path)
        # the single broker and the registry are untouched: same processes, same ports
        assert records["kafka"] == before["kafka"] and records["registry"] == before["registry"]
        assert health.kafka_ready(records["kafka"].address)
        members = [records[f"cluster-{i}"] for i in (1, 2, 3)]
        bootstrap = ",".join(r.address for r in members)
        assert f"ESGEN_BOOTSTRAP={bootstrap} " in _exports(up.stdout)
        assert len({r.address for r in members} | {records["kafka"].address}) == 4
        home = Path(env["ESGEN_CACHE_DIR"]) / "dev" / "cluster"
        assert [Path(r.workdir) for r in members] == [home / f"node-{i}" for i in (1, 2, 3)]
        cluster = Cluster.from_records(members)
        assert cluster.live_brokers() == {1, 2, 3}
        topic = f"kept-{os.getpid()}"
        cluster.create_topic(topic)
        assert cluster.in_sync(topic) == {1, 2, 3}
        identity = (Path(members[1].workdir) / "data" / "meta.properties").read_text()

        os.kill(members[1].pid, signal.SIGKILL)
        for _ in range(100):
            if not process.is_alive(members[1].pid):
                break
            time.sleep(0.1)
        stale = _run(env, "status", "--brokers", "3")
        assert stale.returncode == 1 and "stale" in stale.stdout
        assert _run(env, "status", "--brokers", "1").returncode == 0  # the other Kafka is fine

        repaired = _run(env, "up", "--brokers", "3")
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        assert "node(s) 2 gone; restarting them on their data" in repaired.stdout
        # restarted, not reformatted: the same storage, and it catches up as a replica
        assert (Path(members[1].workdir) / "data" / "meta.properties").read_text() == identity
        cluster = Cluster.from_records(_nodes(state.load(state_path)))
        cluster.wait_in_sync(topic)
        assert _run(env, "status", "--brokers", "3").returncode == 0
        again = _run(env, "up", "--brokers", "3")
        assert "Kafka cluster already running" in again.stdout

        stopped = _run(env, "down", "--brokers", "3")
        assert stopped.returncode == 0 and "Kafka cluster stopped" in stopped.stdout
        assert not any(process.is_alive(r.pid) for r in members)
        status = _run(env, "status")
        assert status.returncode == 0, status.stdout  # single broker and registry still up
    finally:
        down = _run(env, "down")
    assert down.returncode == 0
    assert _run(env, "status").returncode == 1


def _nodes(records: dict[str, ServiceRecord]) -> list[ServiceRecord]:
    return [record for name, record in sorted(records.items()) if name.startswith("cluster-")]
