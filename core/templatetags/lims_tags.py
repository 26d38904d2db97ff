from __future__ import annotations

import datetime
from decimal import Decimal

from django import template
from django.db.models import Model
from django.utils import timezone
from django.utils.html import format_html

from core import display, permissions
from core.audit import current_user
from core.models import Item
from core.views import record_kinds as kinds_with_urls

register = template.Library()


@register.filter
def attr(obj, path: str):
    """`row|attr:"pellet_set.sintering_temperature_c"`: follow a dotted path, None if broken."""
    for name in path.split("."):
        if obj is None:
            return None
        obj = getattr(obj, name, None)
        if callable(obj) and not isinstance(obj, Model):
            obj = obj()
    return obj


@register.filter
def show(value, unit: str = ""):
    """How every page shows a value: numbers to sensible significant digits (core.display)
    followed by `unit` if given (`{{ area|show:"cm²" }}`), links for items, a dash for nothing."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal):
        text = display.number(value)
        if not text:
            return "—"
        return f"{text} {unit}" if unit else text
    if isinstance(value, Item):
        if not value.code:  # an unsaved item, e.g. a bogus row posted to a formset
            return "—"
        user = current_user()
        if user is not None and not permissions.can_view(user, value):
            # An item of a project the reader cannot see (a shared lot): its code, no link.
            return format_html(
                '<span class="code" title="in a project you cannot see">{}</span>', value.code
            )
        return format_html('<a class="code" href="{}">{}</a>', value.get_absolute_url(), value.code)
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


@register.filter
def cell(row, column):
    """A list cell: the column's value (core.tables.Column) as every page shows values."""
    value = column.value(row)
    if column.fmt == "sci" and isinstance(value, int | float):
        return sci(value)
    return show(value)


@register.filter
def pm(value, uncertainty):
    """`{{ ea|pm:ea_stderr }}` -> '0.3612 ± 0.0042' rounded to the uncertainty's place."""
    if value is None:
        return "—"
    return display.with_uncertainty(value, uncertainty)


@register.simple_tag(takes_context=True)
def query_with(context, **changes):
    params = context["request"].GET.copy()
    for key, value in changes.items():
        params[key] = value
    return params.urlencode()


@register.filter
def pct(fraction):
    """0.912 -> '91.2 %'."""
    return "—" if fraction is None else f"{100 * fraction:.1f} %"


@register.filter
def per(value, divisor):
    if value is None or not divisor:
        return None
    return value / divisor


@register.filter
def sci(value, digits: int = 3):
    """3.2497e-4 -> '3.25e-04': conductivities as papers quote them (3 significant figures)."""
    if value is None:
        return "—"
    return f"{float(value):.{int(digits) - 1}e}"


@register.simple_tag
def record_kinds():
    """Every kind of item with its names and URLs (core.views.record_kinds), for the nav."""
    return kinds_with_urls()
