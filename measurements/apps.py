from django.apps import AppConfig


class MeasurementsConfig(AppConfig):
    name = "measurements"

    def ready(self) -> None:
        from lims.signals import item_changed

        item_changed.connect(_recompute_dependents, dispatch_uid="measurements_recompute")


def _recompute_dependents(sender, item_id: int, **kwargs) -> None:
    """A sample's thickness, area or active mass changed: recompute its measurements."""
    from .services import dependent_measurements
    from .tasks import reprocess_item_measurements

    if dependent_measurements(item_id).exists():
        reprocess_item_measurements.delay(item_id)
