"""The search graph as a networkx MultiDiGraph, written as JSON, GraphML or DOT."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from search.tree import Node

if TYPE_CHECKING:
    import networkx as nx

FORMATS = ("json", "graphml", "dot")


def to_networkx(root: Node, nodes: Iterable[Node]) -> nx.MultiDiGraph:
    """Nodes keyed by integer id (goal text as an attribute); terminal outcomes as sink nodes."""
    import networkx as nx

    graph = nx.MultiDiGraph(root=0)
    ids: dict[int, int] = {}
    ordered = [root, *(n for n in nodes if n is not root)]
    for node in ordered:
        ids[id(node)] = len(ids)
        graph.add_node(
            ids[id(node)],
            goal=node.goals.text,
            num_goals=node.goals.num_goals,
            depth=node.depth,
            score=node.score,
            status=node.status.value,
            expanded=node.expanded,
        )
    for node in ordered:
        for index, edge in enumerate(node.children):
            if edge.dst is not None:
                target = ids[id(edge.dst)]
            else:  # a terminal outcome gets its own sink so that every tactic is kept
                target = f"{ids[id(node)]}:{index}:{edge.kind.value}"
                graph.add_node(target, goal="", status=edge.kind.value, terminal=True)
            graph.add_edge(
                ids[id(node)],
                target,
                tactic=edge.tactic,
                logprob=edge.logprob,
                num_tokens=edge.num_tokens,
                kind=edge.kind.value,
                message=edge.message,
            )
    return graph


def write_graph(graph: nx.MultiDiGraph, path: str | Path, fmt: str | None = None) -> Path:
    """Write the graph; the format comes from ``fmt`` or the file's suffix."""
    import networkx as nx

    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt == "json":  # every non-ASCII character escaped: model text may hold lone surrogates
        path.write_text(json.dumps(nx.node_link_data(graph, edges="edges"), indent=1, ensure_ascii=True))
    elif fmt == "graphml":
        nx.write_graphml(_xml_safe(graph), path)
    elif fmt == "dot":
        path.write_text(_to_dot(graph), encoding="ascii")
    else:
        raise ValueError(f"Unknown graph format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    return path


_XML_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_safe(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """A copy whose text attributes XML 1.0 can hold: control characters and lone surrogates escaped."""

    def clean(value: object) -> object:
        if not isinstance(value, str):
            return value
        return _XML_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", value)

    copy = graph.copy()
    for _, data in copy.nodes(data=True):
        data.update({k: clean(v) for k, v in data.items()})
    for _, _, data in copy.edges(data=True):
        data.update({k: clean(v) for k, v in data.items()})
    return copy


def _to_dot(graph: nx.MultiDiGraph) -> str:
    # Written by hand so that DOT output needs neither pydot nor pygraphviz.
    def quote(value: object) -> str:
        return json.dumps(str(value))

    lines = ["digraph search {", "  node [shape=box, fontname=monospace];"]
    for node, data in graph.nodes(data=True):
        label = data.get("goal") or data.get("status", "")
        lines.append(f"  {quote(node)} [label={quote(label)}, status={quote(data.get('status', ''))}];")
    for src, dst, data in graph.edges(data=True):
        lines.append(f"  {quote(src)} -> {quote(dst)} [label={quote(data['tactic'])}, kind={quote(data['kind'])}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
