"""A Mermaid diagram per entity: commands -> events -> the state fields they change.

Written into one Markdown file (GitHub and most documentation tools render the
````mermaid`` blocks) beside the AsyncAPI document. Each diagram is a left-to-right
flowchart: the entity's commands, its events, and its state fields. An arrow from a
command to an event is an ``emits:`` entry (labelled ``emits``); one from an event to a
field is labelled with the fold step (``set``, ``add``...). Either is dashed when a
``when:`` guard decides whether it applies. Code is shown as code, not guessed at: a
``decide:`` command points (dashed) at an "any event" node naming its function, a
``call:`` step at an "any field" node naming its function. Below each diagram, a list
gives each command's preconditions and the reason it is rejected with.

User text is data: node ids are ours (``e0``, ``s3``...), and every label is quoted with
each character outside a small safe set written as a Mermaid entity code (``#34;``), so
quotes, brackets, ``-->``, ``;``, backticks, ``<``, ``#`` or line breaks in a name, a doc
or an expression cannot end a label, add a node or an edge, or close the Markdown fence.
Prose outside the diagrams (entity and command docs, preconditions, reasons) is
Markdown-escaped the same way: one line each, every ASCII punctuation character
backslash-escaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from esgen.model import Entity, Project

SAFE_LABEL = re.compile(r"[A-Za-z0-9 _.,:()/+=-]")
_LINE_BREAKS = re.compile(r"\s+")
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def label(text: str) -> str:
    """``text`` as a quoted Mermaid label that shows it and can hold nothing else."""
    return '"' + "".join(c if SAFE_LABEL.fullmatch(c) else f"#{ord(c)};" for c in text) + '"'


def markdown_text(text: str) -> str:
    """``text`` as one line of plain Markdown: no markup, no HTML, no line breaks."""
    return _PUNCTUATION.sub(r"\\\1", _LINE_BREAKS.sub(" ", text).strip())


@dataclass
class Flowchart:
    """Nodes (in groups) and edges of one diagram; ids are ours, labels are escaped."""

    groups: dict[str, tuple[str, list[tuple[str, str]]]] = field(default_factory=dict)
    edges: list[tuple[str, str, str, bool]] = field(default_factory=list)

    def node(self, group: str, prefix: str, text: str) -> str:
        nodes = self.groups[group][1]
        node_id = f"{prefix}{len(nodes)}"
        nodes.append((node_id, text))
        return node_id

    def group(self, group_id: str, title: str) -> None:
        self.groups.setdefault(group_id, (title, []))

    def edge(self, source: str, target: str, text: str, dashed: bool = False) -> None:
        self.edges.append((source, target, text, dashed))

    def lines(self) -> list[str]:
        lines = ["flowchart LR"]
        for group_id, (title, nodes) in self.groups.items():
            if not nodes:
                continue
            lines.append(f"  subgraph {group_id}[{label(title)}]")
            lines += [f"    {node_id}[{label(text)}]" for node_id, text in nodes]
            lines.append("  end")
        for source, target, text, dashed in self.edges:
            arrow = "-.->" if dashed else "-->"
            lines.append(f"  {source} {arrow}|{label(text)}| {target}")
        return lines


def entity_flowchart(entity: Entity) -> Flowchart:
    chart = Flowchart()
    chart.group("commands", "Commands")
    chart.group("events", "Events")
    chart.group("state", entity.state.name)
    fields: dict[tuple[str, ...], str] = {
        (f.name,): chart.node("state", "s", f.name) for f in entity.state.fields
    }
    events: dict[str, str] = {}
    for event in entity.events:
        event_id = events[event.full_name] = chart.node("events", "e", event.name)
        for step in event.fold:
            text = step.op if step.when is None else f"{step.op} if {step.when.source}"
            if step.op == "call":
                target = chart.node("state", "x", f"any field: call {step.function}")
                chart.edge(event_id, target, text, dashed=step.when is not None)
                continue
            for assignment in step.assignments:
                path = assignment.path
                if path not in fields:
                    fields[path] = chart.node("state", "s", ".".join(path))
                chart.edge(event_id, fields[path], text, dashed=step.when is not None)
    for command in entity.commands:
        command_id = chart.node("commands", "c", command.name)
        if command.decide is not None:
            target = chart.node("events", "x", f"any event: decide {command.decide}")
            chart.edge(command_id, target, "decide", dashed=True)
        for emission in command.emits:
            text = "emits" if emission.when is None else f"emits if {emission.when.source}"
            chart.edge(command_id, events[emission.event], text, dashed=emission.when is not None)
    return chart


def command_lines(entity: Entity) -> list[str]:
    """A Markdown list: each command, its doc, its preconditions and their reasons."""
    lines = []
    for command in entity.commands:
        doc = f": {markdown_text(command.record.doc)}" if command.record.doc else ""
        lines.append(f"- **{markdown_text(command.name)}**{doc}")
        for precondition in command.requires:
            check, reason = precondition.check.source, precondition.reason
            rejected = "" if reason == check else f", else rejected: {markdown_text(reason)}"
            lines.append(f"  - requires {markdown_text(check)}{rejected}")
    return lines


def render(project: Project, asyncapi_file: str) -> str:
    """The Markdown file with one section and diagram per entity, in definition order."""
    lines = [
        "<!-- Generated by esgen from the definitions; do not edit: run `esgen contracts`. -->",
        "",
        "# Entities",
        "",
        "For each entity: the commands it accepts, the events each may emit, and the state "
        "fields each event's fold changes (a dashed arrow applies only when its guard "
        "holds; code, a decide function or a call step, may emit any event or change any "
        "field). A command is rejected with the reason of the first precondition that "
        "fails (a precondition written as a plain expression is its own reason), or when "
        "its events would break an invariant. The topics, keys, headers and Avro schemas "
        f"are in [{asyncapi_file}]({asyncapi_file}).",
    ]
    for entity in project.entities:
        lines += ["", f"## {markdown_text(entity.name)}", ""]
        if entity.doc:
            lines += [markdown_text(entity.doc), ""]
        lines += [
            f"Topic {markdown_text(entity.topic)}, key {markdown_text(entity.key)}, "
            f"defined in {markdown_text(entity.source)}.",
            "",
            "```mermaid",
            *entity_flowchart(entity).lines(),
            "```",
        ]
        if entity.commands:
            lines += ["", "Commands:", "", *command_lines(entity)]
    return "\n".join(lines) + "\n"
