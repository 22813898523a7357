"""The ``esgen`` command. Each group of subcommands lives in a module of its own."""

from __future__ import annotations

import click

from esgen import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="esgen")
def main() -> None:
    """Event sourcing on Kafka from declarative definitions."""


from esgen.cli.check import check, lock, record  # noqa: E402
from esgen.cli.compat import compat  # noqa: E402
from esgen.cli.contracts import contracts  # noqa: E402
from esgen.cli.dev import dev  # noqa: E402
from esgen.cli.dlq import dlq  # noqa: E402
from esgen.cli.generate import generate, validate  # noqa: E402
from esgen.cli.processing import process, send  # noqa: E402
from esgen.cli.project import init, schema_path  # noqa: E402
from esgen.cli.register import register  # noqa: E402
from esgen.cli.runtime import replay, tail  # noqa: E402

main.add_command(init)
main.add_command(schema_path)
main.add_command(validate)
main.add_command(generate)
main.add_command(compat)
main.add_command(check)
main.add_command(lock)
main.add_command(record)
main.add_command(register)
main.add_command(replay)
main.add_command(tail)
main.add_command(dev)
main.add_command(contracts)
main.add_command(process)
main.add_command(send)
main.add_command(dlq)
