"""How the CLI reports failures: definition errors exit 1, usage errors exit 2."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import click

from esgen.errors import ConfigError, DefinitionErrors, one_line


class Abort(click.exceptions.Exit):
    """Exit with a code after the message has been printed."""


@contextlib.contextmanager
def reported_errors(what: str) -> Iterator[None]:
    """Turn esgen's exceptions into messages and exit codes; never show a traceback.

    ``what`` names the thing being processed, for unexpected internal errors.
    """
    try:
        yield
    except DefinitionErrors as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        count = len(exc.errors)
        click.echo(f"{count} error{'s' if count != 1 else ''}", err=True)
        raise Abort(1) from None
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    except (click.exceptions.Exit, click.ClickException):
        raise
    except Exception as exc:  # an esgen bug: say so, with the input that triggered it
        click.echo(
            one_line(f"esgen: internal error while processing {what}: {type(exc).__name__}: {exc}")
            + "\n"
            "This is a bug in esgen; please report it with the definition that caused it.",
            err=True,
        )
        raise Abort(1) from None
