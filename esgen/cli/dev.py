"""``esgen dev up | down | status``: a real Kafka and schema registry on this machine.

``--brokers 1`` (default) is the everyday single broker; ``--brokers 3`` a KRaft cluster of
three nodes (see :mod:`esgen.dev.cluster`) beside it, with its own ports, folders and
state entries (``cluster-1``...), so starting or stopping one never disturbs the other.
The registry is shared by both.

Imports only ``esgen.dev`` (never ``esgen.runtime``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import click

from esgen.dev import config, health, paths, services, state
from esgen.dev.cluster import NAME as CLUSTER
from esgen.dev.cluster import Cluster, is_node_name
from esgen.dev.errors import ServiceError
from esgen.dev.state import ServiceRecord

ClusterJob = Callable[[set[int]], list[ServiceRecord]]
"""Starts or repairs the cluster (given the ports already handed out); its node records."""

ENV = {"kafka": "ESGEN_BOOTSTRAP", "registry": "ESGEN_REGISTRY_URL"}
LABEL = {"kafka": "Kafka broker", "registry": "Schema registry", CLUSTER: "Kafka cluster"}


def _names(only: tuple[str, ...]) -> list[str]:
    return list(only) or list(services.NAMES)


def _describe(record: ServiceRecord) -> str:
    return f"{LABEL[record.name]:16} {record.address}  (pid {record.pid}, log {record.log})"


def _cluster_records(records: dict[str, ServiceRecord]) -> list[ServiceRecord]:
    return [record for name, record in sorted(records.items()) if is_node_name(name)]


def _describe_cluster(members: list[ServiceRecord]) -> list[str]:
    factor, min_isr = config.replication(len(members))
    lines = [
        f"{LABEL[CLUSTER]:16} {','.join(r.address for r in members)}  "
        f"({len(members)} brokers, replication {factor}, min.insync.replicas {min_isr})"
    ]
    for record in members:
        node = record.name.rpartition("-")[2]
        lines.append(f"  node {node:10} {record.address}  (pid {record.pid}, log {record.log})")
    return lines


def _export_line(addresses: dict[str, str]) -> str:
    return "export " + " ".join(f"{ENV[name]}={addresses[name]}" for name in addresses)


def _exports(records: dict[str, ServiceRecord], brokers: int) -> dict[str, str]:
    """What ``ESGEN_BOOTSTRAP`` / ``ESGEN_REGISTRY_URL`` should be for ``--brokers``."""
    running = {name: r for name, r in records.items() if r.is_running()}
    addresses: dict[str, str] = {}
    members = _cluster_records(running)
    if brokers > 1 and members:
        addresses["kafka"] = ",".join(r.address for r in members)
    elif brokers == 1 and "kafka" in running:
        addresses["kafka"] = running["kafka"].address
    if "registry" in running:
        addresses["registry"] = running["registry"].address
    return addresses


only_argument = click.argument("only", nargs=-1, type=click.Choice(services.NAMES))


def brokers_option(default: int | None, text: str) -> Callable[[Any], Any]:
    return click.option(
        "--brokers",
        type=click.Choice(["1", "3"]),
        default=None if default is None else str(default),
        callback=lambda _ctx, _param, value: None if value is None else int(value),
        help=text,
    )


@click.group()
def dev() -> None:
    """Run a real Kafka (one broker or a 3-broker cluster) and schema registry locally."""


@dev.command()
@brokers_option(
    1,
    "1: the single dev broker (ports 9092/9093); 3: a KRaft cluster of three broker+"
    "controller nodes (19092-19094), replication 3, min.insync.replicas 2.",
)
@only_argument
def up(brokers: int, only: tuple[str, ...]) -> None:
    """Start the services (Kafka and the registry unless named); running ones are kept.

    Uses the usual ports when free, otherwise free ones. Prints the addresses and an
    `export` line for ESGEN_BOOTSTRAP and ESGEN_REGISTRY_URL. With --brokers 3, a node of
    the cluster that died is restarted on its data (it catches up from the others).
    """
    with state.locked():
        _up(only, brokers)


def _up(only: tuple[str, ...], brokers: int) -> None:
    records = state.load()
    missing: list[str] = []
    cluster_job = None
    for name in _names(only):
        if name == "kafka" and brokers > 1:
            cluster_job = _cluster_plan(records, brokers)
            continue
        record = records.get(name)
        if record is not None and record.is_running():
            click.echo(f"{LABEL[name]} already running")
            continue
        if record is not None:
            click.echo(f"{LABEL[name]}: stale state (pid {record.pid} is gone); starting anew")
            records.pop(name)
        missing.append(name)
    failed = False
    if missing or cluster_job is not None:
        what = [*missing, *([CLUSTER] if cluster_job is not None else [])]
        click.echo(f"Starting {', '.join(what)} (the first run downloads them through Maven)…")
        began = time.monotonic()
        taken: set[int] = set()
        with ThreadPoolExecutor(max_workers=2) as pool:
            cluster_future = pool.submit(cluster_job, taken) if cluster_job else None
            results = services.start(missing, paths.dev_dir(), usual_ports=True, taken=taken)
            for name, result in results.items():
                if isinstance(result, ServiceError):
                    failed = True
                    click.echo(str(result), err=True)
                else:
                    records[name] = result
            if cluster_future is not None:
                try:
                    for record in cluster_future.result():
                        records[record.name] = record
                except ServiceError as exc:
                    failed = True
                    click.echo(str(exc), err=True)
                except Exception as exc:  # a bug or an OS error: report it, keep the state
                    failed = True
                    click.echo(f"the Kafka cluster failed to start: {exc!r}", err=True)
        state.save(records)
        click.echo(f"Started in {time.monotonic() - began:.1f} s")
    else:
        state.save(records)
    _print_running(records, brokers)
    if failed:
        sys.exit(1)


def _cluster_plan(records: dict[str, ServiceRecord], brokers: int) -> ClusterJob | None:
    """What ``up --brokers N`` has to do for the cluster: nothing, restart nodes, or start."""
    members = _cluster_records(records)
    recorded = Cluster.from_records(members)
    running = recorded.running()
    if members and len(running) == len(members) == brokers:
        click.echo(f"{LABEL[CLUSTER]} already running")
        return None
    if running and len(members) == brokers:
        gone = sorted(set(recorded.nodes) - set(running))
        click.echo(
            f"{LABEL[CLUSTER]}: node(s) {', '.join(map(str, gone))} gone; "
            "restarting them on their data"
        )

        def restart(_taken: set[int]) -> list[ServiceRecord]:
            for node_id in gone:
                recorded.restart(node_id)
            return recorded.records()

        return restart
    if running:
        raise click.UsageError(
            f"a Kafka cluster of {len(members)} nodes is running; stop it first "
            f"(`esgen dev down --brokers {len(members)}`)"
        )
    if members:
        click.echo(f"{LABEL[CLUSTER]}: stale state (no node is running); starting anew")
        for record in members:
            records.pop(record.name)

    def start(taken: set[int]) -> list[ServiceRecord]:
        root = paths.dev_dir() / CLUSTER
        return Cluster.start(root, brokers, usual_ports=True, taken=taken).records()

    return start


def _print_running(records: dict[str, ServiceRecord], brokers: int) -> None:
    for name in services.NAMES:
        record = records.get(name)
        if record is not None and record.is_running():
            click.echo(_describe(record))
    members = [r for r in _cluster_records(records) if r.is_running()]
    if members:
        for line in _describe_cluster(members):
            click.echo(line)
    exports = _exports(records, brokers)
    if exports:
        click.echo(_export_line(exports))


@dev.command()
@brokers_option(
    None, "Stop only this Kafka: 1, the single broker; 3, the cluster (default: everything)."
)
@only_argument
def down(brokers: int | None, only: tuple[str, ...]) -> None:
    """Stop what `esgen dev up` started: everything, or the named services.

    `kafka` names the single broker, or the cluster with --brokers 3; --brokers alone
    stops that Kafka only (the registry keeps running for the other).
    """
    with state.locked():
        _down(only, brokers)


def _down(only: tuple[str, ...], brokers: int | None) -> None:
    records = state.load()
    if not only and brokers is None:
        targets = [*services.NAMES, CLUSTER]
    else:
        kafka = CLUSTER if brokers is not None and brokers > 1 else "kafka"
        targets = [kafka if name == "kafka" else name for name in (only or ("kafka",))]
    for name in targets:
        if name == CLUSTER:
            _down_cluster(records)
            continue
        record = records.pop(name, None)
        if record is None:
            click.echo(f"{LABEL[name]} not running")
        elif services.stop(record):
            click.echo(f"{LABEL[name]} stopped (pid {record.pid})")
        else:
            click.echo(f"{LABEL[name]} was not running (stale pid {record.pid} dropped)")
    state.save(records)


def _down_cluster(records: dict[str, ServiceRecord]) -> None:
    members = _cluster_records(records)
    for record in members:
        records.pop(record.name)
    if not members:
        click.echo(f"{LABEL[CLUSTER]} not running")
        return
    stopped = Cluster.from_records(members).stop()
    if stopped:
        click.echo(f"{LABEL[CLUSTER]} stopped (nodes {', '.join(map(str, stopped))})")
    else:
        click.echo(f"{LABEL[CLUSTER]} was not running (stale state dropped)")


@dev.command()
@brokers_option(
    None, "Require this Kafka: 1, the single broker; 3, the cluster (default: what is recorded)."
)
def status(brokers: int | None) -> None:
    """Show the services that `esgen dev up` started; exit 1 unless they are all up.

    Up means running and answering: the registry and the Kafka asked for (--brokers;
    without it, every Kafka that `esgen dev up` started, and at least one).
    """
    records = state.load()
    members = _cluster_records(records)
    if brokers is None:
        kafkas = [k for k, found in (("kafka", "kafka" in records), (CLUSTER, members)) if found]
    else:
        kafkas = ["kafka" if brokers == 1 else CLUSTER]
    required = {"registry", *(kafkas or ["kafka"])}
    healthy = True
    for name in services.NAMES:
        healthy = (_service_status(name, records.get(name)) and healthy) or name not in required
    if members or CLUSTER in required:
        healthy = (_cluster_status(members) or CLUSTER not in required) and healthy
    exports = _exports(records, 1 if "kafka" in required else 3)
    if exports:
        click.echo(_export_line(exports))
    if not healthy:
        sys.exit(1)


def _service_status(name: str, record: ServiceRecord | None) -> bool:
    if record is None:
        click.echo(f"{LABEL[name]:16} not running")
        return False
    if not record.is_running():
        gone = f"pid {record.pid} is gone; `esgen dev up` restarts it"
        click.echo(f"{LABEL[name]:16} stale ({gone})")
        return False
    if not services.responds(record):
        click.echo(f"{_describe(record)}  NOT RESPONDING")
        return False
    click.echo(_describe(record))
    return True


def _cluster_status(members: list[ServiceRecord]) -> bool:
    if not members:
        click.echo(f"{LABEL[CLUSTER]:16} not running")
        return False
    lines = _describe_cluster(members)
    alive = [r for r in members if r.is_running()]
    registered = health.kafka_brokers(",".join(r.address for r in alive)) if alive else set()
    # a node killed a moment ago stays registered until the controller fences it
    live = registered & {int(r.name.rpartition("-")[2]) for r in alive}
    click.echo(f"{lines[0]}  {len(live)} of {len(members)} brokers live")
    for record, line in zip(members, lines[1:], strict=True):
        if not record.is_running():
            line += "  stale (`esgen dev up --brokers 3` restarts it on its data)"
        elif int(record.name.rpartition("-")[2]) not in live:
            line += "  NOT RESPONDING"
        click.echo(line)
    return len(live) == len(members)
