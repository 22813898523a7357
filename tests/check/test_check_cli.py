"""``esgen check`` / ``esgen lock`` from the command line: sources, formats, acceptances."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.check.esgen_project import Project

BREAK = ("      amount: long", "      amount: int")  # long -> int: old events do not fit


def broken(p: Project) -> None:
    p.edit(*BREAK)


def test_lock_appends_only_changes(project: Callable[..., Project]) -> None:
    p = project()
    p.write()
    first = p.cli("lock")
    assert first.exit_code == 0, first.output
    assert "appended schemas.lock/test.things-test.chk.Added/v1.avsc" in first.output
    again = p.cli("lock")
    assert "nothing to append" in again.output
    p.edit("      amount: long", "      amount: long\n      note: {type: string, default: ''}")
    third = p.cli("lock")
    assert third.exit_code == 0, third.output
    assert third.output.count("appended schemas.lock/") == 1
    v1 = (p.root / "schemas.lock/test.things-test.chk.Added/v1.avsc").read_text()
    assert "note" not in v1  # history is never rewritten
    assert "note" in (p.root / "schemas.lock/test.things-test.chk.Added/v2.avsc").read_text()
    index = json.loads((p.root / "schemas.lock/index.json").read_text())
    assert index["subjects"]["test.things-test.chk.Added"]["versions"] == ["v1.avsc", "v2.avsc"]


def test_lock_refuses_a_break_and_dry_run_writes_nothing(
    project: Callable[..., Project],
) -> None:
    p = project()
    p.write()
    assert p.cli("lock", "--dry-run").exit_code == 0
    assert not (p.root / "schemas.lock").exists()
    assert p.cli("lock").exit_code == 0
    broken(p)
    refused = p.cli("lock")
    assert refused.exit_code == 1
    assert "refusing to lock" in refused.output
    assert not (p.root / "schemas.lock/test.things-test.chk.Added/v2.avsc").exists()


def test_check_against_lock_text(project: Callable[..., Project]) -> None:
    p = project()
    p.write()
    p.cli("lock")
    assert p.cli("check").exit_code == 0
    broken(p)
    result = p.cli("check")  # the lock folder of [tool.esgen] is the default source
    assert result.exit_code == 1
    line = p.line_of("amount: int")
    assert f"schemas/thing.yaml:{line}:7: error: test.chk.Added: `test.chk.Added.amount`" in (
        result.output
    )
    assert "[TYPE_CHANGED]" in result.output
    assert "BACKWARD_TRANSITIVE" in result.output
    assert "vs test.things-test.chk.Added v1" in result.output
    assert "1 problem(s), 0 accepted: FAILED" in result.output


def test_check_json_and_github_formats(project: Callable[..., Project]) -> None:
    p = project()
    p.write()
    p.cli("lock")
    broken(p)
    line = p.line_of("amount: int")
    data = json.loads(p.cli("check", "--format", "json").output)
    assert data["ok"] is False
    (problem,) = data["problems"]
    assert problem["file"] == "schemas/thing.yaml"
    assert (problem["line"], problem["column"]) == (line, 7)
    assert problem["rule"] == "TYPE_CHANGED"
    assert problem["subject"] == "test.things-test.chk.Added"
    assert problem["accepted"] is False
    github = p.cli("check", "--format", "github")
    assert github.exit_code == 1
    first = github.output.splitlines()[0]
    assert first.startswith(
        f"::error file=schemas/thing.yaml,line={line},col=7,title=esgen TYPE_CHANGED::"
    )
    assert "test.chk.Added" in first


def test_accepted_break_is_printed_not_hidden(project: Callable[..., Project]) -> None:
    p = project()
    p.write()
    p.cli("lock")
    broken(p)
    (p.root / "esgen-accept.yaml").write_text(
        "accept:\n"
        "  - schema: test.chk.Added\n"
        "    path: test.chk.Added.amount\n"
        "    rule: TYPE_CHANGED\n"
        "    reason: no Added event was ever written\n"
    )
    result = p.cli("check")
    assert result.exit_code == 0, result.output
    assert "accepted (no Added event was ever written)" in result.output
    assert "0 problem(s), 1 accepted: OK" in result.output
    github = p.cli("check", "--format", "github")
    assert github.output.startswith("::notice file=schemas/thing.yaml")
    # Accepting one rule accepts nothing else.
    p.edit("  Painted:", "  Painted2:")
    worse = p.cli("check")
    assert worse.exit_code == 1
    assert "EVENT_TYPE_REMOVED" in worse.output


def test_unused_and_invalid_accepts(project: Callable[..., Project]) -> None:
    p = project()
    p.write()
    p.cli("lock")
    accept = p.root / "esgen-accept.yaml"
    accept.write_text(
        "accept:\n  - schema: test.chk.Added\n    rule: TYPE_CHANGED\n    reason: old\n"
    )
    result = p.cli("check")
    assert result.exit_code == 0
    assert "is stale now: it matches no problem against lock schemas.lock" in result.output
    assert "remove the entry" in result.output
    accept.write_text("accept:\n  - schema: test.chk.Added\n    rule: TYPE_CHANGED\n")
    missing_reason = p.cli("check")
    assert missing_reason.exit_code == 2
    assert "`reason` is required" in missing_reason.output
    accept.write_text("accept:\n  - schema: test.chk.Added\n    rule: '*'\n    reason: all\n")
    wildcard = p.cli("check")
    assert wildcard.exit_code == 2
    assert "unknown rule '*'" in wildcard.output


def test_check_against_git_ref(project: Callable[..., Project]) -> None:
    p = project()
    p.write()
    p.git("init", "-q", "-b", "main")
    p.git("config", "user.email", "t@example.com")
    p.git("config", "user.name", "t")
    p.git("add", "-A")
    p.git("commit", "-qm", "v1")
    broken(p)
    p.edit("topic: test.things", "topic: test.things2")
    p.git("commit", "-qam", "v2")
    result = p.cli("check", "--against", "HEAD~1")
    assert result.exit_code == 1, result.output
    assert "[TYPE_CHANGED]" in result.output
    assert "(vs HEAD~1)" in result.output
    assert "[ENTITY_TOPIC_CHANGED]" in result.output  # from the definitions at the ref
    assert f"schemas/thing.yaml:{p.line_of('topic:')}:1" in result.output
    assert p.cli("check", "--against", "HEAD").exit_code == 0
    bad_ref = p.cli("check", "--against", "nope")
    assert bad_ref.exit_code == 2
    assert "git ref 'nope' does not exist" in bad_ref.output


def test_same_explanation_from_lock_and_git(project: Callable[..., Project]) -> None:
    p = project()
    p.write()
    p.git("init", "-q", "-b", "main")
    p.git("-c", "user.email=t@e", "-c", "user.name=t", "add", "-A")
    p.git("-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qm", "v1")
    p.cli("lock")
    broken(p)
    by_lock = json.loads(p.cli("check", "--format", "json").output)["problems"]
    by_git = json.loads(p.cli("check", "--against", "main", "--format", "json").output)["problems"]
    strip = [{k: v for k, v in d.items() if k != "versus"} for d in by_lock]
    assert strip == [{k: v for k, v in d.items() if k != "versus"} for d in by_git]


def test_check_needs_a_source(project: Callable[..., Project]) -> None:
    p = project()
    p.write()
    result = p.cli("check")
    assert result.exit_code == 2
    assert "nothing to check against" in result.output
    both = p.cli("check", "--against", "main", "--lock", "x")
    assert both.exit_code == 2
