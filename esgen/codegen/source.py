"""Python source built from user text, safely: the only way text reaches generated code.

Everything a definition, a flag or a setting says (docs, string defaults, names, the
package) ends up in a generated module through exactly one function per context:

=================  ===========================================================
``identifier``     a name: an ASCII Python identifier that is not a keyword
``dotted``         a dotted import path: identifiers joined by ``.``
``string``         a ``str`` literal
``bytes_literal``  a ``bytes`` literal
``docstring``      a docstring (triple-quoted, wrapped to the line length)
``comment``        a ``#`` comment on one line
=================  ===========================================================

Each returns :class:`Code`, and the template environment prints nothing else (see
``esgen.codegen.render``): a raw ``str`` that reaches a template is refused, so a new
template variable cannot forget to go through here.

Literals round-trip: ``ast.literal_eval(string(text)) == text`` for every ``str``,
including backslashes, quotes, ``\\N{...}``, NUL and other control characters, line
breaks Python or jinja would split on (U+2028, U+2029, U+0085, ``\\v``, ``\\f``...),
invisible and bidirectional formatting characters, and lone surrogates (escaped as
``\\udXXX``: the module stays valid UTF-8). A docstring keeps the words of its text;
a lone surrogate in it reads as its escape, ``\\udc80`` (CPython cannot hold one in a
class docstring). Every character that is not printable is
written as an escape; printable non-ASCII text is kept as written, so docs stay readable.
Each literal is parsed back and compared when it is made (a mismatch is a bug and raises
``AssertionError``), so a generated module can never hold code that came from data.

The literals are already in the form ``ruff format`` writes: double quotes unless the text
holds more double than single quotes, lower-case hex escapes, docstrings wrapped to the
line length with their closing quotes where ruff puts them.
"""

from __future__ import annotations

import ast
import inspect
import keyword
import re
import unicodedata

LINE_LENGTH = 88  # ruff's and black's default, so users' own settings rarely disagree
INDENT = "    "

_SIMPLE_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def width(text: str) -> int:
    """How many columns ``text`` takes, as ruff measures lines (East Asian wide and full
    width characters take two, combining marks none)."""
    if text.isascii():
        return len(text)
    total = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me"):
            continue
        total += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return total


class Code(str):
    """A fragment of Python source that came from this module or from the generator's own
    constant text. Templates print only values of this type."""

    __slots__ = ()


def code(text: str) -> Code:
    """Mark generator-made source (never user text) as printable by templates."""
    return Code(text)


def identifier(name: str) -> Code:
    """``name`` as a Python name; anything else is a bug upstream (validation lets only
    such names through), so it raises ``ValueError`` instead of emitting it."""
    if not (name.isascii() and name.isidentifier()) or keyword.iskeyword(name):
        raise ValueError(f"{name!r} is not a Python identifier")
    return Code(name)


def dotted(path: str) -> Code:
    """A dotted module path such as ``generated.bank.account``."""
    for part in path.split("."):
        identifier(part)
    return Code(path)


def _escape(char: str) -> str:
    simple = _SIMPLE_ESCAPES.get(char)
    if simple is not None:
        return simple
    if char.isprintable():
        return char
    point = ord(char)
    if point < 0x100:
        return f"\\x{point:02x}"
    if point < 0x10000:
        return f"\\u{point:04x}"
    return f"\\U{point:08x}"


def _body(text: str, quote: str) -> str:
    """``text`` escaped for a literal delimited by ``quote``."""
    if text.isascii() and text.isprintable() and "\\" not in text and quote not in text:
        return text  # the common case
    return "".join(f"\\{char}" if char == quote else _escape(char) for char in text)


def string(text: str) -> Code:
    """A ``str`` literal of ``text``."""
    # ruff keeps double quotes unless single quotes need fewer escapes
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return Code(f'"{text}"')  # the common case: nothing to escape, nothing to check
    quote = "'" if text.count('"') > text.count("'") else '"'
    literal = f"{quote}{_body(text, quote)}{quote}"
    _check(literal, text)
    return Code(literal)


