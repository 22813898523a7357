"""Redrive: what became of each dead letter, and applying dead letters again after a fix.

A dead-letter topic ``<topic>.dlq`` is a log (:mod:`esgen.runtime.deadletter`): dead
letters, redrive requests and their outcomes. :class:`DeadLetterLog` reads it and
:func:`letters_of` groups it into one :class:`Letter` per record and consumer, with its
**status**:

=================  ================================================================
``dead-lettered``  waiting for a fix (or it failed again after a redrive: ``detail``
                   says which)
``requested``      a redrive was asked; no runner of the projection has answered yet
``applied``        a runner applied it
``skipped``        a runner answered that its model holds no dead letter of it
                   (``detail`` says why: it applied the record itself in a replay,
                   or has not reached it yet)
=================  ================================================================

**Redrive, exactly once.** :func:`request_redrives` appends a redrive request for each
letter (a copy of the record addressed to the consumer that gave up on it) to the same
dead-letter topic. Nothing is deleted, moved or rewritten: the event topic is untouched
and the letter stays where it is. A running :class:`~esgen.runtime.projections.
ProjectionRunner` of that projection reads the requests addressed to it
(:class:`RedriveInbox`: when it starts, then every ``redrive_interval`` seconds), reads
each record again from the event topic (the request's copy is never applied: writing
to a dead-letter topic lets one ask for a redrive, not change what is applied) and
applies them through its apply step (:meth:`~esgen.runtime.projections.apply.Applier.
redrive`) in one model transaction that also records how far it read the dead-letter
topic; then it appends an outcome. Its model remembers which records it dead-lettered,
so a record is applied once however often it is redriven (two operators at once,
``again=True``, a request read twice after a crash); a redrive that fails again is a new
dead letter of the record, and the letter waits for the next fix. Only letters of
projections are redriven: the event store's (records under an entity key that are no
events) are notices; the record stays in the event log and is skipped on every read.

Letters are selected with :class:`Selection` (consumer, stage, error type, entity id,
status, ids). :func:`request_redrives` skips letters that are requested or answered
already unless ``again=True`` (safe: the model still applies each record once).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from esgen.runtime.deadletter import (
    APPLIED,
    H_KIND,
    H_REQUESTED_BY,
    H_TIMESTAMP,
    LETTER,
    OUTCOME,
    PROJECTION_PREFIX,
    REDRIVE,
    DeadLetterEntry,
    DeadLetterError,
    Place,
    place_headers,
)
from esgen.runtime.kafka import KafkaClients
from esgen.runtime.models import TopicPartition
from esgen.runtime.projections.apply import Redrive
from esgen.runtime.scan import PartitionReader
from esgen.runtime.subjects import dead_letter_topic
from esgen.runtime.topics import TopicAdmin

DEAD_LETTERED = "dead-lettered"
REQUESTED = "requested"
SKIPPED = "skipped"
STATUSES = (DEAD_LETTERED, REQUESTED, APPLIED, SKIPPED)

Progress = Callable[[int, int], None]
"""``progress(done, total)``, called now and then during long reads and writes."""

_SUFFIX = ".dlq"


@dataclass
class Letter:
    """One record's dead letters by one consumer, with the redrives since (in order)."""

    place: Place
    consumer: str
    entries: list[DeadLetterEntry] = field(default_factory=list)

    @property
    def letters(self) -> list[DeadLetterEntry]:
        return [e for e in self.entries if e.kind == LETTER]

    @property
    def first(self) -> DeadLetterEntry:
        """The first dead letter (its id is the letter's id)."""
        return self.letters[0]

    @property
    def latest(self) -> DeadLetterEntry:
        """The latest dead letter: the reason it is dead-lettered now."""
        return self.letters[-1]

    @property
    def id(self) -> str:
        return self.first.id

    @property
    def dlq_topic(self) -> str:
        return self.first.dlq_topic

    @property
    def redrivable(self) -> bool:
        """Whether a runner can apply it again: only projections' letters."""
        return self.consumer.startswith(PROJECTION_PREFIX)

    @property
    def status(self) -> str:
        return self._state()[0]

    @property
    def detail(self) -> str:
        """More about the status: why a redrive was skipped, which one failed again."""
        return self._state()[1]

    def _state(self) -> tuple[str, str]:
        status, detail = DEAD_LETTERED, ""
        asked: set[str] = set()  # requests since the latest letter
        unanswered: set[str] = set()
        for entry in self.entries:
            if entry.kind == LETTER:
                status, asked, unanswered = DEAD_LETTERED, set(), set()
                detail = f"failed again after redrive {entry.redrive}" if entry.redrive else ""
            elif entry.kind == REDRIVE:
                asked.add(entry.id)
                unanswered.add(entry.id)
                if status != APPLIED:
                    status, detail = REQUESTED, ""
            elif entry.redrive in asked:  # an outcome
                unanswered.discard(entry.redrive)
                if entry.outcome == APPLIED:
                    status, detail = APPLIED, ""
                elif status == REQUESTED and not unanswered:
                    status, detail = SKIPPED, entry.detail
        return status, detail


