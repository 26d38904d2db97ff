from django.contrib import admin

from lims.admin import ItemAdmin

from .models import Cell, CellLayer


class CellLayerInline(admin.TabularInline):
    model = CellLayer
    fk_name = "cell"
    extra = 0
    raw_id_fields = ("item",)


@admin.register(Cell)
class CellAdmin(ItemAdmin):
    list_display = ("code", "notation", "format", "active_mass_mg", "test_temperature_c")
    search_fields = ("code", "notation")
    readonly_fields = (*ItemAdmin.readonly_fields, "notation", "active_mass_mg")
    inlines = [CellLayerInline, *ItemAdmin.inlines]
