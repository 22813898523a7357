"""The layout is what ``ruff format`` writes: random statements of the shapes the
generator produces (long names, deep expressions), docstrings and string literals of
hostile text, each batch checked with one ``ruff format --check`` run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esgen.codegen import layout
from esgen.codegen import pycode as py
from esgen.codegen.source import Code, docstring, string

# Python precedence of what the expression renderer emits (higher binds tighter).
_OR, _AND, _NOT, _COMPARE, _ADD, _MUL, _UNARY, _ATOM = 1, 2, 3, 4, 7, 8, 9, 10
_IF = 0.5

_names = st.one_of(
    st.sampled_from(["a", "state.x", "event.value", "meta.version", "event.item.unit_price"]),
    st.integers(1, 45).map(lambda n: "state." + "y" * n),
    st.integers(1, 40).map(lambda n: "event.f" + "z" * n),
)
_atoms = st.one_of(
    _names.map(lambda n: (py.Atom(Code(n)), _ATOM)),
    st.integers(0, 10**12).map(lambda n: (py.Atom(Code(str(n))), _ATOM)),
    st.text("abc ", max_size=40).map(lambda s: (py.Atom(string(s)), _ATOM)),
)
# Long user text, where the generator puts it: a value, a dict value, a call argument.
_texts = st.text("ab \"'\\\x00é", max_size=200).map(py.Text)


def _wrap(part: tuple[py.Expr, float], at_least: float) -> py.Expr:
    expr, precedence = part
    return expr if precedence >= at_least else py.Paren(expr)


def _extend(
    children: st.SearchStrategy[tuple[py.Expr, float]],
) -> st.SearchStrategy[tuple[py.Expr, float]]:
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "//", "%"]), children).map(
        lambda t: (
            py.BinOp(
                _wrap(t[0], _ADD if t[1] in "+-" else _MUL),
                t[1],
                _wrap(t[2], (_ADD if t[1] in "+-" else _MUL) + 1),
            ),
            _ADD if t[1] in "+-" else _MUL,
        )
    )
    compare = st.tuples(
        children,
        st.lists(
            st.tuples(st.sampled_from(["==", "<", "in", "not in"]), children),
            min_size=1,
            max_size=2,
        ),
    ).map(
        lambda t: (
            py.Compare(
                _wrap(t[0], _COMPARE + 1),
                tuple(op for op, _ in t[1]),
                tuple(_wrap(c, _COMPARE + 1) for _, c in t[1]),
            ),
            _COMPARE,
        )
    )
    boolean = st.tuples(
        st.sampled_from(["and", "or"]), st.lists(children, min_size=2, max_size=3)
    ).map(
        lambda t: (
            py.BoolOp(t[0], tuple(_wrap(v, (_AND if t[0] == "and" else _OR) + 1) for v in t[1])),
            _AND if t[0] == "and" else _OR,
        )
    )
    unary = st.tuples(st.sampled_from(["not", "-"]), children).map(
        lambda t: (
            py.UnaryOp(t[0], _wrap(t[1], _NOT if t[0] == "not" else _UNARY)),
            _NOT if t[0] == "not" else _UNARY,
        )
    )
    conditional = st.tuples(children, children, children).map(
        lambda t: (py.IfExp(_wrap(t[0], _OR), _wrap(t[1], _OR), _wrap(t[2], _IF)), _IF)
    )
    call = st.tuples(
        st.sampled_from(["len", "max", "abs", "decimal.Decimal", "dataclasses.replace", "f" * 25]),
        st.lists(children, min_size=1, max_size=3),
        st.booleans(),
    ).map(
        lambda t: (
            py.Call(
                py.Atom(Code(t[0])),
                (
                    *(e for e, _ in t[1][:-1]),
                    py.Keyword(Code("city"), t[1][-1][0]) if t[2] else t[1][-1][0],
                ),
            ),
            _ATOM,
        )
    )
    method = st.tuples(children, st.sampled_from(["lower", "upper", "quantize"])).map(
        lambda t: (
            py.Call(
                py.Attr(
                    py.Paren(t[0][0])
                    if t[0][1] < _ATOM
                    or (isinstance(t[0][0], py.Atom) and t[0][0].text[:1].isdigit())
                    else t[0][0],
                    Code(t[1]),
                ),
                (py.Atom(Code("_SCALE_2")),) if t[1] == "quantize" else (),
            ),
            _ATOM,
        )
    )
    containers = st.tuples(children, children).flatmap(
        lambda t: st.sampled_from(
            [
                (
                    py.Comprehension(
                        py.Atom(Code("item")),
                        Code("item"),
                        _wrap(t[0], 1),
                        py.Compare(py.Atom(Code("item")), ("!=",), (_wrap(t[1], _COMPARE + 1),)),
                    ),
                    _ATOM,
                ),
                (
                    py.DictExpr(
                        (py.Starred(_wrap(t[0], _ATOM), True), (py.Atom(Code("key")), t[1][0]))
                    ),
                    _ATOM,
                ),
                (py.ListExpr((py.Starred(_wrap(t[0], _ATOM)), t[1][0])), _ATOM),
            ]
        )
    )
    return st.one_of(binary, compare, boolean, unary, conditional, call, method, containers)


expressions = st.recursive(_atoms, _extend, max_leaves=12)
_targets = st.one_of(
    _names.map(lambda n: py.Atom(Code(n))),
    st.just(
        py.Subscript(py.Atom(Code("state.notes")), py.Call(py.Atom(Code("event.topic.lower"))))
    ),
)
statements = st.one_of(
    st.tuples(_targets, _texts).map(lambda t: py.Assign(t[0], t[1])),
    st.tuples(_texts, _texts).map(
        lambda t: py.Assign(
            py.Atom(Code("x")), py.DictExpr(((py.Text("doc"), t[0]), (py.Text("k"), t[1])))
        )
    ),
    st.tuples(_texts, expressions).map(
        lambda t: py.Raise(py.Call(py.Atom(Code("Error")), (py.Atom(Code('"A"')), t[0], t[1][0])))
    ),
    # a precondition's reason: the sole argument, held by the call's own parentheses
    _texts.map(lambda t: py.Raise(py.Call(py.Atom(Code("CommandRejected")), (t,)))),
    st.tuples(_targets, expressions).map(lambda t: py.Assign(t[0], t[1][0])),
    st.tuples(_targets, expressions).map(lambda t: py.Assign(t[0], t[1][0], op="+=")),
    expressions.map(
        lambda e: py.If(e[0], (py.Assign(py.Atom(Code("state.y")), py.Atom(Code("1"))),))
    ),
    expressions.map(lambda e: py.Return(e[0])),
    expressions.map(lambda e: py.ExprStmt(py.Call(py.Atom(Code("state.items.append")), (e[0],)))),
)


def _ruff_format_check(source: str, folder: Path) -> None:
    path = folder / "sample.py"
    path.write_text(source, encoding="utf-8")
    compile(source, str(path), "exec")
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--isolated", "--diff", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"ruff would reformat:\n{result.stdout[:4000]}"
    # parentheses ruff check would call extraneous (a long sole argument split in parts)
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "UP034", str(path)],
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout[:4000]


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(st.tuples(statements, st.integers(1, 3)), min_size=60, max_size=60))
def test_statements_are_laid_out_as_ruff_formats_them(
    tmp_path_factory: object, batch: list[tuple[py.Stmt, int]]
) -> None:
    chunks = []
    for number, (statement, depth) in enumerate(batch):
        guards = "".join("    " * d + "if x:\n" for d in range(1, depth))
        chunks.append(f"def f{number}():\n{guards}{layout.block([statement], depth)}\n")
    folder = tmp_path_factory.mktemp("layout")  # type: ignore[attr-defined]
    _ruff_format_check("\n\n".join(chunks), folder)


def _primaries(name: str) -> list[py.Expr]:
    """Primaries a unary operator is put on: attributes, calls with and without arguments,
    subscripts, and chains of them (where ruff splits the value or the target)."""
    base = py.Atom(Code(name))
    call = py.Call(py.Atom(Code(name + ".lower")))
    with_args = py.Call(py.Atom(Code(name + ".f")), (py.Atom(Code("xx")),))
    return [
        base,
        call,
        with_args,
        py.Subscript(base, py.Atom(Code("1"))),
        py.Subscript(call, py.Atom(Code("xx"))),
        py.Call(py.Attr(call, Code("strip"))),
        py.Call(py.Attr(with_args, Code("strip"))),
        py.Attr(py.Subscript(base, py.Atom(Code("1"))), Code("bxxxxxx")),
        # fluent chains (two or more ``.name`` after a call), which ruff parenthesizes
        py.Call(py.Attr(py.Call(py.Attr(call, Code("strip"))), Code("f")), (py.Atom(Code("xx")),)),
        py.Call(
            py.Attr(py.Call(py.Attr(with_args, Code("lower"))), Code("f")), (py.Atom(Code("xx")),)
        ),
    ]


def test_a_unary_value_of_a_subscript_assignment_splits_where_ruff_splits_it(
    tmp_path: Path,
) -> None:
    """Every primary under ``-``, ``not`` and ``not not``, at every length around the line
    limit: ruff splits inside the value's own brackets when they hold something and the
    first line fits, else it splits the target's subscript."""
    target = py.Subscript(
        py.Atom(Code("state.notes")), py.Call(py.Atom(Code("event.topic.lower")))
    )
    chunks = []
    for length in range(24, 56, 3):
        for primary in _primaries("state." + "y" * length):
            for ops in (("-",), ("not",), ("not", "not")):
                value: py.Expr = primary
                for op in reversed(ops):
                    value = py.UnaryOp(op, value)
                statement = py.Assign(target, value)
                chunks.append(f"def f{len(chunks)}():\n{layout.block([statement], 1)}\n")
    _ruff_format_check("\n\n".join(chunks), tmp_path)


