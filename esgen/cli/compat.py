"""``esgen compat``: check an Avro schema against its previous versions, offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from esgen.cli.errors import Abort
from esgen.errors import SourceError
from esgen.model import Mode
from esgen.sources import read_json

MODES = [mode.value for mode in Mode]


class _ModeChoice(click.Choice):  # type: ignore[type-arg]
    """Case-insensitive, but names the modes in capitals in its messages."""

    def normalize_choice(self, choice: object, ctx: click.Context | None) -> str:
        return str(choice).upper()


def _load(path: Path, param: str) -> Any:
    """The schema JSON of a file; any problem reading it is a usage error at its place."""
    try:
        return read_json(path)
    except SourceError as exc:
        raise click.BadParameter(str(exc), param_hint=param) from None


@click.command()
@click.option(
    "--mode",
    required=True,
    type=_ModeChoice(MODES),
    help="Compatibility mode, with Confluent Schema Registry's meaning.",
)
@click.option(
    "--previous",
    "previous",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="A previous version (.avsc); repeat, oldest first.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Report format.",
)
@click.option(
    "--dialect",
    type=click.Choice(["strict", "avro-1.11", "avro-1.12"]),
    default="strict",
    show_default=True,
    help="Whose rules decide if a schema is valid on its own: the Avro specification "
    "(strict), or Avro Java 1.11 (Confluent 7) / 1.12 (Confluent 8, Apicurio 3).",
)
@click.argument("new", type=click.Path(path_type=Path, dir_okay=False))
def compat(
    mode: str, previous: tuple[Path, ...], output_format: str, dialect: str, new: Path
) -> None:
    """Check the NEW schema (.avsc) against previous versions.

    Modes have Confluent Schema Registry's meaning: BACKWARD (the new schema reads events
    written with the latest previous one), FORWARD (the latest previous schema reads new
    events), FULL (both), their _TRANSITIVE forms (against every previous version), NONE.
    Exit 0 when compatible, 1 when not (each problem explained), 2 on usage errors.
    """
    from esgen.compat import check

    new_schema = _load(new, "NEW")
    previous_schemas = [_load(p, "--previous") for p in previous]
    report = check(new_schema, previous_schemas, mode.upper(), dialect=dialect)
    if output_format == "json":
        data = report.to_dict()
        data["new"] = str(new)
        data["previous"] = [str(p) for p in previous]
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(report.format_text())
    if not report.compatible:
        raise Abort(1)
