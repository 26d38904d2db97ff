from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from lims.celery import app as celery_app


@pytest.fixture(autouse=True)
def _eager_celery_outside_integration(request):
    """Unit tests run tasks in-process; integration tests talk to a real worker."""
    eager = request.node.get_closest_marker("integration") is None
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = eager
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("alice", password="pw-alice-123", is_staff=True)


@pytest.fixture
def viewer(db):
    return get_user_model().objects.create_user("victor", password="pw-victor-123")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def demo(db, staff):
    from lims.demo import load_demo

    return load_demo(staff)
