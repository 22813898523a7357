"""The Mermaid diagrams: commands -> events -> state fields, and user text kept as data."""

from __future__ import annotations

import dataclasses
import re

from esgen.contracts import mermaid
from esgen.model import CommandDef, Emission, Entity, EventDef, FoldStep, Precondition, Project

LABEL = r'"(?:[A-Za-z0-9 _.,:()/+=-]|#[0-9]+;)*"'
NODE = r"[a-z][0-9]+"
GRAMMAR = [
    re.compile(r"flowchart LR"),
    re.compile(rf"  subgraph (commands|events|state)\[{LABEL}\]"),
    re.compile(rf"    {NODE}\[{LABEL}\]"),
    re.compile(r"  end"),
    re.compile(rf"  {NODE} (-->|-\.->)\|{LABEL}\| {NODE}"),
]
HOSTILE = (
    'x"] --> e0["pwned"]; click s0 "javascript:alert(1)"\n'
    "```\n## Not a heading\n<script>alert(1)</script> #quot; \\ `code` [link](http://x) |a|b|"
    "\u2028line\u0085break -.-> end"
)


def _diagram(entity: Entity) -> list[str]:
    return mermaid.entity_flowchart(entity).lines()


def _structure(lines: list[str]) -> list[str]:
    """The diagram with every label blanked: what its nodes and edges are."""
    return [re.sub(LABEL, '""', line) for line in lines]


def _labels(lines: list[str]) -> list[str]:
    decoded = [
        re.sub(r"#([0-9]+);", lambda m: chr(int(m[1])), found)
        for found in (m[1:-1] for line in lines for m in re.findall(LABEL, line))
    ]
    return decoded


def _hostile(entity: Entity) -> Entity:
    """The entity with every name, doc, guard and reason the diagram and its prose show
    replaced by HOSTILE text."""

    def step(s: FoldStep) -> FoldStep:
        when = s.when and dataclasses.replace(s.when, source=HOSTILE)
        function = s.function and f"{s.function}{HOSTILE}"
        paths = tuple(
            dataclasses.replace(a, path=(*a.path[:-1], a.path[-1] + HOSTILE))
            for a in s.assignments
        )
        return dataclasses.replace(s, when=when, function=function, assignments=paths)

    def event(e: EventDef) -> EventDef:
        record = dataclasses.replace(e.record, name=e.record.name + HOSTILE, doc=HOSTILE)
        return dataclasses.replace(e, record=record, fold=tuple(step(s) for s in e.fold))

    def precondition(p: Precondition) -> Precondition:
        return dataclasses.replace(
            p, check=dataclasses.replace(p.check, source=HOSTILE), reason=f"{p.reason}{HOSTILE}"
        )

    def emission(e: Emission) -> Emission:
        when = e.when and dataclasses.replace(e.when, source=HOSTILE)
        return dataclasses.replace(e, event=e.event + HOSTILE, when=when)  # the renamed event

    def command(c: CommandDef) -> CommandDef:
        return dataclasses.replace(
            c,
            record=dataclasses.replace(c.record, name=c.record.name + HOSTILE, doc=HOSTILE),
            requires=tuple(precondition(p) for p in c.requires),
            emits=tuple(emission(e) for e in c.emits),
            decide=c.decide and f"{c.decide}{HOSTILE}",
        )

    fields = tuple(dataclasses.replace(f, name=f.name + HOSTILE) for f in entity.state.fields)
    state = dataclasses.replace(entity.state, name=entity.state.name + HOSTILE, fields=fields)
    return dataclasses.replace(
        entity,
        name=entity.name + HOSTILE,
        doc=HOSTILE,
        topic=entity.topic + HOSTILE,
        state=state,
        events=tuple(event(e) for e in entity.events),
        commands=tuple(command(c) for c in entity.commands),
    )


def _nodes(lines: list[str]) -> dict[str, str]:
    """Label -> node id of every node of a diagram."""
    found = (re.fullmatch(rf"    ({NODE})\[({LABEL})\]", line) for line in lines)
    return {_labels([m[2]])[0]: m[1] for m in found if m}


def test_each_event_points_at_the_fields_its_fold_changes(example: Project) -> None:
    lines = _diagram(example.entities[0])
    assert all(any(g.fullmatch(line) for g in GRAMMAR) for line in lines), lines
    text = "\n".join(lines)
    node = {label: node for node, label in re.findall(rf"    ({NODE})\[\"([^\"]*)\"\]", text)}
    assert f'  {node["MoneyDeposited"]} -->|"add"| {node["balance"]}' in lines
    # a guarded step is a dashed arrow that names its guard
    assert (
        f'  {node["AccountTagged"]} -.->|"append if event.tag not in state.tags"| {node["tags"]}'
        in lines
    )
    assert f'  {node["AccountClosed"]} -->|"set"| {node["closed_at"]}' in lines


