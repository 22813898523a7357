"""Differential test: esgen.compat against Apache Avro Java itself.

Runs ``java_oracle/Oracle.java`` (Java's ``Schema.Parser`` + ``SchemaCompatibility``, the way
Confluent Schema Registry and Apicurio decide) on the whole corpus and on random histories,
and requires the same verdict in every mode from ``check(..., dialect="avro-1.11"/"avro-1.12")``.
The jars come from the local Maven repository; get them with
``mvn dependency:get -Dartifact=org.apache.avro:avro:1.11.4`` (and ``:1.12.0``). Without Java
or the jars the test is skipped, with the reason.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from esgen.compat import check
from tests.compat.corpus import CASES, MODES
from tests.compat.random_schemas import random_cases

M2 = Path.home() / ".m2" / "repository"
ORACLE = Path(__file__).with_name("java_oracle") / "Oracle.java"
RANDOM_CASES = 1500


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", path.parent.name))


def _newest(group: str, artifact: str, prefix: str = "") -> Path | None:
    folder = M2.joinpath(*group.split("."), artifact)
    jars = [
        j
        for j in folder.glob(f"{prefix}*/{artifact}-*.jar")
        if j.name == f"{artifact}-{j.parent.name}.jar"
    ]
    return max(jars, key=_version_key) if jars else None


def _classpath(avro_prefix: str) -> str | None:
    jars = [
        _newest("org.apache.avro", "avro", avro_prefix),
        _newest("com.fasterxml.jackson.core", "jackson-databind", "2."),
        _newest("com.fasterxml.jackson.core", "jackson-core", "2."),
        _newest("com.fasterxml.jackson.core", "jackson-annotations", "2."),
        _newest("org.slf4j", "slf4j-api"),
    ]
    if any(j is None for j in jars):
        return None
    compress = _newest("org.apache.commons", "commons-compress")
    found = [str(j) for j in jars if j is not None]
    if compress is not None:
        found.append(str(compress))
    return ":".join(found)


@pytest.mark.parametrize(("avro", "dialect"), [("1.11.", "avro-1.11"), ("1.12.", "avro-1.12")])
def test_same_verdicts_as_avro_java(avro: str, dialect: str, tmp_path: Path) -> None:
    java = shutil.which("java")
    classpath = _classpath(avro)
    if java is None or classpath is None:
        pytest.skip(
            f"needs java and Avro {avro}x + Jackson jars in {M2} "
            f"(mvn dependency:get -Dartifact=org.apache.avro:avro:{avro}x)"
        )
    cases = [c.to_json() for c in CASES] + random_cases(RANDOM_CASES, seed=2024)
    cases_file = tmp_path / "cases.json"
    cases_file.write_text(json.dumps(cases))
    run = subprocess.run(
        [java, "-cp", classpath, str(ORACLE), str(cases_file)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    java_verdicts = {
        line["name"]: line["verdicts"] for line in map(json.loads, run.stdout.splitlines())
    }
    assert len(java_verdicts) == len(cases)

    expected_by_name = {c.name: c.expected(dialect) for c in CASES}
    mismatches = []
    for case in cases:
        name = case["name"]
        ours = {
            m: check(case["new"], case["previous"], m, dialect=dialect).compatible for m in MODES
        }
        theirs = java_verdicts[name]
        if ours != theirs:
            mismatches.append(f"{name}: esgen {ours} java {theirs}")
        if name in expected_by_name and expected_by_name[name] != theirs:
            mismatches.append(f"{name}: corpus expects {expected_by_name[name]}, java {theirs}")
    assert not mismatches, "\n".join(mismatches[:20])
