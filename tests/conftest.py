from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from core.api.tokens import token_rotate
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
    from demo.records import load_demo

    return load_demo(staff)


@pytest.fixture
def measured_demo(demo, staff, tmp_path, django_capture_on_commit_callbacks):
    """The demo study with its instrument files processed (as `make run` shows it)."""
    from demo.records import load_demo_measurements

    with django_capture_on_commit_callbacks(execute=True):
        load_demo_measurements(staff, demo, tmp_path)
    return demo


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_rotate(user).key}")
    return client


@pytest.fixture
def api(staff) -> APIClient:
    """A staff user's script: token authentication, as the notebooks use."""
    return token_client(staff)


@pytest.fixture
def viewer_api(viewer) -> APIClient:
    return token_client(viewer)


@pytest.fixture
def anon_api(db) -> APIClient:
    return APIClient()


@pytest.fixture
def demo_measured(demo, staff, tmp_path, django_capture_on_commit_callbacks):
    """The demo study with its generated measurements processed (tasks run in-process), as
    `make run` shows it: EIS of four pellets (PEL-0003 at 25-80 °C), the SPE membrane at
    20-80 °C, 400 and 60 cycles of CELL-0005 and CELL-0006, stripping, TGA."""
    from demo.records import load_demo_measurements

    with django_capture_on_commit_callbacks(execute=True):
        load_demo_measurements(staff, demo, tmp_path / "demo-files")
    return demo
