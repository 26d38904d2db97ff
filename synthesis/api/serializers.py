"""JSON shapes of the synthesis records. Items refer to each other by code; derived values
(relative density, composition, active mass) are read-only."""

from __future__ import annotations

from rest_framework import serializers

from core.api.serializers import (
    DerivedFloatField,
    ItemCodeField,
    ItemSerializer,
    ItemSetSerializer,
    ModelSerializer,
    NaturalKeyField,
    item_fields,
    steps_field,
)
from synthesis.models import (
    PELLET_SET_CONDITIONS,
    CathodeCoating,
    Chemical,
    ElectrodeDisk,
    IleBatch,
    LagpBatch,
    MembranePiece,
    Pellet,
    PelletSet,
    PrecursorRole,
    PrecursorUse,
    ReagentLot,
    SpeMembrane,
)
from synthesis.services import MAX_SET_SIZE


def _lot(**kwargs) -> ItemCodeField:
    return ItemCodeField(queryset=ReagentLot.objects.all(), **kwargs)


def _slot(model, name: str) -> ItemCodeField:
    """A reagent lot in one of the model's slots. The slot's categories go with the field, so
    the schema can give an example lot that fits (a polymer for the PEO lot)."""
    slot = next(s for s in model.REAGENT_SLOTS if s.field == name)
    field = _optional_lot() if model._meta.get_field(name).null else _lot()
    field.categories = slot.categories
    return field


def _optional_lot() -> ItemCodeField:
    return _lot(required=False, allow_null=True)


class ChemicalSerializer(ModelSerializer):
    class Meta:
        model = Chemical
        fields = [
            "id",
            "name",
            "category",
            "formula",
            "molar_mass_g_mol",
            "cas_number",
            "notation_label",
        ]


def _confirm_overdraw() -> serializers.BooleanField:
    return serializers.BooleanField(
        write_only=True,
        required=False,
        default=False,
        help_text="record uses of reagent lots even beyond what a lot has left (kept with a "
        "warning); without it such a use is refused with 400",
    )


class ReagentLotSerializer(ItemSerializer):
    chemical = NaturalKeyField(
        what="chemical",
        slug_field="name",
        queryset=Chemical.objects.all(),
        help_text="the chemical's name (any case)",
    )
    formula = serializers.CharField(source="chemical.formula", read_only=True)
    category = serializers.CharField(source="chemical.category", read_only=True)
    quantity_used = DerivedFloatField(help_text="taken by records, in the lot's unit")
    quantity_left = DerivedFloatField(help_text="quantity received minus what records used")

    class Meta(ItemSerializer.Meta):
        model = ReagentLot
        fields = item_fields(
            "chemical",
            "formula",
            "category",
            "supplier",
            "grade",
            "lot_number",
            "received_on",
            "quantity",
            "quantity_unit",
            "quantity_used",
            "quantity_left",
        )


class PrecursorSerializer(ModelSerializer):
    reagent_lot = _lot()

    class Meta:
        model = PrecursorUse
        fields = ["role", "reagent_lot", "planned_mass_g", "weighed_mass_g"]


class LagpBatchSerializer(ItemSerializer):
    composition = serializers.CharField(read_only=True)
    precursors = PrecursorSerializer(
        many=True,
        required=False,
        max_length=len(PrecursorRole),
        help_text="one per role; left out on create: none yet; on update: unchanged",
    )
    steps = steps_field()
    confirm_overdraw = _confirm_overdraw()

    class Meta(ItemSerializer.Meta):
        model = LagpBatch
        fields = item_fields(
            "x_al",
            "target_mass_g",
            "li_excess_pct",
            "composition",
            "yield_g",
            "phase_result",
            "precursors",
            "steps",
            "confirm_overdraw",
        )


class PelletSetSerializer(ItemSetSerializer):
    """Pellets pressed and sintered together: the shared conditions, `count` and `items` (the
    pellets' codes)."""

    batch = ItemCodeField(queryset=LagpBatch.objects.all(), help_text="LAGP powder batch code")
    count = ItemSetSerializer.count_field(MAX_SET_SIZE, "pellets")
    items = ItemSetSerializer.items_field("pellets", "the pellets' codes")
    field_hints = {
        "count": "The pellets of a set are made with it; press a new set instead.",
    }

    class Meta:
        model = PelletSet
        fields = ["id", "batch", *PELLET_SET_CONDITIONS, "count", "items"]


class PelletSetUpdateSerializer(PelletSetSerializer):
    count = ItemSetSerializer.count_field(MAX_SET_SIZE, "pellets", read_only=True)


class PelletSerializer(ItemSerializer):
    pellet_set = serializers.PrimaryKeyRelatedField(read_only=True)
    batch = serializers.CharField(source="pellet_set.batch.code", read_only=True)
    sintering_temperature_c = serializers.FloatField(
        source="pellet_set.sintering_temperature_c", read_only=True
    )
    sintering_dwell_h = serializers.FloatField(
        source="pellet_set.sintering_dwell_h", read_only=True
    )
    relative_density = DerivedFloatField(help_text="fraction of the theoretical density")
    area_cm2 = DerivedFloatField()

    # Pieces are made in sets (a pressing, a punching), not one by one: no `supersedes`.
    supersedes = None

    class Meta(ItemSerializer.Meta):
        model = Pellet
        fields = item_fields(
            "pellet_set",
            "batch",
            "sintering_temperature_c",
            "sintering_dwell_h",
            "thickness_mm",
            "diameter_mm",
            "mass_mg",
            "relative_density",
            "area_cm2",
            versioned=False,
        )


