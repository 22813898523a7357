"""Find, read and parse the definition files of a folder, then build the project."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from esgen import model
from esgen.dsl import names as rules
from esgen.dsl.build import Builder, SourceFile
from esgen.dsl.shape import Reporter
from esgen.dsl.yamlnodes import load_yaml
from esgen.errors import DefinitionError, DefinitionErrors, Location

SUFFIXES = (".yaml", ".yml")


def load_project(folder: Path) -> model.Project:
    """Load every ``*.yaml``/``*.yml`` below ``folder`` (hidden folders are skipped)."""
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
    for path in paths:
        source = _read(folder, path, reporter, modules)
        if source is not None:
            files.append(source)
    _packages_shadowing_modules(files, reporter)
    try:
        project = Builder(files, reporter).build()
    except DefinitionErrors:
        raise
    except Exception as exc:  # a bug in esgen: still say which files were being checked
        raise RuntimeError(f"while checking {', '.join(f.path for f in files)}: {exc}") from exc
    if reporter.errors:
        raise DefinitionErrors(reporter.errors)
    return project


def _packages_shadowing_modules(files: list[SourceFile], reporter: Reporter) -> None:
    """``x.yaml`` beside a folder ``x/`` would become both the module ``x`` and the
    package ``x``: the package would hide the module."""
    packages = {
        ".".join(f.module.split(".")[:depth])
        for f in files
        for depth in range(1, f.module.count(".") + 1)
    }
    for f in files:
        if f.module in packages:
            folder = f.module.replace(".", "/")
            reporter.at(
                f"'{f.rel}' becomes the module '{f.module}', but the folder '{folder}/' "
                "becomes a package of the same name, which would hide it",
                Location(f.path, 1, 1),
                "rename the file or the folder",
            )


def _read(
    folder: Path, path: Path, reporter: Reporter, modules: dict[str, str]
) -> SourceFile | None:
    rel = PurePosixPath(path.relative_to(folder).as_posix())
    shown = (folder / path.relative_to(folder)).as_posix()
    start = Location(shown, 1, 1)
    parts = [*rel.parts[:-1], rel.name[: -len(rel.suffix)]]
    module = ".".join(parts)
    bad = [(p, reason) for p in parts if (reason := rules.module_part(p))]
    for part, reason in bad:
        reporter.at(
            f"'{part}' in the file path {reason}; the path becomes the module '{module}'",
            start,
            "rename the file or folder",
        )
    if not bad and module in modules:
        reporter.at(f"'{rel}' and '{modules[module]}' both become the module '{module}'", start)
    modules.setdefault(module, str(rel))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reporter.at(f"cannot read the file: {exc}", start)
        return None
    root, errors = load_yaml(text, shown)
    for error in errors:
        reporter.add(error)
    if root is None:
        return None
    return SourceFile(str(rel), shown, module, text, root)
