"""What the lab makes: reagent lots, LAGP powder and pellets, SPE, ILE, cathodes."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse

from core.models import Item, ItemKind, LineageRole, VersionedModel, register_item_model
from core.validators import at_least, at_most, greater_than_zero

from . import chemistry, units

positive = at_least(0.0)
# The most any batch, lot or precursor of this lab weighs (g): 10 kg.
MAX_MASS_G = 10_000.0
# Dwell times (h) and heating ramps (°C/min) beyond any furnace programme.
MAX_DWELL_H = 1000.0
MAX_RAMP_C_MIN = 1000.0


def _gt0(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(**{f"{name}__gt": 0}), name=f"%(class)s_{name}_gt_0")


def _gte0_or_null(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{name}__isnull": True}) | Q(**{f"{name}__gte": 0}),
        name=f"%(class)s_{name}_gte_0",
    )


def three_part_ratio(value: str) -> None:
    """Validator of a ratio field ("10:1:4"): one check for the forms, the API and the
    services, with parse_ratio's message."""
    try:
        chemistry.parse_ratio(value, 3)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def _ratio_field(default: str, help_text: str) -> models.CharField:
    return models.CharField(
        max_length=40, default=default, help_text=help_text, validators=[three_part_ratio]
    )


class ChemicalCategory(models.TextChoices):
    """What a chemical is for; each reagent slot of a record accepts only its categories."""

    LITHIUM_SOURCE = "lithium_source", "Lithium source"
    ALUMINIUM_SOURCE = "aluminium_source", "Aluminium source"
    GERMANIUM_SOURCE = "germanium_source", "Germanium source"
    PHOSPHATE_SOURCE = "phosphate_source", "Phosphate source"
    POLYMER = "polymer", "Polymer"
    LITHIUM_SALT = "lithium_salt", "Lithium salt"
    IONIC_LIQUID = "ionic_liquid", "Ionic liquid"
    PHOTOINITIATOR = "photoinitiator", "Photoinitiator"
    ACTIVE_MATERIAL = "active_material", "Active material"
    CONDUCTIVE_CARBON = "conductive_carbon", "Conductive carbon"
    BINDER = "binder", "Binder"
    SOLVENT = "solvent", "Solvent"
    CURRENT_COLLECTOR = "current_collector", "Current-collector foil"
    LITHIUM_METAL = "lithium_metal", "Lithium metal"
    ELECTRODE_METAL = "electrode_metal", "Blocking-electrode metal"
    ELECTROLYTE = "electrolyte", "Electrolyte or separator (bought)"
    OTHER = "other", "Other"


class Chemical(VersionedModel):
    # A signed reagent lot's record holds its chemical's fields (name, formula, molar mass):
    # the catalogue entry is locked with the lot (core.signatures).
    LOCKED_BY_ITEMS = "reagentlot__chemical"

    name = models.CharField(max_length=100, unique=True)
    category = models.CharField(
        max_length=20,
        choices=ChemicalCategory.choices,
        help_text="what it is used as; a record's reagent slots accept only their categories",
    )
    formula = models.CharField(max_length=60, blank=True)
    # Up to an ultra-high-molecular-weight polymer's (PEO of Mw 4 000 000).
    molar_mass_g_mol = models.FloatField(
        "molar mass (g/mol)",
        null=True,
        blank=True,
        validators=[greater_than_zero, at_most(100_000_000.0)],
    )
    cas_number = models.CharField("CAS number", max_length=20, blank=True)
    # How the chemical appears in a cell notation, e.g. "Li" for lithium foil.
    notation_label = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [_gte0_or_null("molar_mass_g_mol")]

    def __str__(self) -> str:
        return f"{self.name} ({self.formula})" if self.formula else self.name


