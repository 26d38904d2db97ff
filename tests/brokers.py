"""Point this process's Celery app at another broker (and back): the tests send through a Redis
they stop and start, or through a port where nothing listens."""

from __future__ import annotations

import os
from contextlib import contextmanager

from django.conf import settings
from kombu import pools

from core import jobs
from lims.celery import app as celery_app

CLOSED_PORT_BROKER = "redis://127.0.0.1:9/0"  # discard port: nothing listens there


def reset_pools() -> None:
    # Celery caches its connection and producer pools per app; drop them so the next send
    # connects to the broker now configured.
    pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


KEYS = ("broker_url", "broker_transport_options", "task_always_eager")


@contextmanager
def use_broker(url: str, *, eager: bool = False):
    conf = celery_app.conf
    # Celery reads Django's settings lazily: what was set explicitly before is put back, and
    # what was not is removed again (restoring a value read through would pin it for good).
    explicit = {key: conf.changes[key] for key in KEYS if key in conf.changes}
    previous_url = settings.CELERY_BROKER_URL
    conf.broker_url = url
    conf.broker_transport_options = {
        "socket_connect_timeout": 2,
        "visibility_timeout": settings.LIMS_JOB_LEASE_S,
    }
    conf.task_always_eager = eager
    settings.CELERY_BROKER_URL = url  # what the reconciler's broker checks read
    # Celery's conf.broker_url reads the CELERY_BROKER_URL environment variable before any
    # setting (CI exports it): point that at the new broker too.
    previous_env = os.environ.get("CELERY_BROKER_URL")
    os.environ["CELERY_BROKER_URL"] = url
    reset_pools()
    try:
        yield
    finally:
        for key in KEYS:
            conf.changes.pop(key, None)
        conf.update(explicit)
        settings.CELERY_BROKER_URL = previous_url
        if previous_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = previous_env
        reset_pools()
        jobs._broker_down_until = 0.0  # this process's back-off from the broker it left
