"""Helpers that check the shape of YAML nodes and report what was expected."""

from __future__ import annotations

from collections.abc import Collection

from esgen.dsl.hints import did_you_mean
from esgen.dsl.yamlnodes import Mapping, Node, Scalar, Sequence, describe
from esgen.errors import DefinitionError, Location, quote


class Reporter:
    """Collects errors; every check goes on after an error so all of them are reported."""

    def __init__(self) -> None:
        self.errors: list[DefinitionError] = []

    def add(self, error: DefinitionError) -> None:
        self.errors.append(error)

    def error(self, message: str, node: Node, hint: str | None = None) -> None:
        self.errors.append(DefinitionError(message, node.location, hint))

    def at(self, message: str, location: Location, hint: str | None = None) -> None:
        self.errors.append(DefinitionError(message, location, hint))

    def mapping(self, node: Node | None, what: str, allow_null: bool = False) -> Mapping | None:
        """``node`` as a mapping, or None after reporting what it is instead."""
        if node is None or (allow_null and isinstance(node, Scalar) and node.is_null):
            return None
        if isinstance(node, Mapping):
            return node
        self.error(f"{what} must be a mapping, not {describe(node)}", node)
        return None

    def sequence(self, node: Node | None, what: str) -> Sequence | None:
        if node is None or (isinstance(node, Scalar) and node.is_null):
            return None
        if isinstance(node, Sequence):
            return node
        self.error(f"{what} must be a list, not {describe(node)}", node)
        return None

    def text(self, node: Node | None, what: str) -> str | None:
        """A scalar written as text (any plain word or quoted string)."""
        if node is None:
            return None
        if isinstance(node, Scalar) and not node.is_null:
            return node.text
        self.error(f"{what} must be text, not {describe(node)}", node)
        return None

    def keys(self, node: Mapping, allowed: Collection[str], what: str) -> None:
        for key, value in node.items:
            if key.text in allowed:
                continue
            hint = did_you_mean(key.text, allowed)
            if node.flow and isinstance(value, Scalar) and value.is_null and not value.text:
                # {doc: one, two} splits at the comma: 'two' becomes a key without value
                hint = "in {...} a comma ends a value; quote text that contains ', '"
            self.error(
                f"{what}: unknown key {quote(key.text)}",
                key,
                hint or "expected one of " + ", ".join(f"'{a}'" for a in allowed),
            )

    def required(self, node: Mapping, key: str, what: str) -> Node | None:
        value = node.get(key)
        others = [k.text for k, _ in node.items]
        if value is None and not did_you_mean(key, others):  # else reported as a misspelling
            self.error(f"{what}: missing required key {quote(key)}", node)
        return value
