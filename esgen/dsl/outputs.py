"""What generation needs of the project as a whole, checked at validation.

So that ``esgen validate`` and ``esgen generate`` agree, everything that would make the
generated package unwritable or unimportable is a definition error here:

- **import cycles**: a module imports the records and enums of other files that it uses;
  files that use each other's types in a cycle would give modules that cannot import each
  other (fixed types are plain ``bytes``: nothing is imported for them);
- **file names**: every named type is written to ``<full name>.avsc``, which must fit in
  ``MAX_FILE_NAME_BYTES`` (the limit of ext4, APFS and NTFS);
- **names that differ only in case**: two ``.avsc`` files, or two modules, in one folder
  whose names differ only in case are one file on case-insensitive file systems (macOS,
  Windows).

Cycles are found with Tarjan's algorithm (iterative), so the cost is linear in the files
and the references between them.
"""

from __future__ import annotations

from collections.abc import Iterator

from esgen import model
from esgen.dsl.limits import MAX_FILE_NAME_BYTES
from esgen.errors import DefinitionError, Location, quote

Edges = dict[str, dict[str, Location]]  # source file -> used source file -> first use


def output_errors(project: model.Project) -> list[DefinitionError]:
    return [*_cycles(project), *_file_names(project), *_case_collisions(project)]


def _named(entity: model.Entity) -> list[model.NamedType]:
    """Every named type the entity's module defines, each written to an ``.avsc``."""
    return [
        *entity.types,
        *(e.record for e in entity.events),
        *(c.record for c in entity.commands),
        entity.state,
    ]


def import_edges(project: model.Project) -> Edges:
    """Which definition file's module imports from which (with the first field that does)."""
    owner = {t.full_name: e for e in project.entities for t in e.types}
    edges: Edges = {}
    for entity in project.entities:
        for named in _named(entity):
            if not isinstance(named, model.RecordDef):
                continue
            for field in named.fields:
                for full_name in sorted(model.named_refs(field.type)):
                    other = owner.get(full_name)
                    if other is None or other is entity:
                        continue
                    if isinstance(project.types[full_name], model.FixedDef):
                        continue
                    edges.setdefault(entity.source, {}).setdefault(other.source, field.location)
    return edges


def _components(nodes: list[str], edges: Edges) -> Iterator[list[str]]:
    """Strongly connected components of more than one node (Tarjan, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, {}))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(edges.get(target, {})))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    yield sorted(component)


def _path_back(start: str, members: set[str], edges: Edges) -> list[str]:
    """A shortest cycle through ``start`` inside one component (breadth first)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for target in sorted(edges.get(node, {})):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return list(reversed(path))
                if target in members and target not in previous:
                    previous[target] = node
                    following.append(target)
        frontier = following
    return [start]  # pragma: no cover - a component always has a cycle through each node


def _cycles(project: model.Project) -> Iterator[DefinitionError]:
    edges = import_edges(project)
    for component in _components([e.source for e in project.entities], edges):
        cycle = _path_back(component[0], set(component), edges)
        path = " -> ".join([*cycle, cycle[0]])
        yield DefinitionError(
            f"files use each other's types in a cycle ({path}); the generated modules "
            "could not import each other",
            edges[cycle[0]][cycle[1 % len(cycle)]],
            "move the shared types into one file that the others use",
        )


def _file_names(project: model.Project) -> Iterator[DefinitionError]:
    for entity in project.entities:
        for named in _named(entity):
            file_name = f"{named.full_name}.avsc"
            size = len(file_name.encode())
            if size > MAX_FILE_NAME_BYTES:
                yield DefinitionError(
                    f"the full name {quote(named.full_name)} is too long: the name of its "
                    f"schema file would be {size} bytes, over the {MAX_FILE_NAME_BYTES} that "
                    "file systems allow",
                    named.location,
                    "shorten the name or the namespace",
                )


def _folder(module: str) -> str:
    return module.rpartition(".")[0]


def _case_collisions(project: model.Project) -> Iterator[DefinitionError]:
    # folder of the output -> lower-cased file name -> (file name, where it comes from)
    seen: dict[tuple[str, str], tuple[str, Location]] = {}
    for entity in project.entities:
        folder = _folder(entity.module)
        stem = entity.module.rpartition(".")[2]
        written = [(f"{stem}.py", entity.location)]
        written += [(f"{n.full_name}.avsc", n.location) for n in _named(entity)]
        for name, location in written:
            first = seen.setdefault((folder, name.lower()), (name, location))
            if first[0] != name:
                yield DefinitionError(
                    f"{quote(name)} and {quote(first[0])} (from {first[1]}) differ only in "
                    "case: they would be one file on macOS and Windows",
                    location,
                    "rename one of them",
                )
