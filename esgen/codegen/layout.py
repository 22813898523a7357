"""Line layout helpers that keep generated code stable under ``ruff format``.

A call, dict or list is written on one line when it fits; otherwise one item per line
with a trailing comma (ruff format's "magic trailing comma" keeps that layout).
"""

from __future__ import annotations

import json
import textwrap
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
    return [opening, *(f"{INDENT}{item}," for item in items), f"{closing}{suffix}"]


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


def signature_lines(name: str, params: list[str], returns: str) -> list[str]:
    """A top-level ``def`` line laid out the way ruff format does."""
    one_line = f"def {name}({', '.join(params)}) -> {returns}:"
    if fits(one_line, 0):
        return [one_line]
    hugged = ", ".join(params)
    if fits(hugged, 1):
        return [f"def {name}(", INDENT + hugged, f") -> {returns}:"]
    return [f"def {name}(", *(f"{INDENT}{p}," for p in params), f") -> {returns}:"]
