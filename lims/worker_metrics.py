"""Celery signals feed the task metrics of `lims/metrics.py`; the worker main process serves them.

Counting happens where a task runs: in a prefork pool that is a child process, whose memory the
main process never sees. prometheus_client's multiprocess mode gives every process its own
memory-mapped file in PROMETHEUS_MULTIPROC_DIR and the exporter in the main process sums them
at scrape time, so a child's counts survive the child (a recycled or killed child's completed
tasks still count). The directory must be set before prometheus_client is imported, i.e. in the
worker's environment, which is why settings refuse LIMS_WORKER_METRICS_PORT without it.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from celery import signals

from . import metrics

log = logging.getLogger(__name__)

# Start times by task id, per process (a task runs start to end in one process).
_started: dict[str, float] = {}


def _prerun(task_id=None, task=None, **kwargs):
    _started[task_id] = time.monotonic()


def _postrun(task_id=None, task=None, retval=None, state=None, **kwargs):
    started = _started.pop(task_id, None)
    if started is not None:
        state_label = (state or "unknown").lower()
        metrics.TASK_DURATION.labels(task.name, state_label).observe(time.monotonic() - started)
    if task.name == metrics.MEASUREMENT_TASK and state == "SUCCESS" and retval in metrics.OUTCOMES:
        metrics.MEASUREMENT_OUTCOMES.labels(retval).inc()


def _failure(sender=None, **kwargs):
    metrics.TASK_FAILURES.labels(getattr(sender, "name", "unknown")).inc()


def _clear_stale(directory: Path) -> None:
    """A restarted worker starts from zero (Prometheus reads a reset counter as a reset), not
    from the files of processes of an earlier run that may share a recycled pid."""
    own = f"_{os.getpid()}.db"
    for path in directory.glob("*.db"):
        if not path.name.endswith(own):
            path.unlink(missing_ok=True)


def _serve(**kwargs):
    from django.conf import settings

    port = settings.LIMS_WORKER_METRICS_PORT
    if not port:
        return
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])  # settings checked it is set
    directory.mkdir(parents=True, exist_ok=True)
    _clear_stale(directory)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    address = settings.LIMS_WORKER_METRICS_ADDR
    start_http_server(port, addr=address, registry=registry)
    log.info("worker metrics on http://%s:%s/metrics (from %s)", address, port, directory)


def connect() -> None:
    signals.task_prerun.connect(_prerun, weak=False, dispatch_uid="lims_metrics_prerun")
    signals.task_postrun.connect(_postrun, weak=False, dispatch_uid="lims_metrics_postrun")
    signals.task_failure.connect(_failure, weak=False, dispatch_uid="lims_metrics_failure")
    # worker_init: the main process only, before the pool forks its children.
    signals.worker_init.connect(_serve, weak=False, dispatch_uid="lims_metrics_exporter")
