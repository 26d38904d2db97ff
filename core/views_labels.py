"""The printable labels page: any items' codes, kinds, summaries and QR codes on a label
printer's roll or an A4 sheet (core.labels has the stocks and the QR code)."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import labels, permissions


class LabelsForm(forms.Form):
    items = forms.CharField(
        label="Item codes",
        required=False,
        help_text="separated by spaces or commas; or tick items in a list and “Print labels”",
    )
    layout = forms.ChoiceField(
        label="Label stock",
        choices=[(k, layout.name) for k, layout in labels.LAYOUTS.items()],
        initial=labels.DEFAULT_LAYOUT,
        error_messages={"invalid_choice": "“%(value)s” is not one of the stocks listed"},
    )
    skip = forms.IntegerField(
        label="Leave empty at the start (labels)",
        min_value=0,
        required=False,
        help_text="an A4 sheet used before: the labels already taken",
        error_messages={"min_value": "0 or more", "invalid": "a whole number of labels"},
    )

    def clean(self):
        data = super().clean()
        layout = labels.LAYOUTS.get(data.get("layout"))
        skip = data.get("skip") or 0
        if layout is not None and skip >= layout.per_page:
            self.add_error(
                "skip",
                f"a sheet of this stock has {layout.per_page} labels: 0 to {layout.per_page - 1}",
            )
        return data


def labels_page(request: HttpRequest) -> HttpResponse:
    codes = labels.parse_codes(request.GET.getlist("items"))
    data = {
        "items": " ".join(codes),
        "layout": request.GET.get("layout", labels.DEFAULT_LAYOUT),
        "skip": request.GET.get("skip", ""),
    }
    form = LabelsForm(data)
    form.is_valid()
    layout = (
        labels.LAYOUTS.get(form.cleaned_data.get("layout")) or labels.LAYOUTS[labels.DEFAULT_LAYOUT]
    )
    if len(codes) > labels.MAX_LABELS:
        form.add_error("items", f"{len(codes)} codes: at most {labels.MAX_LABELS} labels in one go")
        codes = []
    items = permissions.visible_items(request.user)
    found = {item.code: item for item in items.filter(code__in=codes)}
    missing = [code for code in codes if code not in found]
    if missing:
        form.add_error("items", f"no item {', '.join(missing)}")
    entries = [
        {
            "item": found[code],
            "url": request.build_absolute_uri(found[code].get_absolute_url()),
        }
        for code in codes
        if code in found
    ]
    for entry in entries:
        entry["qr"] = labels.qr_svg(entry["url"])
    skip = 0 if layout.is_roll else form.cleaned_data.get("skip") or 0
    cells = [None] * skip + entries
    pages = [cells[i : i + layout.per_page] for i in range(0, len(cells), layout.per_page)]
    context = {"form": form, "layout": layout, "pages": pages, "count": len(entries)}
    return render(request, "lims/labels.html", context, status=200 if form.is_valid() else 400)
