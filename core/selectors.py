"""Reads of the shared core: items by code and the lineage graph.

Lineage is walked in one recursive CTE (SQLite and PostgreSQL both run it), however deep the
graph. `UNION` (not `UNION ALL`) drops repeated (id, depth) pairs so diamonds in the graph do not
multiply rows; the depth bound keeps the query finite even if a cycle slipped in by hand. Grouping the walk
before joining the items lets PostgreSQL estimate a small result and use the primary key
(joining first made it hash all 100 000 items: 10 ms instead of under 1 ms).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from django.db import connection
from django.db.models.expressions import RawSQL
from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_datetime

from . import permissions
from .history import history_rows
from .models import AuditEvent, Item, ItemKind, LineageEdge

Direction = Literal["ancestors", "descendants"]
MAX_DEPTH = 10_000


@dataclass(frozen=True)
class LineageRow:
    id: int
    code: str
    kind: str
    summary: str
    depth: int
    project_id: int | None = None
    # False: an item of a project the reader cannot see (a shared reagent lot), shown as its
    # code and kind only (`redacted`).
    visible: bool = True

    @property
    def kind_label(self) -> str:
        return ItemKind(self.kind).label

    def get_absolute_url(self) -> str:
        # No link to what the reader cannot open.
        return Item(code=self.code).get_absolute_url() if self.visible else ""


def _walk_sql(direction: Direction) -> str:
    edge = LineageEdge._meta.db_table
    # ancestors: follow edges from child to parent; descendants: parent to child.
    start, step = (
        ("parent_id", "child_id") if direction == "ancestors" else ("child_id", "parent_id")
    )
    return f"""
        WITH RECURSIVE walk(id, depth) AS (
            SELECT {start}, 1 FROM {edge} WHERE {step} = %s
            UNION
            SELECT e.{start}, w.depth + 1 FROM {edge} e JOIN walk w ON e.{step} = w.id
            WHERE w.depth < %s
        )
    """


def lineage(item_id: int, direction: Direction, max_depth: int | None = None) -> list[LineageRow]:
    """Every ancestor (or descendant) of an item with its shortest distance, in one query."""
    depth = MAX_DEPTH if max_depth is None else max(0, max_depth)
    item = Item._meta.db_table
    sql = (
        _walk_sql(direction)
        + f"""
        SELECT i.id, i.code, i.kind, i.summary, w.depth, i.project_id
        FROM (SELECT id, MIN(depth) AS depth FROM walk GROUP BY id) w
        JOIN {item} i ON i.id = w.id
        ORDER BY w.depth, i.code
    """
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [item_id, depth])
        return [LineageRow(*row) for row in cursor.fetchall()]


def redacted(rows: list[LineageRow], user) -> list[LineageRow]:
    """The rows as `user` may see them: an item of a project they cannot see keeps its code
    and kind, nothing else (no summary; the pages give it no link)."""
    ids = permissions.project_ids(user)
    if ids is None:
        return rows
    shown = set(ids)
    return [
        row if row.project_id in shown else replace(row, summary="", visible=False) for row in rows
    ]


def lineage_ids_sql(item_id: int, direction: Direction) -> RawSQL:
    """The ids of an item's ancestors/descendants as a subquery, for `pk__in=`."""
    return RawSQL(_walk_sql(direction) + " SELECT id FROM walk", [item_id, MAX_DEPTH])


def is_ancestor(candidate_id: int, item_id: int) -> bool:
    """Whether `candidate_id` is reachable by walking up from `item_id`."""
    sql = _walk_sql("ancestors") + " SELECT 1 FROM walk WHERE id = %s LIMIT 1"
    with connection.cursor() as cursor:
        cursor.execute(sql, [item_id, MAX_DEPTH, candidate_id])
        return cursor.fetchone() is not None


def item_by_code(code: str, user=None) -> Item:
    """The item with this code (any case); with `user`, 404 unless their projects hold it
    (an item of another project is not told apart from no item)."""
    items = Item.objects.all() if user is None else permissions.visible_items(user)
    return get_object_or_404(items, code__iexact=code.strip())


def items_by_codes(codes: list[str], user=None) -> tuple[list[Item], list[str]]:
    """The items with these codes (any case) in the order given, once each, and the codes that
    name no item (with `user`: no item of their projects); one query (and one per code not
    stored as written)."""
    items = Item.objects.all() if user is None else permissions.visible_items(user)
    wanted = list(dict.fromkeys(code.strip().upper() for code in codes if code.strip()))
    found = {i.code.upper(): i for i in items.filter(code__in=wanted)}
    if len(found) < len(wanted):  # codes are stored as made (upper case); look again any case
        for code in set(wanted) - set(found):
            item = items.filter(code__iexact=code).first()
            if item is not None:
                found[code] = item
    return [found[c] for c in wanted if c in found], [c for c in wanted if c not in found]


def direct_parents(item: Item):
    return LineageEdge.objects.filter(child=item).select_related("parent").order_by("parent__code")


def direct_children(item: Item):
    return LineageEdge.objects.filter(parent=item).select_related("child").order_by("child__code")


def changes_since(record, loaded_at: str) -> list:
    """What was saved on a record (an item and its parts) after a form showed it at
    `loaded_at` (ISO time), as history rows in the forms' words; its recent history if that
    time cannot be read."""
    events = AuditEvent.objects.filter(item_id=record.pk).select_related("user")
    when = parse_datetime(loaded_at) if loaded_at else None
    if when is not None:
        events = events.filter(at__gt=when)
    return history_rows(events.order_by("at")[:20])
