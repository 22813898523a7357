"""A Kafka cluster on loopback: N KRaft nodes, each a broker and a controller.

``esgen dev up --brokers 3`` and the ``kafka_cluster`` pytest fixture start one. Why
combined nodes rather than brokers beside a separate controller quorum: three voters
survive the loss of one, so killing any node (a partition leader, the active controller,
or both at once) leaves a working cluster, which is what a fault test needs; and three
JVMs instead of six fit a 2-core laptop. Production clusters run dedicated controllers
(Kafka's own advice, repeated in ``docs/operations.md``).

Every node has its own folder ``<root>/node-<id>`` (``server.properties``, ``data/``,
``kafka.log``); the nodes share one cluster id and list each other as voters. Topics
default to replication factor N and ``min.insync.replicas`` 2 (:mod:`esgen.dev.config`).
Ports: brokers 19092, 19093, 19094 and controllers 19192, 19193, 19194 when asked for the
usual ports and they are free (never the single dev broker's 9092/9093), else free ones.

A :class:`Cluster` is a handle on the nodes by pid and marker (a pid that is no longer
ours is never signalled): ``kill`` (SIGKILL, the way a machine dies), ``restart`` (on
the node's own data: it rejoins and catches up), ``stop``, and the views of a
partition that fault tests need (``leader``, ``in_sync``, ``wait_in_sync``).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from esgen.dev import config, health, nodes, ports, process
from esgen.dev.errors import ServiceError
from esgen.dev.state import ServiceRecord

NAME = "cluster"
"""Its nodes are recorded as ``cluster-1``, ``cluster-2``... in ``esgen dev up``'s state."""
BROKER_PORT = 19092
CONTROLLER_PORT = 19192
START_TIMEOUT = 180.0
RESTART_TIMEOUT = 120.0
STOP_TIMEOUT = 20.0


def node_name(node_id: int) -> str:
    return f"{NAME}-{node_id}"


def is_node_name(name: str) -> bool:
    prefix, _, number = name.partition("-")
    return prefix == NAME and number.isdigit()


@dataclass
class Node:
    """One node of the cluster: where it lives and, while it runs, its pid."""

    layout: config.KafkaLayout
    pid: int
    started_at: float = 0.0
    startup_seconds: float = 0.0

    @property
    def node_id(self) -> int:
        return self.layout.node_id

    @property
    def name(self) -> str:
        return node_name(self.node_id)

    @property
    def bootstrap(self) -> str:
        return self.layout.bootstrap

    @property
    def marker(self) -> str:
        return nodes.marker(self.layout)

    def is_running(self) -> bool:
        return process.is_ours(self.pid, self.marker)

    def record(self) -> ServiceRecord:
        return ServiceRecord(
            name=self.name,
            pid=self.pid,
            address=self.bootstrap,
            workdir=str(self.layout.workdir),
            log=str(self.layout.log),
            marker=self.marker,
            started_at=self.started_at,
            startup_seconds=self.startup_seconds,
        )


