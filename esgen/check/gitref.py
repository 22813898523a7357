"""History from a git ref: the generated ``.avsc`` files and the definitions at that commit.

``esgen check --against main`` reads ``git ls-tree``/``git show`` (nothing is checked out, the
working tree is untouched) and loads the definitions at the ref into a temporary folder so the
semantic rules know the old topics, keys and event types. A ref that does not exist, or a
folder outside any git repository, is a ``ConfigError`` that says so and what to do (git
itself says nothing for ``rev-parse --verify --quiet``).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from pathlib import Path

from esgen.check.baseline import Baseline, Version, entity_info
from esgen.errors import ConfigError, DefinitionErrors, SourceError, quote
from esgen.sources import decode, parse_json


def _git(args: list[str], cwd: Path) -> bytes:
    done = _run(args, cwd)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip() or f"exit code {done.returncode}"
        raise ConfigError(f"git {' '.join(args)}: {message}")
    return done.stdout


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise ConfigError("git is not installed; use --lock or --registry instead") from None


def _top(cwd: Path) -> Path:
    done = _run(["rev-parse", "--show-toplevel"], cwd)
    if done.returncode != 0:
        raise ConfigError(
            f"--against needs a git repository, and {cwd.resolve()} is not inside one; "
            "compare with --lock DIR or --registry URL instead"
        )
    return Path(done.stdout.decode().strip()).resolve()


def _commit(ref: str, top: Path) -> str:
    done = _run(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"], top)
    if done.returncode != 0 or not done.stdout.strip():
        raise ConfigError(
            f"git ref {quote(ref)} does not exist in {top}: give a branch, tag or commit "
            "(`git branch -a` lists them). In CI, fetch it first: `git fetch origin main`, "
            "or actions/checkout with `fetch-depth: 0`"
        )
    return done.stdout.decode().strip()


def _relative_to_top(path: Path, top: Path) -> str:
    try:
        return path.resolve().relative_to(top).as_posix()
    except ValueError:
        raise ConfigError(f"{path} is not inside the git repository {top}") from None


def read_git(
    ref: str,
    output: Path,
    definitions: Path,
    cwd: Path | None = None,
    lock: Path | None = None,
) -> Baseline:
    """The schemas generated at ``ref`` (one version each) and the entities defined there
    (their upcasts read against the lock folder ``lock``: append-only, so today's holds
    every old version the ref's upcasts name)."""
    cwd = cwd or Path.cwd()
    top = _top(cwd)
    commit = _commit(ref, top)
    baseline = Baseline(source=f"git {ref}")
    out_rel = _relative_to_top(output, top)
    listing = _git(["ls-tree", "-r", "--name-only", commit, "--", out_rel], top).decode()
    for name in sorted(listing.splitlines()):
        if not name.endswith(".avsc"):
            continue
        data = _git(["show", f"{commit}:{name}"], top)
        try:
            schema = parse_json(decode(data, f"{ref}:{name}"), f"{ref}:{name}")
        except SourceError as exc:
            raise ConfigError(str(exc)) from None
        baseline.add(Path(name).name.removesuffix(".avsc"), Version(ref, schema))
    defs_rel = _relative_to_top(definitions, top)
    if _git(["ls-tree", commit, "--", defs_rel], top).strip():
        archive = _git(["archive", "--format=tar", commit, "--", defs_rel], top)
        _load_entities(archive, defs_rel, baseline, lock)
    return baseline


def _load_entities(archive: bytes, defs_rel: str, baseline: Baseline, lock: Path | None) -> None:
    from esgen.check.lock import load_definitions

    with tempfile.TemporaryDirectory(prefix="esgen-ref-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        try:
            project = load_definitions(Path(tmp) / defs_rel, lock)
        except DefinitionErrors as exc:
            # Old definitions that no longer load: compare the schemas only, and say so.
            baseline.notes.append(
                f"the definitions at {baseline.source} do not load ({len(exc.errors)} "
                "error(s)); entity key/topic/event checks skipped"
            )
            return
        for entity in project.entities:
            info = entity_info(entity)
            baseline.entities[info.name] = info