def bytes_literal(data: bytes) -> Code:
    """A ``bytes`` literal of ``data`` (printable ASCII as is, everything else ``\\xNN``)."""
    out = []
    for byte in data:
        char = chr(byte)
        if char in '"\\' or not 32 <= byte < 127:
            out.append(f"\\x{byte:02x}")
        else:
            out.append(char)
    literal = 'b"' + "".join(out) + '"'
    _check(literal, data)
    return Code(literal)


def _check(literal: str, value: object) -> None:
    assert ast.literal_eval(literal) == value, f"literal {literal} does not round-trip"


def docstring(text: str, indent: int) -> Code:
    """The docstring of a block at depth ``indent`` (its first line is not indented:
    the template puts it where the docstring goes).

    The text is normalized the way ``ruff format`` (and ``inspect.cleandoc``) read
    docstrings: trailing spaces, leading and trailing blank lines and the common
    indentation of the lines after the first are dropped; lines longer than the line
    length are wrapped at spaces. The words and their order are exactly the text's.
    """
    prefix = INDENT * indent
    limit = LINE_LENGTH - len(prefix)
    lines = _doc_lines(text)
    if not lines:
        raise ValueError("an empty docstring")
    if len(lines) == 1:  # ruff writes a docstring of one line on one line: make it fit
        wrapped = _wrap(lines[0], limit - 6)
    else:
        wrapped = []
        for number, line in enumerate(lines):
            wrapped.extend(_wrap(line, limit - (3 if number == 0 else 0)))
    if len(wrapped) == 1:
        source = f'"""{wrapped[0]}"""'
    else:
        body = [wrapped[0], *(f"{prefix}{line}" if line else "" for line in wrapped[1:])]
        source = '"""' + "\n".join(body) + f"\n{prefix}" + '"""'
    value = ast.literal_eval(source)
    assert isinstance(value, str), source
    expected = _SURROGATE.sub(_surrogate_text, text).split()
    assert inspect.cleandoc(value).split() == expected, f"{source} does not round-trip"
    return Code(source)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogate_text(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _doc_lines(text: str) -> list[str]:
    """The escaped, normalized lines of a docstring's text."""
    # CPython cannot hold a lone surrogate in a class docstring: show it as its escape
    text = _SURROGATE.sub(_surrogate_text, text)
    escaped = "".join(char if char in "\n " else _escape(char) for char in text)
    lines = [line.rstrip(" ") for line in escaped.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    if not lines:
        return []
    rest = lines[1:]
    margin = min((len(line) - len(line.lstrip(" ")) for line in rest if line), default=0)
    lines = [lines[0].lstrip(" "), *(line[margin:] for line in rest)]
    return _quotes_escaped(lines)


def _quotes_escaped(lines: list[str]) -> list[str]:
    """Escape the quotes that would end the docstring early or run into its delimiters:
    the third of every run of three, a quote at the very start and at the very end."""
    result = []
    for number, line in enumerate(lines):
        out: list[str] = []
        run = 0
        for index, char in enumerate(line):
            if char != '"':
                run = 0
                out.append(char)
                continue
            run += 1
            at_start = number == 0 and index == 0
            at_end = number == len(lines) - 1 and index == len(line) - 1
            if run == 3 or at_start or at_end:
                out.append('\\"')
                run = 0
            else:
                out.append(char)
        result.append("".join(out))
    return result


def _wrap(line: str, limit: int) -> list[str]:
    """``line`` broken at spaces into lines of at most ``limit`` columns (a word longer
    than that stays whole); continuation lines keep the line's indentation."""
    if width(line) <= limit or not line.strip():
        return [line]
    indent = line[: len(line) - len(line.lstrip(" "))]
    lines: list[str] = []
    current = ""
    for word in line.split():
        candidate = f"{current} {word}" if current else f"{indent if lines else ''}{word}"
        if current and width(candidate) > limit:
            lines.append(current)
            current = f"{indent}{word}"
        else:
            current = candidate
    lines.append(current)
    return lines


def comment(text: str) -> Code:
    """``# text`` on one line: characters that would end the line or hide text are
    escaped (a comment is never code, but a line break in it would be)."""
    escaped = "".join(
        char if char.isprintable() and char != "\\" else _escape(char) for char in text
    )
    return Code(f"# {escaped}")