class Cluster:
    """A running (or partly running) cluster, driven by its nodes' pids."""

    def __init__(self, members: Iterable[Node], owner_pid: int | None = None) -> None:
        self.nodes: dict[int, Node] = {node.node_id: node for node in members}
        self.owner_pid = owner_pid

    # -- starting and stopping ---------------------------------------------------------

    @classmethod
    def start(
        cls,
        root: Path,
        brokers: int = 3,
        usual_ports: bool = False,
        owner_pid: int | None = None,
        taken: set[int] | None = None,
        timeout: float = START_TIMEOUT,
    ) -> Cluster:
        """Format and start ``brokers`` nodes under ``root``; return once the cluster is ready.

        With ``owner_pid``, each node gets a watchdog that stops it when that process is
        gone. On failure every node started is stopped and :class:`ServiceError` says why.
        """
        exe, libs = nodes.runtime()
        began = time.monotonic()
        layouts = _layouts(root, brokers, usual_ports, taken if taken is not None else set())
        cluster_id = config.new_cluster_id()
        with ThreadPoolExecutor(max_workers=brokers) as pool:
            for done in [
                pool.submit(nodes.prepare, exe, libs, layout, cluster_id) for layout in layouts
            ]:
                done.result()
        cluster = cls(
            [Node(layout, nodes.spawn(exe, libs, layout, owner_pid)) for layout in layouts],
            owner_pid,
        )
        try:
            cluster._wait(
                lambda: health.cluster_ready(cluster.bootstrap, brokers), cluster.nodes, timeout
            )
        except ServiceError:
            cluster.stop(timeout=5)
            raise
        now, took = time.time(), round(time.monotonic() - began, 2)
        for node in cluster.nodes.values():
            node.started_at, node.startup_seconds = now, took
        return cluster

    @classmethod
    def from_records(cls, records: Iterable[ServiceRecord]) -> Cluster:
        """The cluster whose nodes ``esgen dev up`` recorded (running or not)."""
        members = []
        for record in records:
            workdir = Path(record.workdir)
            layout = config.KafkaLayout(
                workdir=workdir,
                port=int(record.address.rpartition(":")[2]),
                controller_port=config.controller_port(workdir / "server.properties"),
                node_id=int(record.name.rpartition("-")[2]),
            )
            members.append(Node(layout, record.pid, record.started_at, record.startup_seconds))
        return cls(members)

    def stop(self, timeout: float = STOP_TIMEOUT, graceful: bool = True) -> list[int]:
        """Stop every node that still runs (all at once); the ids of those stopped.

        Graceful: SIGTERM (controlled shutdown), SIGKILL after ``timeout``. Not graceful:
        SIGKILL at once, for a cluster whose data is thrown away (a test's)."""
        running = [node for node in self.nodes.values() if node.is_running()]
        if not graceful:
            for node in running:
                self.kill(node.node_id)
            return [node.node_id for node in running]
        with ThreadPoolExecutor(max_workers=len(running) or 1) as pool:
            stopped = list(
                pool.map(lambda n: process.stop(n.pid, n.marker, timeout=timeout), running)
            )
        return [node.node_id for node, done in zip(running, stopped, strict=True) if done]

    def kill(self, node_id: int) -> None:
        """SIGKILL one node (no controlled shutdown) and wait until it is gone."""
        node = self._node(node_id)
        if not node.is_running():
            raise ServiceError(f"Kafka node {node_id} is not running (pid {node.pid})")
        os.kill(node.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while process.is_alive(node.pid):
            if time.monotonic() > deadline:
                raise ServiceError(f"Kafka node {node_id} (pid {node.pid}) survived SIGKILL")
            time.sleep(0.05)

    def restart(self, node_id: int, timeout: float = RESTART_TIMEOUT) -> float:
        """Start a stopped node again on its own data; seconds until it is a live broker.

        It then catches up from the partition leaders; :meth:`wait_in_sync` waits for that.
        """
        node = self._node(node_id)
        if node.is_running():
            raise ServiceError(f"Kafka node {node_id} is running (pid {node.pid})")
        nodes.check_formatted(node.layout)
        exe, libs = nodes.runtime()
        began = time.monotonic()
        node.pid = nodes.spawn(exe, libs, node.layout, self.owner_pid)
        try:
            self._wait(
                lambda: node_id in health.kafka_brokers(node.bootstrap), {node_id: node}, timeout
            )
        except ServiceError:
            process.stop(node.pid, node.marker, timeout=5)
            raise
        node.started_at, node.startup_seconds = time.time(), round(time.monotonic() - began, 2)
        return node.startup_seconds

    # -- what it looks like ------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """Every node's address: clients find the live ones."""
        return ",".join(node.bootstrap for node in self.nodes.values())

    def records(self) -> list[ServiceRecord]:
        return [node.record() for node in self.nodes.values()]

    def running(self) -> list[int]:
        return [node.node_id for node in self.nodes.values() if node.is_running()]

    def live_brokers(self) -> set[int]:
        """The brokers the cluster itself reports alive (unfenced)."""
        return health.kafka_brokers(self.bootstrap)

    def leader(self, topic: str, partition: int = 0) -> int:
        """The node id that leads ``topic``'s ``partition`` now (-1: none)."""
        return int(self._partition(topic, partition).leader)

    def in_sync(self, topic: str, partition: int = 0) -> set[int]:
        """The node ids in the partition's in-sync replica set."""
        return set(self._partition(topic, partition).isrs)

    def create_topic(
        self, topic: str, partitions: int = 1, settings: dict[str, str] | None = None
    ) -> None:
        """Create ``topic`` (the cluster's default replication) and wait until every running
        node serves its metadata with a leader per partition: a client that asks any node
        right after finds it (a new topic reaches the brokers' metadata one by one)."""
        from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

        client = health.admin(self.bootstrap)  # kept: its futures die with it
        created = client.create_topics(
            [NewTopic(topic, num_partitions=partitions, config=settings or {})],
            operation_timeout=30,
        )
        try:
            created[topic].result(timeout=60)
        except Exception as exc:
            raise ServiceError(f"cannot create topic {topic} on {self.bootstrap}: {exc}") from exc
        deadline = time.monotonic() + 60
        waiting = [self.nodes[node_id] for node_id in self.running()]
        while waiting:
            waiting = [n for n in waiting if not _serves(n.bootstrap, topic, partitions)]
            if waiting and time.monotonic() > deadline:
                raise ServiceError(
                    f"topic {topic}: nodes {[n.node_id for n in waiting]} do not serve its "
                    "metadata after 60 s"
                )
            time.sleep(0.1)

    def wait_in_sync(
        self, topic: str, partition: int = 0, timeout: float = RESTART_TIMEOUT
    ) -> float:
        """Wait until every node is an in-sync replica of the partition (a restarted one
        has caught up with the leader); the seconds it took."""
        began = time.monotonic()
        wanted = set(self.nodes)
        seen: set[int] | str = "unknown"
        while True:
            try:
                seen = self.in_sync(topic, partition)
            except ServiceError as exc:  # no metadata for a moment (a controller election)
                seen = str(exc)
            if seen == wanted:
                return time.monotonic() - began
            if time.monotonic() - began > timeout:
                raise ServiceError(
                    f"{topic}[{partition}]: in-sync replicas are {seen}, not {sorted(wanted)}, "
                    f"after {timeout:.0f} s"
                )
            time.sleep(0.2)

    # -- helpers -----------------------------------------------------------------------

    def _node(self, node_id: int) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise ServiceError(
                f"no Kafka node {node_id} in this cluster (nodes: {sorted(self.nodes)})"
            ) from None

    def _partition(self, topic: str, partition: int) -> Any:
        try:
            metadata = health.admin(self.bootstrap).list_topics(topic, timeout=10)
        except Exception as exc:
            raise ServiceError(f"no metadata for {topic} from {self.bootstrap}: {exc}") from exc
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or partition not in found.partitions:
            error = found.error if found is not None else "unknown topic"
            raise ServiceError(f"no partition {topic}[{partition}] ({error})")
        return found.partitions[partition]

    def _wait(self, ready: Callable[[], bool], watched: dict[int, Node], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for node in watched.values():
                if not process.is_alive(node.pid):
                    raise health.failure(
                        f"Kafka node {node.node_id}",
                        f"the process (pid {node.pid}) exited",
                        node.layout.log,
                    )
            if all(ports.is_listening(n.layout.port) for n in watched.values()) and ready():
                return
            if time.monotonic() > deadline:
                tails = "\n".join(
                    f"--- last 10 lines of {n.layout.log} ---\n{process.tail(n.layout.log, 10)}"
                    for n in watched.values()
                )
                raise ServiceError(
                    f"Kafka cluster not ready after {timeout:.0f} s "
                    f"(nodes {sorted(watched)} still running)\n{tails}"
                )
            time.sleep(0.5)


def _serves(bootstrap: str, topic: str, partitions: int) -> bool:
    """The node at ``bootstrap`` knows every partition of ``topic`` and its leader."""
    try:
        found = health.admin(bootstrap).list_topics(topic, timeout=5).topics.get(topic)
    except Exception:
        return False
    return (
        found is not None
        and found.error is None
        and len(found.partitions) == partitions
        and all(p.leader >= 0 for p in found.partitions.values())
    )


def _layouts(
    root: Path, brokers: int, usual_ports: bool, taken: set[int]
) -> list[config.KafkaLayout]:
    if brokers < 1:
        raise ServiceError(f"a cluster needs at least one broker, not {brokers}")
    ids = range(1, brokers + 1)
    usual = {i: (BROKER_PORT + i - 1, CONTROLLER_PORT + i - 1) for i in ids}
    broker_ports = {i: ports.pick(usual[i][0] if usual_ports else None, taken) for i in ids}
    controller_ports = {i: ports.pick(usual[i][1] if usual_ports else None, taken) for i in ids}
    quorum = tuple((i, controller_ports[i]) for i in ids)
    return [
        config.KafkaLayout(
            workdir=root / f"node-{i}",
            port=broker_ports[i],
            controller_port=controller_ports[i],
            node_id=i,
            quorum=quorum,
        )
        for i in ids
    ]
