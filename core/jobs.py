"""Queue work for the Celery workers by task name.

Services decide *that* work is needed; tasks (`<app>/tasks.py`) are thin wrappers that call the
services. Naming the task here instead of importing it keeps the arrow one way (tasks ->
services), with no import circle between the two modules.
"""

from __future__ import annotations

from importlib import import_module

from django.db import transaction


def task(name: str):
    """The Celery task at a dotted path, e.g. "measurements.tasks.process_measurement"."""
    module, _, attr = name.rpartition(".")
    return getattr(import_module(module), attr)


def enqueue(name: str, *args) -> None:
    """Send the task now (callers already run after their transaction committed)."""
    task(name).delay(*args)


def enqueue_on_commit(name: str, *args) -> None:
    """Send the task once the current transaction commits: a worker never looks for a row that
    is not there yet, and a rolled-back write queues nothing."""
    transaction.on_commit(lambda: enqueue(name, *args))
