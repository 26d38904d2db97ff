from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.forms.models import model_to_dict
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy

from core import permissions
from core import selectors as core_selectors
from core.forms import apply_service_errors
from core.services import RecordChanged, record_save
from core.tables import Column
from core.views import (
    ItemListView,
    RecordFormView,
    bound_or_initial,
    changed_meanwhile,
    posted_version,
    staff_required,
)

from . import chemistry, defaults, filters, forms, selectors, services
from .models import (
    CathodeCoating,
    ElectrodeDisk,
    IleBatch,
    LagpBatch,
    MembranePiece,
    Pellet,
    PelletSet,
    ReagentLot,
    SpeMembrane,
)


class SimpleRecordView(RecordFormView):
    """Kinds whose form maps straight onto the generic record service (the reagent one for
    records made from reagent lots)."""

    def save(self, form, formsets, instance, steps):
        save = services.reagent_record_save if hasattr(self.model, "reagent_uses") else record_save
        return save(
            self.model,
            instance=instance,
            user=self.request.user,
            fields=self.fields(form),
            steps=steps,
            **self.write_options(form),
        )


class ReagentLotFormView(SimpleRecordView):
    model = ReagentLot
    form_class = forms.ReagentLotForm

    def initial(self, source):
        initial = super().initial(source)
        if source is None and self.request.GET.get("chemical", "").isdigit():
            initial["chemical"] = int(self.request.GET["chemical"])
        return initial


class SpeMembraneFormView(SimpleRecordView):
    model = SpeMembrane
    form_class = forms.SpeMembraneForm
    default_steps = defaults.SPE_MEMBRANE_STEPS


class IleBatchFormView(SimpleRecordView):
    model = IleBatch
    form_class = forms.IleBatchForm
    default_steps = defaults.ILE_BATCH_STEPS


class CathodeCoatingFormView(SimpleRecordView):
    model = CathodeCoating
    form_class = forms.CathodeCoatingForm
    default_steps = defaults.CATHODE_COATING_STEPS


def calculator_context(values) -> dict:
    """The calculator's table (or its errors) for target mass, x and Li excess; no masses at
    all while an input is invalid (x = 3 gives the error, not a recipe)."""
    form = forms.CalculatorForm(values)
    rows = []
    if form.is_valid():
        rows = chemistry.lagp_precursors(
            form.cleaned_data["target_mass_g"],
            form.cleaned_data["x_al"],
            form.cleaned_data["li_excess_pct"],
        )
    return {"calculator": form, "calculator_rows": rows}


class LagpBatchFormView(RecordFormView):
    model = LagpBatch
    form_class = forms.LagpBatchForm
    default_steps = defaults.LAGP_BATCH_STEPS
    template_name = "synthesis/batch_form.html"

    def prepare_data(self, data):
        return forms.follow_calculator(data)

    def part_formsets(self, data, instance, source):
        origin = instance or source
        if origin is not None and origin.precursors.exists():
            # A copy is weighed anew.
            initial = forms.precursor_rows(origin, weighed=source is None)
        else:
            initial = forms.precursor_initial(
                chemistry.DEFAULT_TARGET_MASS_G,
                chemistry.DEFAULT_X,
                chemistry.DEFAULT_LI_EXCESS_PCT,
            )
        return {"precursors": bound_or_initial(forms.PrecursorFormSet, data, "precursors", initial)}

    def extra_context(self, form):
        # What the form shows (posted, copied or default values), so the page opens with the
        # calculator filled in, also without JS.
        return calculator_context(
            {name: form[name].value() for name in forms.CalculatorForm.base_fields}
        )

    def save(self, form, formsets, instance, steps):
        precursors = [
            {
                k: f.cleaned_data[k]
                for k in ("role", "reagent_lot", "planned_mass_g", "weighed_mass_g")
            }
            for f in formsets["precursors"].forms
            if f.cleaned_data.get("reagent_lot") and not f.cleaned_data.get("DELETE")
        ]
        return services.lagp_batch_save(
            instance=instance,
            user=self.request.user,
            fields=self.fields(form),
            precursors=precursors,
            steps=steps,
            **self.write_options(form),
        )


@staff_required
def chemical_create(request: HttpRequest) -> HttpResponse:
    """A chemical for the catalogue, so its lots can be registered (staff only)."""
    form = forms.ChemicalForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            chemical = services.chemical_save(fields=form.cleaned_data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, f"Added {chemical}.")
            return redirect(f"{reverse_lazy('synthesis:reagent-new')}?chemical={chemical.pk}")
    return render(
        request,
        "lims/record_form.html",
        {"form": form, "formsets": {}, "title": "New chemical"},
        status=400 if request.method == "POST" else 200,
    )


