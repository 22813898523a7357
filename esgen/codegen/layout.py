"""Line layout helpers that keep generated code stable under ``ruff format``.

A call, dict or list is written on one line when it fits; otherwise one item per line
with a trailing comma (ruff format's "magic trailing comma" keeps that layout).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from typing import Any

from esgen.codegen.pytypes import py_str

LINE_LENGTH = 88  # ruff's and black's default, so users' own settings rarely disagree
INDENT = "    "


def fits(text: str, indent: int) -> bool:
    return indent * len(INDENT) + len(text) <= LINE_LENGTH


def bracketed(
    opening: str, items: list[str], closing: str, indent: int, suffix: str = ""
) -> list[str]:
    """``opening item, item closing`` on one line, or one item per line.

    Lines are relative to the block they go into; ``indent`` (that block's depth)
    only decides whether one line fits.
    """
    one_line = f"{opening}{', '.join(items)}{closing}{suffix}"
    if not items or fits(one_line, indent):
        return [one_line]
    lines = [opening]
    for item in items:
        lines.extend(INDENT + part for part in wrap_expression(item + ",", indent + 1))
    return [*lines, f"{closing}{suffix}"]


def literal_lines(value: Any, indent: int, prefix: str = "", suffix: str = "") -> list[str]:
    """A JSON-like value as Python source lines, relative to the enclosing block."""
    flat = prefix + _flat(value) + suffix
    if fits(flat, indent) or not isinstance(value, dict | list) or not value:
        return [flat]
    lines = [prefix + ("{" if isinstance(value, dict) else "[")]
    entries = value.items() if isinstance(value, dict) else ((None, v) for v in value)
    for key, item in entries:
        key_prefix = "" if key is None else f"{py_str(key)}: "
        lines.extend(INDENT + line for line in literal_lines(item, indent + 1, key_prefix, ","))
    lines.append(("}" if isinstance(value, dict) else "]") + suffix)
    return lines


def _flat(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py_str(k)}: {_flat(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flat(v) for v in value) + "]"
    if isinstance(value, str):
        return py_str(value)
    if value is None or isinstance(value, bool):
        return {None: "None", True: "True", False: "False"}[value]
    return json.dumps(value)


def docstring(text: str | None, indent: int, fallback: str) -> list[str]:
    """Docstring lines: the doc text wrapped to the line length, quotes included."""
    body = (text or fallback).strip()
    width = LINE_LENGTH - indent * len(INDENT)
    paragraphs = [textwrap.fill(p, width=width) for p in body.split("\n\n")]
    lines = "\n\n".join(paragraphs).replace('"""', '\\"\\"\\"').split("\n")
    if len(lines) == 1 and fits(f'"""{lines[0]}"""', indent):
        return [f'"""{lines[0]}"""']
    return ['"""' + lines[0], *lines[1:], '"""']


_OPENERS = {"(": ")", "[": "]", "{": "}"}


def wrap_lines(lines: list[str], indent: int) -> list[str]:
    """Statements of a block at depth ``indent``, long ones split to fit the line."""
    result: list[str] = []
    for line in lines:
        stripped = line.lstrip(" ")
        own = (len(line) - len(stripped)) // len(INDENT)
        prefix = line[: len(line) - len(stripped)]
        result.extend(prefix + part for part in wrap_statement(stripped, indent + own))
    return result


def wrap_statement(line: str, indent: int) -> list[str]:
    """One statement as lines that fit, split the way ruff format usually does.

    A statement ending in a bracket is split inside it; a condition without one is
    parenthesized; any other assignment gets its value parenthesized.
    """
    if fits(line, indent):
        return [line]
    for keyword in ("if ", "elif ", "while "):
        if line.startswith(keyword) and line.endswith(":"):
            split = _split_brackets(line, indent, closing_only=True)
            if split is not None:
                return split
            condition = line[len(keyword) : -1]
            return [f"{keyword}(", *_indented(wrap_expression(condition, indent + 1)), "):"]
    split = _split_brackets(line, indent, closing_only=False)
    if split is not None:
        return split
    for operator in (" = ", " += ", " -= "):
        target, found, value = line.partition(operator)
        if found and _balanced(target):
            value_lines = wrap_expression(value, indent + 1)
            return [f"{target}{operator}(", *_indented(value_lines), ")"]
    return [line]  # nothing sensible to split; a long name stays long


def wrap_expression(text: str, indent: int) -> list[str]:
    """An expression (maybe ``name=value,``) as lines that fit."""
    if fits(text, indent):
        return [text]
    parts = _conditional_parts(text)
    if parts is not None:
        then, condition, otherwise = parts
        return [
            *wrap_expression(then, indent),
            *wrap_expression(f"if {condition}", indent),
            *wrap_expression(f"else {otherwise}", indent),
        ]
    split = _split_brackets(text, indent, closing_only=False)
    return split if split is not None else [text]


def _split_brackets(line: str, indent: int, closing_only: bool) -> list[str] | None:
    """Split inside a top-level bracket pair whose surroundings fit, last pair first.

    ``(a + b).quantize(q)`` splits inside ``(a + b)`` when ``.quantize(`` would not fit.
    """
    for opening, closing in reversed(_top_level_pairs(line)):
        head, inner, tail = line[: opening + 1], line[opening + 1 : closing], line[closing:]
        if opening == 0 or not (fits(head, indent) and fits(tail, indent)):
            continue
        if closing_only and tail.strip(")]}:,"):
            continue
        if fits(inner, indent + 1):
            return [head, INDENT + inner, tail]
        items = _split_top_level(inner)
        if len(items) == 1 and not inner.rstrip().endswith(","):
            return [head, *_indented(wrap_expression(items[0], indent + 1)), tail]
        lines = [head]
        for item in items:
            lines.extend(_indented(wrap_expression(item + ",", indent + 1)))
        return [*lines, tail]
    return None


def _conditional_parts(text: str) -> tuple[str, str, str] | None:
    """``A if C else B`` at the top level (not a comprehension's ``if``), split."""
    words = _top_level_words(text)
    if " for " in words or words.count(" if ") != 1 or words.count(" else ") != 1:
        return None
    start_if = words.index(" if ")
    start_else = words.index(" else ")
    if start_else < start_if:
        return None
    return text[:start_if], text[start_if + 4 : start_else], text[start_else + 6 :]


def _top_level_words(text: str) -> str:
    """``text`` with everything inside brackets and strings blanked out."""
    return "".join(
        char if depth == 0 and not quoted and char not in _OPENERS else "_"
        for _, char, depth, quoted in _scan(text)
    )


def _scan(text: str) -> Iterator[tuple[int, str, int, bool]]:
    """``(index, char, depth, quoted)`` for each character of a line of Python.

    ``depth`` is the bracket depth outside the character (an opening bracket is at the
    depth of its surroundings, so is its closing one); ``quoted`` is True inside string
    literals, quotes included.
    """
    depth = 0
    quote: str | None = None
    for index, char in enumerate(text):
        if quote:
            if char == quote and text[index - 1] != "\\":
                quote = None
            yield index, char, depth, True
        elif char in "\"'":
            quote = char
            yield index, char, depth, True
        elif char in _OPENERS:
            yield index, char, depth, False
            depth += 1
        elif char in ")]}":
            depth -= 1
            yield index, char, depth, False
        else:
            yield index, char, depth, False


def _indented(lines: list[str]) -> list[str]:
    return [INDENT + line for line in lines]


def _top_level_pairs(line: str) -> list[tuple[int, int]]:
    """``(open, close)`` indexes of the outermost bracket pairs, left to right."""
    pairs: list[tuple[int, int]] = []
    start = 0
    for index, char, depth, quoted in _scan(line):
        if quoted or depth:
            continue
        if char in _OPENERS:
            start = index
        elif char in ")]}":
            pairs.append((start, index))
    return pairs


def _split_top_level(text: str) -> list[str]:
    """Split ``a, f(b, c), d`` at its top-level commas."""
    cuts = [
        i for i, char, depth, quoted in _scan(text) if char == "," and not depth and not quoted
    ]
    bounds = zip([-1, *cuts], [*cuts, len(text)], strict=True)
    return [part for a, b in bounds if (part := text[a + 1 : b].strip())]


def _balanced(target: str) -> bool:
    return all(target.count(o) == target.count(c) for o, c in _OPENERS.items())


def union_alias(alias: str, names: list[str]) -> list[str]:
    """``alias: TypeAlias = A | B | ...`` as ruff format lays it out."""
    head = f"{alias}: TypeAlias = "
    one_line = head + " | ".join(names)
    if fits(one_line, 0):
        return [one_line]
    if fits(" | ".join(names), 1):
        return [head + "(", INDENT + " | ".join(names), ")"]
    return [head + "(", f"{INDENT}{names[0]}", *(f"{INDENT}| {n}" for n in names[1:]), ")"]
