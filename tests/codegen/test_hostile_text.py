"""Text from a definition or a flag never becomes code in a generated module.

Docs, string defaults and the package reach Python source only through
``esgen.codegen.source``; these are the attacks and accidents that used to get through.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from esgen.cli import main
from esgen.codegen import _only_code, render_project, write_files
from esgen.codegen.source import Code, docstring, identifier, string
from esgen.dsl import load_project
from esgen.runtime import CommandRejected

PAYLOAD = ";import pathlib;pathlib.Path('pwned').touch()#"


def shown(text: str) -> str:
    """A docstring shows a lone surrogate as its escape (a class docstring cannot hold it)."""
    return re.sub("[\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", text)


def _generate(tmp_path: Path, definition: dict[str, object], package: str) -> object:
    """Write ``definition``, generate it into ``package`` under ``tmp_path``, import it."""
    folder = tmp_path / "schemas"
    folder.mkdir(exist_ok=True)
    (folder / "note.yaml").write_text(yaml.safe_dump(definition, allow_unicode=False))
    files = render_project(load_project(folder), package)
    write_files(tmp_path / package, files)
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module(f"{package}.note")
    finally:
        sys.path.remove(str(tmp_path))


def _note(doc: str, field_doc: str, default: str = "") -> dict[str, object]:
    return {
        "entity": "Note",
        "namespace": "test.hostile",
        "doc": doc,
        "key": "note_id",
        "types": {
            "Text": {"doc": doc, "fields": {"text": {"type": "string", "doc": field_doc}}},
        },
        "state": {
            "doc": field_doc,
            "fields": {
                "note_id": "string",
                "body": {"type": "string", "default": default, "doc": field_doc},
            },
        },
        "events": {"Written": {"doc": doc, "fields": {"body": "string"}}},
    }


HOSTILE_DOCS = [
    ("x\\", PAYLOAD),  # a doc ending in a backslash escaped the closing quotes
    ('say "', PAYLOAD),
    ('"""', f'"""{PAYLOAD}'),
    ("\\N{", "\\x41 \\u0041 \\"),
    ("nul \x00 and \x1b[31m red", "tab\there"),
    ("line\u2028separator\x85next", "para\u2029graph"),
    ("bidi \u202e reversed \u2066", "zero\u200bwidth"),
]
# Lone surrogates never get this far: validation refuses them where they are written
# (tests/dsl/test_hostile_inputs.py); esgen.codegen.source still escapes them.


@pytest.mark.parametrize(("doc", "field_doc"), HOSTILE_DOCS)
def test_hostile_docs_stay_docs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, doc: str, field_doc: str
) -> None:
    monkeypatch.chdir(tmp_path)
    package = f"gen_hostile_{abs(hash((doc, field_doc)))}"
    module = _generate(tmp_path, _note(doc, field_doc, default=PAYLOAD), package)
    assert not (tmp_path / "pwned").exists(), "a doc ran as code"
    assert module.Text.__doc__ is not None  # type: ignore[attr-defined]
    assert inspect.cleandoc(module.Text.__doc__).split() == doc.split()  # type: ignore[attr-defined]
    state = module.initial_state("n-1")  # type: ignore[attr-defined]
    assert state.body == PAYLOAD  # the default is the text, not code
    source = (tmp_path / package / "note.py").read_text(encoding="utf-8")
    for line in source.splitlines():
        assert PAYLOAD not in line or line.strip().startswith(('"', "'", "body")), line


def test_the_package_cannot_be_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "note.yaml").write_text(yaml.safe_dump(_note("doc", "doc")))
    for package in ("x; import os", "x\nimport os", "generated.", "class", "1st", "a-b"):
        result = CliRunner().invoke(main, ["generate", "--output", "out", "--package", package])
        assert result.exit_code == 2, result.output
        assert "is not a dotted Python module name" in result.output
    with pytest.raises(ValueError, match="not a Python identifier"):
        render_project(load_project(tmp_path / "schemas"), "x; import os")
    assert not (tmp_path / "out").exists()


def test_a_package_from_the_settings_is_checked_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "note.yaml").write_text(yaml.safe_dump(_note("doc", "doc")))
    (tmp_path / "pyproject.toml").write_text('[tool.esgen]\npackage = "gen;import os"\n')
    result = CliRunner().invoke(main, ["generate"])
    assert result.exit_code == 2, result.output
    assert "[tool.esgen]: package 'gen;import os' is not a Python import name" in result.output


def test_an_output_folder_that_cannot_be_written_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "note.yaml").write_text(yaml.safe_dump(_note("doc", "doc")))
    (tmp_path / "a-file").write_text("")
    result = CliRunner().invoke(main, ["generate", "--output", "a-file/out", "--package", "gen"])
    assert result.exit_code == 2, result.output
    assert "cannot write the output folder" in result.output
    assert "internal error" not in result.output


def test_templates_print_only_escaped_code() -> None:
    with pytest.raises(TypeError, match=r"did not go through esgen\.codegen\.source"):
        _only_code("print('hi')")
    assert _only_code(Code("x")) == "x"
    for bad in ("a b", "1a", "class", "a.b", "é"):
        with pytest.raises(ValueError, match="not a Python identifier"):
            identifier(bad)


TEXTS = [
    "",
    "plain",
    "\\",
    '"',
    "'",
    '"\'"',
    "\\N{BULLET}",
    "\x00\x01\x1f\x7f\x80\x9f",
    "\u2028\u2029\x85\x0b\x0c\x1c\x1d\x1e\r\n",
    "\udc80\ud800",
    "\U0001f600 e\u0301",
    "\u202e\u2066\u200b",
]


@pytest.mark.parametrize("text", TEXTS)
def test_string_literals_round_trip(text: str) -> None:
    literal = string(text)
    assert ast.literal_eval(literal) == text
    assert literal.isprintable() and "\n" not in literal
    literal.encode("utf-8")  # the module stays valid UTF-8


@pytest.mark.parametrize("text", [t for t in TEXTS if t.split()])
def test_docstrings_keep_the_words(text: str) -> None:
    source = f"def f() -> None:\n    {docstring(text, 1)}\n"
    namespace: dict[str, object] = {}
    exec(compile(source, "doc", "exec"), namespace)  # the point of the test
    doc = namespace["f"].__doc__  # type: ignore[attr-defined]
    assert inspect.cleandoc(doc).split() == shown(text).split()
    source.encode("utf-8")


HOSTILE_REASONS = [
    "x\\",  # a reason ending in a backslash would escape its closing quote
    f'")\n{PAYLOAD}',
    '"""',
    "\\N{",
    "nul \x00, line\u2028separator, tab\t",
    "a reason long enough that its string literal cannot fit on one line of the decide "
    "function, so it is split into implicitly concatenated parts",
]


@pytest.mark.parametrize("reason", HOSTILE_REASONS)
def test_precondition_reasons_stay_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reason: str
) -> None:
    """A reason becomes a string literal of the decide function: the rejection carries
    exactly the text, and nothing of it runs."""
    monkeypatch.chdir(tmp_path)
    definition = _note(f"doc {reason}", f"field {reason}")
    definition["commands"] = {
        "Write": {
            "doc": reason,
            "fields": {"body": "string"},
            "requires": [{"check": "command.body != ''", "reason": reason}],
            "emits": [{"Written": {"body": "command.body"}}],
        }
    }
    package = f"gen_reason_{abs(hash(reason))}"
    module: Any = _generate(tmp_path, definition, package)
    assert not (tmp_path / "pwned").exists(), "a reason ran as code"
    state = module.initial_state("n-1")
    assert module.decide(state, module.Write(body="hi")) == [module.Written(body="hi")]
    with pytest.raises(CommandRejected) as caught:
        module.decide(state, module.Write(body=""))
    assert caught.value.reason == reason
    assert inspect.cleandoc(module.Write.__doc__).split() == reason.split()
