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
    settings.MEDIA_ROOT = blocker / "media"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["store"], response.json()["checks"]["broker"]
