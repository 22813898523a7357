"""SIGTERM and SIGINT stop runners cleanly (observation 11 of issue 8): the batch is
finished and committed, the group is left at once, the process exits 0; ``lag()`` is
safe from any thread; ``esgen tail`` and ``esgen replay`` stop the same way.

The runner tests start real processes and signal them, on the shared broker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from esgen.runtime.models import InMemoryModelStore, SqliteModelStore
from esgen.runtime.projections import ProjectionRunner
from esgen.runtime.signals import StopSignals
from generated.bank import account
from tests.runtime.projection_support import (
    Balances,
    EventProducer,
    History,
    balances_of,
    continuation,
    history,
    wait_for,
)

ROOT = Path(__file__).parents[2]
ESGEN = str(Path(sys.executable).parent / "esgen")

# -- the signals module (no services) ------------------------------------------------------


def test_the_first_signal_asks_to_stop_and_the_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    stops: list[str] = []
    with StopSignals(lambda: stops.append("stop")) as signals:
        assert signals.active
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler runs in this thread at the next bytecode
        assert stops == ["stop"]
        assert signals.received is signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_signal_acts_as_it_did_before() -> None:
    with StopSignals(lambda: None) as signals, pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        assert signals.received is signal.SIGINT
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C again: KeyboardInterrupt
        time.sleep(0.05)
    # A second SIGTERM ends the process (its default), even while stop() is pending.
    code = (
        "import os, signal, time\n"
        "from esgen.runtime.signals import StopSignals\n"
        "with StopSignals(lambda: print('stopping', flush=True)):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(0.1)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(5)\n"
        "print('not reached')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == -signal.SIGTERM
    assert done.stdout == "stopping\n"


def test_outside_the_main_thread_nothing_is_installed() -> None:
    before = signal.getsignal(signal.SIGTERM)
    seen: list[bool] = []

    def enter() -> None:
        with StopSignals(lambda: None) as signals:
            seen.append(signals.active)
            seen.append(signal.getsignal(signal.SIGTERM) is before)

    thread = threading.Thread(target=enter)
    thread.start()
    thread.join(10)
    assert seen == [False, True]


# -- runners -------------------------------------------------------------------------------


@pytest.fixture
def workers(
    kafka_bootstrap: str, registry_url: str
) -> Iterator[Callable[[str, str, str, Path], subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(name: str, topic: str, group: str, db: Path) -> subprocess.Popen[str]:
        env = {
            **os.environ,
            "ESGEN_BOOTSTRAP": kafka_bootstrap,
            "ESGEN_REGISTRY_URL": registry_url,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.runtime.projection_worker", name, topic, group, str(db)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:  # a test that failed half-way leaves none running
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


def assignment(admin: AdminClient, group: str) -> dict[str, set[int]] | None:
    """Client id -> partitions, when the group is stable (None while it rebalances)."""
    try:
        found = admin.describe_consumer_groups([group], request_timeout=5)[group].result()
    except Exception:
        return None
    if found.state.name != "STABLE":
        return None
    return {
        m.client_id: {tp.partition for tp in m.assignment.topic_partitions} for m in found.members
    }


def report(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, f"exit {process.returncode}: {err[-2000:]}"
    assert "Traceback" not in err, err
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def test_sigterm_hands_partitions_over_at_once_and_totals_stay_exact(
    kafka_bootstrap: str,
    registry_url: str,
    new_topic: Callable[..., str],
    unique_name: Callable[[str], str],
    workers: Callable[[str, str, str, Path], subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    """Before: SIGTERM killed the runner without leaving the group, its partitions sat
    idle for the 45 s session timeout, and the process exited -15."""
    topic = new_topic("accounts", partitions=4)
    producer = EventProducer(kafka_bootstrap, registry_url, topic)
    events = history(accounts=16, per_account=10)
    producer.send(events.events)
    group, db = unique_name("group"), tmp_path / "shared.db"
    model = SqliteModelStore(db)
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})

    a = workers("runner-a", topic, group, db)
    wait_for(lambda: sum(model.offsets().values()) > 0, 60, "runner a to apply events")
    b = workers("runner-b", topic, group, db)
    wait_for(
        lambda: (found := assignment(admin, group)) is not None and len(found) == 2,
        60,
        "both runners to own partitions",
    )
    more = continuation(events, per_account=5)
    producer.send(more.events)  # while both run

    a.send_signal(signal.SIGTERM)
    stopped = report(a)
    assert stopped["stopped_by"] == "SIGTERM"
    # Well within the 45 s session timeout: runner a left the group, b owns everything.
    wait_for(
        lambda: assignment(admin, group) == {"runner-b": {0, 1, 2, 3}},
        15,
        "runner b to own every partition",
    )
    last = continuation(more, per_account=3)
    producer.send(last.events)
    total = len(events.events) + len(more.events) + len(last.events)
    wait_for(lambda: sum(model.offsets().values()) == total, 60, "every record applied")

    b.send_signal(signal.SIGINT)
    finished = report(b)
    assert finished["stopped_by"] == "SIGINT"
    assert stopped["processed"] + finished["processed"] == total  # each event once
    assert stopped["dead_lettered"] == finished["dead_lettered"] == 0
    expected = {k: v + 24 for k, v in events.balances().items()}  # 8 deposits of 3.00
    assert balances_of(model.snapshot()) == expected
    model.close()


def test_lag_is_safe_from_another_thread_while_run_runs(
    kafka_bootstrap: str,
    registry_url: str,
    new_topic: Callable[..., str],
    unique_name: Callable[[str], str],
) -> None:
    """Before: lag() from another thread blocked until the consumer closed, then raised
    ``RuntimeError: Consumer closed``."""
    topic = new_topic("accounts", partitions=2)
    producer = EventProducer(kafka_bootstrap, registry_url, topic)
    producer.send(history(accounts=4, per_account=5).events)
    store = InMemoryModelStore()
    runner = ProjectionRunner(
        Balances(),
        store,
        group_id=unique_name("group"),
        bootstrap=kafka_bootstrap,
        registry=registry_url,
        topics={account.ENTITY: topic},
    )
    errors: list[BaseException] = []

    def run() -> None:
        try:
            runner.run()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()

    def lag_now() -> int | None:
        asked: list[int | None] = []
        helper = threading.Thread(target=lambda: asked.append(runner.lag()), daemon=True)
        helper.start()
        helper.join(5)
        assert asked, "lag() did not return within 5 s"
        return asked[0]

    def applied() -> int:
        return sum(store.offsets().values())

    try:
        wait_for(lambda: lag_now() == 0 and applied() == 20, 60, "lag 0 with every record")
        producer.send(continuation(history(accounts=4, per_account=5), per_account=2).events)
        wait_for(lambda: lag_now() == 0 and applied() == 28, 60, "lag 0 with the new records")
    finally:
        runner.stop()
        thread.join(30)
        runner.close()
    assert not errors
    assert runner.lag() is None  # not running: unknown, not an error


# -- the CLI -------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_tail_stops_on_a_signal_and_exits_0(
    kafka_bootstrap: str,
    registry_url: str,
    new_topic: Callable[..., str],
    signum: signal.Signals,
) -> None:
    topic = new_topic("accounts")
    EventProducer(kafka_bootstrap, registry_url, topic).send(
        history(accounts=1, per_account=3).events
    )
    env = {**os.environ, "ESGEN_BOOTSTRAP": kafka_bootstrap, "ESGEN_REGISTRY_URL": registry_url}
    tail = subprocess.Popen(
        [ESGEN, "tail", "generated.bank.account", "--topic", topic, "--from-beginning"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(60, tail.kill)  # never a test that hangs on readline()
    watchdog.start()
    try:
        assert tail.stdout is not None
        lines = [tail.stdout.readline() for _ in range(3)]  # following: it never ends alone
        tail.send_signal(signum)
        out, err = tail.communicate(timeout=30)
    finally:
        watchdog.cancel()
        if tail.poll() is None:
            tail.kill()
            tail.communicate()
    assert tail.returncode == 0, err
    assert [line.split("  ")[1:3] for line in lines] == [["acc-0", f"v{v}"] for v in (1, 2, 3)]
    assert out == "" and "Traceback" not in err


def test_replay_stopped_by_sigterm_commits_its_batch_and_says_the_model_is_incomplete(
    kafka_bootstrap: str,
    registry_url: str,
    new_topic: Callable[..., str],
    tmp_path: Path,
) -> None:
    topic = new_topic("accounts")
    events = history(accounts=10, per_account=150)  # 1,500 events, ~2.5 s per 500-batch
    EventProducer(kafka_bootstrap, registry_url, topic).send(events.events)
    db = tmp_path / "slow.db"
    env = {**os.environ, "ESGEN_BOOTSTRAP": kafka_bootstrap, "ESGEN_REGISTRY_URL": registry_url}
    replay = subprocess.Popen(
        [
            ESGEN,
            "replay",
            "tests.runtime.projection_support:SlowBalances",
            "--topic",
            f"Account={topic}",
            "--db",
            str(db),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: db.exists() and _applied(db) > 0, 60, "the first batch")
        replay.send_signal(signal.SIGTERM)
        out, err = replay.communicate(timeout=60)
    finally:
        if replay.poll() is None:
            replay.kill()
            replay.communicate()
    assert replay.returncode == 128 + signal.SIGTERM, err
    assert "replay of slow-balances stopped by SIGTERM before the end" in err
    assert "run `esgen replay` again" in err and "Traceback" not in err
    assert out == ""
    applied = _applied(db)
    assert 0 < applied < 1500
    # The model is exactly the first `applied` events: offsets, versions and balances agree.
    expected = History(events.events[:applied]).balances()
    model = SqliteModelStore(db)
    assert balances_of(model.snapshot()) == expected
    model.close()


def _applied(db: Path) -> int:
    store = SqliteModelStore(db)
    try:
        return sum(store.offsets().values())
    finally:
        store.close()