@register_item_model
class ReagentLot(Item):
    KIND = ItemKind.REAGENT_LOT
    LIST_URL, NEW_URL = "synthesis:reagent-list", "synthesis:reagent-new"
    CODE_PREFIX = "RGT"

    chemical = models.ForeignKey(Chemical, on_delete=models.PROTECT, related_name="lots")
    supplier = models.CharField(max_length=100)
    grade = models.CharField("grade / purity", max_length=60, blank=True, help_text="e.g. ≥99.0 %")
    lot_number = models.CharField(max_length=60)
    received_on = models.DateField(null=True, blank=True)
    # In the lot's unit (g, mg, mL, cm², pieces): a million of any of them is more than a lab
    # keeps.
    quantity = models.FloatField(
        "quantity received",
        validators=[positive, at_most(1e6)],
        help_text="what the lot held when it arrived; uses by records are subtracted from it",
    )
    quantity_unit = models.CharField(
        "unit", max_length=5, default=units.GRAM, choices=units.QUANTITY_UNITS
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=0), name="reagentlot_quantity_gte_0")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.chemical.name} ({self.supplier} {self.lot_number})"

    def clean(self) -> None:
        if self.pk is None:
            return
        stored_unit = ReagentLot.objects.filter(pk=self.pk).values_list("quantity_unit", flat=True)
        used = self.uses.aggregate(total=models.Sum("amount"))["total"]
        if used is None:
            return
        if stored_unit.first() != self.quantity_unit:
            raise ValidationError(
                {"quantity_unit": "Records have used this lot; its unit can no longer change."}
            )
        if self.quantity is not None and self.quantity < used:
            raise ValidationError(
                {
                    "quantity": f"Records have used {used:.4g} {self.get_quantity_unit_display()} "
                    "of this lot; the quantity received cannot be less."
                }
            )

    def describe(self) -> str:
        return f"{self.chemical.name}, {self.supplier} lot {self.lot_number}"

    def notation_label(self) -> str:
        return self.chemical.notation_label or self.chemical.formula or self.chemical.name

    @property
    def quantity_used(self) -> float:
        """What the records that used this lot took from it, in the lot's unit. A list of lots
        annotates `used` (see synthesis.selectors.lots_with_use) instead of one query each."""
        used = getattr(self, "used", None)
        if used is None:
            used = self.uses.aggregate(total=models.Sum("amount"))["total"]
        return used or 0.0

    @property
    def quantity_left(self) -> float:
        return self.quantity - self.quantity_used

    def derived_facts(self) -> list[tuple[str, object]]:
        unit = self.get_quantity_unit_display()
        return [
            ("category", self.chemical.get_category_display()),
            (f"used ({unit})", self.quantity_used),
            (f"left ({unit})", self.quantity_left),
        ]


@dataclass(frozen=True)
class ReagentSlot:
    """A place in a record that takes a reagent lot: which chemicals it accepts and where the
    record says how much it used."""

    field: str  # the ForeignKey to ReagentLot
    label: str  # in the user's words: "PEO lot"
    categories: tuple[str, ...]
    amount_field: str | None = None  # how much was used, in `amount_unit`
    amount_unit: str = units.GRAM


@dataclass(frozen=True)
class ReagentUse:
    """One lot used by one record: checked against the slot's categories, and consumed."""

    slot: str  # the slot's label, for messages and the lot's history
    field: str  # the form/API field errors belong to
    lot: ReagentLot
    categories: tuple[str, ...]
    amount: float | None
    unit: str


def category_error(slot: str, lot: ReagentLot, categories: tuple[str, ...]) -> str | None:
    """Why `lot` does not belong in a slot that takes `categories` (None if it does): copper
    foil is not a PEO lot, NCM811 is not a lithium source."""
    chemical = lot.chemical
    if chemical.category in categories:
        return None
    wanted = " or ".join(ChemicalCategory(c).label.lower() for c in categories)
    return (
        f"{slot}: {lot.code} is {chemical.name} ({chemical.get_category_display().lower()}); "
        f"this slot takes {wanted}."
    )


class SlotUsesMixin:
    """Items whose reagents sit in ForeignKey slots (membranes, ILE batches, coatings)."""

    REAGENT_SLOTS: tuple[ReagentSlot, ...] = ()

    def clean(self) -> None:
        super().clean()
        errors = {}
        for use in self.reagent_uses():
            message = category_error(use.slot, use.lot, use.categories)
            if message:
                errors[use.field] = message
        if errors:
            raise ValidationError(errors)

    def reagent_uses(self) -> list[ReagentUse]:
        uses = []
        for slot in self.REAGENT_SLOTS:
            if getattr(self, f"{slot.field}_id") is None:
                continue
            lot = getattr(self, slot.field)
            amount = getattr(self, slot.amount_field) if slot.amount_field else None
            uses.append(
                ReagentUse(slot.label, slot.field, lot, slot.categories, amount, slot.amount_unit)
            )
        return uses


def _used_mass(label: str, help_text: str = "") -> models.FloatField:
    return models.FloatField(
        label,
        null=True,
        blank=True,
        validators=[greater_than_zero, at_most(10000.0)],
        help_text=help_text or "weighed in; taken from the lot's quantity",
    )


