"""Acknowledged breaks: ``esgen-accept.yaml``, kept in the repository and reviewed like code.

Each entry names one schema (full name), optionally one path, exactly one rule id and a reason.
There is no wildcard and no switch that turns the check off: an accepted problem is still
printed (as ``accepted (REASON)``); it just no longer fails the run.

Lifecycle: an entry is needed while the break it names is found against the history. Once
the history holds the change (``esgen lock`` recorded a new topic, the ref compared with
includes the change) or the change was undone, the entry matches nothing: it is *stale*, and
``esgen check`` and ``esgen lock`` say so, with the fix (remove it), so acknowledgements never
outlive their break and silently cover a later one.

```yaml
accept:
  - schema: com.example.bank.MoneyDeposited
    path: com.example.bank.MoneyDeposited.amount   # optional; default: any path in the schema
    rule: TYPE_CHANGED
    reason: "ADR-12: no MoneyDeposited was ever written before the switch to cents"
```
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from esgen.check.findings import Finding
from esgen.errors import ConfigError, SourceError
from esgen.sources import read_text

ACCEPT_FILE = "esgen-accept.yaml"
_KEYS = {"schema", "path", "rule", "reason"}


@dataclass(frozen=True)
class Acceptance:
    schema: str
    path: str | None
    rule: str
    reason: str
    where: str  # "esgen-accept.yaml entry 2", for messages

    def stale(self, source: str, why: str = "") -> str:
        """The note for an entry that matches no problem against ``source``."""
        why = why or (
            f"it matches no problem against {source} (the history holds the change it "
            "acknowledged, or the change was undone)"
        )
        return f"{self.where} ({self.schema} {self.rule}) is stale now: {why}; remove the entry"

    def matches(self, finding: Finding) -> bool:
        return (
            finding.schema == self.schema
            and finding.rule == self.rule
            and (self.path is None or finding.path == self.path)
        )


def load_accepts(path: Path, known_rules: Iterable[str]) -> list[Acceptance]:
    """Read the accept file; a missing file means nothing is accepted."""
    if not path.is_file():
        return []
    try:
        data = yaml.safe_load(read_text(path))
    except SourceError as exc:
        raise ConfigError(str(exc)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:  # the reader's: a character YAML does not allow
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be an accept file") from None
    except ValueError:  # a number longer than Python converts
        raise ConfigError(f"{path}: holds a number with more than 4300 digits") from None
    if data is None:
        return []
    if (
        not isinstance(data, dict)
        or set(data) != {"accept"}
        or not isinstance(data["accept"], list | None)
    ):
        raise ConfigError(f"{path}: expected one top-level key `accept:` holding a list")
    rules = set(known_rules)
    result: list[Acceptance] = []
    for number, entry in enumerate(data["accept"] or [], start=1):
        where = f"{path} entry {number}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping with schema, rule and reason")
        unknown = set(entry) - _KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        for key in ("schema", "rule", "reason"):
            value = entry.get(key)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{where}: `{key}` is required (a non-empty string)")
        if entry["rule"] not in rules:
            raise ConfigError(
                f"{where}: unknown rule {entry['rule']!r}; accept one rule id at a time "
                "(see docs/compatibility.md)"
            )
        entry_path = entry.get("path")
        if entry_path is not None and not isinstance(entry_path, str):
            raise ConfigError(f"{where}: `path` must be a string")
        result.append(
            Acceptance(entry["schema"], entry_path, entry["rule"], entry["reason"].strip(), where)
        )
    return result


def apply_accepts(
    findings: Sequence[Finding], accepts: Sequence[Acceptance]
) -> tuple[list[Finding], list[Acceptance]]:
    """Mark accepted findings; return them with the entries that matched nothing."""
    used: set[int] = set()
    out: list[Finding] = []
    for finding in findings:
        for i, acceptance in enumerate(accepts):
            if acceptance.matches(finding):
                used.add(i)
                finding = finding.accept(acceptance.reason)
                break
        out.append(finding)
    return out, [a for i, a in enumerate(accepts) if i not in used]
