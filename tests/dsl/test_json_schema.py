# ruff: noqa: E501  (the tables of mistakes below are one row per mistake)
"""The editor schema (esgen/definition.schema.json): generated from the loader's tables and
current, accepts every valid definition we have, and catches what a schema can of the
mistakes ``esgen validate`` reports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from esgen.dsl import load_project
from esgen.dsl.editor_schema import SCHEMA_PATH, schema_text
from esgen.errors import DefinitionErrors

ROOT = Path(__file__).parents[2]
SCHEMA = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)


class _Yaml12Loader(yaml.SafeLoader):
    """Reads scalars as yaml-language-server does (YAML 1.2: no timestamps, no yes/no)."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if not tag.endswith(("timestamp", "bool"))]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf")
)


def _load(text: str) -> Any:
    return yaml.load(text, Loader=_Yaml12Loader)  # a SafeLoader subclass


def _schema_errors(text: str) -> list[str]:
    return [e.message for e in VALIDATOR.iter_errors(_load(text))]


def test_the_committed_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text() == schema_text(), "run: python -m esgen.dsl.editor_schema"


def test_schema_is_valid_draft_07() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)


def _valid_definitions() -> list[Path]:
    return sorted(ROOT.glob("schemas/**/*.yaml"))


@pytest.mark.parametrize("path", _valid_definitions(), ids=lambda p: p.name)
def test_examples_validate(path: Path) -> None:
    assert path.read_text().startswith(
        "# yaml-language-server: $schema=../../esgen/definition.schema.json\n"
    )
    assert _schema_errors(path.read_text()) == []


def test_doc_examples_validate() -> None:
    doc = (ROOT / "docs" / "definitions.md").read_text()
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", doc, re.S) if "\nentity:" in b]
    assert blocks
    for block in blocks:
        assert _schema_errors(block) == [], block


# A valid definition; each mistake below is one edit of it.
BASE = """\
entity: Account
namespace: com.example.bank
key: account_id
topic: bank.accounts
compatibility: BACKWARD_TRANSITIVE
types:
  Money:
    fields:
      amount: decimal(18,2)
      currency: {type: string, default: EUR}
  Status:
    enum: [OPEN, CLOSED]
    default: OPEN
  Digest:
    fixed: 16
state:
  fields:
    account_id: string
    balance: {type: decimal(18,2), default: "0.00"}
    status: {type: Status, default: OPEN}
    tags: {type: array<string>, default: []}
    limits: {type: map<long>, default: {}}
    count: {type: int, default: 0}
    opened: {type: boolean, default: false}
    closed_at: timestamp-millis?
  invariants:
    - state.balance >= 0
events:
  MoneyDeposited:
    fields:
      amount: decimal(18,2)
    fold:
      - add: {balance: event.amount}
  AccountTagged:
    fields: {tag: string}
    fold:
      - append: {tags: event.tag}
        when: event.tag not in state.tags
  LimitSet:
    fields: {name: string, value: long}
    fold:
      - put: {limits: {key: event.name, value: event.value}}
  AccountClosed:
    fold:
      - set: {status: CLOSED, closed_at: meta.timestamp}
      - call: "rules.bank:closed"
"""

# (what, old text, new text): what a JSON Schema can catch
CAUGHT = [
    ("unknown top-level key", "namespace:", "namepsace:"),
    ("missing entity", "entity: Account\n", ""),
    ("missing key", "key: account_id\n", ""),
    ("missing state", "state:\n  fields:", "stat:\n  fields:"),
    ("entity not PascalCase", "entity: Account", "entity: account"),
    ("entity a keyword", "entity: Account", "entity: None"),
    ("namespace with a dash", "namespace: com.example.bank", "namespace: com.example-bank"),
    ("key not snake_case", "key: account_id", "key: AccountId"),
    ("topic with a space", "topic: bank.accounts", "topic: bank accounts"),
    ("topic too long", "topic: bank.accounts", "topic: " + "t" * 250),
    ("unknown compatibility", "compatibility: BACKWARD_TRANSITIVE", "compatibility: BACKWARDS"),
    ("type name not PascalCase", "  Money:\n", "  money:\n"),
    ("type with fields and enum", "    enum: [OPEN, CLOSED]", "    enum: [OPEN, CLOSED]\n    fields: {}"),
    ("empty enum", "enum: [OPEN, CLOSED]", "enum: []"),
    ("duplicate enum symbol", "enum: [OPEN, CLOSED]", "enum: [OPEN, OPEN]"),
    ("enum symbol starting with _", "enum: [OPEN, CLOSED]", "enum: [_OPEN, CLOSED]"),
    ("enum symbol a keyword", "enum: [OPEN, CLOSED]", "enum: [OPEN, class]"),
    ("fixed size 0", "fixed: 16", "fixed: 0"),
    ("fixed size not a number", "fixed: 16", "fixed: sixteen"),
    ("field name camelCase", "    account_id: string\n", "    account_id: string\n    closedBy: string?\n"),
    ("field name a keyword", "    account_id: string\n", "    account_id: string\n    from: string?\n"),
    ("unknown field key", "{type: string, default: EUR}", "{type: string, defualt: EUR}"),
    ("unknown type", "tag: string}", "tag: strng}"),
    ("malformed decimal", "      amount: decimal(18,2)\n    fold", "      amount: decimal(18)\n    fold"),
    ("decimal precision over 28", "      amount: decimal(18,2)\n    fold", "      amount: decimal(38,2)\n    fold"),
    ("two question marks", "closed_at: timestamp-millis?", "closed_at: timestamp-millis??"),
    ("decimal default as a number", 'default: "0.00"}', "default: 0.00}"),
    ("int default as text", "{type: int, default: 0}", "{type: int, default: zero}"),
    ("boolean default as text", "{type: boolean, default: false}", '{type: boolean, default: "no"}'),
    ("array default as a mapping", "{type: array<string>, default: []}", "{type: array<string>, default: {}}"),
    ("null default of a required type", "{type: int, default: 0}", "{type: int, default: null}"),
    ("state without fields", "state:\n  fields:", "state:\n  doc: x\n  fieldz:"),
    ("invariants not a list", "  invariants:\n    - state.balance >= 0", "  invariants: {a: 1}"),
    ("event name not PascalCase", "  AccountClosed:", "  account_closed:"),
    ("unknown event key", "    fields: {tag: string}", "    fields: {tag: string}\n    folds: []"),
    ("fold not a list", "      - add: {balance: event.amount}", "        add: {balance: event.amount}"),
    ("two operations in one step", "- add: {balance: event.amount}", "- add: {balance: event.amount}\n        set: {count: 1}"),
    ("unknown fold operation", "- add: {balance: event.amount}", "- increase: {balance: event.amount}"),
    ("step without a field", "- add: {balance: event.amount}", "- add: {}"),
    ("put without a value", "{key: event.name, value: event.value}", "{key: event.name}"),
    ("call without a module", '"rules.bank:closed"', '"closed"'),
    ("expression as a mapping", "- add: {balance: event.amount}", "- add: {balance: {x: 1}}"),
    ("aliases not a list", "{type: string, default: EUR}", "{type: string, default: EUR, aliases: old}"),
]  # fmt: skip

