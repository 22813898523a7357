"""``esgen process`` and ``esgen send``: run a command processor, send a command from a shell.

``esgen process MODULE`` runs a :class:`~esgen.runtime.processor.CommandProcessor` for the
entity of a generated module until SIGTERM or SIGINT (Ctrl-C), then commits what it
decided, leaves its group and exits 0. It logs which partitions it owns and restores.

``esgen send MODULE ENTITY_ID COMMAND`` sends one command (``--field NAME=VALUE``,
repeatable, and/or ``--json '{...}'``) and prints its outcome. Exit codes:

==  =========================================================================
0   accepted (the events it caused are printed, one per line)
1   rejected (the reason is printed), or not executed (nothing was written);
    or Kafka/the registry failed
2   usage: a bad argument, an unknown command or field, a value of the wrong type
3   timed out: no outcome in time; the command id is printed, and sending again
    with ``--command-id`` is safe (applied at most once)
==  =========================================================================
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import json
import logging
import uuid
from typing import Any

import click

from esgen.cli.errors import Abort
from esgen.cli.runtime import BOOTSTRAP, REGISTRY, _entity, _json, _runtime_errors, _services

TIMEOUT_EXIT = 3

TOPIC = click.option(
    "--topic",
    help="The entity's event topic (default: the module's); commands and replies follow.",
)


def _descriptor(spec: str, topic: str | None) -> Any:
    descriptor = _entity(spec)
    if not descriptor.commands:
        raise click.BadParameter(
            f"entity {descriptor.name} declares no commands", param_hint="MODULE"
        )
    return dataclasses.replace(descriptor, topic=topic) if topic else descriptor


# -- process -------------------------------------------------------------------------------


@click.command()
@click.argument("module_spec", metavar="MODULE")
@TOPIC
@click.option(
    "--group", help="Consumer group of the processors (default: esgen-processor.<topic>)."
)
@click.option(
    "--commit-interval",
    type=click.FloatRange(min=0),
    help="Seconds a decided command waits at most for its transaction (default 0.02).",
)
@click.option(
    "--batch-size", type=click.IntRange(min=1), help="Commands per transaction at most (500)."
)
@click.option(
    "--idempotency-window",
    type=click.FloatRange(min=1),
    help="Seconds within which a command id gets its first outcome again (3600).",
)
@click.option(
    "--snapshot-every", type=click.IntRange(min=1), help="Snapshot an entity every N events (100)."
)
@click.option(
    "--partitions",
    type=click.IntRange(min=1),
    help="Partitions of the topics it creates (3; existing topics keep theirs).",
)
@click.option("--auto-register", is_flag=True, help="Register schemas that are missing.")
@click.option("--quiet", is_flag=True, help="Log warnings only.")
@BOOTSTRAP
@REGISTRY
def process(
    module_spec: str,
    topic: str | None,
    group: str | None,
    commit_interval: float | None,
    batch_size: int | None,
    idempotency_window: float | None,
    snapshot_every: int | None,
    partitions: int | None,
    auto_register: bool,
    quiet: bool,
    bootstrap: str | None,
    registry: str | None,
) -> None:
    """Decide the commands of an entity: the single writer of the partitions it owns.

    MODULE is a generated module, e.g. generated.bank.account. Start as many as the
    command topic has partitions (more wait as standbys); each owns some partitions,
    restores their entities from snapshots and events, and decides their commands in
    Kafka transactions. Stops cleanly on SIGTERM or Ctrl-C.
    """
    from esgen.runtime.processor import CommandProcessor

    descriptor = _descriptor(module_spec, topic)
    bootstrap, registry = _services(bootstrap, registry)
    options: dict[str, Any] = {
        name: value
        for name, value in (
            ("group_id", group),
            ("commit_interval", commit_interval),
            ("batch_size", batch_size),
            ("idempotency_window", idempotency_window),
            ("snapshot_every", snapshot_every),
            ("partitions", partitions),
        )
        if value is not None
    }
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    runtime_log = logging.getLogger("esgen")  # every part of the runtime (esgen.runtime.logs)
    runtime_log.addHandler(handler)
    runtime_log.setLevel(logging.WARNING if quiet else logging.INFO)
    with _runtime_errors():
        processor = CommandProcessor(
            descriptor, bootstrap, registry, auto_register=auto_register, **options
        )
        click.echo(
            f"esgen process: {descriptor.name} commands from {processor.command_topic} "
            f"(group {processor.group_id}, {processor.partitions} partitions)",
            err=True,
        )
        try:
            stats = processor.run()
        finally:
            processor.close()
        click.echo(
            f"esgen process: stopped after {stats.commands:,} commands ({stats.accepted:,} "
            f"accepted, {stats.rejected:,} rejected, {stats.failed:,} not executed, "
            f"{stats.duplicates:,} repeated) in {stats.transactions:,} transactions",
            err=True,
        )


# -- send ----------------------------------------------------------------------------------


@click.command()
@click.argument("module_spec", metavar="MODULE")
@click.argument("entity_id", metavar="ENTITY_ID")
@click.argument("command_name", metavar="COMMAND")
@click.option(
    "--field",
    "fields",
    multiple=True,
    metavar="NAME=VALUE",
    help="A field of the command (repeatable); VALUE is text in the field's type.",
)
@click.option(
    "--json", "json_fields", metavar="JSON", help="The command's fields as a JSON object."
)
@click.option("--command-id", help="The command's id (default: a new UUID); reuse it to retry.")
@click.option(
    "--timeout", type=click.FloatRange(min=0), default=10.0, show_default=True, help="Seconds."
)
@click.option("--correlation-id", help="The conversation this command belongs to.")
@TOPIC
@click.option("--auto-register", is_flag=True, help="Register the command's schema if missing.")
@BOOTSTRAP
@REGISTRY
def send(
    module_spec: str,
    entity_id: str,
    command_name: str,
    fields: tuple[str, ...],
    json_fields: str | None,
    command_id: str | None,
    timeout: float,
    correlation_id: str | None,
    topic: str | None,
    auto_register: bool,
    bootstrap: str | None,
    registry: str | None,
) -> None:
    """Send one command and print its outcome.

    \b
    esgen send generated.bank.account acc-1 Deposit --field amount=10.00
    esgen send generated.bank.account acc-1 Transfer --json '{"to": "acc-2", "amount": "5.00"}'

    Exit 0 accepted, 1 rejected or not executed, 2 usage, 3 timed out (retry with the
    printed --command-id: it is applied at most once).
    """
    from esgen.runtime.client import CommandClient
    from esgen.runtime.errors import CommandFailed, CommandRejected, CommandTimeout, EsgenError

    descriptor = _descriptor(module_spec, topic)
    try:
        command_type = descriptor.command_type(command_name)
    except EsgenError:
        known = ", ".join(c.name for c in descriptor.commands)
        raise click.BadParameter(
            f"{command_name!r} is not a command of {descriptor.name} (it has {known})",
            param_hint="COMMAND",
        ) from None
    try:
        entity = descriptor.parse_key(entity_id)  # in the key field's type (str, UUID, int)
    except EsgenError as exc:
        raise click.BadParameter(str(exc), param_hint="ENTITY_ID") from None
    command = _command(command_type, fields, json_fields)
    bootstrap, registry = _services(bootstrap, registry)
    with _runtime_errors():
        client = CommandClient(
            descriptor, bootstrap, registry, timeout=timeout, auto_register=auto_register
        )
        try:
            result = client.send(
                entity,
                command,
                command_id=command_id,
                correlation_id=correlation_id,
            )
        except CommandRejected as rejected:
            click.echo(f"rejected: {rejected.reason}", err=True)
            raise Abort(1) from None
        except CommandFailed as failed:
            click.echo(f"not executed: {failed}", err=True)
            raise Abort(1) from None
        except CommandTimeout as timed_out:
            click.echo(f"timed out: {timed_out}", err=True)
            click.echo(f"retry with: --command-id {timed_out.command_id}", err=True)
            raise Abort(TIMEOUT_EXIT) from None
        finally:
            client.close()
        click.echo(
            f"accepted {command_type.name} {entity_id!r} (command id {result.command_id}): "
            f"version {result.version}"
        )
        for event in result.events:
            click.echo(f"{type(event).__name__} {_json(event.to_avro())}")


def _command(command_type: Any, fields: tuple[str, ...], json_fields: str | None) -> Any:
    """The command from ``--json`` and ``--field`` values, checked against its schema."""
    from esgen.runtime.errors import DecodeError, EncodeError

    given: dict[str, Any] = {}
    if json_fields is not None:
        try:
            parsed = json.loads(json_fields, parse_float=decimal.Decimal)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--json") from None
        if not isinstance(parsed, dict):
            raise click.BadParameter("expected a JSON object", param_hint="--json")
        given.update(parsed)
    for item in fields:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r}: expected NAME=VALUE", param_hint="--field")
        given[name] = _Text(text)
    schema_fields = {f["name"]: f for f in command_type.schema.get("fields", [])}
    unknown = sorted(set(given) - set(schema_fields))
    if unknown:
        raise click.BadParameter(
            f"{command_type.name} has no field {', '.join(map(repr, unknown))} (its fields: "
            f"{', '.join(schema_fields) or 'none'})",
            param_hint="--field",
        )
    named = _named_types(command_type.schema, {})
    datum: dict[str, Any] = {}
    for name, spec in schema_fields.items():
        if name in given:
            datum[name] = _value(spec["type"], given[name], f"{command_type.name}.{name}", named)
        elif "default" not in spec:
            raise click.BadParameter(
                f"{command_type.name} needs the field {name!r}", param_hint="--field"
            )
    try:
        return command_type.decode(command_type.codec.encode(datum))
    except (EncodeError, DecodeError) as exc:
        raise click.BadParameter(str(exc), param_hint="--field") from None


def _named_types(schema: Any, found: dict[str, Any], namespace: str = "") -> dict[str, Any]:
    """Full name (and short name) -> definition of every named type inside ``schema``."""
    if isinstance(schema, list):
        for branch in schema:
            _named_types(branch, found, namespace)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in ("record", "enum", "fixed"):
            name = schema["name"]
            space = schema.get("namespace", namespace)
            full = name if "." in name or not space else f"{space}.{name}"
            found[full] = found[full.rpartition(".")[2]] = schema
            namespace = full.rpartition(".")[0]
            for spec in schema.get("fields", ()):
                _named_types(spec["type"], found, namespace)
        elif kind == "array":
            _named_types(schema["items"], found, namespace)
        elif kind == "map":
            _named_types(schema["values"], found, namespace)
        elif isinstance(kind, (dict, list)):
            _named_types(kind, found, namespace)
    return found


class _Text(str):
    """A ``--field`` value: text, read in the field's type."""