def precursor_calculator(request: HttpRequest) -> HttpResponse:
    """HTMX partial: the proposed precursor masses for the batch form's current inputs."""
    context = calculator_context(request.GET)
    return render(
        request,
        "synthesis/calculator.html",
        {"form": context["calculator"], "rows": context["calculator_rows"]},
    )


class PelletSetCreateView(RecordFormView):
    model = Pellet
    form_class = forms.PelletSetForm
    title = "Press and sinter a set of pellets"
    asks_project = False  # pellets belong to their batch's project

    def initial(self, source):
        initial = {"batch": self.request.GET.get("batch", "")}
        if source is not None:
            initial.update(model_to_dict(source.pellet_set, fields=forms.PelletSetForm.Meta.fields))
            initial["batch"] = source.pellet_set.batch.code
            initial["count"] = source.pellet_set.pellets.count()
        return initial

    def build(self, data=None):
        source = self.copy_source()
        form = forms.PelletSetForm(data, initial=self.initial(source))
        return None, source, form, {}

    def save(self, form, formsets, instance, steps):
        fields = {k: v for k, v in form.cleaned_data.items() if k not in ("batch", "count")}
        pellet_set = services.pellet_set_create(
            user=self.request.user,
            batch=form.cleaned_data["batch"],
            count=form.cleaned_data["count"],
            fields=fields,
        )
        return _PelletSetTarget(pellet_set)


class _PelletSetTarget:
    """Lets RecordFormView redirect to the measurement page of a freshly made set."""

    def __init__(self, pellet_set: PelletSet):
        self.code = f"{pellet_set.pellets.count()} pellets from {pellet_set.batch.code}"
        self.pellet_set = pellet_set

    def get_absolute_url(self) -> str:
        return reverse_lazy("synthesis:pellet-set", args=[self.pellet_set.pk])


def pellet_set_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Conditions of a sintered set and a table to enter every pellet's measurements."""
    sets = permissions.scope(
        PelletSet.objects.select_related("batch"), request.user, "batch__project"
    )
    pellet_set = get_object_or_404(sets, pk=pk)
    queryset = pellet_set.pellets.order_by("code")
    if request.method == "POST":
        permissions.check_write(request.user, pellet_set.batch)
    formset = forms.PelletMeasureFormSet(request.POST or None, queryset=queryset)
    if request.method == "POST":
        formset.check_posted()  # a row naming another set's pellet: 400, nothing written
        if formset.is_valid():
            changed = [f for f in formset.forms if f.has_changed()]
            versions = {
                f.instance.pk: _posted_int(request, f"version-{f.instance.pk}") for f in changed
            }
            try:
                services.pellets_measure(
                    {f.instance: f.cleaned_data for f in changed}, expected_versions=versions
                )
            except RecordChanged as exc:
                messages.error(request, changed_meanwhile(exc.current, exc.current.code))
            except ValidationError as exc:
                messages.error(request, "; ".join(exc.messages))
            else:
                messages.success(request, "Pellet measurements saved.")
                return redirect("synthesis:pellet-set", pk=pellet_set.pk)
    return render(
        request,
        "synthesis/pellet_set.html",
        {
            "pellet_set": pellet_set,
            "formset": formset,
            "may_write": permissions.can_write(request.user, pellet_set.batch),
        },
        status=400 if request.method == "POST" else 200,
    )


def _posted_int(request: HttpRequest, name: str) -> int | None:
    raw = request.POST.get(name, "")
    return int(raw) if raw.isdigit() else None


@staff_required
def pellet_set_edit(request: HttpRequest, pk: int) -> HttpResponse:
    sets = permissions.scope(PelletSet.objects.all(), request.user, "batch__project")
    pellet_set = get_object_or_404(sets, pk=pk)
    permissions.check_write(request.user, pellet_set.batch)
    initial = {"batch": pellet_set.batch.code}
    form = forms.PelletSetEditForm(request.POST or None, instance=pellet_set, initial=initial)
    version = posted_version(request) if request.method == "POST" else pellet_set.version
    if request.method == "POST" and form.is_valid():
        fields = {k: v for k, v in form.cleaned_data.items() if k != "batch"}
        fields["batch"] = form.cleaned_data["batch"]
        try:
            with transaction.atomic():
                services.pellet_set_update(pellet_set, fields=fields, expected_version=version)
        except RecordChanged as exc:
            messages.error(request, changed_meanwhile(exc.current, f"Pellet set {pellet_set.pk}"))
            version = exc.current.version  # saving again is now a deliberate overwrite
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            return redirect("synthesis:pellet-set", pk=pellet_set.pk)
    context = {
        "form": form,
        "formsets": {},
        "title": f"Edit pellet set {pellet_set.pk}",
        "instance": pellet_set,
        "form_version": version,
    }
    return render(
        request, "lims/record_form.html", context, status=400 if request.method == "POST" else 200
    )


