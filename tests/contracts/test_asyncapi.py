"""``esgen contracts``: the AsyncAPI 3.0 document of the definitions."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from esgen.cli import main
from esgen.contracts import ASYNCAPI_FILE, DIAGRAMS_FILE, ContractError, asyncapi, render
from esgen.model import Logical, Primitive, Project, TypeRef
from esgen.runtime import headers as wire
from esgen.runtime import replies as runtime_replies
from generated.bank import account
from generated.shop import order
from tests.contracts.conftest import REPO

ESGEN_HEADERS = [
    wire.H_TYPE,
    wire.H_EVENT_ID,
    wire.H_VERSION,
    wire.H_TIMESTAMP,
    wire.H_CORRELATION_ID,
    wire.H_CAUSATION_ID,
]
COMMAND_HEADERS = [
    wire.H_TYPE,
    "esgen.command_id",
    wire.H_TIMESTAMP,
    wire.H_CORRELATION_ID,
    wire.H_CAUSATION_ID,
]


def _document(project: Project, **options: Any) -> dict[str, Any]:
    return asyncapi.build(project, title="Example", version="1.2.3", **options)


def _errors(schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(document)]


def test_the_document_is_valid_against_the_official_asyncapi_schema(
    example: Project, asyncapi_schema: dict[str, Any]
) -> None:
    assert asyncapi_schema["$id"] == "http://asyncapi.com/definitions/3.0.0/asyncapi.json"
    assert _errors(asyncapi_schema, _document(example)) == []


def test_the_validation_has_teeth(example: Project, asyncapi_schema: dict[str, Any]) -> None:
    """A broken message, binding or Avro schema is caught (the sub-schemas are applied)."""
    document = _document(example)
    message = next(iter(document["components"]["messages"].values()))
    broken_avro = copy.deepcopy(document)
    next(iter(broken_avro["components"]["messages"].values()))["payload"]["schema"] = {
        "type": "record",
        "fields": "not a list",
    }
    broken_binding = copy.deepcopy(document)
    next(iter(broken_binding["components"]["messages"].values()))["bindings"]["kafka"][
        "schemaIdLocation"
    ] = "nowhere"
    broken_operation = copy.deepcopy(document)
    next(iter(broken_operation["operations"].values()))["action"] = "publish"
    for broken in (broken_avro, broken_binding, broken_operation):
        assert _errors(asyncapi_schema, broken), "an invalid document passed"
    assert message["payload"]["schemaFormat"] == "application/vnd.apache.avro+json;version=1.9.0"


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_every_reference_resolves_and_operations_use_their_channels_messages(
    example: Project,
) -> None:
    document = _document(example)
    refs = _refs(document)
    assert len(refs) > 50
    for ref in refs:
        _resolve(document, ref)
    for name, operation in document["operations"].items():
        channel = operation["channel"]["$ref"]
        assert name.startswith(channel.removeprefix("#/channels/") + ".")
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel + "/messages/")


def test_one_channel_per_event_snapshot_command_and_reply_topic_with_their_configuration(
    example: Project,
) -> None:
    document = _document(example)
    assert list(document["channels"]) == [
        "bank.accounts",
        "bank.accounts.snapshots",
        "bank.accounts.commands",
        "bank.accounts.replies",
        "com.example.shop.order",
        "com.example.shop.order.snapshots",
        "com.example.shop.order.commands",
        "com.example.shop.order.replies",
    ]
    events = document["channels"]["bank.accounts"]
    assert events["address"] == "bank.accounts"
    assert events["bindings"]["kafka"]["topicConfiguration"] == {
        "cleanup.policy": ["delete"],
        "retention.ms": -1,
        "retention.bytes": -1,
    }
    snapshots = document["channels"]["bank.accounts.snapshots"]
    assert snapshots["bindings"]["kafka"]["topicConfiguration"] == {"cleanup.policy": ["compact"]}
    assert list(events["messages"]) == [e.name for e in example.entities[0].events]
    assert list(snapshots["messages"]) == ["AccountState"]
    commands = document["channels"]["bank.accounts.commands"]
    # never compacted: that would drop a command queued behind another for the same entity
    assert commands["bindings"]["kafka"]["topicConfiguration"] == {"cleanup.policy": ["delete"]}
    assert list(commands["messages"]) == [c.name for c in example.entities[0].commands]
    assert "co-partitioned" in commands["description"]
    assert "replied on `bank.accounts.replies`" in commands["description"]
    replies = document["channels"]["bank.accounts.replies"]
    assert replies["bindings"]["kafka"]["topicConfiguration"] == {
        "cleanup.policy": ["compact", "delete"]
    }
    assert replies["messages"] == {"Reply": {"$ref": "#/components/messages/esgen.reply"}}
    reply = document["components"]["messages"]["esgen.reply"]
    assert reply["contentType"] == "application/json"
    assert reply["payload"] is runtime_replies.SCHEMA
    assert reply["headers"]["properties"]["esgen.type"]["const"] == "esgen.reply"
    assert sorted(document["operations"]) == sorted(
        f"{topic}.{action}" for topic in document["channels"] for action in ("send", "receive")
    )


@pytest.mark.parametrize("module", [account, order], ids=["account", "order"])
def test_each_message_carries_the_schema_the_runtime_registers(module: Any) -> None:
    """Payloads are exactly the generated module's Avro schemas: one source of truth."""
    from esgen.dsl import load_project

    document = _document(load_project(REPO / "schemas"))
    messages = document["components"]["messages"]
    descriptor = module.ENTITY
    assert descriptor.commands, "the example's entities accept commands"
    commands = {c.full_name for c in descriptor.commands}
    for full_name in [
        *(e.full_name for e in descriptor.events),
        descriptor.state.full_name,
        *commands,
    ]:
        message = messages[full_name]
        assert message["payload"]["schema"] == module.AVRO_SCHEMAS[full_name], full_name
        assert message["headers"]["properties"][wire.H_TYPE]["const"] == full_name
        assert message["name"] == full_name.rsplit(".", 1)[1]
        kafka = message["bindings"]["kafka"]
        assert kafka["schemaIdLocation"] == "payload"
        assert kafka["schemaIdPayloadEncoding"] == "confluent"
        assert kafka["schemaLookupStrategy"] == "TopicRecordNameStrategy"
        assert kafka["key"]["type"] == "string"
        if full_name in commands:
            assert message["x-esgen-subject"] == f"{descriptor.topic}.commands-{full_name}"
        elif full_name != descriptor.state.full_name:
            assert message["x-esgen-subject"] == f"{descriptor.topic}-{full_name}"