class LotUse(models.Model):
    """What a record took from a reagent lot; derived from the record by the save services,
    so the lot's quantity left always matches what was recorded."""

    AUDIT_ITEM_FIELD = "lot"  # each use shows in the lot's history
    LOCKED_WITH = "item"  # part of the record that used the lot: a signed lot is still usable

    lot = models.ForeignKey(ReagentLot, on_delete=models.PROTECT, related_name="uses")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="lot_uses")
    slot = models.CharField(max_length=60)
    amount = models.FloatField(help_text="in the lot's unit")
    # Recorded although the lot did not hold enough, because the user confirmed it.
    overdrawn = models.BooleanField(default=False)

    class Meta:
        verbose_name = "reagent use"
        ordering = ["lot", "item"]
        constraints = [
            models.UniqueConstraint(fields=["lot", "item", "slot"], name="lot_use_once"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="lot_use_amount_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.amount:g} {self.lot.quantity_unit} of {self.lot.code} by {self.item.code} ({self.slot})"


@register_item_model
class LagpBatch(Item):
    KIND = ItemKind.LAGP_BATCH
    LIST_URL, NEW_URL = "synthesis:batch-list", "synthesis:batch-new"
    CODE_PREFIX = "LAGP"
    NOTATION_LABEL = "LAGP"

    x_al = models.FloatField(
        "x (Al content)",
        default=chemistry.DEFAULT_X,
        help_text="x in Li(1+x)Al(x)Ge(2-x)(PO4)3",
        validators=[at_least(0.0), at_most(1.0)],
    )
    target_mass_g = models.FloatField(
        "target mass (g)",
        default=chemistry.DEFAULT_TARGET_MASS_G,
        validators=[greater_than_zero, at_most(MAX_MASS_G)],
    )
    li_excess_pct = models.FloatField(
        "Li excess (%)",
        default=chemistry.DEFAULT_LI_EXCESS_PCT,
        validators=[at_least(0.0), at_most(100.0)],
    )
    yield_g = models.FloatField(
        "yield (g)", null=True, blank=True, validators=[positive, at_most(MAX_MASS_G)]
    )
    phase_result = models.CharField(
        "phase (XRD)",
        max_length=200,
        blank=True,
        help_text="e.g. NASICON LAGP with minor AlPO4",
    )

    class Meta:
        verbose_name = "LAGP powder batch"
        verbose_name_plural = "LAGP powder batches"
        constraints = [
            _gt0("target_mass_g"),
            _gte0_or_null("yield_g"),
            models.CheckConstraint(condition=Q(x_al__gte=0, x_al__lte=1), name="lagp_x_range"),
        ]

    @property
    def composition(self) -> str:
        x = self.x_al
        return f"Li{1 + x:g}Al{x:g}Ge{2 - x:g}(PO4)3"

    def describe(self) -> str:
        return f"{self.composition}, {self.target_mass_g:g} g"

    def lineage_parents(self) -> list[tuple]:
        return [
            (use.reagent_lot, LineageRole.PRECURSOR, use.weighed_mass_g or use.planned_mass_g, "g")
            for use in self.precursors.select_related("reagent_lot")
        ]

    def reagent_uses(self) -> list[ReagentUse]:
        """A precursor's weighed mass, or its planned mass until it is weighed (the plan
        reserves it), taken from its lot."""
        return [
            ReagentUse(
                f"{use.get_role_display()}, row {index}",
                "precursors",
                use.reagent_lot,
                PRECURSOR_CATEGORIES[use.role],
                use.weighed_mass_g if use.weighed_mass_g is not None else use.planned_mass_g,
                units.GRAM,
            )
            for index, use in enumerate(self.precursors.select_related("reagent_lot"), start=1)
        ]

    def signed_parts(self) -> dict[str, list[Item]]:
        # A batch is signed with its pellets: they are locked with it.
        return {"pellets": list(Pellet.objects.filter(pellet_set__batch=self).order_by("code"))}

    def planned_precursors(self) -> list[chemistry.PrecursorMass]:
        return chemistry.lagp_precursors(self.target_mass_g, self.x_al, self.li_excess_pct)

    def derived_facts(self) -> list[tuple[str, object]]:
        return [
            ("composition", self.composition),
            ("molar mass (g/mol)", chemistry.lagp_molar_mass(self.x_al)),
        ]


class PrecursorRole(models.TextChoices):
    LI = "li", "Li source (Li2CO3)"
    AL = "al", "Al source (Al(NO3)3·9H2O)"
    GE = "ge", "Ge source (GeO2)"
    P = "p", "P source (NH4H2PO4)"


PRECURSOR_CATEGORIES = {
    PrecursorRole.LI: (ChemicalCategory.LITHIUM_SOURCE,),
    PrecursorRole.AL: (ChemicalCategory.ALUMINIUM_SOURCE,),
    PrecursorRole.GE: (ChemicalCategory.GERMANIUM_SOURCE,),
    PrecursorRole.P: (ChemicalCategory.PHOSPHATE_SOURCE,),
}


class PrecursorUse(models.Model):
    """A reagent lot weighed into a powder batch: planned and weighed mass. A role may be
    weighed from several lots (the rest of one lot topped up from another)."""

    AUDIT_ITEM_FIELD = "batch"
    CANONICAL_PART = True  # in the batch's signed record (core.signatures)

    batch = models.ForeignKey(LagpBatch, on_delete=models.CASCADE, related_name="precursors")
    role = models.CharField(max_length=2, choices=PrecursorRole.choices)
    reagent_lot = models.ForeignKey(ReagentLot, on_delete=models.PROTECT, related_name="+")
    planned_mass_g = models.FloatField(
        "planned (g)", validators=[greater_than_zero, at_most(MAX_MASS_G)]
    )
    weighed_mass_g = models.FloatField(
        "weighed (g)", null=True, blank=True, validators=[positive, at_most(MAX_MASS_G)]
    )

    class Meta:
        ordering = ["batch", "role"]
        constraints = [
            _gt0("planned_mass_g"),
            _gte0_or_null("weighed_mass_g"),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id} {self.role} {self.reagent_lot_id}"

    def clean(self) -> None:
        if self.role in PRECURSOR_CATEGORIES and self.reagent_lot_id is not None:
            message = category_error(
                self.get_role_display(), self.reagent_lot, PRECURSOR_CATEGORIES[self.role]
            )
            if message:
                raise ValidationError({"reagent_lot": message})

    @property
    def deviation_pct(self) -> float | None:
        if self.weighed_mass_g is None:
            return None
        return 100 * (self.weighed_mass_g - self.planned_mass_g) / self.planned_mass_g


# The conditions a set of pellets shares, in the order a person fills them in (form and API).
PELLET_SET_CONDITIONS = [
    "die_diameter_mm",
    "pressing_pressure_t_cm2",
    "pretreatment_temperature_c",
    "pretreatment_dwell_h",
    "pretreatment_ramp_c_min",
    "sintering_temperature_c",
    "sintering_dwell_h",
    "sintering_ramp_c_min",
    "theoretical_density_g_cm3",
    "sintered_on",
]


class PelletSet(VersionedModel):
    """Pellets pressed and sintered together from one powder batch: shared conditions."""

    AUDIT_ITEM_FIELD = "batch"
    CANONICAL_PART = True  # in the batch's signed record: no new pellets from a signed batch

    batch = models.ForeignKey(LagpBatch, on_delete=models.PROTECT, related_name="pellet_sets")
    die_diameter_mm = models.FloatField(
        "die diameter (mm)", default=15.0, validators=[greater_than_zero, at_most(100.0)]
    )
    pressing_pressure_t_cm2 = models.FloatField(
        "pressing pressure (t/cm²)",
        default=3.0,
        validators=[greater_than_zero, at_most(100.0)],
    )
    pretreatment_temperature_c = models.FloatField(
        "pretreatment (°C)",
        null=True,
        blank=True,
        default=400.0,
        validators=[at_least(20.0), at_most(1300.0)],
    )
    pretreatment_dwell_h = models.FloatField(
        "pretreatment dwell (h)",
        null=True,
        blank=True,
        default=2.0,
        validators=[greater_than_zero, at_most(MAX_DWELL_H)],
    )
    pretreatment_ramp_c_min = models.FloatField(
        "pretreatment ramp (°C/min)",
        null=True,
        blank=True,
        default=3.0,
        validators=[greater_than_zero, at_most(MAX_RAMP_C_MIN)],
    )
    sintering_temperature_c = models.FloatField(
        "sintering temperature (°C)",
        default=900.0,
        validators=[at_least(500.0), at_most(1300.0)],
    )
    sintering_dwell_h = models.FloatField(
        "sintering dwell (h)", default=8.0, validators=[greater_than_zero, at_most(MAX_DWELL_H)]
    )
    sintering_ramp_c_min = models.FloatField(
        "sintering ramp (°C/min)",
        default=5.0,
        validators=[greater_than_zero, at_most(MAX_RAMP_C_MIN)],
    )
    # Osmium, the densest element, is 22.6 g/cm³.
    theoretical_density_g_cm3 = models.FloatField(
        "theoretical density (g/cm³)",
        default=chemistry.LAGP_THEORETICAL_DENSITY_G_CM3,
        validators=[greater_than_zero, at_most(25.0)],
    )
    sintered_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sintering_temperature_c__gte=500, sintering_temperature_c__lte=1300),
                name="pelletset_sintering_range",
            ),
            _gt0("die_diameter_mm"),
            _gt0("pressing_pressure_t_cm2"),
            _gt0("sintering_dwell_h"),
            _gt0("sintering_ramp_c_min"),
        ]

    def __str__(self) -> str:
        return f"{self.batch.code} sintered at {self.sintering_temperature_c:g} °C"


