from __future__ import annotations

from core.views import ItemListView, RecordFormView, bound_or_initial

from . import filters, forms, selectors, services
from .models import Cell


class CellFormView(RecordFormView):
    model = Cell
    form_class = forms.CellForm
    template_name = "cells/cell_form.html"

    def initial(self, source):
        initial = super().initial(source)
        if source is None and self.get_instance() is None:
            initial["operator"] = self.request.user.pk
        return initial

    def part_formsets(self, data, instance, source):
        origin = instance or source
        initial = forms.NEW_STACK
        if origin is not None:
            initial = [
                {
                    "side": layer.side,
                    "item": layer.item.code,
                    "amount_ul": layer.amount_ul,
                    "label": layer.label,
                }
                for layer in origin.layers.select_related("item")
            ]
        return {"layers": bound_or_initial(forms.LayerFormSet, data, "layers", initial)}

    def extra_context(self, form):
        return {"layer_codes": selectors.layer_candidate_codes(self.request.user)}

    def save(self, form, formsets, instance, steps):
        return services.cell_save(
            instance=instance,
            user=self.request.user,
            fields=self.fields(form),
            layers=forms.layer_data(formsets["layers"]),
            **self.write_options(form),
        )


class CellList(ItemListView):
    model = Cell
    filterset_class = filters.CellFilter
    columns = [
        ("notation", "notation"),
        ("format", "get_format_display"),
        ("active area (cm²)", "active_area_cm2"),
        ("active mass (mg)", "active_mass_mg"),
        ("test T (°C)", "test_temperature_c"),
        ("assembled", "assembled_on"),
    ]
