"""Production settings pass Django's deployment check, `make run` and the tests keep plain
http, and every HTML answer carries the security headers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings

ROOT = Path(__file__).resolve().parents[2]
# The environment a production start-up would see: nothing of the test suite's own switches.
# (The browser tests' conftest sets DJANGO_ALLOW_ASYNC_UNSAFE, which the check rightly refuses.)
OURS = {
    "DEBUG",
    "LIMS_HTTPS",
    "DATABASE_URL",
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
}
LONG_KEY = "x7Qm2-Vd9pLk4Rt8Zs1Nw6Hc3Jb5Yf0Ga-Ue7Io2Px9Lq4Mr8Ks1Tz6Wv3Bn5Cd0"


# What DEBUG=0 alone gives.
PRODUCTION = {
    "SECURE_SSL_REDIRECT": True,
    "SECURE_HSTS_SECONDS": 31_536_000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": True,
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
    "SECURE_PROXY_SSL_HEADER": None,
}


def _env(**env) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in OURS and not k.startswith("SECURE_")}
    return {**base, "DJANGO_SETTINGS_MODULE": "lims.settings", **env}


def _run(*args, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _settings(**env) -> dict:
    names = list(PRODUCTION)
    code = f"import json, lims.settings as s; print(json.dumps({{n: getattr(s, n) for n in {names!r}}}))"
    result = _run("-c", code, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_settings_pass_the_deployment_check_with_no_finding():
    result = _run(
        "manage.py", "check", "--deploy", "--fail-level", "WARNING", DEBUG="0", SECRET_KEY=LONG_KEY
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_declared_plain_http_is_what_the_deployment_check_warns_about():
    """LIMS_HTTPS=0 (CI's gunicorn on 127.0.0.1) turns off exactly the four HTTPS settings:
    the check names them, so nobody runs it in production by mistake and unwarned."""
    result = _run(
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY=LONG_KEY,
        LIMS_HTTPS="0",
    )
    assert result.returncode != 0
    found = {w for w in ("W004", "W008", "W012", "W016") if f"security.{w}" in result.stderr}
    assert found == {"W004", "W008", "W012", "W016"}
    assert "4 issues" in result.stderr


def test_https_follows_debug_unless_said():
    production = _settings(DEBUG="0", SECRET_KEY=LONG_KEY)
    assert production == PRODUCTION
    development = _settings(DEBUG="1")  # make run: plain http on 127.0.0.1
    assert not any(v for k, v in development.items() if k != "SECURE_HSTS_SECONDS")
    assert development["SECURE_HSTS_SECONDS"] == 0
    assert _settings(DEBUG="1", LIMS_HTTPS="1")["SESSION_COOKIE_SECURE"] is True
    behind_proxy = _settings(
        DEBUG="0",
        SECRET_KEY=LONG_KEY,
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto: https",
        SECURE_HSTS_SECONDS="3600",
        SECURE_HSTS_PRELOAD="0",
    )
    assert behind_proxy["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert (behind_proxy["SECURE_HSTS_SECONDS"], behind_proxy["SECURE_HSTS_PRELOAD"]) == (
        3600,
        False,
    )


@pytest.mark.parametrize(
    "env, message",
    [
        ({"LIMS_HTTPS": "sometimes"}, "LIMS_HTTPS='sometimes' is not a boolean"),
        ({"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}, "SECURE_PROXY_SSL_HEADER="),
        ({"SECURE_HSTS_SECONDS": "a year"}, "SECURE_HSTS_SECONDS='a year' is not an integer"),
    ],
)
def test_bad_https_values_fail_loudly(env, message):
    result = _run("-c", "import lims.settings", DEBUG="0", SECRET_KEY=LONG_KEY, **env)
    assert result.returncode != 0
    assert message in result.stderr


# Production behind a TLS proxy.
HTTPS = {**PRODUCTION, "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https")}


@pytest.mark.django_db
def test_with_https_plain_http_is_redirected_but_the_probes_answer():
    with override_settings(**HTTPS):
        client = Client()  # its middleware is built under these settings
        page = client.get("/synthesis/pellets/?sort=code")
        assert page.status_code == 301
        assert page["Location"] == "https://testserver/synthesis/pellets/?sort=code"
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code in (200, 503)  # answered, not redirected
        # Behind the TLS proxy: https, so HSTS and secure cookies.
        login = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
        assert login.status_code == 200
        assert login["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
        cookie = login.cookies["csrftoken"]
        assert (cookie["secure"], cookie["samesite"]) == (True, "Lax")


@pytest.mark.django_db
def test_html_answers_carry_the_security_headers(client, staff):
    login = client.get("/accounts/login/")
    csp = login["Content-Security-Policy"]
    directives = dict(d.split(" ", 1) for d in csp.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["script-src"].startswith("'self' 'nonce-")  # no 'unsafe-inline'
    assert "unsafe" not in directives["script-src"]
    assert login["X-Content-Type-Options"] == "nosniff"
    assert login["Referrer-Policy"] == "same-origin"
    assert login["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in login  # plain http: no HSTS
    # Every answer has a nonce of its own.
    assert client.get("/accounts/login/")["Content-Security-Policy"] != csp
    client.post("/accounts/login/", {"username": "alice", "password": "pw-alice-123"})
    session = client.cookies["sessionid"]
    assert (session["httponly"], session["samesite"]) == (True, "Lax")
    # JSON is not a page: no policy needed (nor sent).
    assert "Content-Security-Policy" not in client.get("/healthz")
