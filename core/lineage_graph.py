"""The item page's lineage as a picture: ancestors to the left, descendants to the right, one
column per step away from the item, drawn server-side as SVG (no JavaScript, no library).

Large graphs stay readable: reagent lots are one node per column ("7 reagent lots"), and a
column shows at most `MAX_PER_COLUMN` nodes of a kind, the rest as one "+N more" node; both
collapsed nodes open the kind's list filtered to this item's lineage. The page's `?depth=`
limits the columns. Within a column the nodes are ordered by the mean position of their
neighbours in the column nearer the item (one barycentre sweep outwards), which removes most
crossings in a lab's lineage (a few parents per record).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.urls import reverse

from .models import ITEM_MODELS, Item, ItemKind, LineageEdge
from .selectors import LineageRow

MAX_PER_COLUMN = 8  # per kind; the rest becomes one "+N more" node
COLLAPSED_KINDS = (ItemKind.REAGENT_LOT,)
NODE_W, NODE_H = 168, 38
COL_W, ROW_H = 218, 50
PAD = 10
LABEL_CHARS = 26

# One colour per kind (colour-blind safe, Okabe-Ito and Tol), as in the legend.
COLOURS = {
    ItemKind.REAGENT_LOT: "#bbbbbb",
    ItemKind.LAGP_BATCH: "#e69f00",
    ItemKind.PELLET: "#f0c75e",
    ItemKind.SPE_MEMBRANE: "#56b4e9",
    ItemKind.MEMBRANE_PIECE: "#9fd3f2",
    ItemKind.ILE_BATCH: "#009e73",
    ItemKind.CATHODE_COATING: "#cc79a7",
    ItemKind.ELECTRODE_DISK: "#e7b3d2",
    ItemKind.CELL: "#d55e00",
}


@dataclass
class Node:
    key: str  # "item:<id>" or "group:<column>:<kind>"
    column: int  # < 0 ancestors, 0 the item, > 0 descendants
    kind: str
    label: str
    sublabel: str
    url: str
    ids: list[int] = field(default_factory=list)
    current: bool = False
    row: int = 0
    x: float = 0
    y: float = 0

    @property
    def colour(self) -> str:
        return COLOURS.get(self.kind, "#dddddd")

    @property
    def collapsed(self) -> bool:
        return self.key.startswith("group:")

    w, h = NODE_W, NODE_H

    @property
    def tx(self) -> int:
        return int(self.x + 8)

    @property
    def ty1(self) -> int:
        return int(self.y + 16)

    @property
    def ty2(self) -> int:
        return int(self.y + 31)

    @property
    def cy(self) -> float:
        return self.y + NODE_H / 2


@dataclass(frozen=True)
class Edge:
    source: Node
    target: Node

    @property
    def path(self) -> str:
        """A curve from the parent's right side to the child's left side."""
        x1, y1 = self.source.x + NODE_W, self.source.cy
        x2, y2 = self.target.x, self.target.cy
        if x2 <= x1:  # a parent drawn right of its child (two paths of different length)
            x1, x2 = self.source.x, self.target.x + NODE_W
        mid = (x1 + x2) / 2
        return f"M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"


@dataclass
class Graph:
    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int
    legend: list[dict]


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _list_url(kind: str, item: Item, side: int) -> str:
    """The kind's list filtered to what this item was made from (side < 0) or went into."""
    model = ITEM_MODELS.get(kind)
    if model is None:
        return ""
    param = "descendant" if side < 0 else "ancestor"
    return f"{reverse(model.LIST_URL)}?{urlencode({param: item.code})}"


