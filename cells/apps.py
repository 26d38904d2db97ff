from django.apps import AppConfig


class CellsConfig(AppConfig):
    name = "cells"

    def ready(self) -> None:
        from core.signals import item_changed

        item_changed.connect(_refresh_cells, dispatch_uid="cells_refresh_derived")


def _refresh_cells(sender, item_id: int, fields=None, **kwargs) -> None:
    """An electrode disk's active mass changed (its loading or diameter): the cells built on
    it get their active mass recomputed by a worker. Other kinds and other fields (notes) do
    not enter a cell's derived values."""
    from core.signals import touches
    from synthesis.models import ElectrodeDisk

    from .services import refresh_cells_descending_from

    if not touches(fields, ElectrodeDisk.fields_behind(["active_mass_mg"])):
        return
    if ElectrodeDisk.objects.filter(pk=item_id).exists():
        refresh_cells_descending_from(item_id)
