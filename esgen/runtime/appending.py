"""What every backend does before it stores an append: fold, check invariants, stamp metadata.

Shared by :class:`~esgen.runtime.store.EventStore` (Kafka) and
:class:`~esgen.runtime.memory.InMemoryEventStore`, so both refuse the same appends.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from typing import Any

from esgen.runtime.descriptor import EntityDescriptor
from esgen.runtime.meta import EventMeta, make_meta, new_event_ids


def now_millis() -> datetime.datetime:
    """The current UTC time to the millisecond (what the ``esgen.timestamp`` header holds,
    so a state folded before sending equals the state folded after reading back)."""
    now = datetime.datetime.now(datetime.UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def fold_new_events(
    descriptor: EntityDescriptor[Any, Any],
    entity_id: Any,  # str, uuid.UUID or int: the key field's type
    state: Any,
    version: int,
    events: Sequence[Any],
    correlation_id: str | None = None,
    causation_id: str | None = None,
    timestamp: datetime.datetime | None = None,
    event_ids: Sequence[uuid.UUID] | None = None,
) -> tuple[Any, list[EventMeta]]:
    """``(new state, metadata per event)`` of appending ``events`` at ``version``.

    Folds onto a copy of ``state`` (which is left unchanged) and checks the invariants
    after every event, so ``InvariantViolation`` is raised before anything is stored.
    ``timestamp`` (default: now) and ``event_ids`` (default: random) let a backend with a
    controlled clock and ids (the in-memory store of tests) stamp what it chooses.
    """
    state = descriptor.copy_state(state)
    if timestamp is None:
        timestamp = now_millis()
    if event_ids is None:
        event_ids = new_event_ids(len(events))
    apply = descriptor.apply
    check_invariants = descriptor.check_invariants
    metas: list[EventMeta] = []
    for number, (event, event_id) in enumerate(zip(events, event_ids, strict=True), start=1):
        meta = make_meta(
            entity_id, version + number, timestamp, event_id, correlation_id, causation_id
        )
        state = apply(state, event, meta)
        check_invariants(state)
        metas.append(meta)
    return state, metas