def letters_of(entries: Iterable[DeadLetterEntry]) -> list[Letter]:
    """The letters of a dead-letter topic's entries (read in order), in the order of
    their first dead letter; requests and outcomes of letters that are gone (deleted)
    are left out."""
    found: dict[tuple[Place, str], Letter] = {}
    for entry in entries:
        key = (entry.place, entry.consumer)
        letter = found.get(key)
        if letter is None:
            letter = found[key] = Letter(entry.place, entry.consumer)
        letter.entries.append(entry)
    kept = [letter for letter in found.values() if letter.letters]
    for letter in kept:
        if len({e.dlq_partition for e in letter.entries}) > 1:
            # Written to several partitions (a topic made by hand): time orders them.
            letter.entries.sort(key=lambda e: (e.timestamp, e.dlq_partition, e.dlq_offset))
    return sorted(kept, key=lambda x: (x.first.dlq_partition, x.first.dlq_offset))


@dataclass(frozen=True)
class Selection:
    """Which letters: every given condition must hold (None or empty: any)."""

    consumer: str | None = None  # the consumer, or a projection's name
    stage: str | None = None
    error_type: str | None = None
    entity: str | None = None  # the record's key
    statuses: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()  # "<partition>@<offset>" of any of its entries

    def matches(self, letter: Letter) -> bool:
        latest = letter.latest
        return (
            (
                self.consumer is None
                or self.consumer == letter.consumer
                or PROJECTION_PREFIX + self.consumer == letter.consumer
            )
            and (self.stage is None or latest.stage == self.stage)
            and (self.error_type is None or latest.error_type == self.error_type)
            and (self.entity is None or latest.entity_id == self.entity)
            and (not self.statuses or letter.status in self.statuses)
            and (not self.ids or any(e.id in self.ids for e in letter.entries))
        )


class DeadLetterLog:
    """Reads dead-letter topics: every partition, committed records, from the first one
    the topic keeps. Never writes, never joins a group."""

    def __init__(self, clients: KafkaClients, timeout: float = 30.0) -> None:
        self.clients = clients
        self.timeout = timeout
        self._admin = TopicAdmin(clients.admin(), clients.bootstrap, timeout)
        self._reader: PartitionReader | None = None

    def topics(self) -> list[str]:
        """The source topics that have a dead-letter topic on the cluster, sorted."""
        try:
            metadata = self._admin.admin.list_topics(timeout=self.timeout)
        except KafkaException as exc:
            raise self._admin._unreachable(exc) from exc
        return sorted(t[: -len(_SUFFIX)] for t in metadata.topics if t.endswith(_SUFFIX))

    def exists(self, topic: str) -> bool:
        """Whether ``topic`` has a dead-letter topic."""
        return self._admin.exists(dead_letter_topic(topic))

    def read(
        self,
        topic: str,
        starts: Mapping[int, int] | None = None,
        progress: Progress | None = None,
    ) -> list[DeadLetterEntry]:
        """The entries of ``<topic>.dlq`` (from ``starts[partition]``, default its
        beginning) up to its end now; [] when it does not exist. Records esgen did not
        write are left out."""
        target = dead_letter_topic(topic)
        found = self._admin.describe(target)
        if found is None:
            return []
        reader = self._reader_instance()
        ranges = []
        for partition in range(found.partitions):
            low, end = reader.watermarks(target, partition)
            ranges.append((partition, max(low, (starts or {}).get(partition, 0)), end))
        total = sum(max(0, end - start) for _, start, end in ranges)
        done = 0
        entries = []
        for partition, start, end in ranges:
            for msg in reader.read(target, partition, start, end):
                done += 1
                if progress is not None and done % 1000 == 0:
                    progress(done, total)
                entry = DeadLetterEntry.parse(msg)
                if entry is not None and entry.place.topic == topic:
                    entries.append(entry)
        if progress is not None:
            progress(total, total)
        return entries

    def letters(self, topic: str, progress: Progress | None = None) -> list[Letter]:
        """The letters of ``<topic>.dlq`` with their status now."""
        return letters_of(self.read(topic, progress=progress))

    def ends(self, topic: str) -> dict[int, int]:
        """Where each partition of ``<topic>.dlq`` ends now."""
        target = dead_letter_topic(topic)
        found = self._admin.describe(target)
        if found is None:
            return {}
        reader = self._reader_instance()
        return {p: reader.watermarks(target, p)[1] for p in range(found.partitions)}

    def wait_for_answers(
        self,
        topic: str,
        requests: Sequence[DeadLetterEntry],
        timeout: float,
        progress: Progress | None = None,
    ) -> dict[str, DeadLetterEntry]:
        """Wait until each of ``requests`` (in ``<topic>.dlq``) is answered, by an outcome
        or by the dead letter of a redrive that failed again, or ``timeout`` passes:
        request id -> its answer (the unanswered are missing)."""
        wanted = {r.id for r in requests}
        starts: dict[int, int] = {}
        for request in requests:
            first = starts.get(request.dlq_partition, request.dlq_offset)
            starts[request.dlq_partition] = min(first, request.dlq_offset)
        answers: dict[str, DeadLetterEntry] = {}
        deadline = time.monotonic() + timeout
        while True:
            for entry in self.read(topic, starts):
                starts[entry.dlq_partition] = entry.dlq_offset + 1
                answer = entry.redrive in wanted and entry.kind in (OUTCOME, LETTER)
                if answer and (entry.redrive not in answers or entry.outcome == APPLIED):
                    answers[entry.redrive] = entry
            if progress is not None:
                progress(len(answers), len(wanted))
            if len(answers) == len(wanted) or time.monotonic() >= deadline:
                return answers
            time.sleep(0.5)

    def _reader_instance(self) -> PartitionReader:
        if self._reader is None:
            self._reader = PartitionReader(self.clients, self.timeout)
        return self._reader

    def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()

    def __enter__(self) -> DeadLetterLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class RedriveReport:
    """What :func:`request_redrives` did."""

    requested: list[DeadLetterEntry] = field(default_factory=list)  # the requests written
    answered: list[Letter] = field(default_factory=list)  # asked before (not with again)
    not_redrivable: list[Letter] = field(default_factory=list)  # the event store's


