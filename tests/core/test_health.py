"""`/healthz` and `/readyz`: no login, JSON, bounded answer time (issue 11)."""

import time

import pytest


def test_healthz_answers_ok_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ready_with_the_test_broker_and_eager_tasks(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["failing"] == []
    assert set(body["checks"]) == {"database", "broker", "worker", "store"}
    assert body["checks"]["database"]["detail"] == "SELECT 1 answered"
    assert all(c["seconds"] < 3 for c in body["checks"].values())


@pytest.mark.django_db
def test_readyz_names_a_dead_broker_and_answers_within_three_seconds(
    client, tmp_path, settings, monkeypatch
):
    from lims.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", False)  # as in production
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CELERY_BROKER_URL = "redis://:s3cret@127.0.0.1:1/0"  # nothing listens on port 1
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    started = time.monotonic()
    response = client.get("/readyz")
    elapsed = time.monotonic() - started
    body = response.json()
    assert response.status_code == 503
    assert "broker" in body["failing"]
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["store"]["status"] == "ok"
    assert elapsed < 3.0
    assert "s3cret" not in response.content.decode()


@pytest.mark.django_db
def test_readyz_names_a_store_it_cannot_write(client, settings, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    location = blocker / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "lims": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["store"], body["checks"]["broker"]
    assert body["checks"]["store"]["detail"].startswith(f"file://{location}: ")


@pytest.mark.django_db
def test_readyz_names_an_object_store_that_does_not_answer(client, settings, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "probe-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "probe-s3cret")
    monkeypatch.setenv("LIMS_STORAGE_URL", "s3://lab-raw?endpoint=http://127.0.0.1:1")
    from lims.settings import storage_from_env

    settings.STORAGES = {**settings.STORAGES, "lims": storage_from_env()}
    started = time.monotonic()
    response = client.get("/readyz")
    elapsed = time.monotonic() - started
    body = response.json()
    assert response.status_code == 503
    assert body["failing"] == ["store"]
    assert body["checks"]["store"]["detail"].startswith("s3://lab-raw at http://127.0.0.1:1")
    assert elapsed < 3.0
    assert "s3cret" not in response.content.decode()
