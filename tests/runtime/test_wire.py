"""The wire format, headers and RegistrySerde against the real schema registry."""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from confluent_kafka.schema_registry.error import SchemaRegistryError

from esgen.runtime import framing, wire
from esgen.runtime import headers as hdr
from esgen.runtime.errors import DecodeError, EncodeError, RegistryError
from esgen.runtime.meta import EventMeta, make_meta, new_event_ids
from esgen.runtime.wire import RegistrySerde
from generated.bank import account


@dataclass
class FakeMessage:
    """Just enough of confluent_kafka.Message for decode_message."""

    _value: bytes | None
    _headers: list[tuple[str, str | bytes | None]] | None = None
    _key: bytes = b"acc-1"
    _topic: str = "bank.accounts"
    _offset: int = 42
    _timestamp: tuple[int, int] = field(default=(1, 1_700_000_000_000))

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return 3

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> list[tuple[str, str | bytes | None]] | None:
        return self._headers

    def timestamp(self) -> tuple[int, int]:
        return self._timestamp


def test_frame_round_trip() -> None:
    value = framing.frame(258, b"body")
    assert value == b"\x00\x00\x00\x01\x02body"
    assert framing.unframe(value) == (258, b"body")


def test_unframe_rejects_bad_magic_and_short_values() -> None:
    with pytest.raises(DecodeError, match="magic byte 1"):
        framing.unframe(b"\x01\x00\x00\x00\x01x")
    with pytest.raises(DecodeError, match="too short"):
        framing.unframe(b"\x00\x00")


@pytest.mark.parametrize("n", [0, 1, -1, 63, 64, 300, 2**40])
def test_union_index_varint(n: int) -> None:
    encoded = framing.write_varint(n)
    assert framing.read_varint(encoded + b"rest") == (n, len(encoded))


def test_event_headers_contract() -> None:
    event_id = uuid.uuid4()
    meta = EventMeta(
        entity_id="a",
        version=7,
        timestamp=datetime.datetime(2024, 1, 2, 3, 4, 5, 6000, tzinfo=datetime.UTC),
        event_id=event_id,
        correlation_id="c-1",
    )
    headers = hdr.event_headers("com.example.bank.MoneyDeposited", meta)
    assert headers == [
        ("esgen.type", b"com.example.bank.MoneyDeposited"),
        ("esgen.event_id", str(event_id).encode()),
        ("esgen.version", b"7"),
        ("esgen.timestamp", b"1704164645006"),
        ("esgen.correlation_id", b"c-1"),
    ]


@pytest.mark.parametrize("strategy", ["topic_record", "record", "topic"])
def test_round_trip_through_the_registry(
    strategy: str, registry_url: str, unique_name: Callable[[str], str]
) -> None:
    topic = unique_name("wire")
    serde = RegistrySerde(
        account.ENTITY, registry_url, strategy=strategy, auto_register=True, topic=topic
    )
    event = account.MoneyDeposited(amount=decimal.Decimal("12.50"))
    name, value = serde.encode_event(event)
    assert name == "com.example.bank.MoneyDeposited"
    assert value[0] == 0
    # A fresh serde (empty caches) decodes it, also without headers.
    reader = RegistrySerde(account.ENTITY, registry_url, strategy=strategy, topic=topic)
    meta_headers = hdr.event_headers(
        name,
        EventMeta("acc-1", 1, datetime.datetime.now(datetime.UTC), uuid.uuid4()),
    )
    decoded, meta = wire.decode_message(reader, FakeMessage(value, list(meta_headers)))
    assert decoded == event
    assert meta.version == 1
    assert meta.entity_id == "acc-1"
    decoded, meta = wire.decode_message(reader, FakeMessage(value), version=5)
    assert decoded == event
    assert meta.version == 5
    assert meta.timestamp == hdr.from_millis(1_700_000_000_000)
    # Snapshots of the state too.
    state = account.replay("acc-1", [account.AccountOpened(owner="Ann"), event])
    assert reader.decode_state(serde.encode_state(state)) == state
    # Without auto-registration, encoding reuses what is registered.
    assert reader.encode_event(event) == (name, value)


