"""Fetching the official AsyncAPI JSON Schema (npm ``@asyncapi/specs``), offline.

A stand-in ``npm`` on PATH packs a tarball the way ``npm pack`` does, so these tests
check what esgen does with what npm gives it, without the network.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from esgen.dev import download, versions
from esgen.dev.errors import ServiceError


def _fake_npm(bin_dir: Path, tarball: Path) -> None:
    """An ``npm`` that copies ``tarball`` into ``--pack-destination``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "npm"
    script.write_text(
        "#!/bin/sh\n"
        'while [ "$#" -gt 0 ]; do\n'
        '  if [ "$1" = "--pack-destination" ]; then cp "' + str(tarball) + '" "$2/"; fi\n'
        "  shift\n"
        "done\n"
    )
    script.chmod(0o755)


def _package(path: Path, schema: bytes) -> Path:
    tarball = path / f"asyncapi-specs-{versions.ASYNCAPI_SPECS_VERSION}.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        for name, data in (
            ("package/schemas/3.0.0.json", schema),
            ("package/LICENSE", b"Apache License 2.0\n"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return tarball


def test_a_schema_file_that_is_not_the_pinned_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ESGEN_CACHE_DIR", str(tmp_path / "cache"))
    _fake_npm(tmp_path / "bin", _package(tmp_path, b'{"$id": "tampered"}'))
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ServiceError, match=r"has SHA-256 .* not the pinned .*: refusing it"):
        download.ensure_asyncapi_schema()
    assert not download.is_cached(download.asyncapi_home())


def test_without_npm_the_error_says_what_is_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ESGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ServiceError, match=r"needs npm \(Node.js\) on PATH"):
        download.ensure_asyncapi_schema()


def test_a_fetched_schema_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = download.ensure_asyncapi_schema()  # the pinned file (shared cache, fetched once)
    monkeypatch.setenv("ESGEN_CACHE_DIR", str(tmp_path / "cache"))
    _fake_npm(tmp_path / "bin", _package(tmp_path, real.read_bytes()))
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    fetched = download.ensure_asyncapi_schema()
    assert fetched.read_bytes() == real.read_bytes()
    assert (fetched.parents[1] / "LICENSE").is_file()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no npm: served from the cache
    assert download.ensure_asyncapi_schema() == fetched