def _column_nodes(item: Item, rows: Sequence[LineageRow], side: int) -> list[Node]:
    by_column: dict[int, dict[str, list[LineageRow]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        by_column[side * row.depth][row.kind].append(row)
    nodes = []
    for column, kinds in by_column.items():
        for kind, members in kinds.items():
            members.sort(key=lambda r: r.code)
            plural = ITEM_MODELS[kind]._meta.verbose_name_plural if kind in ITEM_MODELS else kind
            if kind in COLLAPSED_KINDS and len(members) > 1:
                shown, rest = [], members
                label = f"{len(members)} {plural}"
            else:
                shown = members[:MAX_PER_COLUMN] if len(members) > MAX_PER_COLUMN + 1 else members
                rest = members[len(shown) :]
                label = f"+{len(rest)} more {plural}"
            nodes.extend(
                Node(
                    key=f"item:{r.id}",
                    column=column,
                    kind=kind,
                    label=r.code,
                    sublabel=_short(r.summary),
                    url=r.get_absolute_url(),
                    ids=[r.id],
                )
                for r in shown
            )
            if rest:
                nodes.append(
                    Node(
                        key=f"group:{column}:{kind}",
                        column=column,
                        kind=kind,
                        label=label,
                        sublabel=_short(", ".join(r.code for r in rest)),
                        url=_list_url(kind, item, side),
                        ids=[r.id for r in rest],
                    )
                )
    return nodes


def _order(columns: dict[int, list[Node]], neighbours: dict[str, set[str]]) -> None:
    """Order each column by the mean row of its neighbours in the column nearer the item."""
    rows: dict[str, int] = {node.key: 0 for node in columns.get(0, [])}
    for side in (-1, 1):
        for column in sorted((c for c in columns if c * side > 0), key=abs):
            inner = {n.key for n in columns.get(column - side, [])}

            def centre(node: Node, inner=inner) -> tuple:
                near = [rows[k] for k in neighbours[node.key] if k in inner and k in rows]
                return (sum(near) / len(near) if near else 1e9, node.kind, node.label)

            columns[column].sort(key=centre)
            middle = (len(columns[column]) - 1) / 2  # columns are drawn centred
            for i, node in enumerate(columns[column]):
                rows[node.key] = i - middle


def build(item: Item, ancestors: Sequence[LineageRow], descendants: Sequence[LineageRow]) -> Graph:
    centre = Node(
        key=f"item:{item.pk}",
        column=0,
        kind=item.kind,
        label=item.code,
        sublabel=_short(item.summary or ""),
        url=item.get_absolute_url(),
        ids=[item.pk],
        current=True,
    )
    nodes = [centre, *_column_nodes(item, ancestors, -1), *_column_nodes(item, descendants, 1)]
    node_of = {i: node for node in nodes for i in node.ids}
    edges: dict[tuple[str, str], Edge] = {}
    neighbours: dict[str, set[str]] = defaultdict(set)
    pairs = LineageEdge.objects.filter(
        parent_id__in=list(node_of), child_id__in=list(node_of)
    ).values_list("parent_id", "child_id")
    for parent, child in pairs:
        source, target = node_of[parent], node_of[child]
        if source is target:
            continue
        edges.setdefault((source.key, target.key), Edge(source, target))
        neighbours[source.key].add(target.key)
        neighbours[target.key].add(source.key)
    columns: dict[int, list[Node]] = defaultdict(list)
    for node in nodes:
        columns[node.column].append(node)
    _order(columns, neighbours)
    tallest = max(len(c) for c in columns.values())
    first = min(columns)
    height = tallest * ROW_H + 2 * PAD
    for column, members in columns.items():
        offset = (tallest - len(members)) * ROW_H / 2  # centre short columns
        for row, node in enumerate(members):
            node.row = row
            node.x = int(PAD + (column - first) * COL_W)
            node.y = int(PAD + offset + row * ROW_H)
    width = (max(columns) - first) * COL_W + NODE_W + 2 * PAD
    present = list(dict.fromkeys(n.kind for n in nodes))
    legend = [
        {"kind": k, "label": ItemKind(k).label, "colour": COLOURS.get(k, "#dddddd")}
        for k in ItemKind.values
        if k in present
    ]
    return Graph(nodes, list(edges.values()), int(width), int(height), legend)