def test_unregistered_schema_is_a_clear_error(
    registry_url: str, unique_name: Callable[[str], str]
) -> None:
    topic = unique_name("wire")
    serde = RegistrySerde(account.ENTITY, registry_url, topic=topic)
    with pytest.raises(RegistryError) as caught:
        serde.encode_event(account.AccountOpened(owner="x"))
    message = str(caught.value)
    assert f"{topic}-com.example.bank.AccountOpened" in message
    assert registry_url in message
    assert "auto_register" in message


def test_undecodable_records_name_where_they_are(registry_url: str) -> None:
    serde = RegistrySerde(account.ENTITY, registry_url)
    with pytest.raises(DecodeError, match=r"bank.accounts\[3\]@42: .*magic byte 7"):
        wire.decode_message(serde, FakeMessage(b"\x07\x00\x00\x00\x01x"))
    with pytest.raises(DecodeError, match=r"bank.accounts\[3\]@42: .*schema id 2000000000"):
        wire.decode_message(serde, FakeMessage(framing.frame(2_000_000_000, b"")))
    with pytest.raises(DecodeError, match=r"@42: .*tombstone"):
        wire.decode_message(serde, FakeMessage(None))


def test_registry_down_is_a_clear_error() -> None:
    serde = RegistrySerde(
        account.ENTITY, {"url": "http://127.0.0.1:9", "timeout": 5, "max.retries": 0}
    )
    with pytest.raises(
        RegistryError, match=r"cannot reach the schema registry at http://127.0.0.1:9"
    ):
        serde.encode_event(account.AccountOpened(owner="x"))
    # Not the record's fault: a RegistryError (retry later), not a DecodeError (dead letter).
    with pytest.raises(
        RegistryError, match=r"@42: cannot reach the schema registry at http://127.0.0.1:9"
    ):
        wire.decode_message(serde, FakeMessage(framing.frame(1, b"")))


class FailingRegistry:
    """A registry client whose get_schema answers with one HTTP error."""

    def __init__(self, status: int, code: int) -> None:
        self.status, self.code = status, code
        self._conf = {"url": "http://registry.test"}

    def get_schema(self, schema_id: int) -> object:
        raise SchemaRegistryError(self.status, self.code, "nope")


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (404, 40403, DecodeError),  # unknown id: the record is at fault (dead letter)
        (500, 50001, RegistryError),  # the registry is failing: retry later
        (503, 50003, RegistryError),
        (401, 40101, RegistryError),  # misconfigured credentials: no record is at fault
    ],
)
def test_registry_failures_are_told_from_unknown_ids(
    status: int, code: int, error: type[Exception]
) -> None:
    serde = RegistrySerde(account.ENTITY, cast(Any, FailingRegistry(status, code)))
    with pytest.raises(error, match=rf"@42: .*HTTP {status}.*registry.test") as caught:
        wire.decode_message(serde, FakeMessage(framing.frame(7, b"")))
    assert type(caught.value) is error


def test_make_meta_builds_what_eventmeta_builds() -> None:
    moment = datetime.datetime(2024, 1, 2, tzinfo=datetime.UTC)
    event_id = uuid.uuid4()
    fast = make_meta("a", 3, moment, event_id, "c", None)
    slow = EventMeta("a", 3, moment, event_id, "c", None)
    assert type(fast) is EventMeta and fast == slow and hash(fast) == hash(slow)


@pytest.mark.parametrize(
    "text",
    [
        "12345678-1234-5678-1234-567812345678",
        "{12345678-1234-5678-1234-567812345678}",
        "urn:uuid:12345678-1234-5678-1234-567812345678",
        "12345678123456781234567812345678",
        "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
    ],
)
def test_uuid_headers_parse_like_uuid(text: str) -> None:
    for raw in (text, text.encode()):
        parsed = hdr.parse_uuid(raw)
        assert parsed == uuid.UUID(text) and str(parsed) == str(uuid.UUID(text))
        assert parsed.version == uuid.UUID(text).version and hash(parsed) == hash(uuid.UUID(text))


