"""Find, read and parse the definition files of a folder, then build the project.

A file's path is its module path in the generated package (``bank/account.yaml`` ->
``bank.account``), so paths are checked like names: two files must not become one module,
and a file must not become a module where a folder becomes a package (``bank.yaml``
beside ``bank/``): Python would import only one of them.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from esgen import model
from esgen.dsl import names as rules
from esgen.dsl.build import Builder, SourceFile
from esgen.dsl.evolution import History
from esgen.dsl.shape import Reporter
from esgen.dsl.yamlnodes import load_yaml
from esgen.errors import DefinitionError, DefinitionErrors, Location, SourceError, quote
from esgen.gcpause import fewer_collections
from esgen.sources import read_text

SUFFIXES = (".yaml", ".yml")


@fewer_collections()
def load_project(
    folder: Path, history: History | None = None, lock: str = "the lock"
) -> model.Project:
    """Load every ``*.yaml``/``*.yml`` below ``folder`` (hidden folders are skipped).

    ``history`` holds the locked versions of each record (``esgen.check.lock``): upcasts
    are checked against them; without it, a file that declares an upcast is an error.
    ``lock`` names where they come from, for messages."""
    reporter = Reporter()
    start = Location(str(folder), 1, 1)
    if not folder.is_dir():
        raise DefinitionErrors(
            [
                DefinitionError(
                    "the definitions folder does not exist",
                    start,
                    "pass --definitions or set [tool.esgen] definitions",
                )
            ]
        )
    paths = sorted(
        p
        for p in folder.rglob("*")
        if p.suffix in SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    if not paths:
        raise DefinitionErrors(
            [
                DefinitionError(
                    "no definition files (*.yaml, *.yml) in the definitions folder", start
                )
            ]
        )
    files: list[SourceFile] = []
    modules: dict[str, str] = {}
    packages = {
        ".".join(p.relative_to(folder).parts[:depth])
        for p in paths
        for depth in range(1, len(p.relative_to(folder).parts))
    }
    for path in paths:
        source = _read(folder, path, reporter, modules, packages)
        if source is not None:
            files.append(source)
    try:
        project = Builder(files, reporter, history, lock).build()
    except DefinitionErrors:
        raise
    except Exception as exc:  # a bug in esgen: still say which files were being checked
        raise RuntimeError(f"while checking {', '.join(f.path for f in files)}: {exc}") from exc
    if reporter.errors:
        raise DefinitionErrors(reporter.errors)
    return project


def _read(
    folder: Path, path: Path, reporter: Reporter, modules: dict[str, str], packages: set[str]
) -> SourceFile | None:
    rel = PurePosixPath(path.relative_to(folder).as_posix())
    shown = (folder / path.relative_to(folder)).as_posix()
    start = Location(shown, 1, 1)
    parts = [*rel.parts[:-1], rel.name[: -len(rel.suffix)]]
    module = ".".join(parts)
    bad = [(p, reason) for p in parts if (reason := rules.module_part(p))]
    for part, reason in bad:
        reporter.at(
            f"{quote(part)} in the file path {reason}; the path becomes the module "
            f"{quote(module)}",
            start,
            "rename the file or folder",
        )
    if not bad and module in modules:
        reporter.at(
            f"{quote(str(rel))} and {quote(modules[module])} both become the module "
            f"{quote(module)}",
            start,
        )
    elif not bad and module in packages:
        reporter.at(
            f"{quote(str(rel))} becomes the module {quote(module)}, and the folder "
            f"{quote(str(rel.with_suffix('')) + '/')} becomes a package of the same name; "
            "Python would import only one of them",
            start,
            "rename the file or the folder",
        )
    modules.setdefault(module, str(rel))
    try:
        text = read_text(path, shown)
    except SourceError as exc:
        reporter.at(exc.message, exc.location)
        return None
    root, errors = load_yaml(text, shown)
    for error in errors:
        reporter.add(error)
    if root is None:
        return None
    return SourceFile(str(rel), shown, module, text, root)