class Piece:
    """A piece of a set: pellets pressed together, disks punched or pieces cut from one sheet.
    It is made with the others, but corrected alone: its new version is one new piece of the
    same set (same conditions, same sheet), with its own values corrected."""

    IS_PIECE = True
    PIECE_OF: str  # the field naming what the piece was made from (its set or sheet)

    def new_version_url(self) -> str:
        return reverse("synthesis:piece-version", args=[self.code])


@register_item_model
class Pellet(Piece, Item):
    KIND = ItemKind.PELLET
    LIST_URL, NEW_URL = "synthesis:pellet-list", "synthesis:pellet-set-new"
    CODE_PREFIX = "PEL"
    NOTATION_LABEL = "LAGP"
    PIECE_OF = "pellet_set"
    DERIVED_FROM = {"area_cm2": ("diameter_mm",)}

    pellet_set = models.ForeignKey(PelletSet, on_delete=models.PROTECT, related_name="pellets")
    diameter_mm = models.FloatField(
        "sintered diameter (mm)",
        null=True,
        blank=True,
        validators=[greater_than_zero, at_most(100.0)],
    )
    thickness_mm = models.FloatField(
        "thickness after polishing (mm)",
        null=True,
        blank=True,
        validators=[greater_than_zero, at_most(50.0)],
    )
    mass_mg = models.FloatField(
        "mass (mg)", null=True, blank=True, validators=[greater_than_zero, at_most(1e6)]
    )

    class Meta:
        verbose_name = "LAGP pellet"
        constraints = [
            _gte0_or_null("diameter_mm"),
            _gte0_or_null("thickness_mm"),
            _gte0_or_null("mass_mg"),
        ]

    def describe(self) -> str:
        s = self.pellet_set
        text = f"from {s.batch.code}, sintered {s.sintering_temperature_c:g} °C"
        return text + (f", {self.thickness_mm:g} mm" if self.thickness_mm else "")

    def lineage_parents(self) -> list[tuple]:
        return [(self.pellet_set.batch, LineageRole.POWDER, self.mass_mg, "mg")]

    @property
    def relative_density(self) -> float | None:
        if None in (self.mass_mg, self.diameter_mm, self.thickness_mm):
            return None
        return chemistry.relative_density(
            self.mass_mg,
            self.diameter_mm,
            self.thickness_mm,
            self.pellet_set.theoretical_density_g_cm3,
        )

    @property
    def area_cm2(self) -> float | None:
        return None if self.diameter_mm is None else chemistry.disk_area_cm2(self.diameter_mm)

    def derived_facts(self) -> list[tuple[str, object]]:
        density = self.relative_density
        s = self.pellet_set
        return [
            ("powder batch", s.batch),
            (
                "sintering",
                f"{s.sintering_temperature_c:g} °C, {s.sintering_dwell_h:g} h, "
                f"{s.sintering_ramp_c_min:g} °C/min",
            ),
            ("pressing", f"{s.die_diameter_mm:g} mm die, {s.pressing_pressure_t_cm2:g} t/cm²"),
            ("relative density (%)", None if density is None else 100 * density),
            ("area (cm²)", self.area_cm2),
        ]


