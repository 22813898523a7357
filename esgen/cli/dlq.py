"""``esgen dlq list | show | redrive``: inspect dead letters and apply them again after a fix.

Each reads the dead-letter topics (``<topic>.dlq``) of the ``--topic`` options (default:
every one on the cluster), groups their records into one letter per record and consumer
with its status (:mod:`esgen.runtime.redrive`), and keeps the letters the selection
options match. ``redrive`` appends a redrive request for each: a running runner of the
projection applies it once and answers (``--wait`` waits for the answers). Nothing is
ever deleted or rewritten: the event topics are untouched and every letter stays.

Everything printed from a record (keys, headers, values, error messages) is data: its
control characters are escaped, so a record cannot move the cursor or fake a line.
Exit codes: 0 done, 1 runtime failure (Kafka, a letter not found, a redrive that failed
again or was not answered in time with ``--wait``), 2 usage.
"""

from __future__ import annotations

import datetime
import functools
import getpass
import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import click

from esgen.cli.errors import Abort
from esgen.cli.runtime import BOOTSTRAP, REGISTRY, Progress, _is_tty, _json, _runtime_errors
from esgen.errors import one_line

_STAGES = ("decode", "handle")
_STATUSES = ("dead-lettered", "requested", "applied", "skipped")
_ERROR_WIDTH = 72