def test_event_messages_describe_the_esgen_headers(example: Project) -> None:
    document = _document(example)
    deposited = document["components"]["messages"]["com.example.bank.MoneyDeposited"]
    headers = deposited["headers"]
    assert list(headers["properties"]) == ESGEN_HEADERS
    assert headers["required"] == ESGEN_HEADERS[:4]
    assert headers["properties"][wire.H_EVENT_ID]["format"] == "uuid"
    assert deposited["correlationId"]["location"] == f"$message.header#/{wire.H_CORRELATION_ID}"
    state = document["components"]["messages"]["com.example.bank.AccountState"]
    assert list(state["headers"]["properties"]) == [
        wire.H_TYPE,
        wire.H_VERSION,
        wire.H_FINGERPRINT,
        wire.H_SOURCE_PARTITION,
        wire.H_SOURCE_OFFSET,
        wire.H_SOURCE_TOPIC_ID,
    ]


def test_command_messages_describe_the_command_headers(example: Project) -> None:
    document = _document(example)
    withdraw = document["components"]["messages"]["com.example.bank.Withdraw"]
    headers = withdraw["headers"]
    assert list(headers["properties"]) == COMMAND_HEADERS
    assert headers["required"] == COMMAND_HEADERS[:3]
    assert "same id" in headers["properties"]["esgen.command_id"]["description"]
    assert withdraw["correlationId"]["location"] == f"$message.header#/{wire.H_CORRELATION_ID}"
    assert (
        withdraw["bindings"]["kafka"]["key"]
        == (
            document["components"]["messages"]["com.example.bank.MoneyWithdrawn"]["bindings"][
                "kafka"
            ]["key"]
        )
    )
    channel = "#/channels/bank.accounts.commands"
    send, receive = (
        document["operations"][f"bank.accounts.commands.{a}"] for a in ("send", "receive")
    )
    assert send["channel"] == receive["channel"] == {"$ref": channel}
    assert {"$ref": f"{channel}/messages/Withdraw"} in send["messages"]
    assert "CommandClient" in send["summary"] and "CommandProcessor" in receive["summary"]


def test_a_command_message_says_what_it_emits_and_why_it_is_rejected(example: Project) -> None:
    messages = _document(example)["components"]["messages"]
    withdraw = messages["com.example.bank.Withdraw"]["description"]
    assert withdraw.startswith(
        "Take money out of the account.\n\nCauses, in order: `MoneyWithdrawn`."
    )
    assert "(`command.amount > 0`; `the account does not exist`; " in withdraw
    assert "`insufficient funds`)" in withdraw
    close = messages["com.example.bank.Close"]["description"]
    assert "Causes, in order: `AccountFrozen` if `state.status == OPEN`, `AccountClosed`." in close
    transfer = messages["com.example.bank.Transfer"]["description"]
    assert "Decided by code (`example_rules.bank:transfer`): it may cause any Account event" in (
        transfer
    )
    tag = messages["com.example.bank.Tag"]["description"]
    assert "Rejected only when its events would break an invariant" in tag