@register_item_model
class SpeMembrane(SlotUsesMixin, Item):
    """A hot-pressed, crosslinked membrane sheet; cells take pieces cut from it."""

    KIND = ItemKind.SPE_MEMBRANE
    LIST_URL, NEW_URL = "synthesis:membrane-list", "synthesis:membrane-new"
    CODE_PREFIX = "SPE"
    NOTATION_LABEL = "SPE"
    REAGENT_SLOTS = (
        ReagentSlot("peo_lot", "PEO lot", (ChemicalCategory.POLYMER,), "peo_mass_g"),
        ReagentSlot("lifsi_lot", "LiFSI lot", (ChemicalCategory.LITHIUM_SALT,), "lifsi_mass_g"),
        ReagentSlot(
            "pyr14fsi_lot", "Pyr14FSI lot", (ChemicalCategory.IONIC_LIQUID,), "pyr14fsi_mass_g"
        ),
        ReagentSlot(
            "benzophenone_lot",
            "benzophenone lot",
            (ChemicalCategory.PHOTOINITIATOR,),
            "benzophenone_mass_g",
        ),
    )

    peo_lot = models.ForeignKey(
        ReagentLot, on_delete=models.PROTECT, related_name="+", verbose_name="PEO lot"
    )
    lifsi_lot = models.ForeignKey(
        ReagentLot, on_delete=models.PROTECT, related_name="+", verbose_name="LiFSI lot"
    )
    pyr14fsi_lot = models.ForeignKey(
        ReagentLot, on_delete=models.PROTECT, related_name="+", verbose_name="Pyr14FSI lot"
    )
    benzophenone_lot = models.ForeignKey(
        ReagentLot,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name="benzophenone lot",
    )
    peo_mass_g = _used_mass("PEO used (g)")
    lifsi_mass_g = _used_mass("LiFSI used (g)")
    pyr14fsi_mass_g = _used_mass("Pyr14FSI used (g)")
    benzophenone_mass_g = _used_mass("benzophenone used (g)")
    molar_ratio = _ratio_field("10:1:4", "PEO:LiFSI:Pyr14FSI as mol EO units : salt : IL")
    benzophenone_wt_pct = models.FloatField(
        "benzophenone (wt% of PEO)",
        default=5.0,
        validators=[at_least(0.0), at_most(50.0)],
    )
    thickness_um = models.FloatField(
        "thickness (µm)",
        null=True,
        blank=True,
        validators=[greater_than_zero, at_most(10000.0)],
    )
    uv_crosslinked = models.BooleanField("UV crosslinked", default=True)

    class Meta:
        verbose_name = "SPE membrane"
        constraints = [_gte0_or_null("thickness_um")]

    def describe(self) -> str:
        thickness = f", {self.thickness_um:g} µm" if self.thickness_um else ""
        return f"PEO:LiFSI:Pyr14FSI {self.molar_ratio}{thickness}"

    def signed_parts(self) -> dict[str, list[Item]]:
        # A sheet is signed with the pieces cut from it, as a batch with its pellets.
        return {"pieces": list(MembranePiece.objects.filter(membrane=self).order_by("code"))}

    def lineage_parents(self) -> list[tuple]:
        lots = (self.peo_lot, self.lifsi_lot, self.pyr14fsi_lot, self.benzophenone_lot)
        return [(lot, LineageRole.COMPONENT, None, "") for lot in lots if lot is not None]

    def geometry_borrowers(self):
        return self.pieces.filter(measured_thickness_um__isnull=True)

    @property
    def weight_percentages(self) -> tuple[float, float, float]:
        return chemistry.spe_weight_percentages(*chemistry.parse_ratio(self.molar_ratio, 3))

    def derived_facts(self) -> list[tuple[str, object]]:
        peo, lifsi, il = self.weight_percentages
        return [("PEO : LiFSI : Pyr14FSI (wt%)", f"{peo:.1f} : {lifsi:.1f} : {il:.1f}")]


