"""Lineage tables: one row per item of a kind, with columns of its ancestors.

"Every cell descending from pellets sintered at 900 °C, with the pellet's and the powder
batch's data" is `?root_kind=cell&pellet__sintering_temperature_c=900`: rows are cells
(filtered with the cell list's own filters, e.g. `notation=...`), `<kind>__<filter>` keeps the
rows that descend from an item of that kind matching that kind's list filter, and each row
carries `<kind>_code` and `<kind>_<column>` for the nearest ancestor of each kind the root kind
lists in `table_ancestors` (lowest code first when a row has two at the same distance).

Apps add columns computed elsewhere (e.g. measurement results per cell) with
`register_extra_columns`. Queries per page are constant: the roots, one recursive query for all
their ancestors, one per ancestor kind, one per extra-column provider.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from rest_framework.exceptions import ValidationError

from core.models import Item, LineageEdge
from core.selectors import MAX_DEPTH

from .base import RecordViewSet

# Query parameters of the table itself, never filters.
RESERVED_PARAMS = {"root_kind", "page", "page_size", "format"}
ANCESTOR_SEPARATOR = "__"


@dataclass(frozen=True)
class ExtraColumns:
    columns: tuple[str, ...]
    # root items of one page -> {root pk: {column: value}}; one or a few queries per page.
    fetch: Callable[[list[Item]], Mapping[int, Mapping[str, Any]]]


EXTRA_COLUMNS: dict[str, list[ExtraColumns]] = {}


def register_extra_columns(
    kind: str,
    columns: Sequence[str],
    fetch: Callable[[list[Item]], Mapping[int, Mapping[str, Any]]],
) -> None:
    """Add columns to lineage tables of `kind` (e.g. the measurements app: a cell's retention)."""
    EXTRA_COLUMNS.setdefault(kind, []).append(ExtraColumns(tuple(columns), fetch))


def columns(kind: str, viewsets: Mapping[str, type[RecordViewSet]]) -> list[str]:
    root = viewsets[kind]
    names = ["code", "summary", *root.table_columns]
    for ancestor in root.table_ancestors:
        names.append(f"{ancestor}_code")
        names.extend(f"{ancestor}_{column}" for column in viewsets[ancestor].table_columns)
    for extra in EXTRA_COLUMNS.get(kind, []):
        names.extend(extra.columns)
    return names


def split_params(params: Mapping[str, Any], kinds: Sequence[str]) -> tuple[dict, dict[str, dict]]:
    """Query parameters -> (filters of the root kind, {ancestor kind: its filters})."""
    root: dict[str, Any] = {}
    ancestors: dict[str, dict[str, Any]] = {}
    for key in params:
        if key in RESERVED_PARAMS:
            continue
        prefix, _, name = key.partition(ANCESTOR_SEPARATOR)
        value = params.getlist(key) if hasattr(params, "getlist") else [params[key]]
        if name and prefix in kinds:
            ancestors.setdefault(prefix, {})[name] = value[-1]
        else:
            root[key] = value[-1]
    return root, ancestors


def _descendants_sql(ancestors: QuerySet) -> RawSQL:
    """Ids of everything made (at any depth) from the items in `ancestors`, in one query."""
    # No ordering: with DISTINCT (some filters join), Django would add the order column.
    sql, params = ancestors.order_by().values("pk").query.sql_with_params()
    edge = LineageEdge._meta.db_table
    return RawSQL(
        f"""
        WITH RECURSIVE walk(id, depth) AS (
            SELECT child_id, 1 FROM {edge} WHERE parent_id IN ({sql})
            UNION
            SELECT e.child_id, w.depth + 1 FROM {edge} e JOIN walk w ON e.parent_id = w.id
            WHERE w.depth < %s
        )
        SELECT id FROM walk
        """,
        (*params, MAX_DEPTH),
    )


def _filtered(viewset: type[RecordViewSet], data: dict, request, prefix: str = "") -> QuerySet:
    filterset = viewset.filterset_class(data=data, queryset=viewset.queryset, request=request)
    if not filterset.is_valid():
        raise ValidationError({f"{prefix}{k}": v for k, v in filterset.errors.items()})
    return filterset.qs


def filter_roots(
    kind: str,
    params: Mapping[str, Any],
    viewsets: Mapping[str, type[RecordViewSet]],
    request=None,
) -> QuerySet:
    """The root items the query parameters select, ordered by code."""
    root_filters, ancestor_filters = split_params(params, list(viewsets))
    roots = _filtered(viewsets[kind], root_filters, request).order_by("code")
    for ancestor, data in ancestor_filters.items():
        filterset_class = viewsets[ancestor].filterset_class
        unknown = sorted(set(data) - set(filterset_class.base_filters))
        if unknown:
            raise ValidationError(
                {f"{ancestor}{ANCESTOR_SEPARATOR}{name}": ["No such filter."] for name in unknown}
            )
        matching = _filtered(viewsets[ancestor], data, request, f"{ancestor}{ANCESTOR_SEPARATOR}")
        try:
            roots = roots.filter(pk__in=_descendants_sql(matching))
        except EmptyResultSet:  # the ancestor filter can match nothing (an unknown code)
            return roots.none()
    return roots


def nearest_ancestors(root_ids: Sequence[int], kinds: Sequence[str]) -> dict[int, dict[str, int]]:
    """{root id: {kind: id of its nearest ancestor of that kind}} for many roots, one query."""
    if not root_ids or not kinds:
        return {}
    edge, item = LineageEdge._meta.db_table, Item._meta.db_table
    roots_sql = ", ".join(["%s"] * len(root_ids))
    kinds_sql = ", ".join(["%s"] * len(kinds))
    sql = f"""
        WITH RECURSIVE walk(root, id, depth) AS (
            SELECT child_id, parent_id, 1 FROM {edge} WHERE child_id IN ({roots_sql})
            UNION
            SELECT w.root, e.parent_id, w.depth + 1 FROM {edge} e JOIN walk w ON e.child_id = w.id
            WHERE w.depth < %s
        )
        SELECT w.root, i.kind, i.id, MIN(w.depth) AS depth, i.code
        FROM walk w JOIN {item} i ON i.id = w.id
        WHERE i.kind IN ({kinds_sql})
        GROUP BY w.root, i.kind, i.id, i.code
        ORDER BY w.root, depth, i.code
    """
    nearest: dict[int, dict[str, int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*root_ids, MAX_DEPTH, *kinds])
        for root, kind, ancestor_id, _depth, _code in cursor.fetchall():
            nearest.setdefault(root, {}).setdefault(kind, ancestor_id)
    return nearest


def _serialized(viewset: type[RecordViewSet], items, request) -> dict[int, dict]:
    items = list(items)
    data = viewset.serializer_class(items, many=True, context={"request": request}).data
    return {item.pk: row for item, row in zip(items, data, strict=True)}


def _ancestor_data(
    nearest: Mapping[int, Mapping[str, int]],
    kinds: Sequence[str],
    viewsets: Mapping[str, type[RecordViewSet]],
    request,
) -> dict[str, dict[int, dict]]:
    """{kind: {ancestor id: its serialized fields}}: one query (plus prefetches) per kind."""
    data = {}
    for kind in kinds:
        ids = {found[kind] for found in nearest.values() if kind in found}
        data[kind] = _serialized(
            viewsets[kind], viewsets[kind].queryset.filter(pk__in=ids), request
        )
    return data


def rows(
    kind: str,
    roots: Sequence[Item],
    viewsets: Mapping[str, type[RecordViewSet]],
    request=None,
) -> list[dict[str, Any]]:
    """The table rows of a page of roots (from `filter_roots`), keyed as in `columns`."""
    root_vs = viewsets[kind]
    kinds = list(root_vs.table_ancestors)
    nearest = nearest_ancestors([r.pk for r in roots], kinds)
    ancestors = _ancestor_data(nearest, kinds, viewsets, request)
    extras = [(extra, extra.fetch(list(roots))) for extra in EXTRA_COLUMNS.get(kind, [])]
    result = []
    for root, data in _serialized(root_vs, roots, request).items():
        row = {name: data.get(name) for name in ("code", "summary", *root_vs.table_columns)}
        for ancestor in kinds:
            found = ancestors[ancestor].get(nearest.get(root, {}).get(ancestor), {})
            row[f"{ancestor}_code"] = found.get("code")
            for column in viewsets[ancestor].table_columns:
                row[f"{ancestor}_{column}"] = found.get(column)
        for extra, values in extras:
            row.update({c: values.get(root, {}).get(c) for c in extra.columns})
        result.append(row)
    return result