def test_each_command_points_at_the_events_it_emits(example: Project) -> None:
    lines = _diagram(example.entities[0])
    node = _nodes(lines)
    assert f'  {node["Withdraw"]} -->|"emits"| {node["MoneyWithdrawn"]}' in lines
    # every emitted event, in order; a guarded one is dashed and names its guard
    assert f'  {node["Close"]} -.->|"emits if state.status == OPEN"| {node["AccountFrozen"]}' in (
        lines
    )
    assert f'  {node["Close"]} -->|"emits"| {node["AccountClosed"]}' in lines
    assert (
        f'  {node["Tag"]} -.->|"emits if command.tag not in state.tags"| {node["AccountTagged"]}'
        in lines
    )
    assert lines.index('  subgraph commands["Commands"]') < lines.index(
        '  subgraph events["Events"]'
    )


def test_a_decide_hatch_is_a_dashed_arrow_to_any_event_naming_its_function(
    example: Project,
) -> None:
    lines = _diagram(example.entities[0])
    node = _nodes(lines)
    hatch = node["any event: decide example_rules.bank:transfer"]
    transfer = [line for line in lines if line.startswith(f"  {node['Transfer']} ")]
    assert transfer == [f'  {node["Transfer"]} -.->|"decide"| {hatch}']
    assert not [line for line in lines if line.endswith(f"| {hatch}") and "-->" in line]


def test_an_entity_without_commands_has_no_commands_group(example: Project) -> None:
    entity = dataclasses.replace(example.entities[0], commands=())
    lines = _diagram(entity)
    assert not [line for line in lines if "commands" in line or '-->|"emits' in line]
    text = mermaid.render(dataclasses.replace(example, entities=(entity,)), "asyncapi.json")
    assert "Commands:" not in text.splitlines()


def test_the_commands_list_gives_each_precondition_and_its_reason(example: Project) -> None:
    text = mermaid.render(example, "asyncapi.json").splitlines()
    withdraw = text.index("- **Withdraw**: Take money out of the account\\.")
    assert text[withdraw + 1 : withdraw + 5] == [
        "  - requires command\\.amount \\> 0",  # the plain form is its own reason
        "  - requires meta\\.version \\> 0, else rejected: the account does not exist",
        "  - requires state\\.status \\=\\= OPEN, else rejected: the account is not open",
        "  - requires state\\.balance \\>\\= command\\.amount, else rejected: insufficient funds",
    ]
    assert text[withdraw + 5] == "- **Tag**"  # no doc, no precondition


def test_nested_paths_and_call_steps_get_their_own_nodes(example: Project) -> None:
    lines = _diagram(example.entities[1])
    labels = _labels(lines)
    assert "shipping_address.city" in labels
    assert any(label.startswith("any field: call example_rules.") for label in labels)


def test_hostile_names_docs_and_guards_cannot_change_the_diagram(example: Project) -> None:
    for entity in example.entities:
        benign, hostile = _diagram(entity), _diagram(_hostile(entity))
        for line in hostile:
            assert any(g.fullmatch(line) for g in GRAMMAR), f"not a diagram line: {line!r}"
        assert _structure(hostile) == _structure(benign)
        # every label still shows the text it was given, character for character
        shown = _labels(hostile)
        assert f"{entity.events[0].name}{HOSTILE}" in shown
        assert f"{entity.state.fields[0].name}{HOSTILE}" in shown
        assert any(label.endswith(f" if {HOSTILE}") for label in shown)
        assert f"{entity.commands[0].name}{HOSTILE}" in shown
        assert f"emits if {HOSTILE}" in shown
    hatch = _labels(_diagram(_hostile(example.entities[0])))
    assert "any event: decide example_rules.bank:transfer" + HOSTILE in hatch


def _unescape(line: str) -> str:
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", line)


def test_the_markdown_keeps_one_section_and_one_fence_per_entity(example: Project) -> None:
    hostile = dataclasses.replace(
        example, entities=tuple(_hostile(entity) for entity in example.entities)
    )
    for project in (example, hostile):
        text = mermaid.render(project, "asyncapi.json")
        lines = text.splitlines()
        assert [line for line in lines if line.startswith("#")] == [
            "# Entities",
            *(f"## {mermaid.markdown_text(e.name)}" for e in project.entities),
        ]
        assert lines.count("```mermaid") == len(project.entities)
        assert sum(1 for line in lines if line.startswith("```")) == 2 * len(project.entities)
        assert "<script>" not in text
    rendered = mermaid.render(hostile, "asyncapi.json").splitlines()
    heading = f"## {mermaid.markdown_text(hostile.entities[0].name)}"
    doc_line = rendered[rendered.index(heading) + 2]
    assert _unescape(doc_line) == " ".join(HOSTILE.split())
    # the commands list: one line per command and per precondition, whatever the text
    for entity in hostile.entities:
        lines = mermaid.command_lines(entity)
        assert len(lines) == sum(1 + len(c.requires) for c in entity.commands)
        assert all(line.startswith(("- **", "  - requires ")) for line in lines)
        assert all(line in rendered for line in lines)
    one_line = " ".join(HOSTILE.split())
    first = hostile.entities[0].commands[0]
    assert _unescape(mermaid.command_lines(hostile.entities[0])[1]) == (
        f"  - requires {one_line}, else rejected: {' '.join(first.requires[0].reason.split())}"
    )


def test_labels_escape_everything_outside_the_safe_set() -> None:
    assert mermaid.label("balance") == '"balance"'
    assert mermaid.label('a"b') == '"a#34;b"'
    assert mermaid.label("x]-->y;\n#") == '"x#93;--#62;y#59;#10;#35;"'
