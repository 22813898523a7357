"""``esgen dev up | down | status``: a real Kafka broker and schema registry on this machine.

Imports only ``esgen.dev`` (never ``esgen.runtime``).
"""

from __future__ import annotations

import sys
import time

import click

from esgen.dev import paths, services, state
from esgen.dev.errors import ServiceError
from esgen.dev.state import ServiceRecord

ENV = {"kafka": "ESGEN_BOOTSTRAP", "registry": "ESGEN_REGISTRY_URL"}
LABEL = {"kafka": "Kafka broker", "registry": "Schema registry"}


def _names(only: tuple[str, ...]) -> list[str]:
    return list(only) or list(services.NAMES)


def _export_line(records: dict[str, ServiceRecord]) -> str:
    parts = [f"{ENV[name]}={records[name].address}" for name in services.NAMES if name in records]
    return "export " + " ".join(parts)


def _describe(record: ServiceRecord) -> str:
    return f"{LABEL[record.name]:16} {record.address}  (pid {record.pid}, log {record.log})"


only_argument = click.argument("only", nargs=-1, type=click.Choice(services.NAMES))


@click.group()
def dev() -> None:
    """Run a real Kafka broker and schema registry locally (no Docker needed)."""


@dev.command()
@only_argument
def up(only: tuple[str, ...]) -> None:
    """Start the services (both unless named); already running ones are kept.

    Uses ports 9092 (Kafka) and 8081 (registry) when free, otherwise free ones. Prints
    the addresses and an `export` line for ESGEN_BOOTSTRAP and ESGEN_REGISTRY_URL.
    """
    with state.locked():
        _up(only)


def _up(only: tuple[str, ...]) -> None:
    records = state.load()
    missing: list[str] = []
    for name in _names(only):
        record = records.get(name)
        if record is not None and record.is_running():
            click.echo(f"{LABEL[name]} already running")
            continue
        if record is not None:
            click.echo(f"{LABEL[name]}: stale state (pid {record.pid} is gone); starting anew")
            records.pop(name)
        missing.append(name)
    failed = False
    if missing:
        click.echo(f"Starting {', '.join(missing)} (the first run downloads them through Maven)…")
        began = time.monotonic()
        results = services.start(missing, paths.dev_dir(), usual_ports=True)
        for name, result in results.items():
            if isinstance(result, ServiceError):
                failed = True
                click.echo(str(result), err=True)
            else:
                records[name] = result
        state.save(records)
        click.echo(f"Started in {time.monotonic() - began:.1f} s")
    else:
        state.save(records)
    running = {name: record for name, record in records.items() if record.is_running()}
    for record in running.values():
        click.echo(_describe(record))
    if running:
        click.echo(_export_line(running))
    if failed:
        sys.exit(1)


@dev.command()
@only_argument
def down(only: tuple[str, ...]) -> None:
    """Stop the services that `esgen dev up` started."""
    with state.locked():
        _down(only)


def _down(only: tuple[str, ...]) -> None:
    records = state.load()
    for name in _names(only):
        record = records.pop(name, None)
        if record is None:
            click.echo(f"{LABEL[name]} not running")
        elif services.stop(record):
            click.echo(f"{LABEL[name]} stopped (pid {record.pid})")
        else:
            click.echo(f"{LABEL[name]} was not running (stale pid {record.pid} dropped)")
    state.save(records)


@dev.command()
def status() -> None:
    """Show the services that `esgen dev up` started; exit 1 unless all are up."""
    records = state.load()
    healthy = True
    for name in services.NAMES:
        record = records.get(name)
        if record is None:
            click.echo(f"{LABEL[name]:16} not running")
            healthy = False
        elif not record.is_running():
            click.echo(
                f"{LABEL[name]:16} stale (pid {record.pid} is gone; `esgen dev up` restarts it)"
            )
            healthy = False
        elif not services.responds(record):
            click.echo(f"{_describe(record)}  NOT RESPONDING")
            healthy = False
        else:
            click.echo(_describe(record))
    running = {name: record for name, record in records.items() if record.is_running()}
    if running:
        click.echo(_export_line(running))
    if not healthy:
        sys.exit(1)
