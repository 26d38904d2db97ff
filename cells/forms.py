from __future__ import annotations

from django import forms

from lims.forms import ItemCodeField

from .models import Cell, LayerSide


class CellForm(forms.ModelForm):
    class Meta:
        model = Cell
        fields = [
            "format",
            "active_area_cm2",
            "assembled_on",
            "operator",
            "dew_point_c",
            "test_temperature_c",
            "notes",
        ]
        widgets = {
            "assembled_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "notes": forms.Textarea(attrs={"rows": 2}),
        }


class LayerForm(forms.Form):
    # A blank first choice, so the empty rows at the end of the stack stay unchanged (ignored).
    side = forms.ChoiceField(choices=[("", "—"), *LayerSide.choices])
    # Any kind: the stack rules then say why a kind cannot be a layer and what to use instead
    # (a piece of a membrane sheet, a pellet of a powder batch).
    item = ItemCodeField(label="item code")
    amount_ul = forms.FloatField(label="amount (µL)", min_value=0.0, required=False)
    label = forms.CharField(
        max_length=20, required=False, help_text="notation label, if not the item's own (e.g. Pt)"
    )


LayerFormSet = forms.formset_factory(LayerForm, extra=2, can_delete=True, can_order=False)


def layer_data(formset) -> list[dict]:
    return [
        f.cleaned_data
        for f in formset.forms
        if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("item")
    ]
