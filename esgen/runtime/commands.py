"""What executing a command gives back, shared by every place that executes commands.

``InMemoryEventStore.execute`` returns a :class:`CommandResult` today; the Kafka command
processor and client return the same. ``require_meta`` is what generated ``decide``
code calls for the commands whose rules read ``meta``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from esgen.runtime.descriptor import EntityId
from esgen.runtime.errors import EsgenError
from esgen.runtime.meta import CommandMeta


@dataclass(frozen=True)
class CommandResult:
    """An accepted command: the events it appended and the entity's version after them.

    ``events`` is empty when the command was accepted but changed nothing (e.g. tagging
    with a tag the entity has already); ``version`` is then the version it was decided on.
    """

    entity_id: EntityId
    command_id: str
    version: int
    events: list[Any]


def require_meta(meta: CommandMeta | None, command: object) -> CommandMeta:
    """``meta``, or a clear error: the rules of ``command`` read ``meta``, so deciding
    without it would decide on made-up values (a version of 0, no time)."""
    if meta is None:
        raise EsgenError(
            f"deciding {type(command).__name__} needs its CommandMeta (its rules read meta): "
            "call decide(state, command, CommandMeta(entity_id=..., version=..., "
            "command_id=..., timestamp=...)), or use InMemoryEventStore.execute or given()"
        )
    return meta
