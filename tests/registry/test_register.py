"""``esgen register`` and ``esgen check --registry`` against the live registry."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryError

from esgen.registry import connect
from tests.check.esgen_project import Project


@pytest.fixture
def live(
    project: Callable[..., Project],
    unique_name: Callable[[str], str],
    registry_url: str,
    schema_registry_client: Any,
) -> Iterator[tuple[Project, str]]:
    p = project(topic=unique_name("things").replace("_", "-"))
    yield p, registry_url
    # The shared registry keeps no leftovers: every subject this project may have used.
    topics = (p.topic, f"{p.topic}.snapshots", f"{p.topic}.commands")
    subjects = {f"{t}-value" for t in topics} | p.records
    subjects |= {f"{t}-{name}" for t in topics for name in p.records}
    for subject in sorted(subjects):
        with contextlib.suppress(SchemaRegistryError):  # 404: never registered
            schema_registry_client.delete_subject(subject)
            schema_registry_client.delete_subject(subject, permanent=True)


def test_register_dry_run_then_register_then_idempotent(live: tuple[Project, str]) -> None:
    p, url = live
    p.write()
    registry = connect(url)
    dry = p.cli("register", "--registry", url, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"would register {p.topic}-test.chk.Added: new version" in dry.output
    assert "would change 4 of 4 subject(s) (topic_record)" in dry.output
    assert registry.versions(f"{p.topic}-test.chk.Added") == []  # nothing happened
    first = p.cli("register", "--registry", url)
    assert first.exit_code == 0, first.output
    assert f"registered {p.topic}-test.chk.Added: version 1" in first.output
    assert "level set to BACKWARD_TRANSITIVE" in first.output
    levels = {
        f"{p.topic}-test.chk.Added": "BACKWARD_TRANSITIVE",
        f"{p.topic}.snapshots-test.chk.ThingState": "NONE",  # snapshots are a cache
    }
    for subject, level in levels.items():
        assert registry.subject_level(subject) == level
        assert registry.effective_level(subject) == level
        assert len(registry.versions(subject)) == 1
    second = p.cli("register", "--registry", url)
    assert second.exit_code == 0
    assert "nothing to register: 4 subject(s) up to date (topic_record)" in second.output


def test_entity_level_is_applied(live: tuple[Project, str]) -> None:
    p, url = live
    p.write(level="FULL")
    assert p.cli("register", "--registry", url).exit_code == 0
    assert connect(url).effective_level(f"{p.topic}-test.chk.Painted") == "FULL"


def test_level_none_is_set_explicitly(live: tuple[Project, str]) -> None:
    p, url = live
    p.write(level="NONE")
    assert p.cli("register", "--registry", url).exit_code == 0
    assert connect(url).effective_level(f"{p.topic}-test.chk.Painted") == "NONE"
    again = p.cli("register", "--registry", url)
    assert "nothing to register" in again.output


def test_topic_strategy_registers_a_union_of_references(live: tuple[Project, str]) -> None:
    p, url = live
    namespace = f"test.u{uuid.uuid4().hex[:10]}"
    p.write(**{"namespace: test.chk": f"namespace: {namespace}"})
    result = p.cli("register", "--registry", url, "--subject-strategy", "topic")
    assert result.exit_code == 0, result.output
    registry = connect(url)
    (version,) = registry.versions(f"{p.topic}-value")
    assert version[1] == [f"{namespace}.Added", f"{namespace}.Painted", f"{namespace}.Labelled"]
    assert len(registry.versions(f"{namespace}.Added")) == 1
    assert len(registry.versions(f"{p.topic}.snapshots-value")) == 1
    again = p.cli("register", "--registry", url, "--subject-strategy", "topic")
    assert "nothing to register: 5 subject(s) up to date (topic)" in again.output


def test_check_online_and_offline_say_the_same(live: tuple[Project, str]) -> None:
    """register -> lock -> an incompatible change -> check fails the same way everywhere."""
    p, url = live
    p.write()
    assert p.cli("register", "--registry", url).exit_code == 0
    assert p.cli("lock").exit_code == 0
    assert p.cli("check", "--registry", url).exit_code == 0
    p.edit("      amount: long", "      amount: int")
    online = p.cli("check", "--registry", url, "--format", "json")
    offline = p.cli("check", "--lock", "schemas.lock", "--format", "json")
    assert online.exit_code == offline.exit_code == 1

    def explained(output: str) -> list[dict[str, Any]]:
        problems = json.loads(output)["problems"]
        return [{k: v for k, v in d.items() if k != "versus"} for d in problems]

    assert explained(online.output) == explained(offline.output)
    (problem,) = explained(online.output)
    assert (problem["rule"], problem["file"]) == ("TYPE_CHANGED", "schemas/thing.yaml")
    # And register refuses it with esgen's own explanation, before the registry is asked.
    refused = p.cli("register", "--registry", url)
    assert refused.exit_code == 1
    assert "[TYPE_CHANGED]" in refused.output
    assert "registered nothing: esgen's compatibility rules fail" in refused.output
    assert "Traceback" not in refused.output
    assert len(connect(url).versions(f"{p.topic}-test.chk.Added")) == 1


def test_removed_event_is_seen_in_the_registry(live: tuple[Project, str]) -> None:
    p, url = live
    p.write()
    assert p.cli("register", "--registry", url).exit_code == 0
    text = p.yaml.read_text()
    p.yaml.write_text(text[: text.index("  Labelled:")])
    result = p.cli("check", "--registry", url)
    assert result.exit_code == 1
    assert "[EVENT_TYPE_REMOVED]" in result.output


def test_registry_down_is_a_clear_message(project: Callable[..., Project]) -> None:
    p = project()
    p.write()
    for args in (["register"], ["check"]):
        result = p.cli(*args, "--registry", "http://127.0.0.1:9/apis/ccompat/v7")
        assert result.exit_code == 1
        assert "cannot reach the schema registry at http://127.0.0.1:9" in result.output
        assert "Traceback" not in result.output


def test_registry_error_carries_code_and_message(live: tuple[Project, str]) -> None:
    p, url = live
    p.write()
    result = p.cli("check", "--registry", url.rsplit("/", 1)[0] + "/nope")
    assert result.exit_code == 1
    assert "the registry answered HTTP" in result.output
    assert "Traceback" not in result.output


def test_register_needs_a_url(project: Callable[..., Project], monkeypatch: Any) -> None:
    monkeypatch.delenv("ESGEN_REGISTRY_URL", raising=False)
    p = project()
    p.write()
    result = p.cli("register")
    assert result.exit_code == 2
    assert "--registry URL" in result.output


def test_lock_folder_untouched_by_register(live: tuple[Project, str]) -> None:
    p, url = live
    p.write()
    p.cli("register", "--registry", url, "--dry-run")
    assert not Path("schemas.lock").exists()


BREAK = ("      amount: long", "      amount: int")


def test_dry_run_runs_the_compatibility_rules(live: tuple[Project, str]) -> None:
    """Seen: `esgen register --dry-run` ran no compatibility check."""
    p, url = live
    p.write()
    assert p.cli("register", "--registry", url).exit_code == 0
    p.edit(*BREAK)
    dry = p.cli("register", "--registry", url, "--dry-run")
    assert dry.exit_code == 1, dry.output
    assert "[TYPE_CHANGED]" in dry.output
    assert f"vs {p.topic}-test.chk.Added v1" in dry.output
    assert "would register nothing: esgen's compatibility rules fail" in dry.output


def test_a_refusal_midway_registers_the_rest_and_says_which(live: tuple[Project, str]) -> None:
    """Seen: the real run stopped midway on the registry's raw 409 text, leaving later
    subjects unregistered. Here esgen accepts the break (acknowledged) but the registry
    enforces BACKWARD_TRANSITIVE: the other subjects are still registered and the report says
    exactly which subject was not, and why."""
    p, url = live
    p.write()
    assert p.cli("register", "--registry", url).exit_code == 0
    p.edit(*BREAK)
    p.edit("  Labelled:", "  Reset:\n    fold:\n      - set: {total: 0}\n  Labelled:")
    (p.root / "esgen-accept.yaml").write_text(
        "accept:\n  - {schema: test.chk.Added, rule: TYPE_CHANGED, reason: never written}\n"
    )
    result = p.cli("register", "--registry", url)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert f"NOT registered {p.topic}-test.chk.Added: the registry refused it" in result.output
    assert "BACKWARD_TRANSITIVE" in result.output
    assert f"registered {p.topic}-test.chk.Reset: version 1" in result.output
    assert f"1 of 5 subject(s) NOT registered: {p.topic}-test.chk.Added" in result.output
    registry = connect(url)
    assert len(registry.versions(f"{p.topic}-test.chk.Reset")) == 1  # after Added in the plan
    assert len(registry.versions(f"{p.topic}-test.chk.Added")) == 1


def test_an_old_version_is_reported_as_reused(live: tuple[Project, str]) -> None:
    """Seen: a re-registered old version was reported as "unchanged" and new events got the
    old id without a word."""
    p, url = live
    p.write()
    assert p.cli("register", "--registry", url).exit_code == 0
    subject = f"{p.topic}-test.chk.Added"
    registry = connect(url)
    [(_, v1)] = registry.versions(subject)
    v1_id, _ = registry.lookup(subject, v1) or (0, 0)
    note = "      amount: long\n      note: {type: string, default: ''}"
    p.edit("      amount: long", note)
    assert p.cli("register", "--registry", url).exit_code == 0
    p.edit(note, "      amount: long")  # back to the schema of version 1
    result = p.cli("register", "--registry", url)
    assert result.exit_code == 0, result.output
    assert f"unchanged {subject}" not in result.output
    assert (
        f"reused {subject}: today's schema is version 1 (id {v1_id}), not the latest "
        f"(version 2); the registry adds no version and new events are written with id {v1_id}"
    ) in result.output
    assert len(registry.versions(subject)) == 2


def test_a_change_an_upcast_reads_is_registered_at_level_none(
    live: tuple[Project, str],
) -> None:
    """The registry would refuse long -> decimal (HTTP 409) at BACKWARD_TRANSITIVE; the
    upcast reads the old versions, so register gives that subject level NONE and says so."""
    p, url = live
    p.write()
    assert p.cli("lock").exit_code == 0
    assert p.cli("register", "--registry", url).exit_code == 0
    p.edit(
        "    total: {type: long, default: 0}",
        '    total: {type: decimal(12,2), default: "0"}',
        "      amount: long",
        "      amount: decimal(10,2)",
    )
    with p.yaml.open("a") as f:
        f.write(
            "upcasts:\n  - from: Added@1\n    into:\n"
            '      - Added: {amount: "unscaled(event.amount, 2)"}\n'
        )
    p.generate()
    result = p.cli("register", "--registry", url)
    assert result.exit_code == 0, result.output
    subject = f"{p.topic}-test.chk.Added"
    assert f"registered {subject}: version 2" in result.output
    assert "level set to NONE" in result.output
    registry = connect(url)
    assert registry.effective_level(subject) == "NONE"
    assert registry.effective_level(f"{p.topic}-test.chk.Painted") == "BACKWARD_TRANSITIVE"
