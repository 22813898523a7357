"""Redrives in the apply step, without Kafka: a dead-lettered record is applied once
however often it is redriven, whatever the model did meanwhile (later versions, a
replay, a second copy of the version, a restart of the process); and what a
dead-letter topic's records say about each letter's status."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from esgen.runtime.deadletter import (
    APPLIED,
    LETTER,
    OUTCOME,
    REDRIVE,
    SKIPPED,
    DeadLetterEntry,
    Place,
)
from esgen.runtime.meta import EventMeta
from esgen.runtime.models import ModelStore, ReadModel, SqliteModelStore
from esgen.runtime.projections import Projection, handles
from esgen.runtime.redrive import DEAD_LETTERED, REQUESTED, Selection, letters_of
from esgen.runtime.testing import ProjectionFeed, Undecodable
from generated.bank import account


class Ledger(Projection):
    """Sums deposits per account; a deposit of 7.25 hits a bug until ``fixed``."""

    name = "ledger"
    entities = (account.ENTITY,)

    def __init__(self) -> None:
        self.fixed = False

    @handles(account.MoneyDeposited)
    def deposited(self, model: ReadModel, event: account.MoneyDeposited, meta: EventMeta) -> None:
        model.put(meta.entity_id, model.get(meta.entity_id, Decimal(0)) + event.amount)
        if event.amount == Decimal("7.25") and not self.fixed:
            raise ValueError("the bug")


def deposit(amount: str) -> account.MoneyDeposited:
    return account.MoneyDeposited(amount=Decimal(amount))


def test_a_fixed_dead_letter_is_applied_once_however_often_it_is_redriven() -> None:
    ledger = Ledger()
    feed = ProjectionFeed(ledger)
    feed.events("acc-1", deposit("1.00"), deposit("7.25"), deposit("2.00"))
    assert feed.model == {"acc-1": Decimal("3.00")}  # the failing handler's write undone
    [letter] = feed.dead_letters
    assert feed.redrive(letter).dead_letters  # not fixed yet: it fails again
    assert feed.model == {"acc-1": Decimal("3.00")}

    ledger.fixed = True
    result = feed.redrive(letter)
    assert [r.record.offset() for r in result.applied] == [1]
    assert feed.model == {"acc-1": Decimal("10.25")}
    for _ in range(2):  # a second request, the same request read again
        again = feed.redrive(letter)
        assert not again.applied
        [(_, reason)] = again.skipped
        assert "holds no dead letter of this record" in reason
    assert feed.model == {"acc-1": Decimal("10.25")}

    # The redriven version 2 was applied after version 3; the applied version stays 3.
    assert feed.redeliver(*feed.records).skipped == 3
    feed.events("acc-1", deposit("1.00"), version=3)  # a second copy of version 3
    assert feed.model == {"acc-1": Decimal("10.25")}


def test_after_a_replay_with_the_fix_a_redrive_applies_nothing() -> None:
    ledger = Ledger()
    feed = ProjectionFeed(ledger)
    feed.events("acc-1", deposit("7.25"), deposit("1.00"))
    [letter] = feed.dead_letters
    ledger.fixed = True
    feed.replay()  # the model applies the record itself now
    assert feed.model == {"acc-1": Decimal("8.25")}
    result = feed.redrive(letter)
    assert not result.applied and len(result.skipped) == 1
    assert feed.model == {"acc-1": Decimal("8.25")}


def test_a_redrive_before_the_model_reaches_the_record_is_skipped_and_says_so() -> None:
    ledger = Ledger()
    first = ProjectionFeed(ledger)
    first.events("acc-1", deposit("7.25"))
    [letter] = first.dead_letters
    ledger.fixed = True
    fresh = ProjectionFeed(ledger)  # another model that has read nothing yet
    [(_, reason)] = fresh.redrive(letter).skipped
    assert "has not reached this record yet" in reason
    assert fresh.model == {}


def test_two_dead_lettered_copies_of_one_version_are_applied_once() -> None:
    ledger = Ledger()
    feed = ProjectionFeed(ledger)
    feed.events("acc-1", deposit("7.25"))
    feed.events("acc-1", deposit("7.25"), version=1)  # a producer retry wrote it twice
    assert len(feed.dead_letters) == 2
    ledger.fixed = True
    result = feed.redrive(*feed.dead_letters)
    assert len(result.applied) == 1
    [(_, reason)] = result.skipped
    assert "applied by the redrive of another copy" in reason
    assert feed.model == {"acc-1": Decimal("7.25")}


def test_an_undecodable_record_fails_again_at_the_decode_stage() -> None:
    feed = ProjectionFeed(Ledger())
    feed.events("acc-1", Undecodable(b"garbage"))
    [letter] = feed.dead_letters
    [again] = feed.redrive(letter).dead_letters
    assert again.stage == "decode" and "magic byte" in str(again.error)
    assert len(feed.dead_letters) == 2


def test_what_the_model_remembers_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"

    def feed_of(ledger: Ledger) -> tuple[ProjectionFeed, ModelStore]:
        store = SqliteModelStore(path)
        return ProjectionFeed(ledger, store), store

    broken = Ledger()
    feed, store = feed_of(broken)
    feed.events("acc-1", deposit("7.25"), deposit("1.00"))
    [letter] = feed.dead_letters
    store.close()

    fixed = Ledger()
    fixed.fixed = True
    for expected in (1, 0):  # a new process, then another one: applied once
        feed, store = feed_of(fixed)
        assert len(feed.redrive(letter).applied) == expected
        assert feed.model == {"acc-1": Decimal("8.25")}
        store.close()


# -- statuses, from a dead-letter topic's records --------------------------------------------

PLACE = Place("bank.accounts", "id-1", 0, 17)
CONSUMER = "projection ledger"


def entry(offset: int, kind: str, **fields: object) -> DeadLetterEntry:
    defaults: dict[str, object] = {
        "dlq_topic": "bank.accounts.dlq",
        "dlq_partition": 0,
        "place": PLACE,
        "consumer": CONSUMER,
        "key": b"acc-1",
        "value": b"\x00",
        "headers": (),
        "timestamp": 1000 + offset,
    }
    if kind == LETTER:
        defaults.update(stage="handle", error_type="ValueError", error="the bug")
    defaults.update(fields)
    return DeadLetterEntry(kind=kind, dlq_offset=offset, **defaults)  # type: ignore[arg-type]


def status(*entries: DeadLetterEntry) -> tuple[str, str]:
    [letter] = letters_of(entries)
    return letter.status, letter.detail


def test_the_status_of_a_letter_follows_its_history() -> None:
    letter = entry(0, LETTER)
    asked = entry(1, REDRIVE)
    assert status(letter) == (DEAD_LETTERED, "")
    assert status(letter, asked) == (REQUESTED, "")
    assert status(letter, asked, entry(2, OUTCOME, redrive="0@1", outcome=APPLIED)) == (
        APPLIED,
        "",
    )
    skipped = entry(2, OUTCOME, redrive="0@1", outcome=SKIPPED, detail="not reached")
    assert status(letter, asked, skipped) == (SKIPPED, "not reached")
    failed = entry(2, LETTER, redrive="0@1")
    assert status(letter, asked, failed) == (DEAD_LETTERED, "failed again after redrive 0@1")
    # Two requests: one answered "skipped" (another runner was first), one "applied".
    second = entry(2, REDRIVE)
    applied = entry(3, OUTCOME, redrive="0@2", outcome=APPLIED)
    late = entry(4, OUTCOME, redrive="0@1", outcome=SKIPPED, detail="applied already")
    assert status(letter, asked, second, applied, late)[0] == APPLIED
    assert status(letter, asked, second, late) == (REQUESTED, "")  # one still unanswered
    # Asked again after it was applied: still applied.
    done = entry(2, OUTCOME, redrive="0@1", outcome=APPLIED)
    assert status(letter, asked, done, entry(5, REDRIVE))[0] == APPLIED


def test_requests_and_outcomes_of_a_deleted_letter_are_left_out() -> None:
    assert letters_of([entry(1, REDRIVE), entry(2, OUTCOME, redrive="0@1", outcome=APPLIED)]) == []


def test_each_record_and_consumer_is_one_letter() -> None:
    other_record = Place("bank.accounts", "id-1", 1, 3)
    entries = [
        entry(0, LETTER),
        entry(1, LETTER, consumer="projection owners"),
        entry(2, LETTER, place=other_record, key=b"acc-2", stage="decode"),
        entry(3, REDRIVE),
    ]
    letters = letters_of(entries)
    assert [(x.id, x.consumer, x.status) for x in letters] == [
        ("0@0", CONSUMER, REQUESTED),
        ("0@1", "projection owners", DEAD_LETTERED),
        ("0@2", CONSUMER, DEAD_LETTERED),
    ]

    def chosen(**selection: object) -> list[str]:
        return [x.id for x in letters if Selection(**selection).matches(x)]  # type: ignore[arg-type]

    assert chosen(consumer="ledger") == ["0@0", "0@2"]
    assert chosen(consumer="projection owners") == ["0@1"]
    assert chosen(stage="decode") == ["0@2"]
    assert chosen(entity="acc-2") == ["0@2"]
    assert chosen(error_type="KeyError") == []
    assert chosen(statuses=frozenset({REQUESTED})) == ["0@0"]
    assert chosen(ids=frozenset({"0@3"})) == ["0@0"]  # any of its records' ids


def test_a_letter_written_to_several_partitions_is_ordered_by_time() -> None:
    entries = [
        entry(0, REDRIVE, dlq_partition=0, timestamp=2000),
        entry(9, LETTER, dlq_partition=1, timestamp=1000),
    ]
    [letter] = letters_of(entries)  # read partition by partition
    assert [e.kind for e in letter.entries] == [LETTER, REDRIVE]
    assert letter.status == REQUESTED
