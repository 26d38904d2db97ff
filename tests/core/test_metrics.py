"""`GET /metrics` (issue 11 part 4): Prometheus text from the database and the real broker,
answered only to loopback or a bearer token, bounded when the broker is dead."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from kombu import Connection
from prometheus_client.parser import text_string_to_metric_families

from measurements.models import Measurement, TemperatureSeries
from tests import factories

LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}


def scrape(client, **extra) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **{**LOOPBACK, **extra})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


@pytest.fixture
def queue(settings):
    """A queue of this test's own on the configured broker (Redis in CI, files locally)."""
    name = f"lims-metrics-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = name
    with Connection(
        settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS
    ) as conn:
        simple = conn.SimpleQueue(name)
        yield simple
        simple.clear()
        simple.close()


@pytest.mark.django_db
def test_counts_statuses_queue_depth_and_oldest_queued_age(client, queue):
    pellet, other = factories.pellets(count=2)
    make = dict(item=pellet, technique="eis", code="MEAS-9001")
    Measurement.objects.create(**make, status="failed")
    queued = Measurement.objects.create(**{**make, "code": "MEAS-9002"}, status="queued")
    Measurement.objects.create(**{**make, "code": "MEAS-9003"}, status="done")
    Measurement.objects.create(**{**make, "code": "MEAS-9004"}, status="done")
    # queued 90 s ago (created then, never finished)
    Measurement.objects.filter(pk=queued.pk).update(
        created_at=timezone.now() - timedelta(seconds=90)
    )
    TemperatureSeries.objects.create(item=other, status="needs_input")
    for i in range(3):
        queue.put({"n": i})

    s = scrape(client)

    assert s[("lims_measurements", (("status", "done"),))] == 2
    assert s[("lims_measurements", (("status", "failed"),))] == 1
    assert s[("lims_measurements", (("status", "queued"),))] == 1
    assert s[("lims_measurements", (("status", "processing"),))] == 0
    assert s[("lims_temperature_series", (("status", "needs_input"),))] == 1
    assert s[("lims_queue_messages", (("queue", queue.queue.name),))] == 3
    age = s[("lims_oldest_queued_age_seconds", (("kind", "measurement"),))]
    assert 90 <= age < 120
    assert ("lims_oldest_queued_age_seconds", (("kind", "temperature_series"),)) not in s
    assert s[("lims_source_up", (("source", "broker"),))] == 1
    assert s[("lims_source_up", (("source", "database"),))] == 1


@pytest.mark.django_db
def test_a_dead_broker_is_a_metric_not_an_error_and_answers_in_bounded_time(client, settings):
    settings.CELERY_BROKER_URL = "redis://:s3cret@127.0.0.1:1/0"  # nothing listens on port 1
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    started = time.monotonic()
    response = client.get("/metrics", **LOOPBACK)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    text = response.content.decode()
    assert 'lims_source_up{source="broker"} 0.0' in text
    assert 'lims_source_up{source="database"} 1.0' in text
    assert "lims_queue_messages" not in text
    assert "lims_measurements{" in text
    assert "s3cret" not in text
    assert elapsed < 3.0


@pytest.mark.django_db
def test_a_database_error_is_a_metric_not_an_error(client, monkeypatch):
    from django.db import OperationalError

    from measurements import selectors

    def down():
        raise OperationalError("connection refused")

    monkeypatch.setattr(selectors, "status_counts", down)
    text = client.get("/metrics", **LOOPBACK).content.decode()
    assert 'lims_source_up{source="database"} 0.0' in text
    assert "lims_measurements{" not in text  # absent, not an invented zero


@pytest.mark.django_db
@pytest.mark.parametrize(
    "extra",
    [
        {"REMOTE_ADDR": "10.0.0.7"},
        {"REMOTE_ADDR": "192.168.1.20", "HTTP_AUTHORIZATION": "Bearer wrong-token"},
        # a reverse proxy on the same machine connects from loopback for everyone
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_AUTHORIZATION": "Bearer wrong-token"},
    ],
)
def test_refused_off_the_machine_without_the_token(client, settings, extra):
    settings.LIMS_METRICS_TOKEN = "scrape-me-0123456789"
    response = client.get("/metrics", **extra)
    assert response.status_code == 403
    assert b"LIMS_METRICS_TOKEN" in response.content
    assert b"lims_" not in response.content


@pytest.mark.django_db
def test_the_token_opens_it_from_anywhere_and_no_login_is_needed(client, settings):
    settings.LIMS_METRICS_TOKEN = "scrape-me-0123456789"
    response = client.get(
        "/metrics",
        REMOTE_ADDR="10.0.0.7",
        HTTP_X_FORWARDED_FOR="203.0.113.9",
        HTTP_AUTHORIZATION="Bearer scrape-me-0123456789",
    )
    assert response.status_code == 200
    assert b"lims_measurements" in response.content


@pytest.mark.django_db
def test_without_a_token_set_a_bearer_header_does_not_open_it(client, settings):
    settings.LIMS_METRICS_TOKEN = ""
    response = client.get("/metrics", REMOTE_ADDR="10.0.0.7", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 403


def test_a_worker_metrics_port_without_a_multiprocess_dir_stops_start_up():
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(DEBUG="1", LIMS_WORKER_METRICS_PORT="18150")
    result = subprocess.run(
        [sys.executable, "-c", "import lims.settings"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "LIMS_WORKER_METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR" in result.stderr
