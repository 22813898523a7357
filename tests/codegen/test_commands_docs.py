"""The commands example of docs/definitions.md generates a module whose commands do what
the page says."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from esgen.codegen import render_project, write_files
from esgen.dsl import load_project
from esgen.runtime import EsgenError
from esgen.runtime.testing import given

DOC = Path(__file__).parents[2] / "docs" / "definitions.md"
RULES = """
from esgen.runtime import CommandRejected


def reshelve(state, command, meta):
    from docs_gen.library.book import BookReturned, Shelf

    if state.shelf is not Shelf.LOST:
        raise CommandRejected("the book is not lost")
    return [BookReturned()]
"""


@pytest.fixture
def book(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    section = DOC.read_text().split("## Commands", 1)[1]
    block = re.findall(r"```yaml\n(.*?)```", section, re.S)[0]
    (tmp_path / "schemas" / "library").mkdir(parents=True)
    (tmp_path / "schemas" / "library" / "book.yaml").write_text(block)
    files = render_project(load_project(tmp_path / "schemas"), "docs_gen")
    write_files(tmp_path / "docs_gen", files)
    (tmp_path / "library_rules").mkdir()
    (tmp_path / "library_rules" / "__init__.py").write_text("")
    (tmp_path / "library_rules" / "books.py").write_text(RULES)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith(("docs_gen", "library_rules"))]:
        monkeypatch.delitem(sys.modules, name)
    return importlib.import_module("docs_gen.library.book")


def test_the_commands_of_the_example_decide_as_documented(book: Any) -> None:
    new = given(book.ENTITY, entity_id="isbn-1")
    new.when(book.AcquireBook(title="Dune")).then(events=[book.BookAcquired(title="Dune")])
    new.when(book.LendBook(member="ann")).then_rejected("the library has no such book")
    shelved = given(book.ENTITY, book.BookAcquired(title="Dune"), entity_id="isbn-1")
    shelved.when(book.AcquireBook(title="Dune")).then_rejected("the library has this book already")
    shelved.when(book.LendBook(member="")).then_rejected("len(command.member) > 0")
    lent = shelved.when(book.LendBook(member="ann")).then(events=[book.BookLent(member="ann")])
    assert (lent.state.shelf, lent.state.times_lent) == (book.Shelf.LENT, 1)
    out = given(book.ENTITY, book.BookAcquired(title="Dune"), book.BookLent(member="ann"))
    out.when(book.LendBook(member="bob")).then_rejected("the book is not on the shelf")
    out.when(book.ReturnBook(member="bob")).then_rejected("the member does not have it")
    out.when(book.ReturnBook(member="ann")).then(events=[book.BookReturned()])
    out.when(book.Inventory()).then(events=[book.BookLost()])
    shelved.when(book.Inventory()).then(events=[])
    shelved.when(book.Reshelve()).then_rejected("the book is not lost")
    lost = given(book.ENTITY, book.BookAcquired(title="Dune"), book.BookLost())
    lost.when(book.Reshelve()).then(events=[book.BookReturned()])


def test_decide_without_meta_refuses_rules_that_read_it(book: Any) -> None:
    state = book.initial_state("isbn-1")
    assert book.decide(state, book.Inventory()) == []
    with pytest.raises(EsgenError, match="deciding AcquireBook needs its CommandMeta"):
        book.decide(state, book.AcquireBook(title="Dune"))