class PelletEditView(RecordFormView):
    """A single pellet's own measurements (its conditions belong to its set)."""

    model = Pellet
    form_class = forms.PelletMeasureForm

    def save(self, form, formsets, instance, steps):
        version = self.write_options(form)["expected_version"]
        services.pellets_measure(
            {instance: self.fields(form)}, expected_versions={instance.pk: version}
        )
        return instance


class PiecesCreateView(RecordFormView):
    """Make N pieces out of one item (disks from a coating, pieces from a membrane) and go back
    to that item's page, which lists them."""

    asks_project = False  # pieces belong to their sheet's project

    parent_field: str  # the form field naming the item the pieces come from
    copied_fields: tuple[str, ...]  # what "start from a copy" takes from an earlier piece
    create_service = None  # e.g. services.electrode_disks_create

    def initial(self, source):
        initial = {self.parent_field: self.request.GET.get(self.parent_field, "")}
        if source is not None:
            initial.update(model_to_dict(source, fields=list(self.copied_fields)))
            initial[self.parent_field] = getattr(source, self.parent_field).code
        return initial

    def build(self, data=None):
        source = self.copy_source()
        return None, source, self.form_class(data, initial=self.initial(source)), {}

    def save(self, form, formsets, instance, steps):
        fields = dict(form.cleaned_data)
        parent, count = fields.pop(self.parent_field), fields.pop("count")
        self.create_service(
            user=self.request.user, count=count, fields=fields, **{self.parent_field: parent}
        )
        return parent


class ElectrodeDiskCreateView(PiecesCreateView):
    model = ElectrodeDisk
    form_class = forms.ElectrodeDiskSetForm
    title = "Punch electrode disks from a coating"
    parent_field = "coating"
    copied_fields = ("diameter_mm", "active_loading_mg_cm2")
    create_service = staticmethod(services.electrode_disks_create)


class ElectrodeDiskEditView(RecordFormView):
    model = ElectrodeDisk
    form_class = forms.ElectrodeDiskForm

    def save(self, form, formsets, instance, steps):
        return services.electrode_disk_update(
            instance, fields=self.fields(form), **self.write_options(form)
        )


class MembranePieceCreateView(PiecesCreateView):
    model = MembranePiece
    form_class = forms.MembranePieceSetForm
    title = "Cut pieces from an SPE membrane"
    parent_field = "membrane"
    copied_fields = ("diameter_mm", "measured_thickness_um")
    create_service = staticmethod(services.membrane_pieces_create)


class MembranePieceEditView(SimpleRecordView):
    model = MembranePiece
    form_class = forms.MembranePieceForm


# A piece's own values, as its edit form asks them: also the form of its new version.
PIECE_FORMS = {
    Pellet: forms.PelletMeasureForm,
    ElectrodeDisk: forms.ElectrodeDiskForm,
    MembranePiece: forms.MembranePieceForm,
}


