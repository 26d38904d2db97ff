"""Settings come from the environment and bad values stop start-up with the variable's name."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_settings(**env):
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG"}}
    result = subprocess.run(
        [sys.executable, "-c", "import lims.settings"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result


@pytest.mark.parametrize(
    "env, message",
    [
        ({"DEBUG": "maybe", "SECRET_KEY": "x"}, "DEBUG='maybe' is not a boolean"),
        ({"DEBUG": "0", "SECRET_KEY": ""}, "SECRET_KEY must be set"),
        ({"DEBUG": "1", "DATABASE_URL": "mysql://x/y"}, "DATABASE_URL scheme 'mysql'"),
        (
            {"DEBUG": "1", "CELERY_BROKER_URL": "amqp://guest@localhost//"},
            "CELERY_BROKER_URL scheme",
        ),
        ({"DEBUG": "1", "DB_CONN_MAX_AGE": "ten"}, "DB_CONN_MAX_AGE='ten' is not an integer"),
        ({"DEBUG": "1", "LIMS_LOGIN_FAILURE_LIMIT": "0"}, "LIMS_LOGIN_FAILURE_LIMIT=0 must be 1"),
        ({"DEBUG": "1", "LIMS_LOGIN_LOCK_MINUTES": "-5"}, "LIMS_LOGIN_LOCK_MINUTES=-5 must be 0"),
        ({"DEBUG": "1", "LIMS_TOKEN_DAYS": "a year"}, "LIMS_TOKEN_DAYS='a year' is not an integer"),
        ({"DEBUG": "1", "LIMS_STORAGE_URL": "ftp://host/x"}, "LIMS_STORAGE_URL='ftp://host/x' is"),
        ({"DEBUG": "1", "LIMS_STORAGE_URL": "file://relative"}, "LIMS_STORAGE_URL='file://rel"),
        (
            {"DEBUG": "1", "LIMS_STORAGE_URL": "s3://lab?endpoint=127.0.0.1:8333"},
            "takes only ?endpoint=http(s)://host:port",
        ),
        ({"DEBUG": "1", "LIMS_STORAGE_URL": "s3://lab?bucket=x"}, "takes only ?endpoint"),
    ],
)
def test_bad_values_fail_loudly(env, message):
    result = _load_settings(**env)
    assert result.returncode != 0
    assert message in result.stderr


def test_storage_urls_are_read(monkeypatch):
    from lims.settings import storage_from_env

    monkeypatch.delenv("LIMS_STORAGE_URL", raising=False)
    assert storage_from_env() == {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    monkeypatch.setenv("LIMS_STORAGE_URL", "file:///lab/lims%20store")
    assert storage_from_env()["OPTIONS"] == {"location": "/lab/lims store"}
    monkeypatch.setenv(
        "LIMS_STORAGE_URL", "s3://lab-raw/lims/prod?endpoint=http://10.0.0.5:8333&region=eu-1"
    )
    s3 = storage_from_env()
    assert s3["BACKEND"] == "storages.backends.s3.S3Storage"
    assert {k: s3["OPTIONS"][k] for k in ("bucket_name", "location", "endpoint_url")} == {
        "bucket_name": "lab-raw",
        "location": "lims/prod",
        "endpoint_url": "http://10.0.0.5:8333",
    }
    assert s3["OPTIONS"]["region_name"] == "eu-1"


def test_postgres_url_and_hosts_are_read():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import lims.settings as s; print(s.DATABASES['default']['ENGINE'],"
            " s.DATABASES['default']['NAME'], s.ALLOWED_HOSTS)",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "DEBUG": "0",
            "SECRET_KEY": "k",
            "ALLOWED_HOSTS": "lims.lab, x.lab",
            "DATABASE_URL": "postgresql://u:p@db:5432/lims",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "postgresql lims ['lims.lab', 'x.lab']" in result.stdout


def test_lockout_and_token_lifetime_come_from_the_environment():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import lims.settings as s; print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME,"
            " s.LIMS_TOKEN_DAYS)",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "DEBUG": "1",
            "LIMS_LOGIN_FAILURE_LIMIT": "3",
            "LIMS_LOGIN_LOCK_MINUTES": "0",
            "LIMS_TOKEN_DAYS": "0",
        },
    )
    assert result.stdout.split() == ["3", "None", "0"], result.stderr
