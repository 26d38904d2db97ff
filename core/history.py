"""The item page's History table in the words of the forms: model and field verbose names,
choice labels, related records by code, never `synthesis.precursoruse` or `x_al`."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.apps import apps

from .models import AuditEvent, Item

# Bookkeeping every record has, a copy of what the other columns say, or a measurement's
# processing state (the worker's, shown on the measurement page): not history.
NOT_SHOWN = {
    "id",
    "item_ptr_id",
    "summary",
    "code",
    "kind",
    "created_at",
    "created_by_id",
    "status",
    "status_detail",
    "progress",
    "run",
    "processed_at",
    "is_piece",  # a cell layer's copy of its item's kind
}


@dataclass
class Change:
    label: str
    before: object = None
    after: object = None


@dataclass
class HistoryRow:
    event: AuditEvent
    what: str
    changes: list[Change] = field(default_factory=list)  # an update: before -> after
    values: list[Change] = field(default_factory=list)  # a part record created or deleted


class _Values:
    """Turns stored (JSON) values back into what a page shows, one query per related record."""

    def __init__(self):
        self.related: dict[tuple, object] = {}

    def __call__(self, model_field, value):
        if value is None or value == "" or value == {} or value == []:
            return None
        if model_field is None:
            return value
        if model_field.choices:
            return dict(model_field.flatchoices).get(value, value)
        if model_field.is_relation and model_field.related_model is not None:
            key = (model_field.related_model, value)
            if key not in self.related:
                target = model_field.related_model._default_manager.filter(pk=value).first()
                self.related[key] = target if target is not None else value
            return self.related[key]
        return value


def history_rows(events) -> list[HistoryRow]:
    describe = _Values()
    rows = []
    for event in events:
        try:
            model = apps.get_model(event.model)
        except (LookupError, ValueError):
            rows.append(HistoryRow(event, event.model))
            continue
        by_attname = {f.attname: f for f in model._meta.concrete_fields}
        # The record's link to its item is the page it is shown on.
        parent_link = getattr(model, "AUDIT_ITEM_FIELD", None)
        hidden = NOT_SHOWN | ({f"{parent_link}_id"} if parent_link else set())
        row = HistoryRow(event, model._meta.verbose_name)
        if event.action == "update":
            for name, (before, after) in event.changes().items():
                if name in hidden:
                    continue
                f = by_attname.get(name)
                label = f.verbose_name if f else name
                row.changes.append(Change(label, describe(f, before), describe(f, after)))
        elif not issubclass(model, Item):
            # A precursor use, a cell layer, a process step: what was added or removed.
            stored = event.after if event.action == "create" else event.before
            for name, value in (stored or {}).items():
                f = by_attname.get(name)
                shown = describe(f, value)
                if name in hidden or f is None or shown is None:
                    continue
                row.values.append(Change(f.verbose_name, after=shown))
        rows.append(row)
    return rows
