from __future__ import annotations

from django import forms
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from core.forms import ItemCodeField, LabForm, LabModelForm

from . import parsers
from .compute import TECHNIQUE_INPUTS
from .models import EisModel, Measurement
from .services import EDITABLE


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """One or many raw files in one field."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


class CircuitInput(forms.TextInput):
    """A text box for any circuit, offering "auto" and the built-in circuits as suggestions."""

    def __init__(self, attrs=None):
        super().__init__({"list": "builtin-circuits", "size": 40, **(attrs or {})})

    def render(self, name, value, attrs=None, renderer=None):
        options = "".join(
            format_html('<option value="{}">{}</option>', v, label) for v, label in EisModel.choices
        )
        return mark_safe(  # noqa: S308 - options are escaped by format_html above
            super().render(name, value, attrs, renderer)
            + f'<datalist id="builtin-circuits">{options}</datalist>'
        )


def parser_choices() -> list[tuple[str, str]]:
    return [("", "detect from the file"), *((p.name, p.label) for p in parsers.PARSERS)]


SETTINGS_FIELDS = [name for name in EDITABLE if name != "options"]


def techniques_using(name: str) -> list[str]:
    """The techniques whose computation reads setting `name` (empty: every measurement's)."""
    return [technique for technique, names in TECHNIQUE_INPUTS.items() if name in names]


class MeasurementForm(LabModelForm):
    item = ItemCodeField(label="Sample (item code)")
    parser = forms.ChoiceField(choices=parser_choices, required=False, label="File format")
    files = MultipleFileField(label="Raw instrument files", required=False)
    field_order = ["item"]  # which sample first, then how it was measured

    class Meta:
        model = Measurement
        fields = SETTINGS_FIELDS
        widgets = {"notes": forms.Textarea(attrs={"rows": 2}), "eis_model": CircuitInput()}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Every field is on the page (the technique can still change, and without JS all of
        # them show); static/lims/technique-fields.js hides those the chosen technique does
        # not use. A hidden field is still sent, so what it holds is kept.
        self.fields["technique"].widget.attrs["data-technique-select"] = ""
        for name, field in self.fields.items():
            field.techniques = techniques_using(name)


class MeasurementSettingsForm(LabModelForm):
    parser = forms.ChoiceField(choices=parser_choices, required=False, label="File format")

    class Meta:
        model = Measurement
        fields = SETTINGS_FIELDS
        widgets = {"notes": forms.Textarea(attrs={"rows": 2}), "eis_model": CircuitInput()}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the settings this measurement's technique uses; the others are not in the form,
        # so saving leaves them as they are (they show again if the technique is changed back).
        technique = self.instance.technique
        for name in list(self.fields):
            if techniques_using(name) and technique not in techniques_using(name):
                del self.fields[name]
        self.fields["technique"].help_text = "another technique's settings show once saved"


class AddFilesForm(LabForm):
    files = MultipleFileField(label="Add raw files")


class ColumnMappingForm(LabForm):
    """The column mapping of a generic CSV file, proposed from its header, confirmed by the user."""

    kind = forms.ChoiceField(
        choices=[("cycling", "cycling / stripping"), ("eis", "EIS"), ("tga", "TGA"), ("xrd", "XRD")]
    )

    def __init__(
        self, *args, columns: list[str], canonical: list[str], sheets: list[str] = (), **kwargs
    ):
        super().__init__(*args, **kwargs)
        if sheets:  # a spreadsheet: the sheet previewed (chosen with the links above the form)
            self.fields["sheet"] = forms.ChoiceField(
                choices=[(s, s) for s in sheets], widget=forms.HiddenInput
            )
        choices = [("", "— not in file —"), *((c, c) for c in columns)]
        for name in canonical:
            self.fields[f"map_{name}"] = forms.ChoiceField(
                choices=choices, required=False, label=name
            )

    def options(self) -> dict:
        mapping = {
            name[4:]: column
            for name, column in self.cleaned_data.items()
            if name.startswith("map_") and column
        }
        options = {"kind": self.cleaned_data["kind"], "mapping": mapping}
        if self.cleaned_data.get("sheet"):
            options["sheet"] = self.cleaned_data["sheet"]
        return options
