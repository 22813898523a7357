"""A ``call:`` upcast: what the expression language cannot say (here: one event per tag)."""

from __future__ import annotations

from typing import Any

from gen_evolution.shelf import ItemEvent, Labelled


def tagged(event: dict[str, Any]) -> list[ItemEvent]:
    """A ``Tagged`` of version 1 held comma-separated tags: one ``Labelled`` per tag."""
    return [Labelled(label=tag.strip()) for tag in event["tag"].split(",") if tag.strip()]