@pytest.mark.parametrize(
    "text", ["", "nope", "+2345678-1234-5678-1234-567812345678", "1_345678" + "0" * 24, "é" * 32]
)
def test_odd_uuid_headers_fail_or_pass_like_uuid(text: str) -> None:
    try:
        expected: uuid.UUID | None = uuid.UUID(text)
    except ValueError:
        expected = None
    for raw in (text, text.encode()):
        if expected is None:
            with pytest.raises(ValueError):
                hdr.parse_uuid(raw)
        else:
            assert hdr.parse_uuid(raw) == expected


def test_header_values_decode_in_one_pass(
    registry_url: str, unique_name: Callable[[str], str]
) -> None:
    topic = unique_name("wire")
    serde = RegistrySerde(account.ENTITY, registry_url, auto_register=True, topic=topic)
    event = account.MoneyDeposited(amount=decimal.Decimal("1.50"))
    name, value = serde.encode_event(event)
    event_id = uuid.uuid4()
    headers: list[tuple[str, str | bytes | None]] = [
        ("esgen.version", b"1"),
        ("esgen.version", b"2"),  # the last value wins
        ("esgen.type", name),  # str values too
        ("esgen.event_id", str(event_id).encode()),
        ("esgen.timestamp", b"1704164645006"),
        ("esgen.correlation_id", b"c-1"),
        ("esgen.correlation_id", None),  # a None value never wins
        ("esgen.causation_id", "k-1"),
    ]
    for _ in range(2):  # planned, then from the plan
        decoded, meta = wire.decode_message(serde, FakeMessage(value, headers))
        assert decoded == event
        assert meta == EventMeta(
            "acc-1",
            2,
            datetime.datetime(2024, 1, 2, 3, 4, 5, 6000, tzinfo=datetime.UTC),
            event_id,
            "c-1",
            "k-1",
        )
    # Consecutive records mostly share their timestamp; a different one is not mixed up.
    _, meta = wire.decode_message(serde, FakeMessage(value, headers[:1]))
    assert meta.timestamp == hdr.from_millis(1_700_000_000_000)
    with pytest.raises(DecodeError, match=r"@42: .*ValueError"):
        wire.decode_message(serde, FakeMessage(value, [("esgen.event_id", b"x" * 36)]))
    with pytest.raises(DecodeError, match=r"@42: .*cannot decode MoneyDeposited"):
        wire.decode_message(serde, FakeMessage(value[:-1]))


@pytest.mark.parametrize("strategy", ["topic_record", "topic"])
def test_batch_encoding_matches_one_by_one(
    registry_url: str, unique_name: Callable[[str], str], strategy: str
) -> None:
    serde = RegistrySerde(
        account.ENTITY,
        registry_url,
        strategy=strategy,
        auto_register=True,
        topic=unique_name("wire"),
    )
    events = [
        account.AccountOpened(owner="Ann"),
        account.MoneyDeposited(amount=decimal.Decimal("1.50")),
        account.AccountOpened(owner="Bob"),
    ]
    one_by_one = [serde.encode_event(e) for e in events]
    assert serde.encode_events(events) == [(n.encode(), v) for n, v in one_by_one]
    with pytest.raises(EncodeError, match="cannot encode MoneyDeposited"):
        serde.encode_events([account.MoneyDeposited(amount=decimal.Decimal("1.234"))])


def test_new_event_ids_are_random_version_4_uuids() -> None:
    ids = new_event_ids(1000)
    assert len(set(ids)) == 1000
    for event_id in ids:
        assert event_id.version == 4 and event_id.variant == uuid.RFC_4122
        assert uuid.UUID(str(event_id)) == event_id and uuid.UUID(int=event_id.int) == event_id
    assert new_event_ids(0) == []