@register_item_model
class IleBatch(SlotUsesMixin, Item):
    KIND = ItemKind.ILE_BATCH
    LIST_URL, NEW_URL = "synthesis:ile-list", "synthesis:ile-new"
    CODE_PREFIX = "ILE"
    NOTATION_LABEL = "ILE"
    REAGENT_SLOTS = (
        ReagentSlot(
            "pyr14fsi_lot", "Pyr14FSI lot", (ChemicalCategory.IONIC_LIQUID,), "pyr14fsi_mass_g"
        ),
        ReagentSlot("litfsi_lot", "LiTFSI lot", (ChemicalCategory.LITHIUM_SALT,), "litfsi_mass_g"),
    )

    pyr14fsi_lot = models.ForeignKey(
        ReagentLot, on_delete=models.PROTECT, related_name="+", verbose_name="Pyr14FSI lot"
    )
    litfsi_lot = models.ForeignKey(
        ReagentLot, on_delete=models.PROTECT, related_name="+", verbose_name="LiTFSI lot"
    )
    pyr14fsi_mass_g = _used_mass("Pyr14FSI used (g)")
    litfsi_mass_g = _used_mass("LiTFSI used (g)")
    pyr14fsi_mol_fraction = models.FloatField(
        "Pyr14FSI mole fraction",
        default=0.8,
        validators=[at_least(0.01), at_most(0.99)],
    )
    water_content_ppm = models.FloatField(
        "water content (ppm)", null=True, blank=True, validators=[positive, at_most(1e6)]
    )

    class Meta:
        verbose_name = "ILE batch"
        verbose_name_plural = "ILE batches"
        constraints = [
            _gte0_or_null("water_content_ppm"),
            models.CheckConstraint(
                condition=Q(pyr14fsi_mol_fraction__gt=0, pyr14fsi_mol_fraction__lt=1),
                name="ile_fraction_range",
            ),
        ]

    def describe(self) -> str:
        return self.composition

    def lineage_parents(self) -> list[tuple]:
        return [
            (lot, LineageRole.COMPONENT, None, "") for lot in (self.pyr14fsi_lot, self.litfsi_lot)
        ]

    @property
    def composition(self) -> str:
        f = self.pyr14fsi_mol_fraction
        return f"{f:g} Pyr14FSI - {1 - f:g} LiTFSI"

    @property
    def weight_percentages(self) -> tuple[float, float]:
        return chemistry.ile_weight_percentages(self.pyr14fsi_mol_fraction)

    def derived_facts(self) -> list[tuple[str, object]]:
        il, salt = self.weight_percentages
        return [
            ("composition (mol)", self.composition),
            ("Pyr14FSI : LiTFSI (wt%)", f"{il:.1f} : {salt:.1f}"),
        ]


