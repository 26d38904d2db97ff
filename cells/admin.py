from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from core.admin import ItemAdmin, LockAwareAdmin

from . import services
from .models import Cell, CellLayer


class LayerInlineFormSet(BaseInlineFormSet):
    """The admin's stack obeys the build service's rule: a piece goes into one cell."""

    def clean(self):
        super().clean()
        layers = [
            form.instance
            for form in self.forms
            if form.cleaned_data.get("item") and not form.cleaned_data.get("DELETE")
        ]
        for layer in layers:
            layer.clean()  # marks the pieces
        errors = services.piece_errors(self.instance, layers)
        if errors:
            raise ValidationError(errors)


class CellLayerInline(LockAwareAdmin, admin.TabularInline):
    model = CellLayer
    formset = LayerInlineFormSet
    fk_name = "cell"
    extra = 0
    raw_id_fields = ("item",)


@admin.register(Cell)
class CellAdmin(ItemAdmin):
    list_display = ("code", "notation", "format", "active_mass_mg", "test_temperature_c")
    search_fields = ("code", "notation")
    readonly_fields = (*ItemAdmin.readonly_fields, "notation", "active_mass_mg")
    inlines = [CellLayerInline, *ItemAdmin.inlines]
