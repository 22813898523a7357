"""``esgen register``: register every generated schema with a schema registry."""

from __future__ import annotations

from pathlib import Path

import click

from esgen.cli.check import (
    _accept_file,
    _strategy,
    output_option,
    package_option,
    registry_errors,
)
from esgen.cli.check import strategy_option as _strategy_option
from esgen.cli.errors import Abort, reported_errors
from esgen.cli.generate import _paths, definitions_option, lock_folder


@click.command()
@definitions_option
@output_option
@package_option
@click.option(
    "--registry",
    metavar="URL",
    help="Registry URL (default: $ESGEN_REGISTRY_URL, else [tool.esgen] registry). "
    "Credentials: user:pass@ in the URL, ESGEN_REGISTRY_USER/PASSWORD or ESGEN_REGISTRY_TOKEN.",
)
@_strategy_option
@click.option(
    "--accept",
    "accept_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File of acknowledged breaks (default: ./esgen-accept.yaml).",
)
@click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")
def register(
    definitions: Path | None,
    output: Path | None,
    package: str | None,
    registry: str | None,
    subject_strategy: str | None,
    accept_file: Path | None,
    dry_run: bool,
) -> None:
    """Register every event, command and state schema, and set each subject's level.

    First runs esgen's compatibility rules against every version the registry holds (as
    `esgen check --registry` does; the accept file applies) and registers nothing if they
    fail, in a dry run too. Idempotent: schemas already registered are left alone, and a
    schema equal to an old version is reported as reused. Levels come from each entity's
    `compatibility` (default BACKWARD_TRANSITIVE; NONE for the snapshot cache) and are read
    back to verify they hold. Every subject's outcome is printed; exit 1 if any subject was
    not registered.
    """
    from esgen.check.accept import load_accepts
    from esgen.check.project import known_rule_ids, render
    from esgen.registry import connect
    from esgen.registry.register import register_project
    from esgen.runtime import settings

    url = settings.setting("registry", settings.ENV_REGISTRY, registry)
    if not url:
        raise click.UsageError(
            "give --registry URL (or set ESGEN_REGISTRY_URL, or [tool.esgen] registry)"
        )
    strategy = _strategy(subject_strategy)
    folder, _, pkg = _paths(definitions, output, package)
    with registry_errors(), reported_errors("esgen register"):
        project, files = render(folder, pkg, lock_folder())
        accepts = load_accepts(_accept_file(accept_file), known_rule_ids())
        done = register_project(
            connect(url), project, files, strategy, accepts=accepts, dry_run=dry_run
        )
    if not done.check.ok:
        click.echo(done.check.format("text"))
        click.echo(
            f"{'would register' if dry_run else 'registered'} nothing: esgen's compatibility "
            f"rules fail against the {done.check.source} "
            "(fix the definitions, or acknowledge an intended break in esgen-accept.yaml)"
        )
        raise Abort(1)
    if done.check.findings or done.check.notes:
        click.echo(done.check.format("text"))
    for action in done.actions:
        click.echo(action.format_text(dry_run))
    total = len(done.actions)
    if done.not_done:
        names = ", ".join(a.subject for a in done.not_done)
        click.echo(f"{len(done.not_done)} of {total} subject(s) NOT registered: {names}")
        raise Abort(1)
    changed = sum(1 for a in done.actions if a.registered or a.level_set)
    if changed:
        verb = "would change" if dry_run else "changed"
        click.echo(f"{verb} {changed} of {total} subject(s) ({strategy})")
    else:
        click.echo(f"nothing to register: {total} subject(s) up to date ({strategy})")
