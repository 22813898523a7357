"""``esgen check``, ``esgen lock`` and ``esgen record``: keep old events readable in CI."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import click

from esgen.cli.errors import Abort, reported_errors
from esgen.cli.generate import _paths, _relative, definitions_option
from esgen.config import load_config
from esgen.errors import ConfigError, one_line
from esgen.runtime.subjects import DEFAULT_STRATEGY, SubjectStrategy

DEFAULT_LOCK = "schemas.lock"
DEFAULT_FIXTURES = "tests/fixtures/events"
DEFAULT_SAMPLES = "tests/fixtures/samples.py"

output_option = click.option(
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder of the generated package (default: [tool.esgen] output).",
)
package_option = click.option(
    "--package", help="Import name of the output folder (default: [tool.esgen] package)."
)
strategy_option = click.option(
    "--subject-strategy",
    type=click.Choice([s.value for s in SubjectStrategy]),
    help="Subject naming: topic_record (default; [tool.esgen] subject_strategy), record, topic.",
)


@contextlib.contextmanager
def registry_errors() -> Iterator[None]:
    """Registry failures are one clear line and exit 1; configuration problems exit 2."""
    from esgen.registry import RegistryError, RegistryUnavailable

    try:
        yield
    except (RegistryError, RegistryUnavailable) as exc:
        click.echo(f"esgen: {exc}", err=True)
        raise Abort(1) from None
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


def _strategy(flag: str | None) -> str:
    config = load_config()
    value = flag or config.extra.get("subject_strategy") or DEFAULT_STRATEGY.value
    try:
        return SubjectStrategy(value).value
    except ValueError:
        raise click.UsageError(
            f"subject_strategy {value!r} is not one of topic_record, record, topic"
        ) from None


def _config_path(flag: Path | None, key: str, default: str) -> Path:
    if flag is not None:
        return flag
    config = load_config()
    return _relative(config.root / str(config.extra.get(key, default)))


def _accept_file(flag: Path | None) -> Path:
    return flag or _relative(load_config().root / "esgen-accept.yaml")


@click.command()
@definitions_option
@output_option
@package_option
@click.option("--against", metavar="REF", help="Compare with a git ref (e.g. origin/main).")
@click.option(
    "--lock",
    "lock",
    type=click.Path(path_type=Path, file_okay=False),
    help="Compare with a lock folder written by `esgen lock` (default source: "
    "[tool.esgen] lock, else ./schemas.lock when it exists).",
)
@click.option("--registry", metavar="URL", help="Compare with every version in a registry.")
@strategy_option
@click.option(
    "--fixtures",
    type=click.Path(path_type=Path, file_okay=False),
    help=f"Recorded sample events to decode and replay (default: ./{DEFAULT_FIXTURES} "
    "when it exists).",
)
@click.option(
    "--accept",
    "accept_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File of acknowledged breaks (default: ./esgen-accept.yaml).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text, json, or GitHub workflow annotations on the YAML lines.",
)
def check(
    definitions: Path | None,
    output: Path | None,
    package: str | None,
    against: str | None,
    lock: Path | None,
    registry: str | None,
    subject_strategy: str | None,
    fixtures: Path | None,
    accept_file: Path | None,
    output_format: str,
) -> None:
    """Check every generated schema against its history; replay recorded events.

    The history is a git ref (--against), a lock folder (--lock) or a registry (--registry).
    Each subject is checked at its entity's `compatibility` (default BACKWARD_TRANSITIVE;
    the snapshot subject is a cache: warnings only), plus semantic rules no registry applies.
    The replay runs code generated in memory from the definitions, never a stale
    `generated/`. Exit 0 when nothing unaccepted is found, 1 when something is (each problem
    explained at its YAML line), 2 on usage errors.
    """
    from esgen import check as checker

    chosen = [s for s in (against, lock, registry) if s is not None]
    if len(chosen) > 1:
        raise click.UsageError("give one of --against, --lock and --registry")
    strategy = _strategy(subject_strategy)
    folder, out, pkg = _paths(definitions, output, package)
    config = load_config()
    history: checker.History | None = None
    if against is not None:
        history = checker.GitHistory(against, out, folder)
    elif registry is not None:
        history = checker.RegistryHistory(registry)
    else:
        default = lock is None
        lock = _config_path(lock, "lock", DEFAULT_LOCK)
        if lock.is_dir() or not default:
            history = checker.LockHistory(lock)
    fixture_dir = fixtures or _relative(config.root / DEFAULT_FIXTURES)
    replay = fixtures is not None or fixture_dir.is_dir()
    if history is None and not replay:
        raise click.UsageError(
            "nothing to check against: give --against REF, --lock DIR or --registry URL "
            f"(or run `esgen lock` to create {lock}), or record events to replay "
            "(`esgen record`)"
        )
    request = checker.CheckRequest(
        definitions=folder,
        package=pkg,
        root=config.root,
        history=history,
        strategy=strategy,
        fixtures=fixture_dir if replay else None,
        accept_file=_accept_file(accept_file),
        output=out,
        lock=_config_path(None, "lock", DEFAULT_LOCK),
    )
    with registry_errors(), reported_errors("esgen check"):
        result = checker.check(request)
    click.echo(result.format(output_format))
    if not result.ok:
        raise Abort(1)


@click.command()
@definitions_option
@output_option
@package_option
@click.option(
    "--lock",
    "lock",
    type=click.Path(path_type=Path, file_okay=False),
    help="Lock folder (default: [tool.esgen] lock, else ./schemas.lock).",
)
@strategy_option
@click.option(
    "--accept",
    "accept_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File of acknowledged breaks (default: ./esgen-accept.yaml).",
)
@click.option("--dry-run", is_flag=True, help="Say what would be appended; write nothing.")
def lock(
    definitions: Path | None,
    output: Path | None,
    package: str | None,
    lock: Path | None,
    subject_strategy: str | None,
    accept_file: Path | None,
    dry_run: bool,
) -> None:
    """Append today's schemas to the lock folder (only those that changed).

    History is never rewritten. A schema that breaks the lock's history is refused unless
    the break is acknowledged in the accept file; accept entries the new lock makes stale
    are named.
    """
    from esgen import check as checker
    from esgen.check.lock import INDEX

    strategy = _strategy(subject_strategy)
    folder_, _, pkg = _paths(definitions, output, package)
    folder = _config_path(lock, "lock", DEFAULT_LOCK)
    with registry_errors(), reported_errors("esgen lock"):
        outcome = checker.lock(
            folder_,
            pkg,
            folder,
            strategy=strategy,
            accept_file=_accept_file(accept_file),
            dry_run=dry_run,
        )
    if not outcome.result.ok:
        click.echo(outcome.result.format("text"), err=True)
        click.echo("refusing to lock an incompatible schema", err=True)
        raise Abort(1)
    for finding in outcome.result.findings:  # warnings and accepted breaks stay visible
        click.echo(finding.format_text())
    verb = "would append" if dry_run else "appended"
    for change in outcome.changes:
        if change.subject == INDEX:
            click.echo(f"{verb} {change.file} to {folder}/{INDEX}")
        else:
            click.echo(f"{verb} {folder}/{change.subject}/{change.file}")
    if not outcome.changes:
        click.echo(f"{folder} is up to date: nothing to append")
    for note in outcome.stale:
        click.echo(one_line(f"warning: {note}"))


@click.command()
@definitions_option
@output_option
@package_option
@click.option(
    "--samples",
    type=click.Path(path_type=Path, dir_okay=False),
    help=f"Python file defining SAMPLES = {{entity id: [events]}} (default: ./{DEFAULT_SAMPLES}).",
)
@click.option(
    "--fixtures",
    type=click.Path(path_type=Path, file_okay=False),
    help=f"Where recorded events go (default: ./{DEFAULT_FIXTURES}).",
)
def record(
    definitions: Path | None,
    output: Path | None,
    package: str | None,
    samples: Path | None,
    fixtures: Path | None,
) -> None:
    """Record sample events (Avro container files, writer schema inside) for replay checks.

    The samples are built with code generated in memory from the definitions (never a
    stale `generated/`). Append-only: files of earlier schema versions are kept as they
    were written.
    """
    from esgen import check as checker

    folder_, _, pkg = _paths(definitions, output, package)
    config = load_config()
    samples_file = samples or _relative(config.root / DEFAULT_SAMPLES)
    folder = fixtures or _relative(config.root / DEFAULT_FIXTURES)
    with registry_errors(), reported_errors(str(samples_file)):
        try:
            done = checker.record(
                folder_,
                pkg,
                config.root,
                samples_file,
                folder,
                _config_path(None, "lock", DEFAULT_LOCK),
            )
        except checker.SamplesError as exc:  # the user's file to fix, at its line
            click.echo(f"esgen record: {exc}", err=True)
            raise Abort(1) from None
    click.echo(
        f"recorded into {folder}: {done.events_added} new event(s) in {done.files_written} "
        f"file(s), {done.streams_added} new stream(s)"
    )
