import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lims.settings")

app = Celery("lims")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _schedule(sender, **kwargs) -> None:
    """Celery beat runs the reconciler (core.jobs.reconcile) every LIMS_RECONCILE_EVERY_S; a
    pass not started within that time is dropped (the next one does the same work)."""
    from django.conf import settings

    every = settings.LIMS_RECONCILE_EVERY_S
    sender.conf.beat_schedule = {
        "reconcile-jobs": {
            "task": "core.tasks.reconcile_jobs",
            "schedule": float(every),
            "options": {"expires": float(every)},
        }
    }


# After the environment is read (prometheus_client picks its multiprocess store at import).
from . import worker_metrics  # noqa: E402

worker_metrics.connect()
