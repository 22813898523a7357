"""``esgen register``: register every generated schema with a schema registry."""

from __future__ import annotations

from pathlib import Path

import click

from esgen.cli.check import _load, _strategy, output_option, package_option, registry_errors
from esgen.cli.check import strategy_option as _strategy_option
from esgen.cli.generate import definitions_option


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
@click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")
def register(
    definitions: Path | None,
    output: Path | None,
    package: str | None,
    registry: str | None,
    subject_strategy: str | None,
    dry_run: bool,
) -> None:
    """Register every event and state schema, and set each subject's compatibility level.

    Idempotent: schemas already registered are left alone. Levels come from each entity's
    `compatibility` (default BACKWARD_TRANSITIVE) and are read back to verify they hold.
    """
    from esgen.compat.project_check import generated_schemas
    from esgen.registry import connect
    from esgen.registry.plan import registrations
    from esgen.registry.register import register_all
    from esgen.runtime import settings

    url = settings.setting("registry", settings.ENV_REGISTRY, registry)
    if not url:
        raise click.UsageError(
            "give --registry URL (or set ESGEN_REGISTRY_URL, or [tool.esgen] registry)"
        )
    strategy = _strategy(subject_strategy)
    _, _, _, project, files = _load(definitions, output, package)
    plan = registrations(project, generated_schemas(files), strategy)
    with registry_errors():
        actions = register_all(connect(url), plan, dry_run=dry_run)
    for action in actions:
        click.echo(action.format_text(dry_run))
    changed = sum(1 for a in actions if a.registered or a.level_set)
    if changed:
        verb = "would change" if dry_run else "changed"
        click.echo(f"{verb} {changed} of {len(actions)} subject(s) ({strategy})")
    else:
        click.echo(f"nothing to register: {len(actions)} subject(s) up to date ({strategy})")
