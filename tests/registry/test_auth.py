"""Credentials for the registry come from the URL or the environment, never from flags."""

from __future__ import annotations

import pytest

from esgen.registry.connection import client_config, connect, redact
from esgen.runtime import RegistryError


def test_plain_url() -> None:
    conf = client_config("http://registry:8081/x", {})
    assert conf["url"] == "http://registry:8081/x"
    assert "basic.auth.user.info" not in conf and "bearer.auth.token" not in conf


def test_basic_auth_in_url_is_moved_out_of_it() -> None:
    conf = client_config("https://al%40ice:s%3Acret@registry:8081/x", {})
    assert conf["url"] == "https://registry:8081/x"
    assert conf["basic.auth.user.info"] == "al@ice:s:cret"


def test_basic_auth_from_environment() -> None:
    env = {"ESGEN_REGISTRY_USER": "bob", "ESGEN_REGISTRY_PASSWORD": "pw"}
    assert client_config("http://r/x", env)["basic.auth.user.info"] == "bob:pw"


def test_bearer_token_from_environment() -> None:
    conf = client_config("http://r/x", {"ESGEN_REGISTRY_TOKEN": "t0k"})
    assert conf["bearer.auth.credentials.source"] == "STATIC_TOKEN"
    assert conf["bearer.auth.token"] == "t0k"


def test_both_is_an_error() -> None:
    env = {"ESGEN_REGISTRY_USER": "bob", "ESGEN_REGISTRY_TOKEN": "t"}
    with pytest.raises(ValueError, match="not both"):
        client_config("http://r/x", env)
    with pytest.raises(RegistryError, match="not both"):
        connect("http://r/x", env)


@pytest.mark.parametrize(
    "env",
    [
        {"ESGEN_REGISTRY_USER": "bob", "ESGEN_REGISTRY_PASSWORD": "pw"},
        {"ESGEN_REGISTRY_TOKEN": "t0k", "ESGEN_REGISTRY_LOGICAL_CLUSTER": "lsrc-1"},
        {},
    ],
)
def test_every_credential_form_builds_a_client(env: dict[str, str]) -> None:
    """The configuration is one confluent-kafka accepts (it refuses unknown properties)."""
    assert connect("http://registry:8081/x", env).url == "http://registry:8081/x"


def test_every_call_has_a_timeout() -> None:
    assert client_config("http://r/x", {})["timeout"] == 10
    assert client_config("http://r/x", {}, timeout=2.5)["timeout"] == 2.5


def test_password_never_printed() -> None:
    assert redact("http://bob:secret@r:1/x") == "http://bob:***@r:1/x"
