from django.contrib import admin

from core.admin import ItemAdmin, LockAwareAdmin

from . import services
from .models import (
    CathodeCoating,
    Chemical,
    ElectrodeDisk,
    IleBatch,
    LagpBatch,
    Pellet,
    PelletSet,
    PrecursorUse,
    ReagentLot,
    SpeMembrane,
)


@admin.register(Chemical)
class ChemicalAdmin(LockAwareAdmin, admin.ModelAdmin):
    list_display = ("name", "category", "formula", "molar_mass_g_mol", "cas_number")
    list_filter = ("category",)
    search_fields = ("name", "formula", "cas_number")


@admin.register(ReagentLot)
class ReagentLotAdmin(ItemAdmin):
    list_display = ("code", "chemical", "supplier", "lot_number", "quantity", "quantity_unit")
    list_filter = ("chemical",)
    search_fields = ("code", "lot_number", "chemical__name", "supplier")


class PrecursorInline(LockAwareAdmin, admin.TabularInline):
    model = PrecursorUse
    extra = 0
    raw_id_fields = ("reagent_lot",)


class ReagentUsesAdmin(ItemAdmin):
    """Records made from reagent lots: the model's clean() refuses a lot of the wrong category,
    and after a save the lots' uses follow the record. An admin's correction is taken as
    confirmed, like a user ticking "record it although a lot has less left"."""

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        item = form.instance
        services.sync_lot_uses(item, item.reagent_uses(), confirm_overdraw=True)


@admin.register(LagpBatch)
class LagpBatchAdmin(ReagentUsesAdmin):
    list_display = ("code", "x_al", "target_mass_g", "li_excess_pct", "yield_g", "created_at")
    inlines = [PrecursorInline, *ItemAdmin.inlines]


@admin.register(PelletSet)
class PelletSetAdmin(LockAwareAdmin, admin.ModelAdmin):
    list_display = ("id", "batch", "sintering_temperature_c", "sintering_dwell_h", "sintered_on")
    list_filter = ("sintering_temperature_c",)
    raw_id_fields = ("batch",)


@admin.register(Pellet)
class PelletAdmin(ItemAdmin):
    list_display = ("code", "pellet_set", "thickness_mm", "diameter_mm", "mass_mg")
    list_filter = ("pellet_set__sintering_temperature_c",)
    raw_id_fields = ("pellet_set",)


@admin.register(SpeMembrane)
class SpeMembraneAdmin(ReagentUsesAdmin):
    list_display = ("code", "molar_ratio", "benzophenone_wt_pct", "thickness_um", "uv_crosslinked")
    raw_id_fields = ("peo_lot", "lifsi_lot", "pyr14fsi_lot", "benzophenone_lot")


@admin.register(IleBatch)
class IleBatchAdmin(ReagentUsesAdmin):
    list_display = ("code", "pyr14fsi_mol_fraction", "water_content_ppm")
    raw_id_fields = ("pyr14fsi_lot", "litfsi_lot")


@admin.register(CathodeCoating)
class CathodeCoatingAdmin(ReagentUsesAdmin):
    list_display = ("code", "mass_ratio", "solids_pct")
    raw_id_fields = ("active_lot", "carbon_lot", "binder_lot", "solvent_lot", "foil_lot")


@admin.register(ElectrodeDisk)
class ElectrodeDiskAdmin(ItemAdmin):
    list_display = ("code", "coating", "diameter_mm", "active_loading_mg_cm2")
    raw_id_fields = ("coating",)
