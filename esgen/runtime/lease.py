"""The partition lease: one writer per event partition at a time, across processes.

Kafka has no conditional append: two writers that both read version 7 can both append
"version 8". esgen writes an event partition only through a transactional producer
whose ``transactional.id`` is that partition's own, ``esgen.<event topic>.<partition>``
(:func:`transactional_id`), and the id works as a lease:

Acquiring (:meth:`PartitionLease.acquire`)
    ``init_transactions()``. The transaction coordinator bumps the id's epoch, which
    **fences** every earlier holder (its next produce or commit fails), and first
    completes or aborts the transaction an earlier holder left open. Only then does it
    return, so the partition's ``read_committed`` end read after it includes every commit
    of every earlier holder.
Writing
    Each write is one transaction (:meth:`begin`, :meth:`produce`, :meth:`commit`): the
    events of an append, and the snapshot when one is due, atomically. The holder reads
    the partition to its end and checks ``expected_version`` *before* it writes; if
    another process took the lease meanwhile, the commit fails with
    :class:`LeaseLost` and nothing of it is stored. The caller re-acquires, reads again,
    checks again and retries.
Outcomes of a commit
    :meth:`commit` returns when the transaction is committed, or raises
    :class:`LeaseLost` (fenced: nothing stored), :class:`TransactionAborted` (a produce
    failed: aborted, nothing stored) or :class:`CommitOutcomeUnknown` (Kafka did not
    answer in time: stored or not, to be found out by acquiring again, which completes or
    aborts the open transaction, and reading the partition).

The command processor uses the same ids for the partitions it owns, so a direct writer
and a processor fence each other: a partition has one writer at a time. It adds its
consumer offsets to each transaction (:meth:`PartitionLease.send_offsets`), so the
commands a transaction decided are consumed exactly when its events are stored. To build a whole
partition's state after acquiring, read it with
``PartitionReader.read(topic, partition, start, end, strict=True)`` up to ``end =
PartitionReader.watermarks(topic, partition)[1]`` (the last stable offset).

Costs (measured in ``benchmarks/runtime_store.py``): acquiring is one
``InitProducerId`` round trip to the coordinator (plus a new producer after fencing); each
write adds ``AddPartitionsToTxn`` and ``EndTxn`` round trips and a commit marker per
partition written. Writers that take turns on one partition re-acquire at every turn.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer, TopicPartition

from esgen.runtime import logs
from esgen.runtime.errors import StoreError
from esgen.runtime.kafka import KAFKA_LOGGER, KafkaClients

log = logs.store

_OFFSETS_WAIT = 10.0
"""Seconds to wait for ``send_offsets_to_transaction`` at most (it usually takes ms)."""


def transactional_id(topic: str, partition: int) -> str:
    """The transactional id that is the lease of ``topic[partition]`` (one per partition,
    the same in every process: event stores and command processors)."""
    return f"esgen.{topic}.{partition}"


class _LeaseLog:
    """librdkafka's log for lease producers: being fenced, and waiting for the previous
    holder's transaction to finish, are how a lease passes on, so librdkafka's alarmed
    lines about them are debug lines here; the rest go to esgen.kafka as they are."""

    def log(self, level: int, message: str, *args: Any) -> None:
        text = message % args if args else message
        if any(sign in text for sign in ("fenced", "old epoch", "concurrent operation")):
            level = logging.DEBUG
        KAFKA_LOGGER.log(level, text)


class LeaseLost(Exception):
    """Another process took the lease (this producer is fenced): nothing was stored."""


class TransactionAborted(Exception):
    """The transaction could not be committed and was aborted: nothing was stored."""


class CommitOutcomeUnknown(Exception):
    """The commit was asked for but Kafka did not say whether it happened."""


Report = tuple[KafkaError | None, Message]


class PartitionLease:
    """The lease of one event partition (see the module docstring)."""

    def __init__(
        self,
        clients: KafkaClients,
        topic: str,
        partition: int,
        *,
        timeout: float,
        producer_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.clients = clients
        self.topic = topic
        self.partition = partition
        self.transactional_id = transactional_id(topic, partition)
        self.timeout = timeout
        budget = max(10_000, int(timeout * 1000))
        self._config = {
            # An open transaction of a holder that died blocks read_committed readers
            # of the partition until it times out (or the next holder acquires).
            "transaction.timeout.ms": budget,
            "message.timeout.ms": budget,  # librdkafka: at most the transaction timeout
            "logger": _LeaseLog(),
            **(producer_config or {}),
        }
        self._producer: Producer | None = None
        self._held = False
        self._reports: list[Report] = []
        self.acquisitions = 0

    @property
    def held(self) -> bool:
        """Whether this process believes it holds the lease (a commit tells for sure)."""
        return self._held

    def acquire(self, timeout: float | None = None) -> None:
        """Take the lease: fence every earlier holder and complete or abort its open
        transaction. ``StoreError`` when Kafka does not allow it within ``timeout``."""
        budget = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        self.release()
        producer = self.clients.transactional_producer(self.transactional_id, self._config)
        try:
            # Metadata first: a producer that meets the broker in init_transactions
            # waits for librdkafka's coordinator timer (500 ms on a one-broker cluster).
            producer.list_topics(self.topic, timeout=budget)
        except KafkaException as exc:
            log.debug("metadata before init_transactions: %s", exc)  # init will say
        while True:
            try:
                producer.init_transactions(max(0.1, deadline - time.monotonic()))
                break
            except KafkaException as exc:
                error = exc.args[0]
                if error.retriable() and time.monotonic() < deadline:
                    continue  # the coordinator is busy or moving: init may be called again
                self._abandon(producer)
                raise StoreError(
                    f"cannot take the write lease of {self.topic}[{self.partition}] "
                    f"(transactional id {self.transactional_id!r}) on Kafka at "
                    f"{self.clients.bootstrap} within {budget:g} s: {error.str()}; the "
                    "broker must allow transactions (transaction.state.log.replication."
                    "factor <= brokers) and the client needs Write and Describe on the "
                    "transactional id"
                ) from exc
        self._producer = producer
        self._held = True
        self.acquisitions += 1

    def release(self) -> None:
        """Let go of the producer (the lease itself passes on when another process takes it)."""
        producer, self._producer = self._producer, None
        self._held = False
        if producer is not None:
            self._abandon(producer)

    @staticmethod
    def _abandon(producer: Producer) -> None:
        """Drop a producer at once: ``purge()`` its queue; the last reference going
        destroys the client (about 25 ms). Not ``close()``: it aborts the open transaction
        with no time limit, so it blocks for as long as the transaction coordinator is
        away (over 90 s with the broker down, measured), and a processor could not stop.
        The open transaction is aborted by ``abort()`` before, or by the next holder's
        ``init_transactions``, which fences this producer anyway."""
        try:
            producer.purge()
        except Exception as exc:  # a fenced or failed producer may refuse even this
            log.debug("purging a transactional producer: %s", exc)

    def _live(self) -> Producer:
        if self._producer is None or not self._held:
            raise LeaseLost(f"the lease of {self.topic}[{self.partition}] is not held")
        return self._producer

    def _failed(self, exc: KafkaException) -> Exception:
        """What a Kafka error during a transaction means for the caller."""
        error = exc.args[0]
        if not isinstance(error, KafkaError) or error.fatal():
            self.release()  # fenced (or any fatal error): this producer is done
            return LeaseLost(str(error))
        if error.txn_requires_abort():
            self.abort()
            return TransactionAborted(error.str())
        return CommitOutcomeUnknown(error.str())

    def begin(self) -> None:
        self._reports = []
        try:
            self._live().begin_transaction()
        except KafkaException as exc:
            raise self._failed(exc) from exc

    def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes,
        partition: int,
        headers: Any,
    ) -> None:
        """Add one record to the open transaction."""
        producer = self._live()
        report = self._reports.append

        def delivered(error: KafkaError | None, msg: Message) -> None:
            report((error, msg))

        while True:
            try:
                producer.produce(
                    topic, value, key, partition=partition, headers=headers, on_delivery=delivered
                )
                return
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.1)
            except KafkaException as exc:
                raise self._failed(exc) from exc

    def flush(self) -> list[Report]:
        """Wait until every record produced so far is written (not yet committed); their
        delivery reports in produce order. ``TransactionAborted`` when one failed."""
        producer = self._live()
        try:
            remaining = producer.flush(self.timeout)
        except KafkaException as exc:
            raise self._failed(exc) from exc
        except SystemError as exc:
            # confluent-kafka raises a fatal error (fenced) while serving a delivery
            # callback as a SystemError whose cause is the KafkaException.
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, KafkaException):
                raise self._failed(cause) from exc
            raise
        failed = [error for error, _ in self._reports if error is not None]
        if failed:
            if failed[0].fatal():
                self.release()
                raise LeaseLost(failed[0].str())
            self.abort()
            raise TransactionAborted(failed[0].str())
        if remaining:
            raise CommitOutcomeUnknown(
                f"{remaining} record(s) not acknowledged within {self.timeout:g} s"
            )
        return list(self._reports)

    def send_offsets(self, offsets: list[TopicPartition], group_metadata: Any) -> None:
        """Add a consumer group's input offsets to the open transaction: they are
        committed with it, or not at all (the command processor's exactly-once step).
        ``group_metadata`` is the consumer's ``consumer_group_metadata()``: a member of an
        older generation (a zombie) is refused by the group coordinator.

        librdkafka's call can block far past its timeout when the group coordinator went
        away meanwhile (confluentinc/librdkafka#5456, e.g. after a broker restart), so it
        runs in a thread of its own: if it has not returned in time, this producer is let
        go (closed once the call returns) and :class:`CommitOutcomeUnknown` is raised;
        acquiring the lease again aborts the transaction."""
        producer = self._live()
        done = threading.Event()
        lock = threading.Lock()
        given_up = False
        failures: list[KafkaException] = []

        def call() -> None:
            try:
                producer.send_offsets_to_transaction(offsets, group_metadata, self.timeout)
            except KafkaException as exc:
                failures.append(exc)
            finally:
                with lock:
                    done.set()
                    abandoned = given_up
                if abandoned:
                    self._abandon(producer)

        threading.Thread(target=call, name=f"{self.transactional_id}-offsets", daemon=True).start()
        wait = min(self.timeout, _OFFSETS_WAIT)
        if not done.wait(wait):
            with lock:
                given_up = not done.is_set()
            if given_up:
                self._producer, self._held = None, False
                raise CommitOutcomeUnknown(
                    f"the consumer offsets were not added to the transaction of "
                    f"{self.topic}[{self.partition}] within {wait:g} s (the group coordinator "
                    "is unavailable?); the producer is let go"
                )
        if failures:
            raise self._failed(failures[0]) from failures[0]

    def commit(self) -> list[Report]:
        """Commit the open transaction; the delivery reports of its records."""
        reports = self.flush()
        try:
            self._live().commit_transaction(self.timeout)
        except KafkaException as exc:
            raise self._failed(exc) from exc
        return reports

    def abort(self) -> None:
        """Abort the open transaction (nothing of it is ever seen by read_committed)."""
        producer = self._producer
        if producer is None:
            return
        try:
            producer.abort_transaction(self.timeout)
        except KafkaException as exc:
            log.debug("aborting a transaction on %s[%d]: %s", self.topic, self.partition, exc)
            self.release()  # the next acquire aborts it for sure
