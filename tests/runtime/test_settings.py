"""One configuration story for every entry point, and one Kafka client factory.

Explicit arguments win over ``ESGEN_*`` variables, which win over ``[tool.esgen]``; registry
credentials come from the URL or the environment wherever the URL came from; an unknown
option or Kafka setting is an error naming it; topic configs are settable.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from confluent_kafka.admin import AdminClient, ConfigResource  # type: ignore[attr-defined]

from esgen.cli import main
from esgen.runtime import ConfigurationError, EntityDescriptor, EventStore, RegistryError, settings
from esgen.runtime.kafka import KafkaClients
from generated.bank import account
from tests.runtime.conftest import StoreFactory
from tests.runtime.services import recording_registry


def _project(folder: Path, **values: str) -> Path:
    lines = "".join(f'{key} = "{value}"\n' for key, value in values.items())
    (folder / "pyproject.toml").write_text(f"[tool.esgen]\n{lines}")
    return folder


def test_explicit_beats_environment_beats_project_file(tmp_path: Path) -> None:
    start = _project(tmp_path, bootstrap="file:9092", registry="http://file:8081")
    (start / "sub").mkdir()
    start = start / "sub"  # found from a folder below, as from a package's folder
    env = {"ESGEN_BOOTSTRAP": "env:9092", "ESGEN_REGISTRY_URL": "http://env:8081"}
    assert settings.bootstrap_servers("arg:9092", environ=env, start=start) == "arg:9092"
    assert settings.bootstrap_servers(None, environ=env, start=start) == "env:9092"
    assert settings.bootstrap_servers(None, environ={}, start=start) == "file:9092"
    assert settings.registry_setting(None, environ=env, start=start) == "http://env:8081"
    assert settings.registry_setting(None, environ={}, start=start) == "http://file:8081"
    config = {"url": "http://dict:8081"}
    assert settings.registry_setting(config, environ=env, start=start) is config
    with pytest.raises(ConfigurationError, match=r"ESGEN_BOOTSTRAP or \[tool.esgen\] bootstrap"):
        settings.bootstrap_servers(None, environ={}, start=tmp_path.parent)


def test_event_store_takes_its_services_from_the_environment(
    account_entity: EntityDescriptor[Any, Any],
    make_store: StoreFactory,
    kafka_bootstrap: str,
    registry_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ESGEN_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("ESGEN_REGISTRY_URL", registry_url)
    store = make_store(account_entity, bootstrap=None, registry=None)
    store.append("acc-1", [account.AccountOpened(owner="Ann")])
    assert store.bootstrap == kafka_bootstrap
    assert store.load("acc-1").owner == "Ann"


def test_event_store_takes_its_services_from_the_project_file(
    account_entity: EntityDescriptor[Any, Any],
    make_store: StoreFactory,
    kafka_bootstrap: str,
    registry_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("ESGEN_BOOTSTRAP", raising=False)
    monkeypatch.delenv("ESGEN_REGISTRY_URL", raising=False)
    monkeypatch.chdir(_project(tmp_path, bootstrap=kafka_bootstrap, registry=registry_url))
    store = make_store(account_entity, bootstrap=None, registry=None)
    store.append("acc-1", [account.AccountOpened(owner="Ann")])
    assert store.load("acc-1").owner == "Ann"


def test_registry_credentials_from_the_environment_reach_the_store(
    account_entity: EntityDescriptor[Any, Any],
    make_store: StoreFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ESGEN_REGISTRY_USER", "ann")
    monkeypatch.setenv("ESGEN_REGISTRY_PASSWORD", "s3cret")
    with recording_registry() as (url, requests):
        store = make_store(account_entity, registry=url, auto_register=False)
        with pytest.raises(RegistryError, match="is not registered"):
            store.append("acc-1", [account.AccountOpened(owner="Ann")])
    assert requests, "the registry was never asked"
    expected = "Basic " + base64.b64encode(b"ann:s3cret").decode()
    assert {r.get("authorization") for r in requests} == {expected}


def test_an_unknown_option_is_a_type_error_naming_it(
    account_entity: EntityDescriptor[Any, Any], kafka_bootstrap: str, registry_url: str
) -> None:
    with pytest.raises(TypeError, match=r"'snapshot_evry' \(did you mean 'snapshot_every'\?\)"):
        EventStore(account_entity, kafka_bootstrap, registry_url, snapshot_evry=5)
    # Underscored names used to become Kafka settings; they go in kafka_config now.
    with pytest.raises(TypeError, match=r"'security_protocol'.*kafka_config"):
        EventStore(account_entity, kafka_bootstrap, registry_url, security_protocol="SSL")


def test_kafka_settings_that_break_guarantees_or_do_not_exist_are_refused(
    account_entity: EntityDescriptor[Any, Any], kafka_bootstrap: str, registry_url: str
) -> None:
    with pytest.raises(ConfigurationError, match=r"lingr.ms"):
        KafkaClients(kafka_bootstrap, {"lingr.ms": 5}).producer()
    with pytest.raises(ConfigurationError, match=r"enable.idempotence=False"):
        EventStore(
            account_entity,
            kafka_bootstrap,
            registry_url,
            kafka_config={"enable.idempotence": False},
        )
    with pytest.raises(ConfigurationError, match=r"isolation.level='read_uncommitted'"):
        KafkaClients(kafka_bootstrap, {"isolation.level": "read_uncommitted"}).reader()
    with pytest.raises(ConfigurationError, match=r"'bootstrap.servers' is set by esgen"):
        KafkaClients(kafka_bootstrap, {"bootstrap.servers": "elsewhere:9092"})


def _topic_configs(bootstrap: str, topic: str) -> dict[str, str]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource("topic", topic)
    entries = admin.describe_configs([resource])[resource].result(timeout=30)
    return {name: entry.value for name, entry in entries.items()}


def test_topic_configs_are_settable(
    account_entity: EntityDescriptor[Any, Any], make_store: StoreFactory, kafka_bootstrap: str
) -> None:
    store = make_store(
        account_entity,
        topic_config={"max.message.bytes": "2000000"},
        snapshot_topic_config={"segment.ms": "3600000"},
    )
    assert _topic_configs(kafka_bootstrap, store.topic)["max.message.bytes"] == "2000000"
    snapshots = _topic_configs(kafka_bootstrap, store.snapshot_topic)
    assert snapshots["segment.ms"] == "3600000"
    assert snapshots["cleanup.policy"] == "compact"


def test_cli_reads_the_project_file_too(
    new_topic: Any,
    kafka_bootstrap: str,
    registry_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    topic = new_topic("tail")
    args = ["tail", "generated.bank.account", "--topic", topic, "--until-end"]
    monkeypatch.chdir(_project(tmp_path, bootstrap=kafka_bootstrap, registry=registry_url))
    result = CliRunner().invoke(main, args, env={"ESGEN_BOOTSTRAP": "", "ESGEN_REGISTRY_URL": ""})
    assert result.exit_code == 0, result.output
    # The environment wins over the file (whose broker is unreachable now).
    _project(tmp_path, bootstrap="127.0.0.1:1", registry="http://127.0.0.1:1")
    env = {"ESGEN_BOOTSTRAP": kafka_bootstrap, "ESGEN_REGISTRY_URL": registry_url}
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
