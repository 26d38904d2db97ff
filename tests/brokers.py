"""Point this process's Celery app at another broker (and back): the tests send through a Redis
they stop and start, or through a port where nothing listens."""

from __future__ import annotations

from contextlib import contextmanager

from django.conf import settings
from kombu import pools

from core import jobs
from lims.celery import app as celery_app

CLOSED_PORT_BROKER = "redis://127.0.0.1:9/0"  # discard port: nothing listens there


def _reset_pools() -> None:
    # Celery caches its connection and producer pools per app; drop them so the next send
    # connects to the broker now configured.
    pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@contextmanager
def use_broker(url: str, *, eager: bool = False):
    conf = celery_app.conf
    previous = (
        conf.broker_url,
        conf.broker_transport_options,
        conf.task_always_eager,
        settings.CELERY_BROKER_URL,
    )
    conf.broker_url = url
    conf.broker_transport_options = {
        "socket_connect_timeout": 2,
        "visibility_timeout": settings.LIMS_JOB_LEASE_S,
    }
    conf.task_always_eager = eager
    settings.CELERY_BROKER_URL = url  # what the reconciler's broker-wipe check reads
    _reset_pools()
    try:
        yield
    finally:
        _reset_pools()
        jobs._broker_down_until = 0.0  # this process's back-off from the broker it left
        (
            conf.broker_url,
            conf.broker_transport_options,
            conf.task_always_eager,
            settings.CELERY_BROKER_URL,
        ) = previous
