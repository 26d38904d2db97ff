from __future__ import annotations

import pytest


@pytest.fixture
def measured_demo(demo, staff, tmp_path, django_capture_on_commit_callbacks):
    """The demo study with its instrument files processed (as `make run` shows it)."""
    from demo.records import load_demo_measurements

    with django_capture_on_commit_callbacks(execute=True):
        load_demo_measurements(staff, demo, tmp_path)
    return demo
