"""``esgen replay`` and ``esgen tail``: run a projection from the beginning, follow a topic.

Both show progress (events/s, lag) on one rewritten line when stdout is a terminal, and
plain lines otherwise. Exit codes: 0 done, 1 runtime failure (Kafka, registry, model,
dead letters), 2 usage (bad arguments, a module or projection that cannot be imported).

SIGTERM and SIGINT stop both after the batch in hand (:mod:`esgen.runtime.signals`):
``tail`` closes its consumer and exits 0 (following a topic ends that way); ``replay``
commits the batch, closes, says how far it got and exits 128 + the signal's number (143
for SIGTERM, 130 for SIGINT): the model is consistent but not complete, which a job
runner must not take for success. A second signal ends them at once.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from esgen.cli.errors import Abort

BOOTSTRAP = click.option(
    "--bootstrap",
    metavar="HOST:PORT",
    help="Kafka bootstrap servers (default: $ESGEN_BOOTSTRAP, else [tool.esgen] bootstrap).",
)
REGISTRY = click.option(
    "--registry",
    metavar="URL",
    help="Confluent-compatible schema registry URL (default: $ESGEN_REGISTRY_URL, else "
    "[tool.esgen] registry). Credentials: user:pass@ in the URL, ESGEN_REGISTRY_USER/PASSWORD "
    "or ESGEN_REGISTRY_TOKEN.",
)


def _services(bootstrap: str | None, registry: str | None) -> tuple[str, str]:
    """``--bootstrap`` and ``--registry`` by the runtime's rule (flag, environment,
    ``[tool.esgen]``); a usage error (exit 2) when one is nowhere."""
    from esgen.runtime import settings
    from esgen.runtime.errors import ConfigurationError

    try:
        return settings.bootstrap_servers(bootstrap), settings.registry_setting(registry)
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from None


# -- helpers -------------------------------------------------------------------------------


def _import(spec: str, param: str) -> tuple[Any, str]:
    """``(module, attribute or "")`` of ``package.module[:attribute]``."""
    module_name, _, attribute = spec.partition(":")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` would: modules of the project
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise click.BadParameter(
            f"cannot import {module_name}: {type(exc).__name__}: {exc}", param_hint=param
        ) from None
    return module, attribute


def _entity(spec: str) -> Any:
    from esgen.runtime.descriptor import EntityDescriptor

    module, attribute = _import(spec, "MODULE")
    found = getattr(module, attribute or "ENTITY", None)
    if not isinstance(found, EntityDescriptor):
        raise click.BadParameter(
            f"{spec} is not an entity descriptor (a generated module defines ENTITY)",
            param_hint="MODULE",
        )
    return found


def _projection(spec: str) -> Any:
    from esgen.runtime.projections import Projection

    if ":" not in spec:
        raise click.BadParameter(
            f"{spec!r}: expected MODULE:PROJECTION, e.g. myapp.read_models:Balances",
            param_hint="PROJECTION",
        )
    module, attribute = _import(spec, "PROJECTION")
    found = getattr(module, attribute, None)
    if isinstance(found, type) and issubclass(found, Projection):
        try:
            return found()
        except Exception as exc:
            raise click.BadParameter(
                f"cannot create {spec}: {type(exc).__name__}: {exc}", param_hint="PROJECTION"
            ) from None
    if isinstance(found, Projection):
        return found
    what = "nothing" if found is None else type(found).__name__
    raise click.BadParameter(
        f"{spec} is {what}, not a Projection subclass or instance", param_hint="PROJECTION"
    )


@contextlib.contextmanager
def _runtime_errors() -> Iterator[None]:
    """Runtime failures: a message and exit 1, never a traceback."""
    from confluent_kafka import KafkaException

    from esgen.runtime.errors import EsgenError

    # librdkafka logs every failed connection attempt; the error that matters is reported.
    logging.getLogger("esgen.kafka").setLevel(logging.CRITICAL)
    try:
        yield
    except KeyboardInterrupt:
        click.echo("", err=True)
        raise Abort(130) from None
    except (click.exceptions.Exit, click.ClickException):
        raise
    except EsgenError as exc:
        click.echo(f"esgen: {exc}", err=True)
        raise Abort(1) from None
    except KafkaException as exc:
        click.echo(f"esgen: Kafka: {exc.args[0].str() if exc.args else exc}", err=True)
        raise Abort(1) from None
    except Exception as exc:
        click.echo(f"esgen: {type(exc).__name__}: {exc}", err=True)
        raise Abort(1) from None


class Progress:
    """One status line, rewritten in place on a terminal; silent otherwise."""

    def __init__(self, enabled: bool, interval: float = 0.5) -> None:
        self.enabled = enabled
        self.interval = interval
        self.began = time.monotonic()
        self._last = 0.0
        self._shown = False

    def due(self) -> bool:
        now = time.monotonic()
        if not self.enabled or now - self._last < self.interval:
            return False
        self._last = now
        return True

    def show(self, count: int, lag: int | None, what: str = "events", behind: str = "lag") -> None:
        """``count what  rate/s  behind lag`` (``behind``: what the last number counts)."""
        elapsed = max(time.monotonic() - self.began, 1e-9)
        lag_text = "?" if lag is None else f"{lag:,}"
        text = f"{count:,} {what}  {count / elapsed:,.0f}/s  {behind} {lag_text}"
        click.echo(f"\r\x1b[K{text}", nl=False, color=True)
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            click.echo("\r\x1b[K", nl=False, color=True)
            self._shown = False


def _is_tty() -> bool:
    return sys.stdout.isatty()


def _json_default(value: Any) -> Any:
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "to_avro"):
        return value.to_avro()
    return str(value)


def _json(value: Any) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False, sort_keys=True)


# -- replay --------------------------------------------------------------------------------


@click.command()
@click.argument("projection_spec", metavar="MODULE:PROJECTION")
@click.option(
    "--db",
    type=click.Path(path_type=Path, dir_okay=False),
    help="SQLite file of the read model (emptied first). Default: an in-memory model.",
)
@click.option(
    "--topic",
    "topic_overrides",
    multiple=True,
    metavar="ENTITY=TOPIC",
    help="Read an entity's events from another topic (repeatable); ENTITY is its name.",
)
@click.option("--group", help="Consumer group id to use (default: esgen-replay-<name>).")
@click.option("--print-model", is_flag=True, help="Print the rebuilt model as JSON lines.")
@BOOTSTRAP
@REGISTRY
def replay(
    projection_spec: str,
    db: Path | None,
    topic_overrides: tuple[str, ...],
    group: str | None,
    print_model: bool,
    bootstrap: str | None,
    registry: str | None,
) -> None:
    """Rebuild a projection's read model from the beginning of its topics.

    MODULE:PROJECTION names a Projection subclass (or instance), e.g.
    myapp.read_models:Balances. Records are read up to the end each topic has now;
    undecodable ones and those whose handler fails go to <topic>.dlq as usual (once:
    those a run of this projection dead-lettered already are not written again).
    SIGTERM/SIGINT stop it after the current batch (exit 143/130: the model is
    incomplete).
    """
    from esgen.runtime.models import InMemoryModelStore, ModelStore, SqliteModelStore
    from esgen.runtime.projections import ProjectionRunner

    projection = _projection(projection_spec)
    topics = _topics(projection, topic_overrides)
    bootstrap, registry = _services(bootstrap, registry)
    progress = Progress(_is_tty())

    def on_batch(runner: ProjectionRunner) -> None:
        if progress.due():
            progress.show(runner.stats.records, runner.lag(), "records")

    with _runtime_errors():
        store: ModelStore = SqliteModelStore(db) if db is not None else InMemoryModelStore()
        runner = ProjectionRunner(
            projection,
            store,
            group_id=group or f"esgen-replay-{projection.name}",
            bootstrap=bootstrap,
            registry=registry,
            topics=topics,
            on_batch=on_batch,
        )
        try:
            stats = runner.replay()
        finally:
            progress.clear()
            runner.close()
        rate = stats.records / stats.elapsed if stats.elapsed else 0.0
        summary = (
            f"{stats.processed:,} events applied, {stats.skipped:,} skipped, "
            f"{stats.dead_lettered:,} dead-lettered in {stats.elapsed:.1f} s "
            f"({rate:,.0f} records/s)" + (f" into {db}" if db is not None else "")
        )
        if stats.stopped_by is not None:
            store.close()
            click.echo(
                f"replay of {projection.name} stopped by {stats.stopped_by} before the end: "
                f"{summary}. The model is consistent up to the offsets it recorded but "
                "incomplete; run `esgen replay` again to rebuild it",
                err=True,
            )
            raise Abort(128 + signal.Signals[stats.stopped_by].value)
        click.echo(f"replayed {projection.name}: {summary}")
        if print_model:
            for key, value in store.snapshot().items():
                click.echo(f"{key}\t{_json(value)}")
        store.close()
        if stats.dead_lettered:
            click.echo(
                f"{stats.dead_lettered:,} records went to dead-letter topics "
                f"({', '.join(f'{t}.dlq' for t in runner.topics)})",
                err=True,
            )


def _topics(projection: Any, overrides: tuple[str, ...]) -> dict[Any, str]:
    result: dict[Any, str] = {}
    for item in overrides:
        name, sep, topic = item.partition("=")
        if not sep or not name or not topic:
            raise click.BadParameter(f"{item!r}: expected ENTITY=TOPIC", param_hint="--topic")
        matches = [
            e for e in projection.entities if name in (e.name, f"{e.namespace}.{e.name}", e.topic)
        ]
        if not matches:
            known = ", ".join(e.name for e in projection.entities)
            raise click.BadParameter(
                f"{name!r} is not an entity of {projection.name} (it reads {known})",
                param_hint="--topic",
            )
        result[matches[0]] = topic
    return result


# -- tail ----------------------------------------------------------------------------------


@click.command()
@click.argument("module_spec", metavar="MODULE")
@click.option("--topic", help="Topic to read (default: the entity's topic).")
@click.option("--from-beginning", is_flag=True, help="Start at the first event, not the end.")
@click.option("--entity", "entity_id", metavar="ID", help="Only events of this entity id.")
@click.option("--until-end", is_flag=True, help="Stop at the end the topic has at the start.")
@click.option("--max-events", type=click.IntRange(min=1), help="Stop after printing this many.")
@BOOTSTRAP
@REGISTRY
def tail(
    module_spec: str,
    topic: str | None,
    from_beginning: bool,
    entity_id: str | None,
    until_end: bool,
    max_events: int | None,
    bootstrap: str | None,
    registry: str | None,
) -> None:
    """Follow an entity's topic and print its events as they arrive.

    MODULE is a generated module, e.g. generated.bank.account (its ENTITY is used).
    Each line: time, entity id, version, event type, the event as JSON, and where it is
    (partition@offset). Undecodable records are reported on stderr and skipped. Nothing
    is committed: tailing never moves a consumer group.
    """
    descriptor = _entity(module_spec)
    bootstrap, registry = _services(bootstrap, registry)
    with _runtime_errors():
        _tail(
            descriptor,
            topic or descriptor.topic,
            from_beginning=from_beginning,
            entity_id=entity_id,
            until_end=until_end,
            max_events=max_events,
            bootstrap=bootstrap,
            registry=registry,
        )


def _tail(
    descriptor: Any,
    topic: str,
    *,
    from_beginning: bool,
    entity_id: str | None,
    until_end: bool,
    max_events: int | None,
    bootstrap: str,
    registry: str,
) -> None:
    from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, KafkaException, TopicPartition

    from esgen.runtime.errors import EsgenError
    from esgen.runtime.kafka import KafkaClients
    from esgen.runtime.signals import StopSignals
    from esgen.runtime.wire import RegistrySerde

    serde = RegistrySerde(descriptor, registry, topic=topic)
    # Assigned, never committed, never joined; following, so fetches may wait for records.
    consumer = KafkaClients(bootstrap).reader(
        {"enable.partition.eof": False, "fetch.wait.max.ms": 500}
    )
    progress = Progress(_is_tty())
    stopping = threading.Event()
    # A signal ends the loop after the batch in hand is printed; tail then exits 0.
    with StopSignals(stopping.set):
        try:
            try:
                metadata = consumer.list_topics(timeout=10)
            except KafkaException as exc:
                reason = exc.args[0].str()
                raise EsgenError(f"cannot reach Kafka at {bootstrap}: {reason}") from exc
            if topic not in metadata.topics or metadata.topics[topic].error is not None:
                raise EsgenError(f"topic {topic} does not exist on {bootstrap}")
            partitions = sorted(metadata.topics[topic].partitions)
            ends: dict[int, int] = {}
            for p in partitions:
                _, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, p), timeout=10, cached=False
                )
                ends[p] = high
            start = OFFSET_BEGINNING if from_beginning else OFFSET_END
            consumer.assign([TopicPartition(topic, p, start) for p in partitions])
            positions = {p: (0 if from_beginning else ends[p]) for p in partitions}
            _follow(
                consumer,
                serde,
                topic,
                positions,
                ends,
                entity_id=entity_id,
                until_end=until_end,
                max_events=max_events,
                stopping=stopping,
                progress=progress,
            )
        finally:
            progress.clear()
            consumer.close()


def _follow(
    consumer: Any,
    serde: Any,
    topic: str,
    positions: dict[int, int],
    ends: dict[int, int],
    *,
    entity_id: str | None,
    until_end: bool,
    max_events: int | None,
    stopping: threading.Event,
    progress: Progress,
) -> None:
    """Print the events of the assigned partitions until the end, the limit or a stop."""
    from confluent_kafka import KafkaError, TopicPartition

    from esgen.runtime.errors import DecodeError, EsgenError
    from esgen.runtime.wire import decode_events

    printed = seen = 0
    while not stopping.is_set():
        if until_end and all(positions[p] >= end for p, end in ends.items()):
            break
        if until_end:
            # A transaction's commit marker ends a partition without being delivered.
            for tp in consumer.position([TopicPartition(topic, p) for p in positions]):
                positions[tp.partition] = max(positions[tp.partition], tp.offset)
        if max_events is not None and printed >= max_events:
            break
        messages = consumer.consume(500, 0.5)
        for msg in messages:
            error = msg.error()
            if error is not None:
                if error.fatal() or error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise EsgenError(f"Kafka: {error.str()}")
                continue
            partition: int = msg.partition()
            offset: int = msg.offset()
            positions[partition] = offset + 1
            seen += 1
            key = msg.key()
            if entity_id is not None and key != entity_id.encode():
                continue
            if max_events is not None and printed >= max_events:
                break
            progress.clear()
            try:
                events, meta = decode_events(serde, msg)
            except DecodeError as exc:
                click.echo(f"! undecodable record: {exc}", err=True)
                continue
            when = meta.timestamp.isoformat() if meta.timestamp else "-"
            version = "-" if meta.version is None else meta.version
            if not events:  # an upcast reads this old record as no event of today
                click.echo(
                    f"{when}  {meta.entity_id}  v{version}  (upcast to no event)  "
                    f"(p{partition}@{offset})"
                )
            for event in events:
                click.echo(
                    f"{when}  {meta.entity_id}  v{version}  {type(event).__name__}  "
                    f"{_json(event.to_avro())}  (p{partition}@{offset})"
                )
            printed += 1
        if progress.due():
            lag = 0
            for p, pos in positions.items():  # cached: what the last fetch brought
                high = consumer.get_watermark_offsets(TopicPartition(topic, p), cached=True)[1]
                lag += max(0, (high if high >= 0 else ends[p]) - pos)
            progress.show(seen, lag, "records")