# Mistakes only ``esgen validate`` can see (names across files, expressions, semantics).
VALIDATE_ONLY = [
    ("key not a state field", "key: account_id", "key: account"),
    ("state field without a default", "    count: {type: int, default: 0}", "    count: int"),
    ("enum default not a symbol", "    default: OPEN\n  Digest", "    default: SHUT\n  Digest"),
    ("unknown field in an expression", "event.amount}", "event.amout}"),
    ("type mismatch in a step", "- add: {balance: event.amount}", "- add: {balance: event.tag}"),
    ("unknown type name", "{type: Status, default: OPEN}", "{type: Statuz, default: OPEN}"),
    ("decimal default too precise", 'default: "0.00"}', 'default: "0.001"}'),
    ("int default out of range", "{type: int, default: 0}", "{type: int, default: 3000000000}"),
    ("invalid expression", "when: event.tag not in state.tags", "when: event.tag not in"),
    ("event named like a type", "  AccountClosed:", "  Money:"),
]


def _apply(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


def _validate_errors(text: str, tmp_path: Path) -> list[str]:
    (tmp_path / "account.yaml").write_text(text)
    try:
        load_project(tmp_path)
    except DefinitionErrors as exc:
        return [str(e) for e in exc.errors]
    return []


def test_the_base_definition_is_valid(tmp_path: Path) -> None:
    assert _validate_errors(BASE, tmp_path) == []
    assert _schema_errors(BASE) == []


@pytest.mark.parametrize(("what", "old", "new"), CAUGHT, ids=[c[0] for c in CAUGHT])
def test_a_mistake_the_schema_catches(what: str, old: str, new: str, tmp_path: Path) -> None:
    text = _apply(old, new)
    assert _validate_errors(text, tmp_path), f"validate accepts: {what}"
    assert _schema_errors(text), f"the editor schema accepts: {what}"


@pytest.mark.parametrize(("what", "old", "new"), VALIDATE_ONLY, ids=[c[0] for c in VALIDATE_ONLY])
def test_a_mistake_only_validate_catches(what: str, old: str, new: str, tmp_path: Path) -> None:
    text = _apply(old, new)
    assert _validate_errors(text, tmp_path), f"validate accepts: {what}"
    assert _schema_errors(text) == [], f"now caught by the schema too, move it: {what}"


def test_the_share_caught() -> None:
    """For the docs: of the mistakes above, how many the schema catches."""
    assert (len(CAUGHT), len(CAUGHT) + len(VALIDATE_ONLY)) == (43, 53)


_PLAIN = st.sampled_from(
    ["boolean", "int", "long", "float", "double", "string", "bytes", "uuid", "date",
     "time-millis", "timestamp-micros", "local-timestamp-millis", "decimal(18,2)",
     "decimal( 28 , 0 )", "Money", "com.example.Money"]
)  # fmt: skip
_TYPES = st.recursive(
    _PLAIN,
    lambda inner: st.one_of(
        inner.map(lambda t: f"array<{t}>"),
        inner.map(lambda t: f"map< {t} >"),
        inner.filter(lambda t: not t.endswith("?")).map(lambda t: f"{t}?"),
    ),
    max_leaves=1,
)
_TYPE_PATTERN = re.compile(SCHEMA["definitions"]["typeString"]["pattern"])


@settings(max_examples=300, deadline=None)
@given(_TYPES)
def test_every_valid_type_matches_the_type_pattern(text: str) -> None:
    assert _TYPE_PATTERN.match(text), text
