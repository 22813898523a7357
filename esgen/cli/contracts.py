"""``esgen contracts``: the AsyncAPI document and the entity diagrams of the definitions.

One command for both documents: they come from the same model, land in the same
folder, and go stale together, so one ``--check`` in CI covers them.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import click

from esgen.cli.check import _strategy, strategy_option
from esgen.cli.errors import Abort, reported_errors
from esgen.cli.generate import _paths, _relative, definitions_option
from esgen.config import Config, load_config
from esgen.errors import ConfigError

DEFAULT_FOLDER = "contracts"


@click.command()
@definitions_option
@click.option(
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    help=f"Folder for asyncapi.json and entities.md (default: ./{DEFAULT_FOLDER} beside the "
    "configuration).",
)
@click.option("--title", help="The AsyncAPI title (default: '<[project] name> events').")
@click.option(
    "--doc-version",
    help="The AsyncAPI info.version (default: [project] version of pyproject.toml, else 0.0.0).",
)
@strategy_option
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a document is stale.")
def contracts(
    definitions: Path | None,
    output: Path | None,
    title: str | None,
    doc_version: str | None,
    subject_strategy: str | None,
    check: bool,
) -> None:
    """Write the AsyncAPI 3.0 document and a Mermaid diagram per entity."""
    from esgen import contracts as documents
    from esgen.check.lock import load_definitions
    from esgen.cli.generate import lock_folder

    folder, _, _ = _paths(definitions, None, None)
    config = _config()
    out = _relative(output or config.root / DEFAULT_FOLDER)
    strategy = _strategy(subject_strategy)
    name, version = _project_metadata(config)
    with reported_errors(str(folder)):
        project = load_definitions(folder, lock_folder())
        try:
            files = documents.render(
                project,
                title=title or f"{name} events",
                version=doc_version or version,
                strategy=strategy,
            )
        except documents.ContractError as exc:
            raise click.UsageError(str(exc)) from None
        if check:
            stale = documents.stale(out, files)
            for path, reason in stale:
                click.echo(f"{path}: {reason}", err=True)
            if stale:
                click.echo(f"{len(stale)} stale file(s); run `esgen contracts`", err=True)
                raise Abort(1)
            click.echo(f"{len(files)} files up to date in {out}")
            return
        written = documents.write(out, files)
    click.echo(f"wrote {written} of {len(files)} files to {out}")


def _config() -> Config:
    try:
        return load_config()
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


def _project_metadata(config: Config) -> tuple[str, str]:
    """``[project]`` name and version of the pyproject.toml the settings came from."""
    fallback = (config.root.name, "0.0.0")
    if config.source is None or config.source.name != "pyproject.toml":
        return fallback
    try:
        with config.source.open("rb") as handle:
            project = tomllib.load(handle).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return fallback
    name, version = project.get("name"), project.get("version")
    return (
        name if isinstance(name, str) and name else fallback[0],
        version if isinstance(version, str) and version else fallback[1],
    )