def _value(schema: Any, value: Any, where: str, named: dict[str, Any]) -> Any:
    """``value`` (JSON, or ``_Text`` from --field) as fastavro writes a datum of ``schema``."""
    if isinstance(schema, str) and schema in named:
        schema = named[schema]
    if isinstance(schema, list):  # a union: null, or its other branch
        empty = value is None or (isinstance(value, _Text) and value in ("", "null"))
        if empty and "null" in schema:
            return None
        branches = [b for b in schema if b != "null"]
        if len(branches) == 1:
            return _value(branches[0], value, where, named)
        return value
    kind = schema if isinstance(schema, str) else schema.get("type")
    if isinstance(kind, (dict, list)):
        return _value(kind, value, where, named)
    logical = schema.get("logicalType") if isinstance(schema, dict) else None
    text = isinstance(value, _Text)
    try:
        if text and kind in ("record", "array", "map"):  # give these as JSON
            value = json.loads(value, parse_float=decimal.Decimal)
        if kind == "record" and isinstance(value, dict):
            fields = {f["name"]: f["type"] for f in schema.get("fields", ())}
            return {
                k: _value(fields[k], v, f"{where}.{k}", named) if k in fields else v
                for k, v in value.items()
            }
        if kind == "array" and isinstance(value, list):
            return [
                _value(schema["items"], v, f"{where}[{i}]", named) for i, v in enumerate(value)
            ]
        if kind == "map" and isinstance(value, dict):
            return {
                k: _value(schema["values"], v, f"{where}[{k!r}]", named) for k, v in value.items()
            }
        if logical == "decimal":
            number = decimal.Decimal(str(value))
            if not number.is_finite():
                raise ValueError(f"{value!r} is not a finite decimal number")
            return number
        if logical == "uuid":
            return str(uuid.UUID(str(value)))
        if logical in ("timestamp-millis", "timestamp-micros"):
            moment = datetime.datetime.fromisoformat(str(value))
            return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)
        if logical in ("local-timestamp-millis", "local-timestamp-micros"):
            return datetime.datetime.fromisoformat(str(value))
        if logical == "date":
            return datetime.date.fromisoformat(str(value))
        if logical in ("time-millis", "time-micros"):
            return datetime.time.fromisoformat(str(value))
        if kind in ("int", "long"):
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                raise ValueError(f"{value!r} is not an integer")
            return int(value)
        if kind in ("float", "double"):
            return float(value)
        if kind == "boolean" and text:
            if value not in ("true", "false"):
                raise ValueError(f"{value!r} is not true or false")
            return value == "true"
        if kind in ("bytes", "fixed"):
            return base64.b64decode(str(value), validate=True)
        if kind in ("string", "enum") and (text or isinstance(value, str)):
            return str(value)
    except decimal.InvalidOperation:
        raise click.BadParameter(
            f"{where}: {value!r} is not a decimal number", param_hint="--field"
        ) from None
    except (ValueError, ArithmeticError) as exc:
        raise click.BadParameter(f"{where}: {exc}", param_hint="--field") from None
    return value
