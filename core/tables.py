"""The columns of the web lists: what a cell shows, how a column sorts (always in the
database, so a sorted page costs the same queries as an unsorted one), and the CSV export of
everything a filtered, sorted list matches.

Every list (each kind's list, the measurement list) is built from `Column`s; apps add columns
to a kind's list through `core.headlines.register_columns` (e.g. measurement results), whose
values come from a database annotation, so they sort like any other column.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import F, Model, QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

from .models import Item
from .spreadsheet import csv_lines

SORT_PARAM = "sort"


@dataclass(frozen=True)
class Column:
    """One column of a list.

    heading: the user's words with the unit, e.g. "σ nearest 25 °C (S/cm)".
    path: dotted attribute of a row whose value the cell shows ("pellet_set.batch").
    key: its name in `?sort=` and in the CSV header's order; by default from `path`.
    order: what the database sorts by (a field path or an expression); by default the field
        `path` names. A property (relative density) names the expression it follows.
    annotation: an expression the list's query is annotated with under `key` (results from
        another app); the cell shows the annotation and the column sorts by it.
    fmt: "pct" shows a fraction as a percentage (the heading says %); "sci" scientific notation.
    """

    heading: str
    path: str = ""
    key: str = ""
    order: Any = None
    annotation: Any = None
    fmt: str = ""
    testid: str = field(default="", compare=False)

    def __post_init__(self):
        if not self.key:
            object.__setattr__(self, "key", _default_key(self.path))
        if not self.path:
            object.__setattr__(self, "path", self.key)

    def value(self, row: Any) -> Any:
        """The cell's value: the attribute at `path` (a method is called), in display units."""
        value: Any = row
        for name in self.path.split("."):
            if value is None:
                return None
            value = getattr(value, name, None)
            if callable(value) and not isinstance(value, Model):
                value = value()
        if self.fmt == "pct" and isinstance(value, int | float):
            return 100 * value
        return value


def _default_key(path: str) -> str:
    parts = [p.removeprefix("get_").removesuffix("_display") for p in path.split(".")]
    return "__".join(parts)


def column(spec: Column | Sequence[str]) -> Column:
    """A column from its older tuple form: (heading, path) or (heading, path, "pct")."""
    if isinstance(spec, Column):
        return spec
    heading, path, *rest = spec
    return Column(heading=heading, path=path, fmt=rest[0] if rest else "")


def sort_expression(model: type[Model], col: Column) -> Any:
    """What the database sorts `col` by; None when it names no field (a property with no
    `order`): the list's test fails on such a column, so every column sorts."""
    if col.annotation is not None:
        return F(col.key)
    if col.order is not None:
        return F(col.order) if isinstance(col.order, str) else col.order
    lookup, current = [], model
    for part in col.key.split("__"):
        try:
            f = current._meta.get_field(part)
        except FieldDoesNotExist:
            return None
        lookup.append(part)
        current = f.related_model
        if current is None:
            break
    else:
        # A relation: sort items by their code, anything else by its primary key.
        if current is not None and issubclass(current, Item):
            lookup.append("code")
    return F("__".join(lookup))


class SortError(ValueError):
    pass


@dataclass(frozen=True)
class Sort:
    key: str  # "" when the list keeps its default order
    descending: bool

    @property
    def param(self) -> str:
        return f"-{self.key}" if self.descending else self.key


def parse_sort(raw: str, columns: Sequence[Column]) -> Sort:
    """`?sort=retention_pct` (ascending) or `?sort=-retention_pct` (descending)."""
    raw = raw.strip()
    if not raw:
        return Sort("", False)
    key = raw.removeprefix("-")
    if key not in {c.key for c in columns}:
        names = ", ".join(c.key for c in columns)
        raise SortError(f"Sort: there is no column “{key}” in this list (columns: {names}).")
    return Sort(key, raw.startswith("-"))


def annotate(queryset: QuerySet, columns: Iterable[Column]) -> QuerySet:
    annotations = {c.key: c.annotation for c in columns if c.annotation is not None}
    return queryset.annotate(**annotations) if annotations else queryset


def apply_sort(queryset: QuerySet, columns: Sequence[Column], sort: Sort) -> QuerySet:
    """The rows in the order asked for; empty values last either way, ties by newest id."""
    if not sort.key:
        return queryset
    col = next(c for c in columns if c.key == sort.key)
    expression = sort_expression(queryset.model, col)
    if expression is None:
        raise SortError(f"Sort: the column “{col.heading}” cannot be sorted.")
    ordered = (
        expression.desc(nulls_last=True) if sort.descending else expression.asc(nulls_last=True)
    )
    return queryset.order_by(ordered, "-pk")


def headers(columns: Sequence[Column], sort: Sort) -> list[dict]:
    """Each heading with the `?sort=` its click asks for (ascending first, then descending)
    and whether the list is sorted by it now."""
    out = []
    for c in columns:
        active = sort.key == c.key
        out.append(
            {
                "column": c,
                "next": f"-{c.key}" if active and not sort.descending else c.key,
                "active": active,
                "descending": active and sort.descending,
            }
        )
    return out


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Item):
        return value.code
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, int | float | str):
        return value
    return str(value)


def csv_response(
    request: HttpRequest, columns: Sequence[Column], rows: QuerySet, filename: str
) -> StreamingHttpResponse:
    """Every row the list matches (not only the page), in its order, as CSV; streamed."""
    header = [c.heading for c in columns]
    lines = csv_lines(
        header, ([_csv_value(c.value(row)) for c in columns] for row in rows.iterator(2000))
    )
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response
