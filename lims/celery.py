import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lims.settings")

app = Celery("lims")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# After the environment is read (prometheus_client picks its multiprocess store at import).
from . import worker_metrics  # noqa: E402

worker_metrics.connect()