def test_code_spans_hold_backticks() -> None:
    assert asyncapi._code("a > b") == "`a > b`"
    assert asyncapi._code("no `x` here") == "``no `x` here``"
    assert asyncapi._code("`edge") == "`` `edge ``"


def test_an_entity_without_commands_has_no_command_channel(example: Project) -> None:
    account = dataclasses.replace(example.entities[0], commands=())
    document = _document(dataclasses.replace(example, entities=(account,)))
    assert list(document["channels"]) == ["bank.accounts", "bank.accounts.snapshots"]
    assert not [name for name in document["operations"] if ".commands." in name]


@pytest.mark.parametrize(
    ("key_type", "expected"),
    [
        (Primitive("string"), {"type": "string"}),
        (Logical("uuid"), {"type": "string", "format": "uuid"}),
        (Primitive("long"), {"type": "string", "pattern": "^-?[0-9]+$"}),
        (Primitive("int"), {"type": "string", "pattern": "^-?[0-9]+$"}),
    ],
)
def test_the_key_is_the_entity_id_in_its_canonical_text_form(
    example: Project, key_type: TypeRef, expected: dict[str, str]
) -> None:
    entity = example.entities[0]
    fields = tuple(
        dataclasses.replace(f, type=key_type) if f.name == entity.key else f
        for f in entity.state.fields
    )
    state = dataclasses.replace(entity.state, fields=fields)
    project = dataclasses.replace(example, entities=(dataclasses.replace(entity, state=state),))
    message = _document(project)["components"]["messages"]["com.example.bank.MoneyDeposited"]
    key = message["bindings"]["kafka"]["key"]
    assert {k: v for k, v in key.items() if k != "description"} == expected
    assert "account_id" in key["description"]


def test_record_strategy_changes_the_lookup_and_topic_strategy_is_refused(
    example: Project,
) -> None:
    document = _document(example, strategy="record")
    message = document["components"]["messages"]["com.example.bank.MoneyDeposited"]
    assert message["bindings"]["kafka"]["schemaLookupStrategy"] == "RecordNameStrategy"
    assert message["x-esgen-subject"] == "com.example.bank.MoneyDeposited"
    with pytest.raises(ContractError, match="union of every event type"):
        _document(example, strategy="topic")


@pytest.mark.parametrize("suffix", [".snapshots", ".commands"])
def test_a_topic_that_is_another_entitys_snapshot_or_command_topic_is_refused(
    example: Project, suffix: str
) -> None:
    account_entity, order_entity = example.entities
    clash = dataclasses.replace(order_entity, topic=f"{account_entity.topic}{suffix}")
    with pytest.raises(ContractError, match=r"is used by both Account .* and Order"):
        _document(dataclasses.replace(example, entities=(account_entity, clash)))


def test_the_output_is_deterministic(example: Project) -> None:
    """Byte-identical from two separate loads of the definitions, commands included."""
    from esgen.dsl import load_project

    first = render(example, title="Example", version="1")
    again = render(load_project(REPO / "schemas"), title="Example", version="1")
    assert first == again
    assert '"bank.accounts.commands": {' in first[ASYNCAPI_FILE]
    assert "any event: decide example_rules.bank:transfer" in first[DIAGRAMS_FILE]
    assert list(first) == [ASYNCAPI_FILE, DIAGRAMS_FILE]
    assert json.loads(first[ASYNCAPI_FILE])["info"]["version"] == "1"


def test_cli_writes_checks_and_reports_stale_files(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "contracts"
    args = ["contracts", "--definitions", str(REPO / "schemas"), "--output", str(out)]
    written = runner.invoke(main, args)
    assert written.exit_code == 0, written.output
    assert "wrote 2 of 2 files" in written.output
    assert runner.invoke(main, [*args, "--check"]).exit_code == 0
    assert "wrote 0 of 2 files" in runner.invoke(main, args).output  # idempotent

    (out / DIAGRAMS_FILE).write_text("edited\n")
    (out / ASYNCAPI_FILE).unlink()
    stale = runner.invoke(main, [*args, "--check"])
    assert stale.exit_code == 1
    assert f"{out / ASYNCAPI_FILE}: missing" in stale.output
    assert f"{out / DIAGRAMS_FILE}: out of date" in stale.output
    assert not (out / ASYNCAPI_FILE).exists()  # --check writes nothing

    refused = runner.invoke(main, [*args, "--subject-strategy", "topic"])
    assert refused.exit_code == 2
    assert "union of every event type" in refused.output


def test_the_committed_contracts_of_the_example_are_fresh() -> None:
    result = CliRunner().invoke(main, ["contracts", "--check"])
    assert result.exit_code == 0, f"{result.output}run `esgen contracts` and commit contracts/"
