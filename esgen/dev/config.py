"""Generated configuration and command lines of the services.

Kafka runs as KRaft nodes that are each broker and controller, on loopback: one node for
the everyday dev broker, or the N nodes of a cluster (``esgen dev up --brokers 3``), all
voters of one controller quorum. Replication follows the node count: on one node every
replication factor and min ISR is 1; on N >= 3 nodes topics default to replication N and
``min.insync.replicas`` 2 (an ``acks=all`` write survives the loss of one broker), and the
internal topics (offsets, transactions, share groups) are replicated the same way.
Failed brokers are fenced within seconds (heartbeat 1 s, session 6 s) so a killed
partition leader is replaced quickly. Otherwise the nodes are configured for what esgen
needs: no initial rebalance delay, the log cleaner on (compacted topics hold snapshots)
with short back-off so cleaning is observable in tests, auto topic creation off (esgen
creates its topics). Internal topics get few partitions to start fast on a small machine.

Apicurio runs in memory (its default H2 storage) with HTTP and its management interface
bound to loopback, and deletion enabled so the Confluent ``DELETE`` endpoints work.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from esgen.dev.ports import HOST

KAFKA_MAIN = "kafka.Kafka"
KAFKA_STORAGE_TOOL = "kafka.tools.StorageTool"
MARKER = "-Desgen.dev.service="
"""A system property on every JVM we start: how a pid is recognised as ours."""


@dataclass(frozen=True)
class KafkaLayout:
    """Where one Kafka node lives and listens, and the controller quorum it belongs to."""

    workdir: Path
    port: int
    controller_port: int
    node_id: int = 1
    quorum: tuple[tuple[int, int], ...] = ()
    """``(node id, controller port)`` of every voter, this node included; empty: this node
    alone (the single dev broker)."""

    @property
    def voters(self) -> tuple[tuple[int, int], ...]:
        return self.quorum or ((self.node_id, self.controller_port),)

    @property
    def properties(self) -> Path:
        return self.workdir / "server.properties"

    @property
    def log4j(self) -> Path:
        return self.workdir / "log4j2.xml"

    @property
    def data(self) -> Path:
        return self.workdir / "data"

    @property
    def log(self) -> Path:
        return self.workdir / "kafka.log"

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"


@dataclass(frozen=True)
class RegistryLayout:
    workdir: Path
    port: int
    management_port: int

    @property
    def log(self) -> Path:
        return self.workdir / "registry.log"

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"


def replication(nodes: int) -> tuple[int, int]:
    """The default replication factor and ``min.insync.replicas`` for ``nodes`` brokers."""
    return nodes, min(2, nodes)


def kafka_properties(layout: KafkaLayout) -> str:
    nodes = len(layout.voters)
    factor, min_isr = replication(nodes)
    voters = ",".join(f"{node}@{HOST}:{port}" for node, port in layout.voters)
    settings = {
        "process.roles": "broker,controller",
        "node.id": str(layout.node_id),
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://{HOST}:{layout.port},CONTROLLER://{HOST}:{layout.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{layout.port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(layout.data),
        "num.partitions": "1",
        "default.replication.factor": str(factor),
        "min.insync.replicas": str(min_isr),
        "unclean.leader.election.enable": "false",
        "auto.create.topics.enable": "false",
        "delete.topic.enable": "true",
        # consumer groups and transactions, replicated like every other topic
        "offsets.topic.replication.factor": str(factor),
        "offsets.topic.num.partitions": "5",
        "transaction.state.log.replication.factor": str(factor),
        "transaction.state.log.min.isr": str(min_isr),
        "transaction.state.log.num.partitions": "5",
        "share.coordinator.state.topic.replication.factor": str(factor),
        "share.coordinator.state.topic.min.isr": str(min_isr),
        "group.initial.rebalance.delay.ms": "0",
        # compacted topics (snapshots)
        "log.cleaner.enable": "true",
        "log.cleaner.backoff.ms": "1000",
        "log.cleaner.threads": "1",
        "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
        # a development machine: small and quick
        "num.network.threads": "2",
        "num.io.threads": "4",
        "num.recovery.threads.per.data.dir": "1",
        "log.retention.check.interval.ms": "30000",
    }
    what = "one KRaft node"
    if nodes > 1:
        what = f"node {layout.node_id} of a {nodes}-node KRaft cluster"
        # a dead broker is fenced (and its partitions get new leaders) within seconds
        settings["broker.heartbeat.interval.ms"] = "1000"
        settings["broker.session.timeout.ms"] = "6000"
    lines = [f"# Generated by esgen.dev.config: {what} on loopback for esgen."]
    lines += [f"{key}={value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


LOG4J2_XML = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by esgen.dev.config: the broker logs to stdout, which esgen writes to kafka.log -->
<Configuration status="WARN">
  <Appenders>
    <Console name="STDOUT" target="SYSTEM_OUT">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Logger name="kafka" level="INFO"/>
    <Logger name="org.apache.kafka" level="INFO"/>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Logger name="kafka.log.LogCleaner" level="INFO"/>
    <Root level="WARN">
      <AppenderRef ref="STDOUT"/>
    </Root>
  </Loggers>
</Configuration>
"""


