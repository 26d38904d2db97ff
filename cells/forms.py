from __future__ import annotations

from django import forms

from core.forms import ItemCodeField, LabForm, LabFormSet, LabModelForm

from .models import Cell, LayerSide


class CellForm(LabModelForm):
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


class LayerForm(LabForm):
    # A blank first choice, so an added row left empty stays unchanged (ignored).
    side = forms.ChoiceField(choices=[("", "—"), *LayerSide.choices])
    # Any kind: the stack rules then say why a kind cannot be a layer and what to use instead
    # (a piece of a membrane sheet, a pellet of a powder batch). Not required: a row left
    # without an item is not a layer (the three rows a new cell starts with may be more than
    # a stack needs); the stack rules then say what is missing.
    item = ItemCodeField(label="item code", required=False)
    amount_ul = forms.FloatField(label="amount (µL)", min_value=0.0, required=False)
    label = forms.CharField(
        max_length=20, required=False, help_text="notation label, if not the item's own (e.g. Pt)"
    )

    def clean(self):
        data = super().clean()
        has_details = data.get("amount_ul") is not None or data.get("label")
        if not data.get("item") and has_details and not self.errors:
            self.add_error("item", "Which item is this layer?")
        return data


class LayerFormSet(
    forms.formset_factory(LayerForm, formset=LabFormSet, extra=0, max_num=20, can_delete=True)
):
    title = "Stack, negative electrode first"


# Every cell has a negative electrode, an electrolyte and a positive electrode: a new cell's
# stack starts with those three rows; "Add a row" makes room for more layers.
NEW_STACK = [{"side": "negative"}, {"side": "electrolyte"}, {"side": "positive"}]


def layer_data(formset) -> list[dict]:
    return [
        f.cleaned_data
        for f in formset.forms
        if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("item")
    ]
