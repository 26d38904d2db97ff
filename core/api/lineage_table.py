"""Lineage tables: one row per item of a kind, with columns of its ancestors.

"Every cell descending from pellets sintered at 900 °C, with the pellet's and the powder
batch's data" is `?root_kind=cell&pellet__sintering_temperature_c=900`: rows are cells
(filtered with the cell list's own filters, e.g. `notation=...`), `<kind>__<filter>` keeps the
rows that descend from an item of that kind matching that kind's list filter, and each row
carries `<kind>_code` and `<kind>_<column>` for the nearest ancestor of each kind the root kind
lists in `table_ancestors` (lowest code first when a row has two at the same distance).

Apps add columns computed elsewhere (e.g. measurement results per cell) with
`register_extra_columns`, and columns that take a value from the query (a cell's retention at
`?retention_at_cycle=100`) with `register_table_parameter`. `?step=<step kind>.<field>` adds a
process step's parameter (`step=uv_crosslinking.duration_min`), taken from the row's item or its
nearest ancestor that has such a step. Queries per page are constant: the roots, one recursive
query for all their ancestors, one per ancestor kind, one per extra-column provider, parameter
value and step column.
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

from core import permissions
from core.models import Item, ItemKind, LineageEdge, ProcessStep, StepKind
from core.selectors import MAX_DEPTH

from .base import RecordViewSet

# Query parameters of the table itself, never filters (registered parameters are added).
RESERVED_PARAMS = {"root_kind", "page", "page_size", "format", "step"}
ANCESTOR_SEPARATOR = "__"
# A table is read by people and plotted: a handful of values of one parameter is plenty.
MAX_VALUES_PER_PARAMETER = 10
# Process-step fields that hold a number (the ones a plot can use).
STEP_FIELDS = (
    "temperature_c",
    "duration_min",
    "ramp_c_min",
    "pressure_mbar",
    "rpm",
    "pressure_t_cm2",
    "lamp_power_w",
)


@dataclass(frozen=True)
class ExtraColumns:
    columns: tuple[str, ...]
    # root items of one page -> {root pk: {column: value}}; one or a few queries per page.
    fetch: Callable[[list[Item]], Mapping[int, Mapping[str, Any]]]

    # column -> heading in the user's words with its unit, e.g. "retention (%)"
    labels: Mapping[str, str]


EXTRA_COLUMNS: dict[str, list[ExtraColumns]] = {}


def register_extra_columns(
    kind: str,
    columns: Sequence[str],
    fetch: Callable[[list[Item]], Mapping[int, Mapping[str, Any]]],
    labels: Mapping[str, str] | None = None,
) -> None:
    """Add columns to lineage tables of `kind` (e.g. the measurements app: a cell's retention)."""
    EXTRA_COLUMNS.setdefault(kind, []).append(ExtraColumns(tuple(columns), fetch, labels or {}))


@dataclass(frozen=True)
class TableParameter:
    """A query parameter that adds columns for each value it is given, e.g.
    `conductivity_at_c=60` adds each pellet's conductivity at 60 °C."""

    name: str
    label: str  # the explorer's field, e.g. "retention at cycle"
    description: str  # for the schema and the explorer's form, with the unit
    # text -> value; raises ValueError with a message in the user's words
    parse: Callable[[str], Any]
    # value -> {column: heading with unit}, in column order
    columns: Callable[[Any], Mapping[str, str]]
    # (root items of one page, value) -> {root pk: {column: value}}; a few queries per page
    fetch: Callable[[list[Item], Any], Mapping[int, Mapping[str, Any]]]


TABLE_PARAMETERS: dict[str, dict[str, TableParameter]] = {}


def register_table_parameter(kind: str, parameter: TableParameter) -> None:
    TABLE_PARAMETERS.setdefault(kind, {})[parameter.name] = parameter
    RESERVED_PARAMS.add(parameter.name)


@dataclass(frozen=True)
class TableOptions:
    """What a query asks to add to the table beyond its fixed columns."""

    steps: tuple[tuple[str, str], ...] = ()  # (step kind, field)
    parameters: tuple[tuple[TableParameter, Any], ...] = ()


def _values(params: Mapping[str, Any], key: str) -> list[str]:
    """A parameter's values, repeated (`?x=1&x=2`) or comma-separated (`?x=1,2`)."""
    raw = params.getlist(key) if hasattr(params, "getlist") else [params[key]]
    return [v.strip() for text in raw for v in str(text).split(",") if v.strip()]


def step_column(step_kind: str, field: str) -> str:
    return f"step_{step_kind}_{field}"


def _parse_step(text: str) -> tuple[str, str]:
    kind, _, field = text.partition(".")
    if kind not in StepKind.values:
        raise ValueError(
            f"'{text}': the step kind before the dot must be one of {', '.join(StepKind.values)}."
        )
    if field not in STEP_FIELDS:
        raise ValueError(
            f"'{text}': the field after the dot must be one of {', '.join(STEP_FIELDS)}."
        )
    return kind, field


def table_options(kind: str, params: Mapping[str, Any]) -> TableOptions:
    """The step columns and parameter columns a query asks for; a 400 naming the parameter
    when one cannot be read or does not apply to rows of `kind`."""
    errors: dict[str, list[str]] = {}
    steps: list[tuple[str, str]] = []
    parameters: list[tuple[TableParameter, Any]] = []
    own = TABLE_PARAMETERS.get(kind, {})
    registered = {name for parameters in TABLE_PARAMETERS.values() for name in parameters}
    for key in params:
        if key != "step" and key not in registered:
            continue
        values = _values(params, key)
        if len(values) > MAX_VALUES_PER_PARAMETER:
            errors[key] = [f"At most {MAX_VALUES_PER_PARAMETER} values."]
            continue
        if key != "step" and key not in own:
            kinds = sorted(k for k, p in TABLE_PARAMETERS.items() if key in p)
            errors[key] = [
                f"Not a column of {kind} rows; it applies to rows of: {', '.join(kinds)}."
            ]
            continue
        problems = []
        for text in values:
            try:
                if key == "step":
                    steps.append(_parse_step(text))
                else:
                    parameters.append((own[key], own[key].parse(text)))
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            errors[key] = problems
    if errors:
        raise ValidationError(errors)
    return TableOptions(tuple(dict.fromkeys(steps)), tuple(dict.fromkeys(parameters)))


def _field_label(viewset: type[RecordViewSet], name: str) -> str:
    model = viewset.queryset.model
    try:
        return str(model._meta.get_field(name).verbose_name)
    except Exception:  # a serializer field that is no model field (derived, or from a relation)
        field = viewset.serializer_class().fields.get(name)
        source = getattr(field, "source", "") or ""
        if "." in source:  # e.g. pellet_set.sintering_temperature_c
            head, _, rest = source.partition(".")
            related = model._meta.get_field(head).related_model
            try:
                return str(related._meta.get_field(rest).verbose_name)
            except Exception:
                pass
        return name.replace("_", " ")


def column_labels(
    kind: str, viewsets: Mapping[str, type[RecordViewSet]], options: TableOptions | None = None
) -> dict[str, str]:
    """{column: heading in the user's words}, in the table's column order."""
    root = viewsets[kind]
    labels = {"code": "code", "summary": "summary"}
    labels.update({c: _field_label(root, c) for c in root.table_columns})
    for ancestor in root.table_ancestors:
        name = ItemKind(ancestor).label
        labels[f"{ancestor}_code"] = f"{name}: code"
        labels.update(
            {
                f"{ancestor}_{c}": f"{name}: {_field_label(viewsets[ancestor], c)}"
                for c in viewsets[ancestor].table_columns
            }
        )
    for extra in EXTRA_COLUMNS.get(kind, []):
        labels.update({c: extra.labels.get(c, c.replace("_", " ")) for c in extra.columns})
    options = options or TableOptions()
    for step_kind, field in options.steps:
        verbose = ProcessStep._meta.get_field(field).verbose_name
        labels[step_column(step_kind, field)] = f"{StepKind(step_kind).label} step: {verbose}"
    for parameter, value in options.parameters:
        labels.update(parameter.columns(value))
    return labels


def columns(
    kind: str, viewsets: Mapping[str, type[RecordViewSet]], options: TableOptions | None = None
) -> list[str]:
    return list(column_labels(kind, viewsets, options))


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
    queryset = viewset.queryset
    if request is not None:  # only rows (and ancestors to filter on) of the user's projects
        queryset = permissions.scope(queryset, request.user)
    filterset = viewset.filterset_class(data=data, queryset=queryset, request=request)
    if not filterset.is_valid():
        raise ValidationError({f"{prefix}{k}": v for k, v in filterset.errors.items()})
    return filterset.qs


def _refuse_unknown(viewset: type[RecordViewSet], data: Mapping[str, Any], prefix: str) -> None:
    unknown = sorted(set(data) - set(viewset.filterset_class.base_filters))
    if unknown:
        raise ValidationError({f"{prefix}{name}": ["No such filter."] for name in unknown})


def filter_roots(
    kind: str,
    params: Mapping[str, Any],
    viewsets: Mapping[str, type[RecordViewSet]],
    request=None,
) -> QuerySet:
    """The root items the query parameters select, ordered by code."""
    root_filters, ancestor_filters = split_params(params, list(viewsets))
    # An unknown parameter is refused, not ignored: a typo would otherwise give the whole
    # table as if it had been filtered.
    _refuse_unknown(viewsets[kind], root_filters, "")
    roots = _filtered(viewsets[kind], root_filters, request).order_by("code")
    for ancestor, data in ancestor_filters.items():
        _refuse_unknown(viewsets[ancestor], data, f"{ancestor}{ANCESTOR_SEPARATOR}")
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
        queryset = viewsets[kind].queryset.filter(pk__in=ids)
        if request is not None:
            queryset = permissions.scope(queryset, request.user)
        data[kind] = _serialized(viewsets[kind], queryset, request)
        # An ancestor of a project the user cannot see: its code only, no values.
        hidden = ids - set(data[kind])
        if hidden:
            codes = Item.objects.filter(pk__in=hidden).values_list("pk", "code")
            data[kind].update({pk: {"code": code} for pk, code in codes})
    return data


def _visible_nearest(nearest: Mapping[int, Mapping[str, int]], request) -> dict:
    """`nearest` without the ancestors of projects the user cannot see (their steps are not
    shown; their code is)."""
    user = getattr(request, "user", None)
    if user is None or permissions.is_superuser(user):
        return dict(nearest)
    ids = {pk for found in nearest.values() for pk in found.values()}
    shown = set(permissions.visible_items(user).filter(pk__in=ids).values_list("pk", flat=True))
    return {
        root: {k: pk for k, pk in found.items() if pk in shown} for root, found in nearest.items()
    }


def _step_values(
    roots: Sequence[Item],
    nearest: Mapping[int, Mapping[str, int]],
    kinds: Sequence[str],
    steps: Sequence[tuple[str, str]],
) -> dict[int, dict[str, Any]]:
    """{root pk: {step column: value}}: from the row's own item, else from its ancestors in the
    order the kind lists them (nearest kinds first); an item's first step of that kind counts.
    One query per step column."""
    out: dict[int, dict[str, Any]] = {}
    for step_kind, field in steps:
        column = step_column(step_kind, field)
        holders = {
            root.pk: [root.pk, *(nearest.get(root.pk, {}).get(k) for k in kinds)] for root in roots
        }
        ids = {i for chain in holders.values() for i in chain if i is not None}
        first: dict[int, Any] = {}
        found = (
            ProcessStep.objects.filter(item_id__in=ids, kind=step_kind)
            .order_by("item_id", "position")
            .values_list("item_id", field)
        )
        for item_id, value in found:
            first.setdefault(item_id, value)
        for root_pk, chain in holders.items():
            holder = next((i for i in chain if i in first), None)
            out.setdefault(root_pk, {})[column] = first.get(holder)
    return out


def rows(
    kind: str,
    roots: Sequence[Item],
    viewsets: Mapping[str, type[RecordViewSet]],
    request=None,
    options: TableOptions | None = None,
) -> list[dict[str, Any]]:
    """The table rows of a page of roots (from `filter_roots`), keyed as in `columns`."""
    options = options or TableOptions()
    root_vs = viewsets[kind]
    kinds = list(root_vs.table_ancestors)
    nearest = nearest_ancestors([r.pk for r in roots], kinds)
    ancestors = _ancestor_data(nearest, kinds, viewsets, request)
    extras = [(extra.columns, extra.fetch(list(roots))) for extra in EXTRA_COLUMNS.get(kind, [])]
    if options.steps:
        step_columns = tuple(step_column(k, f) for k, f in options.steps)
        shown = _visible_nearest(nearest, request)
        extras.append((step_columns, _step_values(roots, shown, kinds, options.steps)))
    for parameter, value in options.parameters:
        extras.append((tuple(parameter.columns(value)), parameter.fetch(list(roots), value)))
    result = []
    for root, data in _serialized(root_vs, roots, request).items():
        row = {name: data.get(name) for name in ("code", "summary", *root_vs.table_columns)}
        for ancestor in kinds:
            found = ancestors[ancestor].get(nearest.get(root, {}).get(ancestor), {})
            row[f"{ancestor}_code"] = found.get("code")
            for column in viewsets[ancestor].table_columns:
                row[f"{ancestor}_{column}"] = found.get(column)
        for names, values in extras:
            row.update({c: values.get(root, {}).get(c) for c in names})
        result.append(row)
    return result
