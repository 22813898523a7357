"""pytest plugin: a real Kafka broker and schema registry for the tests that need them.

Registered from ``tests/conftest.py`` with ``pytest_plugins = ["esgen.dev.pytest_plugin"]``.

Fixtures
--------
``kafka_bootstrap`` (session) -> ``str``
    ``host:port`` of a running Kafka 4 broker (KRaft, one node, transactions and log
    compaction on, auto topic creation OFF: create your topics, e.g. with ``new_topic``).
``registry_url`` (session) -> ``str``
    Base URL of a Confluent-compatible schema registry API, ready for
    ``SchemaRegistryClient({"url": registry_url})`` (Apicurio: ``.../apis/ccompat/v7``).
``schema_registry_client`` (function) -> ``SchemaRegistryClient``
    A fresh client on ``registry_url`` (fresh: the client caches ids per instance).
``unique_name`` (function) -> ``Callable[[str], str]``
    ``unique_name("orders")`` gives ``"orders-<test name>-<random>"``: topic and subject
    names that never collide, even across runs against the same long-lived broker.
``new_topic`` (function) -> ``Callable[..., str]``
    ``new_topic("orders", partitions=1, config={"cleanup.policy": "compact"})`` creates a
    uniquely named topic, waits until it exists and returns its name; deleted after the test.
``kafka_cluster`` (module) -> :class:`esgen.dev.cluster.Cluster`
    A private KRaft cluster of three broker+controller nodes on free loopback ports in a
    temporary folder (replication factor 3, ``min.insync.replicas`` 2 by default), started
    for the test module and killed by its own pids at the module's end (watchdogs stop it
    if the session is killed). ``.bootstrap``; ``.leader(topic, partition)`` and
    ``.in_sync(...)`` read the partition's metadata; ``.kill(node)`` sends SIGKILL,
    ``.restart(node)`` starts the node again on its data, ``.wait_in_sync(topic,
    partition)`` waits until it has caught up. Tests using it are marked ``cluster``. Never
    the shared broker: break it as you please. If it cannot start, the module's tests FAIL
    with the reason.

Where the services come from (per service, first match wins)
-------------------------------------------------------------
1. ``ESGEN_BOOTSTRAP`` / ``ESGEN_REGISTRY_URL`` when set (they must answer);
2. the services ``esgen dev up`` started (its state file), when they answer;
3. otherwise the plugin starts the service once for the session, lazily — only when a
   collected test uses a fixture above or carries the ``kafka``/``registry`` marker —
   on free ports in a temporary folder, and stops it at session end (a watchdog stops it
   if the session is killed first). Services found through 1 or 2 are never stopped.

When both services are needed they start in parallel. When a service cannot start,
every test that needs it FAILS (reported as failed, not skipped, not a bare error) with
the reason and the last lines of the service's log; the start is attempted once per
session. ``--esgen-keep-services`` leaves services the session started running.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from esgen.dev import health, services, state
from esgen.dev.cluster import Cluster
from esgen.dev.errors import ServiceError
from esgen.dev.state import ServiceRecord

ENV = {"kafka": "ESGEN_BOOTSTRAP", "registry": "ESGEN_REGISTRY_URL"}
FIXTURE_OF = {"kafka": "kafka_bootstrap", "registry": "registry_url"}
NEEDS = {
    "kafka_bootstrap": {"kafka"},
    "new_topic": {"kafka"},
    "registry_url": {"registry"},
    "schema_registry_client": {"registry"},
}
CLUSTER_FIXTURE = "kafka_cluster"
CLUSTER_MARKER = "cluster"
CLUSTER_BROKERS = 3
_ATTR = "_esgen_service_failure"


class ServiceUnavailable(Exception):
    """A service a test needs could not be found or started (the message says why)."""


class SessionServices:
    """Resolves each service once per session; stops what it started."""

    def __init__(self) -> None:
        self.needed: set[str] = set()
        self.addresses: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self.started: list[ServiceRecord] = []
        self.root: Path | None = None
        self.keep = False
        self._lock = threading.Lock()

    def address(self, name: str) -> str:
        with self._lock:
            if name not in self.addresses and name not in self.errors:
                self._resolve({name} | (self.needed - set(self.addresses) - set(self.errors)))
        if name in self.errors:
            raise ServiceUnavailable(self.errors[name])
        return self.addresses[name]

    def _resolve(self, names: set[str]) -> None:
        to_start: list[str] = []
        recorded = state.load()
        for name in sorted(names):
            from_env = os.environ.get(ENV[name])
            if from_env:
                record_ok = _responds(name, from_env)
                if record_ok:
                    self.addresses[name] = from_env
                else:
                    self.errors[name] = (
                        f"{ENV[name]}={from_env} is set but does not answer; unset it to let "
                        f"the tests start {name}, or start it (`esgen dev up`)"
                    )
                continue
            record = recorded.get(name)
            if record is not None and record.is_running() and services.responds(record):
                self.addresses[name] = record.address
                continue
            to_start.append(name)
        if not to_start:
            return
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="esgen-services-"))
        for name, result in services.start(
            to_start, self.root, usual_ports=False, owner_pid=os.getpid()
        ).items():
            if isinstance(result, ServiceError):
                self.errors[name] = str(result)
            else:
                self.started.append(result)
                self.addresses[name] = result.address

    def stop_started(self) -> None:
        if self.keep:
            return
        for record in self.started:
            services.stop(record, timeout=15)
        self.started.clear()
        if self.root is not None and not self.errors:
            shutil.rmtree(self.root, ignore_errors=True)


def _responds(name: str, address: str) -> bool:
    return health.kafka_ready(address) if name == "kafka" else health.registry_ready(address)


_SERVICES = SessionServices()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--esgen-keep-services",
        action="store_true",
        help="leave the Kafka broker and registry that this session started running",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kafka: needs the Kafka broker")
    config.addinivalue_line("markers", "registry: needs the schema registry")
    config.addinivalue_line(
        "markers", f"{CLUSTER_MARKER}: starts a private {CLUSTER_BROKERS}-broker Kafka cluster"
    )
    _SERVICES.keep = bool(config.getoption("--esgen-keep-services", default=False))
    atexit.register(_SERVICES.stop_started)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        needs: set[str] = set()
        fixtures = getattr(item, "fixturenames", ())
        for fixture in fixtures:
            needs |= NEEDS.get(fixture, set())
        if CLUSTER_FIXTURE in fixtures and not item.get_closest_marker(CLUSTER_MARKER):
            item.add_marker(getattr(pytest.mark, CLUSTER_MARKER))
        for name in services.NAMES:
            if item.get_closest_marker(name):
                needs.add(name)
            elif name in needs:
                item.add_marker(getattr(pytest.mark, name))
        _SERVICES.needed |= needs


def pytest_sessionfinish(session: pytest.Session) -> None:
    _SERVICES.stop_started()


def unavailable(message: str) -> BaseException:
    """A setup failure that is reported as the test FAILING, with ``message``."""
    failure = pytest.fail.Exception(message, pytrace=False)
    setattr(failure, _ATTR, True)
    return failure


def _require(name: str) -> str:
    try:
        return _SERVICES.address(name)
    except ServiceUnavailable as exc:
        raise unavailable(f"{name} is unavailable: {exc}") from None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    excinfo = call.excinfo
    if call.when == "setup" and excinfo is not None and getattr(excinfo.value, _ATTR, False):
        report.esgen_service_failure = True  # type: ignore[attr-defined]
    return report


def pytest_report_teststatus(report: pytest.TestReport) -> tuple[str, str, str] | None:
    """A test whose service could not start is FAILED (not an ERROR of the harness)."""
    if (
        report.when == "setup"
        and report.failed
        and getattr(report, "esgen_service_failure", False)
    ):
        return "failed", "F", "FAILED"
    return None


@pytest.fixture(autouse=True)
def _esgen_marked_services(request: pytest.FixtureRequest) -> None:
    for name in services.NAMES:
        if request.node.get_closest_marker(name):
            _require(name)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return _require("kafka")


@pytest.fixture(scope="session")
def registry_url() -> str:
    return _require("registry")


@pytest.fixture
def schema_registry_client(registry_url: str) -> Any:
    """confluent-kafka's own client, not esgen's: for tests that act as a foreign one."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return SchemaRegistryClient({"url": registry_url})


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    test = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name).strip("-")[:80]

    def make(prefix: str = "t") -> str:
        return f"{prefix}-{test}-{uuid.uuid4().hex[:10]}"

    return make


@pytest.fixture
def new_topic(
    kafka_bootstrap: str, unique_name: Callable[[str], str]
) -> Iterator[Callable[..., str]]:
    from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

    from esgen.runtime.kafka import KafkaClients

    admin = KafkaClients(kafka_bootstrap).admin()
    created: list[str] = []

    def make(
        prefix: str = "topic", partitions: int = 1, config: dict[str, str] | None = None
    ) -> str:
        name = unique_name(prefix)
        futures = admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
            operation_timeout=30,
        )
        futures[name].result(timeout=60)
        created.append(name)
        return name

    yield make
    if created:
        for future in admin.delete_topics(created, operation_timeout=30).values():
            with contextlib.suppress(Exception):
                future.result(timeout=30)


@pytest.fixture(scope="module")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("esgen-cluster")
    try:
        cluster = Cluster.start(root, CLUSTER_BROKERS, owner_pid=os.getpid())
    except ServiceError as exc:
        raise unavailable(f"the Kafka cluster is unavailable: {exc}") from None
    try:
        yield cluster
    finally:
        cluster.stop(graceful=False)  # its data goes with the temporary folder