@staff_required
def piece_version(request: HttpRequest, code: str) -> HttpResponse:
    """A corrected new version of one pellet, disk or membrane piece: its own values (the
    edit form's), starting from the old ones; the set's conditions stay the set's."""
    old = core_selectors.item_by_code(code, request.user).specific
    form_class = PIECE_FORMS.get(type(old))
    if form_class is None:
        raise Http404(f"{old.code} is not a piece of a set.")
    permissions.check_write(request.user, old)
    initial = model_to_dict(old, fields=form_class._meta.fields)
    form = form_class(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            new = services.piece_new_version(old, user=request.user, fields=form.cleaned_data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, f"Saved {new.code}, the new version of {old.code}.")
            return redirect(new)
    context = {
        "form": form,
        "formsets": {},
        "title": f"New version of {old.code}",
        "supersedes": old,
        "model_name": old._meta.verbose_name,
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "lims/record_form.html", context, status=status)


EDIT_VIEWS = {
    "reagent_lot": ReagentLotFormView.as_view(),
    "lagp_batch": LagpBatchFormView.as_view(),
    "pellet": PelletEditView.as_view(),
    "spe_membrane": SpeMembraneFormView.as_view(),
    "ile_batch": IleBatchFormView.as_view(),
    "cathode_coating": CathodeCoatingFormView.as_view(),
    "electrode_disk": ElectrodeDiskEditView.as_view(),
    "membrane_piece": MembranePieceEditView.as_view(),
}


class ReagentLotList(ItemListView):
    model = ReagentLot
    filterset_class = filters.ReagentLotFilter
    select_related = ("chemical",)
    columns = [
        ("chemical", "chemical.name"),
        ("category", "chemical.get_category_display"),
        ("supplier", "supplier"),
        ("lot no.", "lot_number"),
        ("received", "received_on"),
        ("quantity", "quantity"),
        Column("left", "quantity_left", order=F("quantity") - F("used")),
        ("unit", "get_quantity_unit_display"),
    ]

    def get_queryset(self):
        return selectors.lots_with_use().select_related("chemical").order_by("-id")


class LagpBatchList(ItemListView):
    model = LagpBatch
    filterset_class = filters.LagpBatchFilter
    columns = [
        Column("composition", "composition", order="x_al"),
        ("target (g)", "target_mass_g"),
        ("Li excess (%)", "li_excess_pct"),
        ("yield (g)", "yield_g"),
        ("phase (XRD)", "phase_result"),
        ("created", "created_at"),
    ]


class PelletList(ItemListView):
    model = Pellet
    filterset_class = filters.PelletFilter
    select_related = ("pellet_set__batch",)
    columns = [
        ("batch", "pellet_set.batch"),
        ("sintered at (°C)", "pellet_set.sintering_temperature_c"),
        ("dwell (h)", "pellet_set.sintering_dwell_h"),
        ("thickness (mm)", "thickness_mm"),
        ("diameter (mm)", "diameter_mm"),
        ("mass (mg)", "mass_mg"),
        Column(
            "relative density (%)",
            "relative_density",
            fmt="pct",
            # mass / volume / theoretical density: what relative_density computes.
            order=F("mass_mg")
            / (F("diameter_mm") * F("diameter_mm") * F("thickness_mm"))
            / F("pellet_set__theoretical_density_g_cm3"),
        ),
    ]


class SpeMembraneList(ItemListView):
    model = SpeMembrane
    filterset_class = filters.SpeMembraneFilter
    columns = [
        ("PEO:LiFSI:Pyr14FSI (mol)", "molar_ratio"),
        ("benzophenone (wt% PEO)", "benzophenone_wt_pct"),
        ("thickness (µm)", "thickness_um"),
        ("UV crosslinked", "uv_crosslinked"),
        ("created", "created_at"),
    ]


class IleBatchList(ItemListView):
    model = IleBatch
    filterset_class = filters.IleBatchFilter
    columns = [
        Column("composition", "composition", order="pyr14fsi_mol_fraction"),
        ("water (ppm)", "water_content_ppm"),
        ("created", "created_at"),
    ]


class CathodeCoatingList(ItemListView):
    model = CathodeCoating
    filterset_class = filters.CathodeCoatingFilter
    columns = [
        ("AM:C:binder (wt)", "mass_ratio"),
        ("solids (%)", "solids_pct"),
        ("active lot", "active_lot"),
        ("created", "created_at"),
    ]


class MembranePieceList(ItemListView):
    model = MembranePiece
    filterset_class = filters.MembranePieceFilter
    select_related = ("membrane",)
    columns = [
        ("membrane", "membrane"),
        ("diameter (mm)", "diameter_mm"),
        Column(
            "thickness (µm)",
            "thickness_um",
            order=Coalesce("measured_thickness_um", "membrane__thickness_um"),
        ),
        Column("area (cm²)", "area_cm2", order="diameter_mm"),
    ]


class ElectrodeDiskList(ItemListView):
    model = ElectrodeDisk
    filterset_class = filters.ElectrodeDiskFilter
    select_related = ("coating",)
    columns = [
        ("coating", "coating"),
        ("diameter (mm)", "diameter_mm"),
        ("loading (mg/cm²)", "active_loading_mg_cm2"),
        Column(
            "active mass (mg)",
            "active_mass_mg",
            order=F("active_loading_mg_cm2") * F("diameter_mm") * F("diameter_mm"),
        ),
    ]
