"""Property tests: whatever a definition file holds, loading it gives a project or located
one-line errors, never another exception. Four classes of input from issue 9: malformed
YAML shapes and text, hostile names, numbers, nesting. Bounded to a few seconds in all;
definitions that load are also generated and compiled."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esgen.codegen import render_project
from esgen.dsl import load_project
from esgen.errors import DefinitionErrors

BASE: dict[str, Any] = yaml.safe_load("""\
entity: Account
namespace: com.example.bank
key: account_id
types:
  Money:
    fields:
      amount: decimal(18,2)
      currency: {type: string, default: EUR}
  Status:
    enum: [OPEN, CLOSED]
    default: OPEN
state:
  fields:
    account_id: string
    balance: {type: decimal(18,2), default: "0.00"}
    status: {type: Status, default: OPEN}
    tags: {type: array<string>, default: []}
    count: {type: long, default: 0}
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
""")
FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(text: str | bytes) -> None:
    """The property: a project, or DefinitionErrors of one line each at the file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.yaml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            project = load_project(Path(folder))
        except DefinitionErrors as exc:
            assert exc.errors
            for error in exc.errors:
                line = str(error)
                assert line.startswith(f"{path}:") and ": error: " in line, line
                assert line.isprintable(), line  # one line, escapes for the rest
            return
        for name, content in render_project(project, "fuzzed").items():
            if name.endswith(".py"):
                compile(content, name, "exec")


def dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


# ----------------------------------------------------------------- malformed YAML shapes

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
    st.sampled_from(["string", "long?", "event.x", "state.balance", "OPEN", "decimal(1,1)"]),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, (*prefix, index))
    return found


PATHS = _paths(BASE)[1:]


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(PATHS), _values), min_size=1, max_size=4))
def test_malformed_shapes(edits: list[tuple[tuple[Any, ...], Any]]) -> None:
    data = copy.deepcopy(BASE)
    for path, value in edits:
        parent: Any = data
        try:
            for step in path[:-1]:
                parent = parent[step]
            parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit replaced a container on the way
    check(dump(data))


_noise = st.one_of(
    st.sampled_from(["{", "}", "[", "]", ":", "- ", ",", "'", '"', "\t", "\n", "#", "&a", "*a",
                     "!!python/object", "<<", "?", "|", ">", "\x00", "\x1b", "\ud800", "\u2028",
                     "\\", "%YAML 1.1\n"]),
    st.text(max_size=3),
)  # fmt: skip


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 2000), _noise), min_size=1, max_size=5))
def test_malformed_text(insertions: list[tuple[int, str]]) -> None:
    text = dump(BASE)
    for position, noise in insertions:
        position %= len(text) + 1
        text = text[:position] + noise + text[position:]
    check(text)


@FUZZ
@given(st.binary(max_size=60))
def test_bytes_appended(data: bytes) -> None:
    check(dump(BASE).encode() + data)


# ------------------------------------------------------------------------ hostile names

_names = st.one_of(
    st.text(min_size=0, max_size=12),
    st.text(st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(["None", "class", "__init__", "_x", "ENTITY", "mro", "1abc", "a.b", "a b",
                     "x" * 300, "to_avro", "dataclasses", "Äpfel", "\u2028", "self", "event"]),
)  # fmt: skip
_NAME_SLOTS = [
    ("entity",),
    ("namespace",),
    ("key",),
    ("types", "Money"),
    ("types", "Status", "enum", 0),
    ("state", "fields", "count"),
    ("events", "MoneyDeposited"),
    ("events", "AccountTagged", "fields", "tag"),
    ("state", "fields", "balance", "aliases"),
]


def _rename(data: dict[str, Any], slot: tuple[Any, ...], name: str) -> None:
    parent: Any = data
    for step in slot[:-1]:
        parent = parent[step]
    last = slot[-1]
    if last == "aliases":
        parent["aliases"] = [name]
    elif isinstance(parent, dict) and last in parent and isinstance(parent[last], dict):
        parent[name] = parent.pop(last)  # a key: rename it
    else:
        parent[last] = name


@FUZZ
@given(st.sampled_from(_NAME_SLOTS), _names)
def test_hostile_names(slot: tuple[Any, ...], name: str) -> None:
    data = copy.deepcopy(BASE)
    _rename(data, slot, name)
    check(dump(data))


# ------------------------------------------------------------------------------ numbers

_number_text = st.one_of(
    st.integers().map(str),
    st.integers(10, 6000).map(lambda n: "9" * n),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e39", "-1e999", "1.0e+39", "0x" + "f" * 40, "0o777", "1_000",
                     "3.4028235e38", "-0", ".5", "1e-400", "2147483648", "9223372036854775808"]),
)  # fmt: skip
_TYPES = ["int", "long", "float", "double", "decimal(18,2)", "decimal(28,28)", "string",
          "timestamp-millis", "date", "time-micros", "uuid", "array<long>", "Status"]  # fmt: skip


@FUZZ
@given(st.sampled_from(_TYPES), _number_text, st.booleans())
def test_numbers_as_defaults(type_: str, number: str, quoted: bool) -> None:
    default = f'"{number}"' if quoted else number
    text = dump(BASE).replace(
        "    count:\n      type: long\n      default: 0\n",
        f"    count:\n      type: {type_}\n      default: {default}\n",
    )
    check(text)


@FUZZ
@given(_number_text, st.sampled_from(["+", "-", "*", "/", "//", "%"]), _number_text)
def test_numbers_in_expressions(left: str, op: str, right: str) -> None:
    data = copy.deepcopy(BASE)
    data["events"]["MoneyDeposited"]["fold"] = [{"add": {"count": f"{left} {op} {right}"}}]
    check(dump(data))


# ------------------------------------------------------------------------------ nesting


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 1200), st.sampled_from(["[", "{a: ", "- "]))
def test_nested_yaml(depth: int, opener: str) -> None:
    closer = {"[": "]", "{a: ": "}", "- ": ""}[opener]
    if opener == "- ":
        value = "".join("\n" + "  " * (i + 3) + "- " for i in range(depth)) + "x"
    else:
        value = opener * depth + "1" + closer * depth
    check(dump(BASE) + f"extra: {value}\n")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 600), st.sampled_from(["array<", "map<", "?"]))
def test_nested_types(depth: int, wrapper: str) -> None:
    text = "long" + "?" * depth if wrapper == "?" else wrapper * depth + "long" + ">" * depth
    data = copy.deepcopy(BASE)
    data["state"]["fields"]["deep"] = f"{text}?" if wrapper != "?" else text
    check(dump(data))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 700),
    st.sampled_from(["({})", "-{}", "not {}", "abs({})", "{} + 1", "1 if true else {}"]),
)
def test_nested_expressions(depth: int, shape: str) -> None:
    expr = "event.amount" if "not" not in shape else "true"
    for _ in range(depth):
        expr = shape.format(expr)
    data = copy.deepcopy(BASE)
    if "not" in shape:
        data["events"]["AccountTagged"]["fold"][0]["when"] = expr
    else:
        data["events"]["MoneyDeposited"]["fold"] = [{"add": {"balance": expr}}]
    check(dump(data))