def _selection_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The options every ``esgen dlq`` command selects letters with."""
    options = [
        click.option(
            "--topic",
            "topics",
            multiple=True,
            metavar="TOPIC",
            help="Source topic whose TOPIC.dlq to read (repeatable; list and show "
            "default to every dead-letter topic on the cluster, redrive needs it).",
        ),
        click.option(
            "--consumer",
            metavar="NAME",
            help="Only letters of this projection (its name) or consumer (as in "
            "esgen.dlq.consumer, e.g. 'event store of Account').",
        ),
        click.option("--stage", type=click.Choice(_STAGES), help="Only letters of this stage."),
        click.option("--error-type", metavar="NAME", help="Only letters of this exception class."),
        click.option("--entity", metavar="ID", help="Only letters of this entity id (key)."),
        click.option(
            "--status",
            "statuses",
            multiple=True,
            type=click.Choice(_STATUSES),
            help="Only letters with this status (repeatable).",
        ),
        click.option(
            "--id",
            "ids",
            multiple=True,
            metavar="[P@]OFFSET",
            help="Only the letter with this id in its dead-letter topic (repeatable; "
            "OFFSET alone means partition 0).",
        ),
        BOOTSTRAP,
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _letter_id(text: str) -> str:
    partition, sep, offset = text.partition("@")
    if not sep:
        partition, offset = "0", text
    if not (partition.isdigit() and offset.isdigit()):
        raise click.BadParameter(
            f"{text!r}: expected OFFSET or PARTITION@OFFSET", param_hint="--id"
        )
    return f"{int(partition)}@{int(offset)}"


def _bootstrap(bootstrap: str | None) -> str:
    from esgen.runtime import settings
    from esgen.runtime.errors import ConfigurationError

    try:
        return settings.bootstrap_servers(bootstrap)
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from None


def _read(
    bootstrap: str,
    topics: tuple[str, ...],
    consumer: str | None,
    stage: str | None,
    error_type: str | None,
    entity: str | None,
    statuses: tuple[str, ...],
    ids: tuple[str, ...],
) -> Iterator[tuple[Any, str, list[Any]]]:
    """``(log, topic, its letters)`` for each topic, the selection applied; progress
    on a terminal while a topic is read."""
    from esgen.runtime.kafka import KafkaClients
    from esgen.runtime.redrive import DeadLetterLog, Selection

    selection = Selection(
        consumer=consumer,
        stage=stage,
        error_type=error_type,
        entity=entity,
        statuses=frozenset(statuses),
        ids=frozenset(_letter_id(i) for i in ids),
    )
    with DeadLetterLog(KafkaClients(bootstrap)) as log:
        for topic in topics or log.topics():
            if not log.exists(topic):
                click.echo(f"no dead-letter topic {topic}.dlq on {bootstrap}", err=True)
                continue
            progress = Progress(_is_tty())

            def shown(
                done: int, total: int, progress: Progress = progress, what: str = topic
            ) -> None:
                if progress.due():
                    progress.show(done, total - done, f"records of {what}.dlq", "left")

            try:
                letters = log.letters(topic, shown)
            finally:
                progress.clear()
            yield log, topic, [letter for letter in letters if selection.matches(letter)]


# -- list ----------------------------------------------------------------------------------


@click.group()
def dlq() -> None:
    """Dead letters: list them, show them, redrive them after a fix."""


@dlq.command(name="list")
@_selection_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per letter.")
def list_letters(as_json: bool, bootstrap: str | None, **selection: Any) -> None:
    """List dead letters: one line per record and consumer, with its status.

    Columns: the letter's id in its dead-letter topic, where the record is, its entity
    id, who gave up on it, the stage, the error, and the status (dead-lettered,
    requested, applied, skipped).
    """
    bootstrap = _bootstrap(bootstrap)
    with _runtime_errors():
        counts: dict[str, int] = {}
        for _, _, letters in _read(bootstrap, **selection):
            for letter in letters:
                counts[letter.status] = counts.get(letter.status, 0) + 1
                click.echo(json.dumps(_summary(letter)) if as_json else _line(letter))
        total = sum(counts.values())
        spread = ", ".join(f"{counts[s]:,} {s}" for s in _STATUSES if s in counts)
        click.echo(
            f"{total:,} letter{'s' if total != 1 else ''}" + (f": {spread}" if spread else ""),
            err=True,
        )


def _line(letter: Any) -> str:
    latest = letter.latest
    error = f"{latest.error_type}: {latest.error}"
    if len(error) > _ERROR_WIDTH:
        error = error[: _ERROR_WIDTH - 1] + "…"
    status = letter.status + (f" ({letter.detail})" if letter.detail else "")
    return one_line(
        f"{letter.dlq_topic} {letter.id}  {letter.place}  {latest.entity_id}  "
        f"{letter.consumer}  {latest.stage}  {error}  {status}"
    )


def _summary(letter: Any) -> dict[str, Any]:
    latest = letter.latest
    return {
        "dlq_topic": letter.dlq_topic,
        "id": letter.id,
        "topic": letter.place.topic,
        "topic_id": letter.place.topic_id,
        "partition": letter.place.partition,
        "offset": letter.place.offset,
        "entity": latest.entity_id,
        "consumer": letter.consumer,
        "stage": latest.stage,
        "error_type": latest.error_type,
        "error": latest.error,
        "status": letter.status,
        "detail": letter.detail,
        "letters": len(letter.letters),
        "redrives": sum(1 for e in letter.entries if e.kind == "redrive"),
    }


# -- show ----------------------------------------------------------------------------------


@dlq.command()
@_selection_options
@REGISTRY
@click.option("--json", "as_json", is_flag=True, help="One JSON object per letter.")
def show(as_json: bool, bootstrap: str | None, registry: str | None, **selection: Any) -> None:
    """Show dead letters in full: the record (key, headers, value decoded with its
    writer schema from the registry where possible), the reason, and its history
    (letters, redrive requests, outcomes)."""
    bootstrap = _bootstrap(bootstrap)
    decode = _decoder(registry)
    with _runtime_errors():
        shown = 0
        for _, _, letters in _read(bootstrap, **selection):
            for letter in letters:
                if as_json:
                    click.echo(json.dumps(_details(letter, decode), default=str))
                else:
                    click.echo("\n".join(_describe(letter, decode)))
                shown += 1
        if not shown:
            click.echo("no letter matches", err=True)
            if selection["ids"]:
                raise Abort(1)


def _decoder(registry: str | None) -> Callable[[bytes | None], tuple[str, Any]]:
    """``value -> (what it is, decoded fields or None)``; no registry: nothing decoded."""
    from esgen.runtime import settings
    from esgen.runtime.errors import ConfigurationError, EsgenError
    from esgen.runtime.framing import is_framed
    from esgen.runtime.registry import RegistryClient
    from esgen.runtime.wire import decode_with_writer_schema

    try:
        client: RegistryClient | None = RegistryClient.connect(settings.registry_setting(registry))
    except ConfigurationError:
        client = None

    @functools.cache
    def decode(value: bytes | None) -> tuple[str, Any]:
        if value is None:
            return "none (a tombstone)", None
        if not is_framed(value):
            return f"{len(value)} bytes, not in the wire format: {_preview(value)}", None
        if client is None:
            return f"{len(value)} bytes (no registry: pass --registry to decode)", None
        try:
            name, schema_id, data = decode_with_writer_schema(client, value)
        except EsgenError as exc:
            return f"{len(value)} bytes, not decoded: {exc}", None
        return f"{name} (schema id {schema_id})", data

    return decode


def _preview(value: bytes) -> str:
    return repr(value[:64]) + ("…" if len(value) > 64 else "")


def _when(millis: int | None) -> str:
    if millis is None:
        return "?"
    moment = datetime.datetime.fromtimestamp(millis / 1000, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds")


def _header_text(value: bytes | None) -> str:
    if value is None:
        return "(null)"
    try:
        return value.decode()
    except UnicodeDecodeError:
        return _preview(value)


def _history(entry: Any) -> str:
    if entry.kind == "letter":
        again = f" (redrive {entry.redrive} failed again)" if entry.redrive else ""
        return f"dead letter{again}: {entry.stage}: {entry.error_type}: {entry.error}"
    if entry.kind == "redrive":
        return f"redrive requested by {entry.requested_by or '?'}"
    detail = f": {entry.detail}" if entry.detail else ""
    return f"redrive {entry.redrive} {entry.outcome}{detail}"


def _describe(letter: Any, decode: Callable[[bytes | None], tuple[str, Any]]) -> list[str]:
    latest = letter.latest
    what, data = decode(latest.value)
    status = letter.status + (f" ({letter.detail})" if letter.detail else "")
    lines = [
        f"{letter.dlq_topic} {letter.id}: {letter.place}",
        f"  status     {status}",
        f"  consumer   {letter.consumer}",
        f"  entity     {latest.entity_id}",
        f"  stage      {latest.stage}",
        f"  error      {latest.error_type}: {latest.error}",
        f"  topic id   {letter.place.topic_id or '-'}",
        f"  written    {_when(latest.source_timestamp)}",
        f"  value      {what}" + ("" if data is None else f": {_json(data)}"),
    ]
    headers = latest.source_headers()
    for n, (name, value) in enumerate(headers):
        lines.append(f"  {'headers' if n == 0 else '':<9}  {name}: {_header_text(value)}")
    if not headers:
        lines.append("  headers    none")
    for n, entry in enumerate(letter.entries):
        label = "history" if n == 0 else ""
        lines.append(f"  {label:<9}  {entry.id}  {_when(entry.timestamp)}  {_history(entry)}")
    return [one_line(line) for line in lines]


def _details(letter: Any, decode: Callable[[bytes | None], tuple[str, Any]]) -> dict[str, Any]:
    latest = letter.latest
    what, data = decode(latest.value)
    return {
        **_summary(letter),
        "key": latest.entity_id,
        "source_timestamp": latest.source_timestamp,
        "headers": [[name, _header_text(value)] for name, value in latest.source_headers()],
        "value": {"description": what, "fields": json.loads(_json(data))},
        "history": [
            {
                "id": entry.id,
                "kind": entry.kind,
                "timestamp": entry.timestamp,
                "text": _history(entry),
            }
            for entry in letter.entries
        ],
    }


# -- redrive -------------------------------------------------------------------------------


@dlq.command()
@_selection_options
@click.option(
    "--again",
    is_flag=True,
    help="Also letters redriven before (requested, applied or skipped): safe, a record "
    "is still applied once.",
)
@click.option("--dry-run", is_flag=True, help="Print what would be redriven; write nothing.")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0.0,
    metavar="SECONDS",
    help="Wait this long for the runners' answers, and exit 1 unless every redrive was "
    "applied or skipped (default: do not wait).",
)
def redrive(
    again: bool,
    dry_run: bool,
    wait: float,
    bootstrap: str | None,
    **selection: Any,
) -> None:
    """Ask projections to apply their dead letters again, after a fix.

    For each selected letter of a projection that is dead-lettered (any status with
    --again), a redrive request is appended to its dead-letter topic. A running runner
    of the projection applies it (when it starts, then every redrive_interval seconds)
    through its apply step, exactly once, and appends the outcome; if it fails again,
    it is dead-lettered again. Letters of event stores are notices and are never
    redriven. --topic is required: redrive one topic's letters on purpose.
    """
    from esgen.runtime.redrive import request_redrives

    if not selection["topics"]:
        raise click.UsageError("redrive needs --topic (the source topic whose letters to redrive)")
    bootstrap = _bootstrap(bootstrap)
    with _runtime_errors():
        failed = False
        for log, topic, letters in _read(bootstrap, **selection):
            if dry_run:
                chosen = [
                    x for x in letters if x.redrivable and (again or x.status == "dead-lettered")
                ]
                for letter in chosen:
                    click.echo(_line(letter))
                click.echo(f"would request {len(chosen):,} redrives in {topic}.dlq", err=True)
                continue
            progress = Progress(_is_tty())

            def shown(done: int, total: int, progress: Progress = progress) -> None:
                if progress.due():
                    progress.show(done, total - done, "requests", "left")

            try:
                report = request_redrives(
                    log.clients, letters, requested_by=_requester(), again=again, progress=shown
                )
            finally:
                progress.clear()
            _report(topic, report)
            if wait and report.requested:
                failed |= _wait(log, topic, report.requested, wait)
        if failed:
            raise Abort(1)


def _requester() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name (a container without a passwd entry)
        user = "?"
    return f"{user}@{socket.gethostname()}"


def _report(topic: str, report: Any) -> None:
    from esgen.runtime.deadletter import PROCESSOR_PREFIX

    by_consumer: dict[str, int] = {}
    for request in report.requested:
        by_consumer[request.consumer] = by_consumer.get(request.consumer, 0) + 1
    spread = ", ".join(f"{name}: {count:,}" for name, count in sorted(by_consumer.items()))
    click.echo(
        f"requested {len(report.requested):,} redrives in {topic}.dlq"
        + (f" ({spread})" if spread else "")
    )
    if report.answered:
        click.echo(
            f"{len(report.answered):,} letters left alone: redriven before "
            "(--again asks again; a record is still applied once)",
            err=True,
        )
    commands = [x for x in report.not_redrivable if x.consumer.startswith(PROCESSOR_PREFIX)]
    notices = [x for x in report.not_redrivable if x not in commands]
    for letters, why in (
        (
            notices,
            "they note records on the event topic that are no events, which every read skips",
        ),
        (
            commands,
            "they are records of the command topic that are no commands; each was answered "
            "'failed' (its command id is free): send the corrected command again "
            "(esgen send, CommandClient)",
        ),
    ):
        if letters:
            consumers = sorted({x.consumer for x in letters})
            click.echo(
                f"{len(letters):,} letters of {', '.join(consumers)} are not redriven: {why}",
                err=True,
            )


def _wait(log: Any, topic: str, requests: list[Any], timeout: float) -> bool:
    """Wait for the answers to ``requests``; True when one failed or was not answered."""
    progress = Progress(_is_tty())

    def shown(done: int, total: int) -> None:
        if progress.due():
            progress.show(done, total - done, "redrives answered", "waiting")

    try:
        answers = log.wait_for_answers(topic, requests, timeout, shown)
    finally:
        progress.clear()
    counts = {"applied": 0, "skipped": 0, "failed again": 0}
    for answer in answers.values():
        outcome = answer.outcome if answer.kind == "outcome" else "failed again"
        counts[outcome] = counts.get(outcome, 0) + 1
        if outcome != "applied":
            reason = answer.detail if answer.kind == "outcome" else answer.error
            click.echo(one_line(f"redrive {answer.redrive} {outcome}: {reason}"), err=True)
    missing = len(requests) - len(answers)
    click.echo(
        f"{counts['applied']:,} applied, {counts['skipped']:,} skipped, "
        f"{counts['failed again']:,} failed again"
        + (f", {missing:,} not answered within {timeout:g} s" if missing else "")
    )
    if missing:
        names = sorted({r.consumer for r in requests})
        click.echo(f"is a runner of {', '.join(names)} running?", err=True)
    return bool(missing or counts["failed again"])
