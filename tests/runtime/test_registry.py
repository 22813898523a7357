"""The one registry client: bounded in time, and the same schema text for register and lookup."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

import pytest

from esgen.registry import connect
from esgen.runtime import EntityDescriptor, RegistryUnavailable
from esgen.runtime.subjects import snapshot_topic
from generated.bank import account
from tests.check.conftest import project
from tests.check.esgen_project import Project
from tests.runtime.conftest import StoreFactory
from tests.runtime.services import silent_server

__all__ = ["project"]

# A record-valued default: Apicurio keeps the key order inside defaults as sent, so a
# lookup must send exactly the text the registration sent.
PARCEL = """\
entity: Parcel
namespace: test.reg
key: parcel_id
topic: {topic}

types:
  Address:
    fields:
      street: {{type: string, default: ""}}
      city: {{type: string, default: ""}}

state:
  fields:
    parcel_id: string
    address: {{type: Address, default: {{street: "", city: "nowhere"}}}}

events:
  Sent:
    fields:
      to: {{type: Address, default: {{street: "Main St", city: "nowhere"}}}}
    fold:
      - set: {{address: event.to}}
"""


def test_a_hanging_registry_fails_the_append_within_the_store_timeout(
    account_entity: EntityDescriptor[Any, Any], make_store: StoreFactory
) -> None:
    """Observation 9: no timeout on registry calls blocked an append forever."""
    outcome: list[BaseException | None] = []
    with silent_server() as url:
        store = make_store(account_entity, registry=url, timeout=2.0, auto_register=False)

        def append() -> None:
            try:
                store.append("acc-1", [account.AccountOpened(owner="Ann")])
            except BaseException as exc:  # the assertion below says which
                outcome.append(exc)
            else:
                outcome.append(None)

        thread = threading.Thread(target=append, daemon=True)
        thread.start()
        thread.join(timeout=60)
        assert outcome, "the append still waits for a registry that never answers"
    error = outcome[0]
    assert isinstance(error, RegistryUnavailable), error
    assert f"cannot reach the schema registry at {url}: no answer in time" in str(error)


def test_what_esgen_register_registers_is_what_the_store_looks_up(
    project: Callable[..., Project],
    unique_name: Callable[[str], str],
    registry_url: str,
    make_store: StoreFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Observation 10: ``register`` sent sorted JSON, the store looked up unsorted text."""
    p = project(topic=unique_name("parcels"))
    p.write(PARCEL.format(topic=p.topic))
    registered = p.cli("register", "--registry", registry_url)
    assert registered.exit_code == 0, registered.output
    monkeypatch.syspath_prepend(str(p.root))
    parcel = importlib.import_module(f"{p.package}.thing")

    # Without auto-registration the store finds every schema `esgen register` registered:
    # events, and the state (on the snapshot topic) at the first snapshot.
    store = make_store(parcel.ENTITY, auto_register=False, snapshot_every=1)
    store.append("p-1", [parcel.Sent()])
    assert store.stats.snapshots_written == 1
    assert store.load("p-1").address.street == "Main St"
    # With it, nothing is registered twice.
    again = make_store(parcel.ENTITY, auto_register=True, snapshot_every=1)
    again.append("p-1", [parcel.Sent()])
    registry = connect(registry_url)
    for subject in (
        f"{p.topic}-test.reg.Sent",
        f"{snapshot_topic(p.topic)}-test.reg.ParcelState",
    ):
        assert len(registry.versions(subject)) == 1, subject
