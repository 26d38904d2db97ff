from __future__ import annotations

from django import forms
from django.core.validators import MaxValueValidator
from django.utils.text import capfirst

from core import permissions
from core.audit import current_user
from core.forms import (
    FixedChoice,
    ItemCodeField,
    LabForm,
    LabFormSet,
    LabModelForm,
    LabModelFormSet,
)
from core.validators import greater_than_zero

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

    def __deepcopy__(self, memo):
        # Each form gets its copy of the field as it is made, in the request: offer only the
        # lots of the user's projects (a lot of another project is not named, nor takeable).
        copy = super().__deepcopy__(memo)
        user = current_user()
        if user is not None:
            copy.queryset = permissions.scope(copy.queryset, user)
        return copy

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
            categories=slot.categories, required=not field.blank, label=capfirst(field.verbose_name)
        )
    return form_class


class ConfirmOverdrawMixin(forms.Form):
    """A record that takes from reagent lots: a use beyond what a lot has left is refused
    unless the user ticks this box, which the view shows only after such a refusal."""

    confirm_overdraw = forms.BooleanField(
        required=False,
        widget=forms.HiddenInput,
        label="Record it although a lot has less left (it is kept with a warning)",
    )

    def offer_overdraw(self) -> None:
        self.fields["confirm_overdraw"].widget = forms.CheckboxInput()


class ChemicalForm(LabModelForm):
    class Meta:
        model = Chemical
        fields = ["name", "category", "formula", "molar_mass_g_mol", "cas_number", "notation_label"]


class ReagentLotForm(LabModelForm):
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


class LagpBatchForm(ConfirmOverdrawMixin, LabModelForm):
    class Meta:
        model = LagpBatch
        fields = ["target_mass_g", "x_al", "li_excess_pct", "yield_g", "phase_result", "notes"]
        labels = {"x_al": "x (Al content)"}  # not capitalised: x is the formula's x
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}


# The recipe's order: the rows of the precursor grid and of the calculator.
ROLES = [role.value for role in PrecursorRole]


class PrecursorForm(LabForm):
    role = forms.ChoiceField(
        label="precursor",
        choices=[("", "—"), *PrecursorRole.choices],
        error_messages={"required": "Which precursor is this lot for?"},
    )
    # Lots of any precursor's category; the row's own role is checked when saved.
    reagent_lot = LotChoiceField(
        required=False, categories=[c for cs in PRECURSOR_CATEGORIES.values() for c in cs]
    )
    planned_mass_g = forms.FloatField(
        label="planned (g)",
        required=False,
        validators=[greater_than_zero, MaxValueValidator(10000.0)],
    )
    weighed_mass_g = forms.FloatField(
        label="weighed (g)", required=False, validators=[greater_than_zero]
    )
    # The calculator's mass last put into `planned_mass_g`: a planned mass still equal to it
    # (or empty) follows the calculator, one typed by hand is kept (see follow_calculator).
    proposed_mass_g = forms.FloatField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, fixed_role: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if fixed_role:  # the recipe's own row for this precursor: named, not chosen
            self.fields["role"].widget = FixedChoice(choices=PrecursorRole.choices)

    def clean(self):
        data = super().clean()
        if data.get("weighed_mass_g") is not None and not data.get("reagent_lot"):
            self.add_error("reagent_lot", "Which lot was weighed?")
        if data.get("reagent_lot") and data.get("planned_mass_g") is None and not self.errors:
            self.add_error("planned_mass_g", "Give the planned mass (the calculator proposes it).")
        return data


class BasePrecursorFormSet(LabFormSet):
    title = "Precursors"

    def get_form_kwargs(self, index):
        # The first rows are the recipe's, one per precursor; a row added later (a second lot
        # of the same precursor) chooses which precursor it is for.
        return {"fixed_role": index is not None and index < self.min_num}


PrecursorFormSet = forms.formset_factory(
    PrecursorForm,
    formset=BasePrecursorFormSet,
    extra=0,
    min_num=len(ROLES),
    max_num=12,
    can_delete=True,
)


def proposed_masses(target_mass_g: float, x: float, li_excess_pct: float) -> dict[str, float]:
    """The calculator's mass per role, to the 0.1 mg a planned mass is written with."""
    return {
        p.role: round(p.mass_g, 4)
        for p in chemistry.lagp_precursors(target_mass_g, x, li_excess_pct)
    }


def precursor_initial(
    target_mass_g: float, x: float, li_excess_pct: float, lots=None
) -> list[dict]:
    lots = lots or {}
    masses = proposed_masses(target_mass_g, x, li_excess_pct)
    return [
        {
            "role": role,
            "planned_mass_g": masses[role],
            "proposed_mass_g": masses[role],
            "reagent_lot": lots.get(role),
        }
        for role in ROLES
    ]


def precursor_rows(batch: LagpBatch, *, weighed: bool = True) -> list[dict]:
    """A saved batch's precursor uses as grid rows: the recipe's row of each precursor first
    (its first lot, or an empty row), then any further lots."""
    masses = proposed_masses(batch.target_mass_g, batch.x_al, batch.li_excess_pct)
    uses = sorted(batch.precursors.all(), key=lambda u: (ROLES.index(u.role), u.pk))
    first, more = [], []
    for role in ROLES:
        of_role = [u for u in uses if u.role == role]
        row = {"role": role, "proposed_mass_g": masses[role]}
        if of_role:
            row |= _use_row(of_role[0], weighed)
        first.append(row)
        more.extend({"role": role, **_use_row(u, weighed)} for u in of_role[1:])
    return first + more


