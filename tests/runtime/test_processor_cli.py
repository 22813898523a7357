"""``esgen process`` (a real process, stopped with SIGTERM) and ``esgen send`` (exit codes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from confluent_kafka import ConsumerGroupState
from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]

from esgen.cli import main
from esgen.runtime import EntityDescriptor, EventStore
from tests.runtime.processing import ROOT

Entity = EntityDescriptor[Any, Any]


class _Process:
    """``esgen process`` in a process of its own, its stderr collected."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "esgen"), *args],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip())

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.process.poll() is None, "\n".join(self.lines)
            assert time.monotonic() < deadline, "\n".join(self.lines[-20:])
            time.sleep(0.05)


def test_process_runs_until_sigterm_and_send_prints_outcomes_with_exit_codes(
    command_entity: Entity, kafka_bootstrap: str, registry_url: str
) -> None:
    topic = command_entity.topic
    group = f"{topic}-cli"
    env = {**os.environ, "ESGEN_BOOTSTRAP": kafka_bootstrap, "ESGEN_REGISTRY_URL": registry_url}
    module = ["generated.bank.account", "--topic", topic]
    processor = _Process(
        ["process", *module, "--group", group, "--partitions", "1", "--auto-register"], env
    )
    runner = CliRunner()

    def send(*args: str) -> Any:
        return runner.invoke(
            main,
            ["send", "generated.bank.account", *args, "--topic", topic, "--auto-register"],
            env={"ESGEN_BOOTSTRAP": kafka_bootstrap, "ESGEN_REGISTRY_URL": registry_url},
        )

    try:
        processor.wait_for(f"restored {topic}[0]")
        opened = send("acc-1", "OpenAccount", "--field", "owner=Ann")
        assert opened.exit_code == 0, opened.output
        assert opened.output.startswith("accepted OpenAccount 'acc-1' (command id ")
        assert opened.output.splitlines()[1] == 'AccountOpened {"owner": "Ann"}'
        deposited = send("acc-1", "Deposit", "--json", '{"amount": "10.50"}', "--command-id", "d")
        assert deposited.exit_code == 0, deposited.output
        assert "version 2" in deposited.output
        again = send("acc-1", "Deposit", "--field", "amount=10.50", "--command-id", "d")
        assert again.output == deposited.output  # the first outcome, once more
        rejected = send("acc-1", "Withdraw", "--field", "amount=11.00")
        assert rejected.exit_code == 1
        assert rejected.output.strip() == "rejected: insufficient funds"
        for bad, message in (
            (["acc-1", "Withdraw", "--field", "amount=ten"], "'ten' is not a decimal number"),
            (["acc-1", "Withdraw", "--field", "amuont=1"], "Withdraw has no field 'amuont'"),
            (["acc-1", "Withdraw"], "Withdraw needs the field 'amount'"),
            (["acc-1", "Withdrew"], "'Withdrew' is not a command of Account"),
            (["acc-1", "Deposit", "--json", "[1]"], "expected a JSON object"),
        ):
            result = send(*bad)
            assert result.exit_code == 2, (bad, result.output)
            assert message in result.output, result.output
        transfer = send("acc-1", "Transfer", "--json", '{"to": "acc-2", "amount": 0.25}')
        assert transfer.exit_code == 0, transfer.output
        assert 'MoneyWithdrawn {"amount": "0.25"}' in transfer.output
    finally:
        if processor.process.poll() is None:
            processor.process.send_signal(signal.SIGTERM)
        code = processor.process.wait(timeout=60)
        processor._reader.join(timeout=10)
    assert code == 0, "\n".join(processor.lines)
    stopped = [line for line in processor.lines if "stopped after" in line]
    assert stopped, "\n".join(processor.lines)
    assert (
        "stopped after 5 commands (3 accepted, 1 rejected, 0 not executed, 1 repeated)"
        in (stopped[0])
    )
    # it left the group: nobody owns the partition now
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    described = admin.describe_consumer_groups([group])[group].result(timeout=30)
    assert described.state == ConsumerGroupState.EMPTY
    with EventStore(command_entity, kafka_bootstrap, registry_url) as store:
        assert str(store.load("acc-1").balance) == "10.25"

    # no processor now: the send times out with exit 3 and the id to retry with
    timed_out = runner.invoke(
        main,
        [
            *("send", "generated.bank.account", "acc-1", "Deposit", "--field", "amount=1.00"),
            *("--topic", topic, "--timeout", "1", "--command-id", "late"),
        ],
        env={"ESGEN_BOOTSTRAP": kafka_bootstrap, "ESGEN_REGISTRY_URL": registry_url},
    )
    assert timed_out.exit_code == 3, timed_out.output
    assert "retry with: --command-id late" in timed_out.output


def test_send_refuses_an_entity_id_that_is_not_of_the_key_type() -> None:
    import tests.codegen.support  # noqa: F401  (puts the cases' generated packages on the path)

    result = CliRunner().invoke(
        main,
        ["send", "gen_keys.device", "not-a-uuid", "Claim", "--field", f"owner={'0' * 32}"],
        env={"ESGEN_BOOTSTRAP": "127.0.0.1:1", "ESGEN_REGISTRY_URL": "http://127.0.0.1:1"},
    )
    assert result.exit_code == 2, result.output
    assert "ENTITY_ID" in result.output and "not-a-uuid" in result.output, result.output
