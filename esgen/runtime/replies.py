"""The outcome of a command, as the command processor replies it on ``<topic>.replies``.

The processor writes one reply per command it decides, **in the transaction that stores
the command's events** (see :mod:`esgen.runtime.processor`), so a client that reads
replies ``read_committed`` sees an accepted reply exactly when its events are stored. A
command whose id was decided before gets the bytes of its first reply again.

Record on ``<topic>.replies`` (same partition number as the command and its entity's
events; ``cleanup.policy=compact,delete``, kept for the idempotency window):

- key: the command id (UTF-8);
- headers: ``esgen.type: esgen.reply``, ``esgen.command_id``, ``esgen.outcome``
  (``accepted``, ``rejected`` or ``failed``: a restore reads it without parsing the value);
- value: UTF-8 JSON, keys sorted::

    {"format": 1,
     "command_id": "5b0c...", "entity_id": "acc-1", "partition": 0,
     "command": "com.example.bank.Withdraw",       # full name of the command record
     "digest": "9f2a...",                          # of key, type and Avro body
     "outcome": "accepted",                        # or "rejected" or "failed"
     "version": 12,                                # accepted: after its events;
                                                   # otherwise: the version decided on
     "decided_at": 1767225600000,                  # ms since the epoch (processor clock)
     "events": [{"offset": 345,                    # where the event is stored
                 "type": "com.example.bank.MoneyWithdrawn",
                 "value": "AAAAAAo..."}],          # base64 of its wire-format value
     "reason": "insufficient funds",               # rejected: the precondition's reason
     "error": "EncodeError: ..."}                  # failed: what went wrong

``accepted`` and ``rejected`` are outcomes: the same command id gets them again.
``failed`` is not (the command could not be decoded, its ``decide`` code raised, its events
could not be encoded, or it was older than the idempotency window): nothing was written,
and the id is free for a corrected command. The ``digest`` lets a client tell its own
command from another one sent under the same id (:func:`command_digest`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from esgen.runtime import headers as h
from esgen.runtime.errors import DecodeError

REPLY_TYPE = b"esgen.reply"
FORMAT = 1

ACCEPTED = "accepted"
REJECTED = "rejected"
FAILED = "failed"
OUTCOMES = (ACCEPTED, REJECTED, FAILED)
REMEMBERED = frozenset({ACCEPTED.encode(), REJECTED.encode()})
"""``esgen.outcome`` values that a command id keeps (as header bytes)."""


SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "format",
        "command_id",
        "entity_id",
        "partition",
        "command",
        "digest",
        "outcome",
        "version",
        "decided_at",
    ],
    "properties": {
        "format": {"const": FORMAT},
        "command_id": {"type": "string", "description": "The command's id (also the key)."},
        "entity_id": {"type": "string", "description": "The entity id, as the key text."},
        "partition": {
            "type": "integer",
            "minimum": 0,
            "description": "The partition of the command, its events and this reply.",
        },
        "command": {"type": "string", "description": "Full name of the command record."},
        "digest": {
            "type": "string",
            "description": "BLAKE2b-128 (hex) of the entity key, the command's full name and "
            "its Avro body, each preceded by its length (4 bytes, big-endian): a client "
            "tells its own command from another one sent under the same id.",
        },
        "outcome": {"enum": list(OUTCOMES)},
        "version": {
            "type": "integer",
            "minimum": 0,
            "description": "Accepted: the entity version after the command's events; "
            "otherwise: the version it was decided on.",
        },
        "decided_at": {
            "type": "integer",
            "description": "When it was decided, ms since the Unix epoch.",
        },
        "events": {
            "type": "array",
            "description": "Accepted: the events it caused, in order, as stored.",
            "items": {
                "type": "object",
                "required": ["offset", "type", "value"],
                "properties": {
                    "offset": {"type": "integer", "minimum": 0},
                    "type": {"type": "string"},
                    "value": {
                        "type": "string",
                        "contentEncoding": "base64",
                        "description": "The event's wire-format value.",
                    },
                },
            },
        },
        "reason": {"type": "string", "description": "Rejected: why."},
        "error": {"type": "string", "description": "Failed: what went wrong."},
    },
}
"""The JSON Schema of a reply value (the AsyncAPI document carries it)."""


def command_digest(key: bytes, full_name: str, value: bytes) -> str:
    """What identifies a command beyond its id: its entity key, its type and its Avro body
    (the wire-format value without the schema id, which may change between retries)."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (key, full_name.encode(), value[5:]):
        digest.update(len(part).to_bytes(4, "big"))
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class ReplyEvent:
    """One stored event of an accepted command."""

    offset: int
    type: str
    value: bytes
    """The event's wire-format value, as stored."""


@dataclass(frozen=True)
class Reply:
    """The outcome of one command (see the module docstring)."""

    command_id: str
    entity_id: str
    partition: int
    command: str
    digest: str
    outcome: str
    version: int
    decided_at: int
    events: tuple[ReplyEvent, ...] = field(default=())
    reason: str = ""
    error: str = ""

    def with_events(self, events: tuple[ReplyEvent, ...]) -> Reply:
        return Reply(
            self.command_id,
            self.entity_id,
            self.partition,
            self.command,
            self.digest,
            self.outcome,
            self.version,
            self.decided_at,
            events,
            self.reason,
            self.error,
        )

    def encode(self) -> bytes:
        data: dict[str, Any] = {
            "format": FORMAT,
            "command_id": self.command_id,
            "entity_id": self.entity_id,
            "partition": self.partition,
            "command": self.command,
            "digest": self.digest,
            "outcome": self.outcome,
            "version": self.version,
            "decided_at": self.decided_at,
        }
        if self.outcome == ACCEPTED:
            data["events"] = [
                {"offset": e.offset, "type": e.type, "value": base64.b64encode(e.value).decode()}
                for e in self.events
            ]
        if self.reason:
            data["reason"] = self.reason
        if self.error:
            data["error"] = self.error
        return json.dumps(data, sort_keys=True, ensure_ascii=False).encode()

    def headers(self) -> h.Headers:
        return [
            (h.H_TYPE, REPLY_TYPE),
            (h.H_COMMAND_ID, self.command_id.encode()),
            (h.H_OUTCOME, self.outcome.encode()),
        ]

    @staticmethod
    def decode(value: bytes) -> Reply:
        """The reply in ``value``; ``DecodeError`` when it is not one."""
        try:
            data = json.loads(value)
            if data.get("format") != FORMAT:
                raise DecodeError(f"reply format {data.get('format')!r} is not {FORMAT}")
            outcome = str(data["outcome"])
            if outcome not in OUTCOMES:
                raise DecodeError(f"unknown outcome {outcome!r}")
            events = tuple(
                ReplyEvent(int(e["offset"]), str(e["type"]), base64.b64decode(e["value"]))
                for e in data.get("events", ())
            )
            return Reply(
                command_id=str(data["command_id"]),
                entity_id=str(data["entity_id"]),
                partition=int(data["partition"]),
                command=str(data["command"]),
                digest=str(data["digest"]),
                outcome=outcome,
                version=int(data["version"]),
                decided_at=int(data["decided_at"]),
                events=events,
                reason=str(data.get("reason", "")),
                error=str(data.get("error", "")),
            )
        except DecodeError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError) as exc:
            raise DecodeError(f"not a reply: {type(exc).__name__}: {exc}") from exc
