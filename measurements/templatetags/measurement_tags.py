"""Template helpers for measurement sections on other apps' pages (the item page)."""

from django import template

from measurements import selectors, services

register = template.Library()


@register.filter
def measurements_attention_first(item):
    """The item's measurements, doubtful and waiting ones first, with their results' warnings
    (`m.result_warnings`) ready to show."""
    rows = list(selectors.attention_first(item.measurements.all()).prefetch_related("results"))
    for m in rows:
        m.result_warnings = selectors.warnings_of(m)
    return rows


@register.simple_tag
def measure_again_offer(item):
    """(earlier version, how many of its measurements this one has not taken), or None."""
    return services.measure_again_offer(item)
