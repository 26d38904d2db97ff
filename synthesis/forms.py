from __future__ import annotations

from django import forms

from lims.forms import ItemCodeField
from lims.validators import greater_than_zero

from . import chemistry
from .models import (
    PELLET_SET_CONDITIONS,
    CathodeCoating,
    Chemical,
    ElectrodeDisk,
    IleBatch,
    LagpBatch,
    Pellet,
    PelletSet,
    PrecursorRole,
    ReagentLot,
    SpeMembrane,
)

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class LotChoiceField(forms.ModelChoiceField):
    """A reagent-lot select that lists lots of the expected chemical first."""

    def __init__(self, *, chemical_hint: str = "", **kwargs):
        self.chemical_hint = chemical_hint
        super().__init__(queryset=ReagentLot.objects.select_related("chemical"), **kwargs)

    def label_from_instance(self, obj: ReagentLot) -> str:
        return f"{obj.code} — {obj.chemical.name}, {obj.supplier} lot {obj.lot_number}"


def _lot_field(hint: str, *, required: bool = True, label: str | None = None) -> LotChoiceField:
    return LotChoiceField(chemical_hint=hint, required=required, label=label)


class ChemicalForm(forms.ModelForm):
    class Meta:
        model = Chemical
        fields = ["name", "formula", "molar_mass_g_mol", "cas_number", "notation_label"]


class ReagentLotForm(forms.ModelForm):
    chemical = forms.ModelChoiceField(
        queryset=Chemical.objects.all(),
        help_text='not listed? <a href="/synthesis/chemicals/new/">add a chemical</a>',
    )

    class Meta:
        model = ReagentLot
        fields = [
            "chemical",
            "supplier",
            "grade",
            "lot_number",
            "received_on",
            "amount_left",
            "amount_unit",
            "notes",
        ]
        widgets = {"received_on": DATE, "notes": forms.Textarea(attrs={"rows": 2})}


class LagpBatchForm(forms.ModelForm):
    class Meta:
        model = LagpBatch
        fields = ["target_mass_g", "x_al", "li_excess_pct", "yield_g", "phase_result", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}


class PrecursorForm(forms.Form):
    role = forms.ChoiceField(choices=PrecursorRole.choices, widget=forms.HiddenInput)
    reagent_lot = LotChoiceField(required=False)
    planned_mass_g = forms.FloatField(
        label="planned (g)", required=False, validators=[greater_than_zero]
    )
    weighed_mass_g = forms.FloatField(
        label="weighed (g)", required=False, validators=[greater_than_zero]
    )

    def clean(self):
        data = super().clean()
        if data.get("weighed_mass_g") is not None and not data.get("reagent_lot"):
            self.add_error("reagent_lot", "Which lot was weighed?")
        if data.get("reagent_lot") and data.get("planned_mass_g") is None and not self.errors:
            self.add_error("planned_mass_g", "Give the planned mass (the calculator proposes it).")
        return data


PrecursorFormSet = forms.formset_factory(PrecursorForm, extra=0, min_num=4, max_num=4)


def precursor_initial(
    target_mass_g: float, x: float, li_excess_pct: float, lots=None
) -> list[dict]:
    lots = lots or {}
    return [
        {"role": p.role, "planned_mass_g": round(p.mass_g, 4), "reagent_lot": lots.get(p.role)}
        for p in chemistry.lagp_precursors(target_mass_g, x, li_excess_pct)
    ]


class CalculatorForm(forms.Form):
    """Inputs of the precursor calculator (also used by the HTMX partial)."""

    target_mass_g = forms.FloatField(min_value=0.001, initial=chemistry.DEFAULT_TARGET_MASS_G)
    x_al = forms.FloatField(min_value=0.0, max_value=1.0, initial=chemistry.DEFAULT_X)
    li_excess_pct = forms.FloatField(
        min_value=0.0, max_value=100.0, initial=chemistry.DEFAULT_LI_EXCESS_PCT
    )


class PelletSetForm(forms.ModelForm):
    batch = ItemCodeField(kinds=("lagp_batch",), label="LAGP powder batch")
    count = forms.IntegerField(label="number of pellets", min_value=1, max_value=100, initial=4)

    class Meta:
        model = PelletSet
        fields = PELLET_SET_CONDITIONS
        widgets = {"sintered_on": DATE}


class PelletSetEditForm(PelletSetForm):
    count = None

    class Meta(PelletSetForm.Meta):
        pass


class PelletMeasureForm(forms.ModelForm):
    class Meta:
        model = Pellet
        fields = ["thickness_mm", "diameter_mm", "mass_mg", "notes"]
        widgets = {"notes": forms.TextInput()}


PelletMeasureFormSet = forms.modelformset_factory(Pellet, form=PelletMeasureForm, extra=0)


class SpeMembraneForm(forms.ModelForm):
    peo_lot = _lot_field("PEO", label="PEO lot")
    lifsi_lot = _lot_field("LiFSI", label="LiFSI lot")
    pyr14fsi_lot = _lot_field("Pyr14FSI", label="Pyr14FSI lot")
    benzophenone_lot = _lot_field("benzophenone", required=False, label="benzophenone lot")

    class Meta:
        model = SpeMembrane
        fields = [
            "peo_lot",
            "lifsi_lot",
            "pyr14fsi_lot",
            "benzophenone_lot",
            "molar_ratio",
            "benzophenone_wt_pct",
            "thickness_um",
            "uv_crosslinked",
            "notes",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}

    def clean_molar_ratio(self):
        value = self.cleaned_data["molar_ratio"]
        try:
            chemistry.parse_ratio(value, 3)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return value


class IleBatchForm(forms.ModelForm):
    pyr14fsi_lot = _lot_field("Pyr14FSI", label="Pyr14FSI lot")
    litfsi_lot = _lot_field("LiTFSI", label="LiTFSI lot")

    class Meta:
        model = IleBatch
        fields = [
            "pyr14fsi_lot",
            "litfsi_lot",
            "pyr14fsi_mol_fraction",
            "water_content_ppm",
            "notes",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}


class CathodeCoatingForm(forms.ModelForm):
    active_lot = _lot_field("NCM811", label="active material lot (NCM811)")
    carbon_lot = _lot_field("Super C65", label="conductive carbon lot (Super C65)")
    binder_lot = _lot_field("PVdF", label="binder lot (PVdF)")
    solvent_lot = _lot_field("NMP", required=False, label="solvent lot (NMP)")
    foil_lot = _lot_field("Al foil", required=False, label="current collector (Al foil)")

    class Meta:
        model = CathodeCoating
        fields = [
            "active_lot",
            "carbon_lot",
            "binder_lot",
            "solvent_lot",
            "foil_lot",
            "mass_ratio",
            "solids_pct",
            "notes",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}

    def clean_mass_ratio(self):
        value = self.cleaned_data["mass_ratio"]
        try:
            chemistry.parse_ratio(value, 3)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return value


class ElectrodeDiskSetForm(forms.ModelForm):
    coating = ItemCodeField(kinds=("cathode_coating",), label="cathode coating")
    count = forms.IntegerField(label="number of disks", min_value=1, max_value=100, initial=6)

    class Meta:
        model = ElectrodeDisk
        fields = ["diameter_mm", "active_loading_mg_cm2", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}


class ElectrodeDiskForm(forms.ModelForm):
    class Meta:
        model = ElectrodeDisk
        fields = ["diameter_mm", "active_loading_mg_cm2", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}
