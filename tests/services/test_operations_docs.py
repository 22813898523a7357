"""docs/operations.md states the cluster's settings as esgen.dev.config generates them."""

from __future__ import annotations

import re
from pathlib import Path

from esgen.dev import config

DOC = Path(__file__).parents[2] / "docs" / "operations.md"


def test_the_documented_node_settings_are_the_generated_ones(tmp_path: Path) -> None:
    section = DOC.read_text().split("### Settings of every node", 1)[1].split("###", 1)[0]
    documented = dict(re.findall(r"^\| `([a-z.]+)` \| `([^`]+)` \|", section, re.M))
    assert len(documented) >= 10
    quorum = ((1, 19192), (2, 19193), (3, 19194))
    for node_id, controller_port in quorum:
        layout = config.KafkaLayout(
            workdir=tmp_path,
            port=19091 + node_id,
            controller_port=controller_port,
            node_id=node_id,
            quorum=quorum,
        )
        generated = dict(
            line.split("=", 1)
            for line in config.kafka_properties(layout).splitlines()
            if line and not line.startswith("#")
        )
        assert {key: generated.get(key) for key in documented} == documented
