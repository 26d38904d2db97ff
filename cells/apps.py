from django.apps import AppConfig


class CellsConfig(AppConfig):
    name = "cells"

    def ready(self) -> None:
        from core.signals import item_changed

        item_changed.connect(_refresh_cells, dispatch_uid="cells_refresh_derived")


def _refresh_cells(sender, item_id: int, **kwargs) -> None:
    """An electrode disk changed (its loading or area): the cells built on it get their active
    mass recomputed by a worker. Other kinds do not enter a cell's derived values."""
    from synthesis.models import ElectrodeDisk

    from .services import refresh_cells_descending_from

    if ElectrodeDisk.objects.filter(pk=item_id).exists():
        refresh_cells_descending_from(item_id)
