"""The history's manifest: the shape the history was written with, kept durably beside it.

An entity's events live in partition ``murmur2(key) % N`` of the event topic. Kafka lets
anyone add partitions, and then most entities would be looked for in a partition that
does not hold their history, and the next append would start a second one. The store
therefore records ``N``, and the Kafka topic id of the event topic (a new id for each
creation of a topic with that name), in a **manifest record on every partition of
``<topic>.snapshots``**:

- key ``b"\\x00esgen.manifest"``: entity ids cannot contain control characters (the store
  refuses them), so no entity's snapshot ever takes this key, and compaction keeps the
  latest manifest forever;
- value: JSON ``{"format": 1, "topic": ..., "topic_id": ..., "partitions": N}``;
- header ``esgen.type: esgen.manifest``.

It is read with the snapshots when a partition is restored (see
:mod:`esgen.runtime.snapshots`), before anything is read from or written to the
partition. A partition without a manifest takes partition 0's (a partition added later has
none); when no partition has one (topics made by an older esgen, or by hand), the store
writes one to every partition with today's shape. Then:

- same topic id (or no ids known) and another partition count: the history's shape
  changed, :class:`~esgen.runtime.errors.PartitionCountChanged`;
- another topic id: the event topic was deleted and created again; its old history is
  gone and the snapshots of the old topic are ignored (they carry the old id); the
  manifest is written again for the new topic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from esgen.runtime.errors import PartitionCountChanged

MANIFEST_KEY = b"\x00esgen.manifest"
MANIFEST_TYPE = b"esgen.manifest"
FORMAT = 1


@dataclass(frozen=True)
class Manifest:
    """The shape of one event topic's history."""

    topic: str
    topic_id: str | None
    partitions: int

    def encode(self) -> bytes:
        data = {
            "format": FORMAT,
            "topic": self.topic,
            "topic_id": self.topic_id,
            "partitions": self.partitions,
        }
        return json.dumps(data, sort_keys=True).encode()

    @staticmethod
    def decode(value: bytes) -> Manifest | None:
        """The manifest in ``value``; None when it is not one esgen can read."""
        try:
            data = json.loads(value)
            topic_id = data["topic_id"]
            found = Manifest(
                str(data["topic"]),
                None if topic_id is None else str(topic_id),
                int(data["partitions"]),
            )
        except (ValueError, TypeError, KeyError, UnicodeDecodeError):
            return None
        return found if found.partitions > 0 else None

    def same_topic(self, other: Manifest) -> bool:
        """Whether both describe one incarnation of the topic (True when an id is unknown)."""
        return self.topic_id is None or other.topic_id is None or self.topic_id == other.topic_id


def check(recorded: Manifest, current: Manifest, *, bootstrap: str, where: str) -> bool:
    """Whether ``recorded`` (read from ``where``) is the manifest of today's topic.

    False: the topic was created again since (another topic id), ``recorded`` is stale.
    ``PartitionCountChanged`` when the same topic now has another partition count.
    """
    if not recorded.same_topic(current):
        return False
    if recorded.partitions != current.partitions:
        raise PartitionCountChanged(
            f"topic {current.topic} on Kafka at {bootstrap} has {current.partitions} "
            f"partitions, but its history was written with {recorded.partitions} (recorded "
            f"in {where}): an entity lives in partition murmur2(id) % {recorded.partitions}, "
            f"so with {current.partitions} most entities would be looked for where their "
            "history is not, and appends would start second histories. Nothing was read or "
            "written. Kafka cannot remove partitions: move the history to a topic with "
            f"{recorded.partitions} partitions (copy each partition's records in order), or "
            f"migrate it into one with {current.partitions} (append each entity's events "
            "again in order) and point the store at it",
            topic=current.topic,
            recorded=recorded.partitions,
            actual=current.partitions,
        )
    return True