@register_item_model
class CathodeCoating(SlotUsesMixin, Item):
    KIND = ItemKind.CATHODE_COATING
    LIST_URL, NEW_URL = "synthesis:coating-list", "synthesis:coating-new"
    CODE_PREFIX = "CAT"
    NOTATION_LABEL = "NCM811"
    REAGENT_SLOTS = (
        ReagentSlot(
            "active_lot",
            "active material lot",
            (ChemicalCategory.ACTIVE_MATERIAL,),
            "active_mass_g",
        ),
        ReagentSlot(
            "carbon_lot",
            "conductive carbon lot",
            (ChemicalCategory.CONDUCTIVE_CARBON,),
            "carbon_mass_g",
        ),
        ReagentSlot("binder_lot", "binder lot", (ChemicalCategory.BINDER,), "binder_mass_g"),
        ReagentSlot("solvent_lot", "solvent lot", (ChemicalCategory.SOLVENT,), "solvent_mass_g"),
        ReagentSlot("foil_lot", "current collector lot", (ChemicalCategory.CURRENT_COLLECTOR,)),
    )

    active_lot = models.ForeignKey(
        ReagentLot,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="active material lot (NCM811)",
    )
    carbon_lot = models.ForeignKey(
        ReagentLot,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="conductive carbon lot (Super C65)",
    )
    binder_lot = models.ForeignKey(
        ReagentLot, on_delete=models.PROTECT, related_name="+", verbose_name="binder lot (PVdF)"
    )
    solvent_lot = models.ForeignKey(
        ReagentLot,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name="solvent lot (NMP)",
    )
    foil_lot = models.ForeignKey(
        ReagentLot,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name="current collector (Al foil)",
    )
    active_mass_g = _used_mass("active material used (g)")
    carbon_mass_g = _used_mass("carbon used (g)")
    binder_mass_g = _used_mass("binder used (g)")
    solvent_mass_g = _used_mass("solvent used (g)")
    mass_ratio = _ratio_field("92:4:4", "active : carbon : binder, by weight")
    solids_pct = models.FloatField(
        "solids content (%)",
        default=60.0,
        validators=[at_least(1.0), at_most(100.0)],
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(solids_pct__gt=0, solids_pct__lte=100), name="coating_solids_range"
            ),
        ]

    def describe(self) -> str:
        return f"{self.notation_label()} coating {self.mass_ratio}"

    def signed_parts(self) -> dict[str, list[Item]]:
        # A coating is signed with the disks punched from it, as a batch with its pellets.
        return {"disks": list(ElectrodeDisk.objects.filter(coating=self).order_by("code"))}

    def lineage_parents(self) -> list[tuple]:
        lots = (self.active_lot, self.carbon_lot, self.binder_lot, self.solvent_lot, self.foil_lot)
        return [(lot, LineageRole.COMPONENT, None, "") for lot in lots if lot is not None]

    @property
    def active_fraction(self) -> float:
        parts = chemistry.parse_ratio(self.mass_ratio, 3)
        return parts[0] / sum(parts)

    def derived_facts(self) -> list[tuple[str, object]]:
        return [("active material fraction (wt%)", 100 * self.active_fraction)]

    def notation_label(self) -> str:
        return self.active_lot.chemical.notation_label or self.NOTATION_LABEL

    def positive_active_lots(self) -> list:
        return [self.active_lot]


