"""Resolving the services from Maven Central through Maven, cached between runs.

Kafka: ``mvn dependency:copy-dependencies`` on ``esgen/dev/maven/kafka/pom.xml`` copies
``kafka_2.13`` and its runtime jars into ``<cache>/dist/kafka-<version>/libs``.
Apicurio: the same goal on ``esgen/dev/maven/registry/pom.xml`` copies the ``tar.gz``, which is
unpacked into ``<cache>/dist/apicurio-<version>/app`` (``quarkus-run.jar`` at its top).

The AsyncAPI 3.0.0 JSON Schema that the contract tests validate against comes from the
npm package ``@asyncapi/specs`` (``npm pack``, no install); only ``schemas/3.0.0.json``
(checked against a pinned SHA-256) and the licence are kept, in
``<cache>/dist/asyncapi-specs-<version>``.

A finished download is marked by a ``.complete`` file; concurrent callers (two test
sessions, ``esgen dev up`` beside pytest) serialise on a lock file, so a download
happens once. Maven's own cache (``~/.m2``) makes a re-download after ``rm -rf`` of
the esgen cache fast.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from esgen.dev import paths, versions
from esgen.dev.errors import ServiceError

COMPLETE = ".complete"


@contextmanager
def _locked(name: str) -> Iterator[None]:
    root = paths.dist_dir()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _mvn(pom: Path, args: list[str], what: str) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceError(f"downloading {what} needs Maven (`mvn`) on PATH")
    if not pom.is_file():
        raise ServiceError(f"downloading {what} needs {pom}, which is missing")
    command = [mvn, "-B", "-q", "-f", str(pom), *args]
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-30:])
        raise ServiceError(f"Maven failed to resolve {what} ({' '.join(command)}):\n{tail}")


def kafka_home(version: str = versions.KAFKA_VERSION) -> Path:
    return paths.dist_dir() / f"kafka-{version}"


def registry_home(version: str = versions.APICURIO_VERSION) -> Path:
    return paths.dist_dir() / f"apicurio-{version}"


def is_cached(home: Path) -> bool:
    return (home / COMPLETE).is_file()


def ensure_kafka(version: str = versions.KAFKA_VERSION) -> Path:
    """The folder of Kafka's jars (a classpath ``<folder>/*``), downloaded on first use."""
    home = kafka_home(version)
    if is_cached(home):
        return home / "libs"
    with _locked(home.name):
        if is_cached(home):
            return home / "libs"
        shutil.rmtree(home, ignore_errors=True)
        staging = home.with_name(home.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        started = time.monotonic()
        _mvn(
            versions.KAFKA_POM,
            [
                "dependency:copy-dependencies",
                f"-Dkafka.version={version}",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={staging / 'libs'}",
            ],
            f"Kafka {version}",
        )
        if not any((staging / "libs").glob(f"kafka_2.13-{version}.jar")):
            raise ServiceError(f"Maven finished but kafka_2.13-{version}.jar is not in {staging}")
        (staging / COMPLETE).write_text(f"{time.monotonic() - started:.1f}s\n")
        staging.rename(home)
    return home / "libs"


def ensure_registry(version: str = versions.APICURIO_VERSION) -> Path:
    """The unpacked Apicurio app folder (holding ``quarkus-run.jar``), downloaded on first use."""
    home = registry_home(version)
    if is_cached(home):
        return home / "app"
    with _locked(home.name):
        if is_cached(home):
            return home / "app"
        shutil.rmtree(home, ignore_errors=True)
        staging = home.with_name(home.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        started = time.monotonic()
        _mvn(
            versions.REGISTRY_POM,
            [
                "dependency:copy-dependencies",
                f"-Dapicurio.version={version}",
                "-DincludeTypes=tar.gz",
                f"-DoutputDirectory={staging / 'download'}",
            ],
            f"Apicurio Registry {version}",
        )
        archives = sorted((staging / "download").glob("*.tar.gz"))
        if not archives:
            raise ServiceError(f"Maven finished but no Apicurio tar.gz is in {staging}")
        unpacked = staging / "unpacked"
        with tarfile.open(archives[0]) as archive:
            archive.extractall(unpacked, filter="data")
        runners = sorted(unpacked.rglob("quarkus-run.jar"), key=lambda p: len(p.parts))
        if not runners:
            raise ServiceError(f"{archives[0].name} holds no quarkus-run.jar")
        runners[0].parent.rename(staging / "app")
        shutil.rmtree(unpacked, ignore_errors=True)
        shutil.rmtree(staging / "download", ignore_errors=True)
        (staging / COMPLETE).write_text(f"{time.monotonic() - started:.1f}s\n")
        staging.rename(home)
    return home / "app"


ASYNCAPI_SCHEMA = "schemas/3.0.0.json"


def asyncapi_home() -> Path:
    return paths.dist_dir() / f"asyncapi-specs-{versions.ASYNCAPI_SPECS_VERSION}"


def ensure_asyncapi_schema() -> Path:
    """The official AsyncAPI 3.0.0 JSON Schema file, fetched with ``npm pack`` on first use."""
    version = versions.ASYNCAPI_SPECS_VERSION
    home = asyncapi_home()
    target = home / ASYNCAPI_SCHEMA
    if is_cached(home):
        return target
    with _locked(home.name):
        if is_cached(home):
            return target
        npm = shutil.which("npm")
        if npm is None:
            raise ServiceError(
                f"fetching the AsyncAPI JSON Schema (npm package @asyncapi/specs@{version}) "
                "needs npm (Node.js) on PATH"
            )
        shutil.rmtree(home, ignore_errors=True)
        staging = home.with_name(home.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        command = [npm, "pack", f"@asyncapi/specs@{version}", "--pack-destination", str(staging)]
        done = subprocess.run(
            command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300
        )
        tarball = staging / f"asyncapi-specs-{version}.tgz"
        if done.returncode != 0 or not tarball.is_file():
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
            raise ServiceError(
                f"npm could not fetch @asyncapi/specs@{version} ({' '.join(command)}):\n{tail}"
            )
        with tarfile.open(tarball) as archive:
            for member in (ASYNCAPI_SCHEMA, "LICENSE"):
                extracted = archive.extractfile(f"package/{member}")
                if extracted is None:
                    raise ServiceError(f"{tarball.name} holds no {member}")
                (staging / member).parent.mkdir(parents=True, exist_ok=True)
                (staging / member).write_bytes(extracted.read())
        tarball.unlink()
        digest = hashlib.sha256((staging / ASYNCAPI_SCHEMA).read_bytes()).hexdigest()
        if digest != versions.ASYNCAPI_SCHEMA_SHA256:
            raise ServiceError(
                f"{ASYNCAPI_SCHEMA} of @asyncapi/specs@{version} has SHA-256 {digest}, not the "
                f"pinned {versions.ASYNCAPI_SCHEMA_SHA256}: refusing it"
            )
        (staging / COMPLETE).write_text(f"@asyncapi/specs@{version} sha256 {digest}\n")
        staging.rename(home)
    return target