def request_redrives(
    clients: KafkaClients,
    letters: Iterable[Letter],
    *,
    requested_by: str,
    again: bool = False,
    progress: Progress | None = None,
    timeout: float = 30.0,
) -> RedriveReport:
    """Append a redrive request for each of ``letters`` that is ``dead-lettered``
    (any status with ``again``) to its dead-letter topic, and wait until Kafka has them.

    A letter of the event store is never redriven (:attr:`Letter.redrivable`). Raises
    :class:`~esgen.runtime.deadletter.DeadLetterError` if a request could not be
    written; the report's requests are those Kafka confirmed, and running it again is
    safe (requested letters are skipped; a request written twice is applied once).
    """
    report = RedriveReport()
    chosen: list[Letter] = []
    for letter in letters:
        if not letter.redrivable:
            report.not_redrivable.append(letter)
        elif letter.status == DEAD_LETTERED or again:
            chosen.append(letter)
        else:
            report.answered.append(letter)
    if not chosen:
        return report
    producer = clients.producer({"message.timeout.ms": int(timeout * 1000)})
    failures: list[str] = []
    confirmed: list[DeadLetterEntry] = []

    def delivered(request: DeadLetterEntry, err: KafkaError | None, msg: Any) -> None:
        if err is not None:
            failures.append(err.str())
        else:  # a delivery report has no headers: the request is what was sent, here
            confirmed.append(
                replace(request, dlq_offset=msg.offset(), timestamp=msg.timestamp()[1])
            )

    for done, letter in enumerate(chosen, 1):
        latest = letter.latest
        headers: list[tuple[str, bytes | None]] = [
            *latest.source_headers(),
            (H_KIND, REDRIVE.encode()),
            *place_headers(latest.place, latest.consumer),
            (H_REQUESTED_BY, requested_by.encode()),
        ]
        if latest.source_timestamp is not None:
            headers.append((H_TIMESTAMP, str(latest.source_timestamp).encode()))
        request = replace(
            latest,
            kind=REDRIVE,
            headers=tuple(headers),
            stage="",
            error_type="",
            error="",
            redrive="",
            requested_by=requested_by,
        )
        while True:
            try:
                producer.produce(
                    latest.dlq_topic,
                    partition=latest.dlq_partition,  # beside the letter: one order
                    key=latest.key,
                    value=latest.value,
                    headers=list(request.headers),
                    on_delivery=functools.partial(delivered, request),
                )
                break
            except BufferError:  # the local queue is full: let it drain
                producer.poll(0.1)
            except KafkaException as exc:
                failures.append(str(exc.args[0]))
                break
        producer.poll(0)
        if progress is not None and done % 500 == 0:
            progress(done, len(chosen))
    remaining = producer.flush(timeout)
    if progress is not None:
        progress(len(chosen), len(chosen))
    report.requested = sorted(confirmed, key=lambda e: (e.dlq_partition, e.dlq_offset))
    if failures or remaining:
        reason = "; ".join(failures[:3]) or f"{remaining} not confirmed within {timeout:g} s"
        raise DeadLetterError(
            f"{len(chosen) - len(confirmed)} of {len(chosen)} redrive requests could not be "
            f"written ({reason}); {len(confirmed)} were. Running the redrive again is safe"
        )
    return report


