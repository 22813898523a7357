"""Metadata that travels with every event (Kafka headers) and that folds may read."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EventMeta:
    """What a fold sees as ``meta``.

    ``version`` is the entity version the event creates (1 for an entity's first event).
    ``version``, ``timestamp`` and ``event_id`` are None when a fold is called without
    metadata (``fold(state, event)``); folds must handle that (e.g. ``coalesce``).
    """

    entity_id: str
    version: int | None = None
    timestamp: datetime.datetime | None = None
    event_id: uuid.UUID | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
