"""Today's generated code, imported from memory: what the replay and ``esgen record`` run.

The check must never run a generated package on disk that the definitions disagree with
(before ``esgen generate``, the module on disk is yesterday's). So the modules are rendered
in memory from today's definitions and imported under the package's own name, served by a
finder placed first on ``sys.meta_path`` for that package (names the definitions do not
generate do not fall through to the disk: they are not there).

The real name, not a private one, so that code importing the package *while* the replay runs
gets today's classes too: escape hatches (``call:``, ``decide:``) import generated classes
lazily, and a private name would hand them the disk's classes, which ``isinstance`` and
``is`` tell apart from the fold's.

While :func:`current_code` is active, the package's modules in ``sys.modules`` are today's,
and the hatch modules the definitions name are imported afresh (a hatch that imported the
package at its top gets today's classes). On exit everything is put back exactly: modules of
the package and the hatch modules as they were before (or absent), their parents'
attributes, ``sys.path``, and the cache of resolved hatches. Other modules that a hatch or a
samples file imports are imported as they are. The process-wide state this touches makes
the context exclusive: a lock serialises it.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from esgen.model import Project
from esgen.runtime import EntityDescriptor
from esgen.runtime.hooks import resolve_function

_EXCLUSIVE = threading.Lock()
_ABSENT = object()


@dataclass(frozen=True)
class CurrentCode:
    """The entity descriptors of today's code, by entity and by event full name."""

    entities: Mapping[str, EntityDescriptor[Any, Any]]  # entity full name -> descriptor
    events: Mapping[str, EntityDescriptor[Any, Any]]  # event full name -> its entity's


class _MemoryFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves ``package`` and its modules from rendered source text."""

    def __init__(self, package: str, files: Mapping[str, str]) -> None:
        self.package = package
        self.sources: dict[str, tuple[str, str, bool]] = {}  # name -> (source, origin, pkg)
        folder = package.replace(".", "/")
        for relative, text in files.items():
            if not relative.endswith(".py"):
                continue
            parts = relative.removesuffix(".py").split("/")
            is_package = parts[-1] == "__init__"
            name = ".".join([package, *(parts[:-1] if is_package else parts)])
            origin = f"<esgen: {folder}/{relative}, generated in memory>"
            self.sources[name] = (text, origin, is_package)

    def owns(self, name: str) -> bool:
        return name == self.package or name.startswith(f"{self.package}.")

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not self.owns(fullname):
            return None
        if fullname not in self.sources:
            raise ModuleNotFoundError(
                f"{fullname} is not generated from today's definitions", name=fullname
            )
        _, origin, is_package = self.sources[fullname]
        return importlib.util.spec_from_loader(
            fullname, self, origin=origin, is_package=is_package
        )

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        source, origin, _ = self.sources[module.__name__]
        # The source is what `esgen generate` would write: generated code, not user text.
        exec(compile(source, origin, "exec"), module.__dict__)


def hatch_modules(project: Project) -> set[str]:
    """The modules that the definitions' escape hatches (``call:``, ``decide:``, an
    upcast's ``call:``) name."""
    specs = [s.function for e in project.entities for ev in e.events for s in ev.fold]
    specs += [c.decide for e in project.entities for c in e.commands]
    specs += [u.function for e in project.entities for u in e.upcasts]
    return {spec.partition(":")[0] for spec in specs if spec}


@contextlib.contextmanager
def current_code(
    project: Project, package: str, files: Mapping[str, str], root: Path
) -> Iterator[CurrentCode]:
    """Import today's generated modules (``files`` from ``render_project(project, package)``)
    for the duration of the block; ``root`` goes on ``sys.path`` so hatches import."""
    finder = _MemoryFinder(package, files)
    hatches = hatch_modules(project)
    with _EXCLUSIVE, _isolated(finder, hatches, str(root)):
        entities: dict[str, EntityDescriptor[Any, Any]] = {}
        events: dict[str, EntityDescriptor[Any, Any]] = {}
        for entity in project.entities:
            module = importlib.import_module(f"{package}.{entity.module}")
            descriptor: EntityDescriptor[Any, Any] = module.ENTITY
            entities[entity.full_name] = descriptor
            events.update({e.full_name: descriptor for e in descriptor.events})
            # Old names it reads: renamed event types and the sources of upcasts.
            events.update(dict.fromkeys(descriptor.old_names, descriptor))
            events.update({u.source: descriptor for u in descriptor.upcasts})
        yield CurrentCode(entities, events)


@contextlib.contextmanager
def _isolated(finder: _MemoryFinder, hatches: set[str], root: str) -> Iterator[None]:
    def ours(name: str) -> bool:
        return (
            finder.owns(name) or name in hatches or any(name.startswith(f"{h}.") for h in hatches)
        )

    saved = {name: module for name, module in sys.modules.items() if ours(name)}
    parents = {name: _parent_attribute(name) for name in saved}
    for name in saved:
        del sys.modules[name]
    added_path = root not in sys.path
    if added_path:
        sys.path.insert(0, root)
    sys.meta_path.insert(0, finder)
    importlib.invalidate_caches()
    resolve_function.cache_clear()  # hatches resolved before would be yesterday's functions
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        if added_path and root in sys.path:
            sys.path.remove(root)
        for name in [n for n in sys.modules if ours(n)]:
            module = sys.modules.pop(name)
            parent, _, child = name.rpartition(".")
            if parent in sys.modules and getattr(sys.modules[parent], child, None) is module:
                delattr(sys.modules[parent], child)
        sys.modules.update(saved)
        for name, (holder, value) in parents.items():
            if holder is not None and value is not _ABSENT:
                setattr(holder, name.rpartition(".")[2], value)
        resolve_function.cache_clear()
        importlib.invalidate_caches()


def _parent_attribute(name: str) -> tuple[ModuleType | None, Any]:
    """The parent module of ``name`` and the attribute it holds for it (to put back)."""
    parent, _, child = name.rpartition(".")
    holder = sys.modules.get(parent) if parent else None
    return holder, getattr(holder, child, _ABSENT)