@dataclass
class Inbox:
    """What :meth:`RedriveInbox.read` found in one dead-letter topic."""

    redrives: list[Redrive]  # requests for this consumer with their records, in order
    unusable: list[tuple[DeadLetterEntry, str]]  # requests that cannot be applied, and why
    positions: dict[TopicPartition, int]  # where the reading ended: record these


_SPAN = 1000  # requests for records closer than this are read in one pass


class RedriveInbox:
    """The redrive requests addressed to one consumer (``projection <name>``), read from
    the dead-letter topics of the topics it consumes.

    A request names a record by its place; what is applied is the record the event
    topic holds there, read again, never the copy in the request: whoever may write to
    a dead-letter topic can ask for a redrive, not change what is applied.
    """

    def __init__(self, clients: KafkaClients, consumer: str, timeout: float = 30.0) -> None:
        self.consumer = consumer
        self._log = DeadLetterLog(clients, timeout)
        self._exists: set[str] = set()
        self._topic_ids: dict[str, str] = {}

    def read(self, topic: str, positions: Mapping[TopicPartition, int]) -> Inbox | None:
        """Requests in ``<topic>.dlq`` from ``positions`` (the model's) to its end, with
        their records; None when the topic does not exist or nothing was added since."""
        target = dead_letter_topic(topic)
        if topic not in self._exists:
            if not self._log.exists(topic):
                return None  # asked again next time: it is made by the first dead letter
            self._exists.add(topic)
            described = self._log._admin.describe(topic)
            self._topic_ids[topic] = (described.topic_id or "") if described else ""
        ends = self._log.ends(topic)
        starts = {p: positions.get((target, p), 0) for p in ends}
        if all(starts[p] >= end for p, end in ends.items()):
            return None
        requests: list[DeadLetterEntry] = []
        unusable: list[tuple[DeadLetterEntry, str]] = []
        current = self._topic_ids.get(topic, "")
        for entry in self._log.read(topic, starts):
            if entry.kind != REDRIVE or entry.consumer != self.consumer:
                continue
            if entry.place.topic_id and current and entry.place.topic_id != current:
                unusable.append(
                    (
                        entry,
                        f"the record is from an earlier incarnation of {topic} (topic id "
                        f"{entry.place.topic_id}), which was deleted",
                    )
                )
            else:
                requests.append(entry)
        records = self._records(topic, requests)
        redrives = []
        for entry in requests:
            record = records.get((entry.place.partition, entry.place.offset))
            if record is None:
                unusable.append((entry, f"{topic} has no record at {entry.place} any more"))
            else:
                redrives.append(Redrive(record, entry))
        return Inbox(redrives, unusable, {(target, p): end for p, end in ends.items()})

    def _records(
        self, topic: str, requests: Sequence[DeadLetterEntry]
    ) -> dict[tuple[int, int], Any]:
        """The records of ``topic`` at the requests' places, read from the topic."""
        wanted: dict[int, set[int]] = {}
        for entry in requests:
            wanted.setdefault(entry.place.partition, set()).add(entry.place.offset)
        reader = self._log._reader_instance()
        found: dict[tuple[int, int], Any] = {}
        for partition, offsets in wanted.items():
            _, end = reader.watermarks(topic, partition)
            spans: list[list[int]] = []
            for offset in sorted(o for o in offsets if o < end):
                if spans and offset - spans[-1][1] <= _SPAN:
                    spans[-1][1] = offset
                else:
                    spans.append([offset, offset])
            for first, last in spans:
                for msg in reader.read(topic, partition, first, last + 1):
                    offset = msg.offset() or 0
                    if offset in offsets:
                        found[(partition, offset)] = msg
        return found

    def close(self) -> None:
        self._log.close()


def batches(inbox: Inbox, size: int) -> Iterable[tuple[list[Redrive], dict[TopicPartition, int]]]:
    """``inbox``'s redrives in chunks of ``size``, each with the positions to record
    after it (the last with the inbox's end)."""
    redrives = inbox.redrives
    if not redrives:
        yield [], inbox.positions
        return
    for start in range(0, len(redrives), size):
        chunk = redrives[start : start + size]
        if start + size >= len(redrives):
            yield chunk, inbox.positions
        else:
            last = chunk[-1].request
            assert last is not None
            yield chunk, {(last.dlq_topic, last.dlq_partition): last.dlq_offset + 1}


__all__ = [
    "DEAD_LETTERED",
    "REQUESTED",
    "SKIPPED",
    "STATUSES",
    "DeadLetterLog",
    "Inbox",
    "Letter",
    "RedriveInbox",
    "RedriveReport",
    "Selection",
    "batches",
    "letters_of",
    "request_redrives",
]