def controller_port(properties: Path) -> int:
    """The controller port a node's ``server.properties`` listens on (0 when unreadable)."""
    try:
        text = properties.read_text()
    except OSError:
        return 0
    found = re.search(r"^listeners=.*CONTROLLER://[^:,]+:(\d+)", text, re.M)
    return int(found[1]) if found else 0


def new_cluster_id() -> str:
    """A random Kafka cluster id (URL-safe base64 of 16 bytes), never starting with ``-``:
    the storage tool would take such an id for an option (Kafka's own ids avoid it too)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def kafka_jvm_args(layout: KafkaLayout) -> list[str]:
    return [
        "-Xms256m",
        "-Xmx768m",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:TieredStopAtLevel=1",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={layout.log4j}",
        f"{MARKER}kafka:{layout.workdir}",
    ]


def kafka_format_command(
    java: Path, libs: Path, layout: KafkaLayout, cluster_id: str
) -> list[str]:
    return [
        str(java),
        "-Xmx256m",
        "-XX:TieredStopAtLevel=1",
        f"-Dlog4j2.configurationFile={layout.log4j}",
        "-cp",
        f"{libs}/*",
        KAFKA_STORAGE_TOOL,
        "format",
        "-t",
        cluster_id,
        "-c",
        str(layout.properties),
        "--ignore-formatted",
    ]


def kafka_command(java: Path, libs: Path, layout: KafkaLayout) -> list[str]:
    return [
        str(java),
        *kafka_jvm_args(layout),
        "-cp",
        f"{libs}/*",
        KAFKA_MAIN,
        str(layout.properties),
    ]


def registry_command(java: Path, app: Path, layout: RegistryLayout) -> list[str]:
    return [
        str(java),
        "-Xms128m",
        "-Xmx512m",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        f"{MARKER}registry:{layout.workdir}",
        f"-Dquarkus.http.host={HOST}",
        f"-Dquarkus.http.port={layout.port}",
        f"-Dquarkus.management.host={HOST}",
        f"-Dquarkus.management.port={layout.management_port}",
        "-Dapicurio.rest.deletion.group.enabled=true",
        "-Dapicurio.rest.deletion.artifact.enabled=true",
        "-Dapicurio.rest.deletion.artifact-version.enabled=true",
        f"-Dapicurio.storage.snapshot.location={layout.workdir}",
        f"-Dapicurio.import.work-dir={layout.workdir}",
        f"-Djava.io.tmpdir={layout.workdir}",
        "-jar",
        str(app / "quarkus-run.jar"),
    ]
