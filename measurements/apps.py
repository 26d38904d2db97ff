from django.apps import AppConfig


class MeasurementsConfig(AppConfig):
    name = "measurements"

    def ready(self) -> None:
        from core import signatures
        from core.signals import item_changed

        from . import dashboard, headlines, requeue, signing

        item_changed.connect(_recompute_dependents, dispatch_uid="measurements_recompute")
        # Results on the core's item pages, lists and home page (the core cannot import us).
        headlines.register()
        dashboard.register()
        # Lost jobs come back as new runs; stranded records are queued again.
        requeue.register()
        # What a signature covers of an item's measurements, and whether they are finished.
        signatures.register_canonical(signing.canonical_measurements)
        signatures.register_unfinished_check(signing.unfinished)


def _recompute_dependents(sender, item_id: int, fields=None, **kwargs) -> None:
    """A sample's thickness, area or active mass changed: recompute its measurements. Any
    other change (notes, the summary) re-runs nothing."""
    from core import jobs

    from .services import dependent_measurements, inputs_changed

    if inputs_changed(item_id, fields) and dependent_measurements(item_id).exists():
        jobs.enqueue("measurements.tasks.reprocess_item_measurements", item_id)
