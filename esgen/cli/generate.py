"""``esgen validate`` and ``esgen generate``."""

from __future__ import annotations

from pathlib import Path

import click

from esgen.cli.errors import Abort, reported_errors
from esgen.config import load_config
from esgen.errors import ConfigError


def _paths(
    definitions: Path | None, output: Path | None, package: str | None
) -> tuple[Path, Path, str]:
    """Definitions folder, output folder and package: flags first, then configuration."""
    try:
        config = load_config()
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    out = output or config.output
    return (
        _relative(definitions or config.definitions),
        _relative(out),
        package or (config.package if output is None else out.name),
    )


def _relative(path: Path) -> Path:
    """``path`` relative to the working directory when inside it (shorter messages)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


definitions_option = click.option(
    "--definitions",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder of YAML definitions (default: [tool.esgen] definitions, else ./schemas).",
)


@click.command()
@definitions_option
def validate(definitions: Path | None) -> None:
    """Check the definitions and report every error."""
    from esgen.dsl import load_project

    folder, _, _ = _paths(definitions, None, None)
    with reported_errors(str(folder)):
        project = load_project(folder)
    click.echo(f"{len(project.entities)} entities OK in {folder}")


@click.command()
@definitions_option
@click.option(
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder that receives the generated files (default: [tool.esgen] output).",
)
@click.option("--package", help="Import name of the output folder (default: its folder name).")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any output file is stale.")
def generate(
    definitions: Path | None, output: Path | None, package: str | None, check: bool
) -> None:
    """Write Avro schemas and Python modules from the definitions."""
    from esgen.codegen import render_project, stale_files, write_files
    from esgen.dsl import load_project

    folder, out, pkg = _paths(definitions, output, package)
    _check_package(pkg, package is not None)
    with reported_errors(str(folder)):
        project = load_project(folder)
        files = render_project(project, pkg)
        try:
            if check:
                stale = stale_files(out, files)
            else:
                written = write_files(out, files)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            where = f" ({exc.filename})" if exc.filename else ""
            raise click.UsageError(
                f"cannot {'read' if check else 'write'} the output folder {out}: "
                f"{reason}{where}; choose another --output"
            ) from None
        if check:
            for path, reason in stale:
                click.echo(f"{path}: {reason}", err=True)
            if stale:
                click.echo(f"{len(stale)} stale file(s); run `esgen generate`", err=True)
                raise Abort(1)
            click.echo(f"{len(files)} files up to date in {out}")
            return
    click.echo(f"wrote {written} of {len(files)} files to {out}")


def _check_package(package: str, from_flag: bool) -> None:
    """The package becomes ``import`` statements: it must be a dotted Python name."""
    from esgen.codegen.source import dotted

    try:
        dotted(package)
    except ValueError:
        where = (
            "--package"
            if from_flag
            else "the package ([tool.esgen] package, else the name of the output folder)"
        )
        raise click.BadParameter(
            f"{package!r} is not a dotted Python module name (letters, digits and '_' "
            "between dots, no keywords); set one with --package or [tool.esgen] package",
            param_hint=where,
        ) from None