_hostile = st.lists(
    st.sampled_from([*"ab \"'\\\n\t\x00\x85\u2028\udc80éN{}x\r\x0b\u202e", "  ", '"""', "word "]),
    min_size=1,
    max_size=40,
).map("".join)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_hostile, min_size=80, max_size=80))
def test_docstrings_and_strings_are_as_ruff_formats_them(
    tmp_path_factory: object, texts: list[str]
) -> None:
    chunks = []
    for number, text in enumerate(texts):
        doc = docstring(text, 1) if text.split() else '"""-"""'
        chunks.append(f"def f{number}() -> None:\n    {doc}\n    x = {string(text)}\n")
    folder = tmp_path_factory.mktemp("literals")  # type: ignore[attr-defined]
    _ruff_format_check("\n\n".join(chunks), folder)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=90),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=30), _json, min_size=1, max_size=4), st.integers(0, 3))
def test_the_schema_table_is_laid_out_as_the_generic_printer_does(
    entries: dict[str, object], depth: int
) -> None:
    """``table`` computes data literals directly (fast); it must say what the generic
    printer says for the same literal, exploded at the top."""
    generic = layout.block(
        [
            py.Assign(
                py.Atom(Code("TABLE: Final")),
                py.DictExpr(
                    tuple((py.Atom(string(k)), py.data(v)) for k, v in entries.items()),
                    explode=True,
                ),
            )
        ],
        depth,
    )
    assert layout.table("TABLE: Final = ", entries, depth) == generic


def test_function_headers_split_as_ruff_splits_them(tmp_path: Path) -> None:
    """Names, parameter lists and return types around every length where the header
    stops fitting on one line, then on three: the header is what ruff makes of it."""
    chunks = []
    for depth in (0, 1):
        for count in (1, 2, 3, 6):
            for length in range(4, 80, 5):
                name = Code("f" + "n" * length)
                parameters = [Code(f"p{i}: T{'y' * (length // 3)}") for i in range(count)]
                returns = Code("R" + "r" * (length // 2))
                header = layout.function_header(name, parameters, returns, depth)
                body = "    " * (depth + 1) + "pass"
                chunk = f"{header}\n{body}\n"
                if depth:
                    chunk = f"class C{len(chunks)}:\n{chunk}"
                chunks.append(chunk)
    _ruff_format_check("\n\n".join(chunks), tmp_path)
