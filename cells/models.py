"""Cell builds: an ordered layer stack from the negative to the positive electrode."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.models import Item, ItemKind, LineageRole, register_item_model
from core.validators import at_least, at_most, greater_than_zero

from . import stack


class CellFormat(models.TextChoices):
    COIN = "coin", "Coin cell (CR2032)"
    POUCH = "pouch", "Pouch cell"
    SWAGELOK = "swagelok", "Swagelok / T-cell"
    OTHER = "other", "Other"


@register_item_model
class Cell(Item):
    KIND = ItemKind.CELL
    LIST_URL, NEW_URL = "cells:cell-list", "cells:cell-new"
    CODE_PREFIX = "CELL"
    # How core.users counts this "who did it" when it refuses to delete an account.
    USER_HISTORY = {"operator": ("cell as operator", "cells as operator")}

    format = models.CharField(max_length=10, choices=CellFormat.choices, default=CellFormat.COIN)
    # Derived from the stack by the build service and kept here so lists can filter on it.
    notation = models.CharField(max_length=120, blank=True, editable=False, db_index=True)
    # Cathode active mass from the stack's disks (loading x area); kept current by
    # `cells.services.cell_refresh_derived` when a disk's loading changes.
    active_mass_mg = models.FloatField("active mass (mg)", null=True, blank=True, editable=False)
    active_area_cm2 = models.FloatField(
        "active area (cm²)",
        null=True,
        blank=True,
        validators=[greater_than_zero, at_most(1000.0)],
    )
    assembled_on = models.DateField(null=True, blank=True)
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dew_point_c = models.FloatField(
        "dry-room dew point (°C)",
        null=True,
        blank=True,
        validators=[at_least(-100.0), at_most(20.0)],
    )
    test_temperature_c = models.FloatField(
        "test temperature (°C)",
        default=40.0,
        validators=[at_least(-60.0), at_most(200.0)],
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(active_area_cm2__isnull=True) | Q(active_area_cm2__gt=0),
                name="cell_area_gt_0",
            ),
        ]

    def describe(self) -> str:
        return self.notation

    def lineage_parents(self) -> list[tuple]:
        return [
            (layer.item, LineageRole.LAYER, layer.amount_ul, "µL" if layer.amount_ul else "")
            for layer in self.layers.select_related("item")
        ]

    def positive_active_lots(self) -> list:
        # A coating is not a piece and never a layer itself; its disks are.
        return [
            lot
            for layer in self.layers.filter(side=LayerSide.POSITIVE).select_related("item")
            for lot in layer.item.specific.positive_active_lots()
        ]

    def layer_specs(self) -> list[stack.LayerSpec]:
        return [layer.spec() for layer in self.layers.select_related("item")]

    def c_rate_currents(self) -> dict[float, float]:
        return stack.c_rate_currents(self.active_mass_mg)


class LayerSide(models.TextChoices):
    NEGATIVE = "negative", "Negative electrode"
    ELECTROLYTE = "electrolyte", "Electrolyte / separator"
    POSITIVE = "positive", "Positive electrode"


class CellLayer(models.Model):
    """One layer of a cell's stack, pointing at the tracked item it was made from."""

    AUDIT_ITEM_FIELD = "cell"
    CANONICAL_PART = True  # in the cell's signed record (core.signatures)

    cell = models.ForeignKey(Cell, on_delete=models.CASCADE, related_name="layers")
    position = models.PositiveSmallIntegerField()
    side = models.CharField(max_length=12, choices=LayerSide.choices)
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="used_in_layers")
    amount_ul = models.FloatField(
        "amount (µL)",
        null=True,
        blank=True,
        validators=[at_least(0.0), at_most(10_000.0)],
        help_text="for liquid layers, e.g. a drop of ILE",
    )
    # A label for the layer in the notation when the item's own would be wrong (e.g. "Pt").
    label = models.CharField(max_length=20, blank=True)
    # Whether the item is a physical piece (pellet, membrane piece, disk), which can be in one
    # cell only; set by the build service, so the database refuses a second use even when two
    # builds race.
    is_piece = models.BooleanField(default=False, editable=False)
    # A piece the cell holds because it is a new version of the cell that holds it (the same
    # physical cell, its record corrected); set by the build service.
    carried_over = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["cell", "position"]
        constraints = [
            models.UniqueConstraint(fields=["cell", "position"], name="layer_position_unique"),
            # A new version of a cell holds the old version's pieces again (carried over).
            models.UniqueConstraint(
                fields=["item"],
                condition=Q(is_piece=True, carried_over=False),
                name="piece_in_one_cell",
            ),
            models.CheckConstraint(
                condition=Q(amount_ul__isnull=True) | Q(amount_ul__gte=0), name="layer_amount_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cell_id}#{self.position} {self.side} {self.item_id}"

    def save(self, *args, **kwargs) -> None:
        self._mark_piece()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self._mark_piece()  # before the constraints are validated (the admin's inline)

    def _mark_piece(self) -> None:
        # Every write path marks pieces, so the one-cell constraint holds however a layer is
        # written.
        if self.item_id is not None:
            self.is_piece = self.item.specific.IS_PIECE

    def spec(self) -> stack.LayerSpec:
        item = self.item.specific
        return stack.LayerSpec(
            side=self.side,
            kind=item.kind,
            label=self.label or item.notation_label(),
            code=item.code,
            active_mass_mg=getattr(item, "active_mass_mg", None),
            category=item.chemical.category if hasattr(item, "chemical") else "",
        )
