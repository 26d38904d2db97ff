from __future__ import annotations

import datetime
import math

from django import template
from django.db.models import Model
from django.utils.html import format_html

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
def show(value):
    """Lab-friendly display: 4 significant digits, links for items, a dash for nothing."""
    from lims.models import Item

    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.4e}"
    if isinstance(value, Item):
        if not value.code:  # an unsaved item, e.g. a bogus row posted to a formset
            return "—"
        return format_html('<a href="{}">{}</a>', value.get_absolute_url(), value.code)
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value


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