def _use_row(use, weighed: bool) -> dict:
    return {
        "reagent_lot": use.reagent_lot_id,
        "planned_mass_g": use.planned_mass_g,
        "weighed_mass_g": use.weighed_mass_g if weighed else None,
    }


def _same_number(a: str, b: str) -> bool:
    try:
        return float(a) == float(b)
    except ValueError:
        return False


def follow_calculator(data, prefix: str = "precursors"):
    """Posted batch data with the calculator's masses in the planned masses that follow it:
    the first row of each precursor, when its planned mass is empty or still the calculator's
    last proposal. The page's script (static/lims/calculator.js) does the same as the inputs
    change; this makes a save, "Add a row" or "Recalculate" right without JS."""
    calculator = CalculatorForm(data)
    if not calculator.is_valid():
        return data
    values = calculator.cleaned_data
    masses = proposed_masses(values["target_mass_g"], values["x_al"], values["li_excess_pct"])
    try:
        total = int(data.get(f"{prefix}-TOTAL_FORMS", ""))
    except ValueError:
        return data  # the formset answers that with a 400
    data = data.copy()
    seen = set()
    for index in range(max(0, min(total, PrecursorFormSet.max_num))):
        row = f"{prefix}-{index}-"
        role = data.get(f"{row}role")
        if role not in masses or role in seen or data.get(f"{row}DELETE"):
            continue
        seen.add(role)
        planned = data.get(f"{row}planned_mass_g", "").strip()
        if not planned or _same_number(planned, data.get(f"{row}proposed_mass_g", "")):
            data[f"{row}planned_mass_g"] = data[f"{row}proposed_mass_g"] = f"{masses[role]:.4f}"
    return data


def _lagp_field(name: str) -> forms.FloatField:
    """A calculator input with the batch field's label, default and bounds, so its errors name
    it as the batch form does ("x (Al content): Must be at most 1.")."""
    field = LagpBatch._meta.get_field(name)
    return forms.FloatField(
        label=field.verbose_name, initial=field.default, validators=list(field.validators)
    )


class CalculatorForm(LabForm):
    """Inputs of the precursor calculator (also used by the HTMX partial)."""

    target_mass_g = _lagp_field("target_mass_g")
    x_al = _lagp_field("x_al")
    li_excess_pct = _lagp_field("li_excess_pct")


class PelletSetForm(LabModelForm):
    batch = ItemCodeField(kinds=("lagp_batch",), label="LAGP powder batch")
    count = forms.IntegerField(label="Number of pellets", min_value=1, max_value=100, initial=4)
    field_order = ["batch", "count"]  # what is pressed first, then how

    class Meta:
        model = PelletSet
        fields = PELLET_SET_CONDITIONS
        widgets = {"sintered_on": DATE}


class PelletSetEditForm(PelletSetForm):
    count = None

    class Meta(PelletSetForm.Meta):
        pass


class PelletMeasureForm(LabModelForm):
    class Meta:
        model = Pellet
        fields = ["thickness_mm", "diameter_mm", "mass_mg", "notes"]
        widgets = {"notes": forms.TextInput()}


PelletMeasureFormSet = forms.modelformset_factory(
    Pellet, form=PelletMeasureForm, formset=LabModelFormSet, extra=0, edit_only=True
)


@with_slot_fields
class SpeMembraneForm(ConfirmOverdrawMixin, LabModelForm):
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


@with_slot_fields
class IleBatchForm(ConfirmOverdrawMixin, LabModelForm):
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
class CathodeCoatingForm(ConfirmOverdrawMixin, LabModelForm):
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


class MembranePieceForm(LabModelForm):
    class Meta:
        model = MembranePiece
        fields = ["diameter_mm", "measured_thickness_um", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}


class ElectrodeDiskForm(LabModelForm):
    class Meta:
        model = ElectrodeDisk
        fields = ["diameter_mm", "active_loading_mg_cm2", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}


def piece_set_form(edit_form, *, parent: str, kind: str, label: str, count_label: str, count: int):
    """The form that makes several pieces at once: the piece's own form, plus the item they
    are cut from (`parent`, a code of `kind`) and how many."""
    fields = {
        parent: ItemCodeField(kinds=(kind,), label=label),
        "count": forms.IntegerField(label=count_label, min_value=1, max_value=100, initial=count),
        "field_order": [parent, "count"],
    }
    name = edit_form.__name__.replace("Form", "SetForm")
    return type(edit_form)(name, (edit_form,), {"__module__": __name__, **fields})


ElectrodeDiskSetForm = piece_set_form(
    ElectrodeDiskForm,
    parent="coating",
    kind="cathode_coating",
    label="Cathode coating",
    count_label="Number of disks",
    count=6,
)
MembranePieceSetForm = piece_set_form(
    MembranePieceForm,
    parent="membrane",
    kind="spe_membrane",
    label="SPE membrane",
    count_label="Number of pieces",
    count=4,
)