class SpeMembraneSerializer(ItemSerializer):
    peo_lot = _slot(SpeMembrane, "peo_lot")
    lifsi_lot = _slot(SpeMembrane, "lifsi_lot")
    pyr14fsi_lot = _slot(SpeMembrane, "pyr14fsi_lot")
    benzophenone_lot = _slot(SpeMembrane, "benzophenone_lot")
    weight_percentages = serializers.ListField(
        child=serializers.FloatField(),
        read_only=True,
        help_text="PEO, LiFSI, Pyr14FSI in wt%, from the molar ratio",
    )
    steps = steps_field()
    confirm_overdraw = _confirm_overdraw()

    class Meta(ItemSerializer.Meta):
        model = SpeMembrane
        fields = item_fields(
            "peo_lot",
            "peo_mass_g",
            "lifsi_lot",
            "lifsi_mass_g",
            "pyr14fsi_lot",
            "pyr14fsi_mass_g",
            "benzophenone_lot",
            "benzophenone_mass_g",
            "molar_ratio",
            "weight_percentages",
            "benzophenone_wt_pct",
            "thickness_um",
            "uv_crosslinked",
            "steps",
            "confirm_overdraw",
        )


class IleBatchSerializer(ItemSerializer):
    pyr14fsi_lot = _slot(IleBatch, "pyr14fsi_lot")
    litfsi_lot = _slot(IleBatch, "litfsi_lot")
    composition = serializers.CharField(read_only=True)
    steps = steps_field()
    confirm_overdraw = _confirm_overdraw()

    class Meta(ItemSerializer.Meta):
        model = IleBatch
        fields = item_fields(
            "pyr14fsi_lot",
            "pyr14fsi_mass_g",
            "litfsi_lot",
            "litfsi_mass_g",
            "pyr14fsi_mol_fraction",
            "composition",
            "water_content_ppm",
            "steps",
            "confirm_overdraw",
        )


class CathodeCoatingSerializer(ItemSerializer):
    active_lot = _slot(CathodeCoating, "active_lot")
    carbon_lot = _slot(CathodeCoating, "carbon_lot")
    binder_lot = _slot(CathodeCoating, "binder_lot")
    solvent_lot = _slot(CathodeCoating, "solvent_lot")
    foil_lot = _slot(CathodeCoating, "foil_lot")
    active_fraction = DerivedFloatField(help_text="active mass fraction")
    steps = steps_field()
    confirm_overdraw = _confirm_overdraw()

    class Meta(ItemSerializer.Meta):
        model = CathodeCoating
        fields = item_fields(
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
            "active_fraction",
            "solids_pct",
            "steps",
            "confirm_overdraw",
        )


class ElectrodeDiskSerializer(ItemSerializer):
    coating = serializers.SlugRelatedField(slug_field="code", read_only=True)
    area_cm2 = DerivedFloatField()
    active_mass_mg = DerivedFloatField()

    # Pieces are made in sets (a pressing, a punching), not one by one: no `supersedes`.
    supersedes = None

    class Meta(ItemSerializer.Meta):
        model = ElectrodeDisk
        fields = item_fields(
            "coating",
            "diameter_mm",
            "active_loading_mg_cm2",
            "area_cm2",
            "active_mass_mg",
            versioned=False,
        )


class ElectrodeDiskSetSerializer(ItemSetSerializer):
    """Disks punched from a coating in one go: their shared fields, `count` and `items` (the
    disks' codes)."""

    coating = ItemCodeField(queryset=CathodeCoating.objects.all(), help_text="coating code")
    area_cm2 = DerivedFloatField()
    active_mass_mg = DerivedFloatField()
    count = ItemSetSerializer.count_field(MAX_SET_SIZE, "disks")
    items = ItemSetSerializer.items_field("items", "the disks' codes")

    class Meta:
        model = ElectrodeDisk
        fields = [
            "coating",
            "diameter_mm",
            "active_loading_mg_cm2",
            "notes",
            "area_cm2",
            "active_mass_mg",
            "count",
            "items",
        ]


class MembranePieceSerializer(ItemSerializer):
    membrane = serializers.SlugRelatedField(slug_field="code", read_only=True)
    thickness_um = DerivedFloatField(help_text="measured on the piece, else the membrane's")
    area_cm2 = DerivedFloatField()

    # Pieces are made in sets (a pressing, a punching), not one by one: no `supersedes`.
    supersedes = None

    class Meta(ItemSerializer.Meta):
        model = MembranePiece
        fields = item_fields(
            "membrane",
            "diameter_mm",
            "measured_thickness_um",
            "thickness_um",
            "area_cm2",
            versioned=False,
        )


class MembranePieceSetSerializer(ItemSetSerializer):
    """Pieces cut from a membrane in one go: their shared fields, `count` and `items` (the
    pieces' codes)."""

    membrane = ItemCodeField(queryset=SpeMembrane.objects.all(), help_text="membrane code")
    area_cm2 = DerivedFloatField()
    count = ItemSetSerializer.count_field(MAX_SET_SIZE, "pieces")
    items = ItemSetSerializer.items_field("items", "the pieces' codes")

    class Meta:
        model = MembranePiece
        fields = [
            "membrane",
            "diameter_mm",
            "measured_thickness_um",
            "notes",
            "area_cm2",
            "count",
            "items",
        ]