@register_item_model
class ElectrodeDisk(Piece, Item):
    KIND = ItemKind.ELECTRODE_DISK
    LIST_URL, NEW_URL = "synthesis:disk-list", "synthesis:disk-new"
    CODE_PREFIX = "ELD"
    PIECE_OF = "coating"
    DERIVED_FROM = {
        "area_cm2": ("diameter_mm",),
        "active_mass_mg": ("active_loading_mg_cm2", "diameter_mm"),
    }

    coating = models.ForeignKey(CathodeCoating, on_delete=models.PROTECT, related_name="disks")
    diameter_mm = models.FloatField(
        "diameter (mm)", default=12.0, validators=[greater_than_zero, at_most(100.0)]
    )
    active_loading_mg_cm2 = models.FloatField(
        "active-material loading (mg/cm²)",
        default=2.7,
        validators=[greater_than_zero, at_most(1000.0)],
    )

    class Meta:
        constraints = [_gt0("diameter_mm"), _gt0("active_loading_mg_cm2")]

    def describe(self) -> str:
        return f"{self.diameter_mm:g} mm, {self.active_loading_mg_cm2:g} mg/cm² from {self.coating.code}"

    def lineage_parents(self) -> list[tuple]:
        return [(self.coating, LineageRole.COATING, None, "")]

    @property
    def area_cm2(self) -> float:
        return chemistry.disk_area_cm2(self.diameter_mm)

    @property
    def active_mass_mg(self) -> float:
        return chemistry.active_mass_mg(self.active_loading_mg_cm2, self.diameter_mm)

    def derived_facts(self) -> list[tuple[str, object]]:
        currents = [
            (f"{rate:g}C current (mA)", chemistry.c_rate_current_ma(self.active_mass_mg, rate))
            for rate in (0.1, 0.2, 1.0)
        ]
        return [("area (cm²)", self.area_cm2), ("active mass (mg)", self.active_mass_mg), *currents]

    def notation_label(self) -> str:
        return self.coating.notation_label()

    def positive_active_lots(self) -> list:
        return self.coating.positive_active_lots()


@register_item_model
class MembranePiece(Piece, Item):
    """A piece cut or punched from an SPE membrane sheet; one piece goes into one cell."""

    KIND = ItemKind.MEMBRANE_PIECE
    LIST_URL, NEW_URL = "synthesis:piece-list", "synthesis:piece-new"
    CODE_PREFIX = "SPEP"
    NOTATION_LABEL = "SPE"
    PIECE_OF = "membrane"
    DERIVED_FROM = {"area_cm2": ("diameter_mm",), "thickness_um": ("measured_thickness_um",)}

    membrane = models.ForeignKey(SpeMembrane, on_delete=models.PROTECT, related_name="pieces")
    diameter_mm = models.FloatField(
        "diameter (mm)", default=16.0, validators=[greater_than_zero, at_most(100.0)]
    )
    measured_thickness_um = models.FloatField(
        "thickness (µm)",
        null=True,
        blank=True,
        validators=[greater_than_zero, at_most(10000.0)],
        help_text="if measured on the piece; otherwise the membrane's",
    )

    class Meta:
        verbose_name = "SPE membrane piece"
        constraints = [_gt0("diameter_mm"), _gte0_or_null("measured_thickness_um")]

    def describe(self) -> str:
        return f"{self.diameter_mm:g} mm piece of {self.membrane.code}"

    def lineage_parents(self) -> list[tuple]:
        return [(self.membrane, LineageRole.PIECE, None, "")]

    @property
    def thickness_um(self) -> float | None:
        return self.measured_thickness_um or self.membrane.thickness_um

    @property
    def area_cm2(self) -> float:
        return chemistry.disk_area_cm2(self.diameter_mm)

    def derived_facts(self) -> list[tuple[str, object]]:
        return [  # the membrane is a recorded field, shown already
            ("thickness used (µm)", self.thickness_um),
            ("area (cm²)", self.area_cm2),
        ]
