from __future__ import annotations

from django import forms

from lims.forms import ItemCodeField
from lims.validators import greater_than_zero

from . import chemistry, selectors
from .models import (
    PELLET_SET_CONDITIONS,
    PRECURSOR_CATEGORIES,
    CathodeCoating,
    Chemical,
    ElectrodeDisk,
    IleBatch,
    LagpBatch,
    MembranePiece,
    Pellet,
    PelletSet,
    PrecursorRole,
    ReagentLot,
    SpeMembrane,
)

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class LotChoiceField(forms.ModelChoiceField):
    """A reagent-lot select offering only lots whose chemical suits the slot, with what each
    has left (the service refuses the others anyway)."""

    def __init__(self, *, categories=(), **kwargs):
        queryset = selectors.lots_with_use().select_related("chemical")
        if categories:
            queryset = queryset.filter(chemical__category__in=categories)
        super().__init__(queryset=queryset, **kwargs)

    def label_from_instance(self, obj: ReagentLot) -> str:
        left = f"{obj.quantity_left:.4g} {obj.get_quantity_unit_display()} left"
        return f"{obj.code} — {obj.chemical.name}, {obj.supplier} lot {obj.lot_number} ({left})"


def with_slot_fields(form_class):
    """Class decorator: each reagent slot of the form's model becomes a lot select limited to
    the slot's categories (in place of the plain select of every lot)."""
    model = form_class._meta.model
    for slot in model.REAGENT_SLOTS:
        field = model._meta.get_field(slot.field)
        form_class.base_fields[slot.field] = LotChoiceField(
            categories=slot.categories, required=not field.blank, label=field.verbose_name
        )
    return form_class


class ConfirmOverdrawMixin(forms.Form):
    """A record that takes from reagent lots: a use beyond what a lot has left is refused
    unless the user ticks this box, which the view shows only after such a refusal."""

    confirm_overdraw = forms.BooleanField(
        required=False,
        widget=forms.HiddenInput,
        label="record it although a lot has less left (it is kept with a warning)",
    )

    def offer_overdraw(self) -> None:
        self.fields["confirm_overdraw"].widget = forms.CheckboxInput()


class ChemicalForm(forms.ModelForm):
    class Meta:
        model = Chemical
        fields = ["name", "category", "formula", "molar_mass_g_mol", "cas_number", "notation_label"]


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
            "quantity",
            "quantity_unit",
            "notes",
        ]
        widgets = {"received_on": DATE, "notes": forms.Textarea(attrs={"rows": 2})}


class LagpBatchForm(ConfirmOverdrawMixin, forms.ModelForm):
    class Meta:
        model = LagpBatch
        fields = ["target_mass_g", "x_al", "li_excess_pct", "yield_g", "phase_result", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}


class PrecursorForm(forms.Form):
    role = forms.ChoiceField(choices=PrecursorRole.choices, widget=forms.HiddenInput)
    reagent_lot = LotChoiceField(
        required=False, categories=[c for cs in PRECURSOR_CATEGORIES.values() for c in cs]
    )
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


@with_slot_fields
class SpeMembraneForm(ConfirmOverdrawMixin, forms.ModelForm):
    class Meta:
        model = SpeMembrane
        fields = [
            "peo_lot",
            "peo_mass_g",
            "lifsi_lot",
            "lifsi_mass_g",
            "pyr14fsi_lot",
            "pyr14fsi_mass_g",
            "benzophenone_lot",
            "benzophenone_mass_g",
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


@with_slot_fields
class IleBatchForm(ConfirmOverdrawMixin, forms.ModelForm):
    class Meta:
        model = IleBatch
        fields = [
            "pyr14fsi_lot",
            "pyr14fsi_mass_g",
            "litfsi_lot",
            "litfsi_mass_g",
            "pyr14fsi_mol_fraction",
            "water_content_ppm",
            "notes",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}


@with_slot_fields
class CathodeCoatingForm(ConfirmOverdrawMixin, forms.ModelForm):
    class Meta:
        model = CathodeCoating
        fields = [
            "active_lot",
            "active_mass_g",
            "carbon_lot",
            "carbon_mass_g",
            "binder_lot",
            "binder_mass_g",
            "solvent_lot",
            "solvent_mass_g",
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


class MembranePieceSetForm(forms.ModelForm):
    membrane = ItemCodeField(kinds=("spe_membrane",), label="SPE membrane")
    count = forms.IntegerField(label="number of pieces", min_value=1, max_value=100, initial=4)

    class Meta:
        model = MembranePiece
        fields = ["diameter_mm", "measured_thickness_um", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}


class MembranePieceForm(forms.ModelForm):
    class Meta:
        model = MembranePiece
        fields = ["diameter_mm", "measured_thickness_um", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}


class ElectrodeDiskForm(forms.ModelForm):
    class Meta:
        model = ElectrodeDisk
        fields = ["diameter_mm", "active_loading_mg_cm2", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}
