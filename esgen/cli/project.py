"""``esgen init`` (start a project) and ``esgen schema-path`` (point an editor at the schema)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import click

from esgen.config import package_problem

EXAMPLE = "schemas/todo/task.yaml"

_SECTION = """\
[tool.esgen]
definitions = "schemas"  # the YAML definitions, one entity per file
output = "{package_path}"  # the generated modules and .avsc schemas
package = "{package}"  # the import name of the output folder
"""

_PYPROJECT = """\
[project]
name = "{name}"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["esgen"]

"""

_TASK = """\
# yaml-language-server: $schema={schema}
entity: Task
namespace: com.example.todo
doc: A task on a to-do list.
key: task_id

state:
  fields:
    task_id: string
    title: {{type: string, default: ""}}
    done: {{type: boolean, default: false}}
    times_reopened: {{type: int, default: 0}}

events:
  TaskAdded:
    fields:
      title: string
    fold:
      - set: {{title: event.title}}
  TaskDone:
    fold:
      - set: {{done: true}}
  TaskReopened:
    fold:
      - add: {{times_reopened: 1}}
        when: state.done
      - set: {{done: false}}
"""


@click.command("schema-path")
def schema_path() -> None:
    """Print the path of the editor schema (JSON Schema) of definition files.

    Point yaml-language-server at it with a first line
    `# yaml-language-server: $schema=PATH` in each definition file, or with the
    `yaml.schemas` setting of your editor.
    """
    from esgen.dsl.editor_schema import SCHEMA_PATH

    click.echo(str(SCHEMA_PATH))


@click.command()
@click.argument(
    "folder",
    required=False,
    default=".",
    type=click.Path(path_type=Path, file_okay=False),
)
@click.option(
    "--package",
    default="generated",
    show_default=True,
    help="Import name of the generated package (also its folder).",
)
def init(folder: Path, package: str) -> None:
    """Create an esgen project in FOLDER (default: here): configuration and one example.

    Writes `[tool.esgen]` into pyproject.toml (a new one, or appended to one without that
    section) and the example definition schemas/todo/task.yaml. Nothing is overwritten:
    if either exists, nothing is written at all. Then run `esgen generate`.
    """
    from esgen.dsl.editor_schema import SCHEMA_PATH

    if problem := package_problem(package):
        raise click.BadParameter(problem, param_hint="--package")
    pyproject = folder / "pyproject.toml"
    example = folder / EXAMPLE
    refused = [str(path) for path in (example, folder / "esgen.toml") if path.exists()]
    if _has_section(pyproject):
        refused.append(f"the [tool.esgen] section of {pyproject}")
    if refused:
        raise click.ClickException(f"refusing to overwrite {', '.join(refused)}")
    section = _SECTION.format(package=package, package_path=package.replace(".", "/"))
    folder.mkdir(parents=True, exist_ok=True)
    if pyproject.exists():
        existing = pyproject.read_text(encoding="utf-8")
        pyproject.write_text(existing.rstrip("\n") + "\n\n" + section, encoding="utf-8")
        click.echo(f"added [tool.esgen] to {pyproject}")
    else:
        name = folder.resolve().name.replace("_", "-") or "events"
        pyproject.write_text(_PYPROJECT.format(name=name) + section, encoding="utf-8")
        click.echo(f"wrote {pyproject}")
    example.parent.mkdir(parents=True, exist_ok=True)
    example.write_text(_TASK.format(schema=SCHEMA_PATH.as_posix()), encoding="utf-8")
    click.echo(f"wrote {example}")
    click.echo(f"next: cd {folder} && esgen generate")


def _has_section(pyproject: Path) -> bool:
    if not pyproject.is_file():
        return False
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError, RecursionError):
        raise click.ClickException(
            f"{pyproject} is not valid TOML; fix it before adding [tool.esgen]"
        ) from None
    tool = data.get("tool")
    return isinstance(tool, dict) and "esgen" in tool
