"""Health endpoints for load balancers and orchestrators (no login, no secrets).

`/healthz`: liveness, the process answers (touches nothing else). `/readyz`: readiness, the
database, the Celery broker, a worker and the raw-file store (the configured one: a probe
object written, read and deleted), each with its status and time;
200 when all are ready, else 503. Every check has its own short timeout and the whole answer
is cut at READY_DEADLINE_S, so a dead broker cannot hang the load balancer's probe."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor, wait

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

CHECK_TIMEOUT_S = 1.0
READY_DEADLINE_S = 2.5


@login_not_required
@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "SELECT 1 answered"


def _broker_connection():
    from kombu import Connection

    return Connection(
        settings.CELERY_BROKER_URL,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS or {},
        connect_timeout=CHECK_TIMEOUT_S,
    )


def _broker() -> str:
    with _broker_connection() as conn:
        conn.ensure_connection(max_retries=0, timeout=CHECK_TIMEOUT_S)
    return "connected"


def _worker() -> str:
    from .celery import app

    if app.conf.task_always_eager:  # the app's own setting, which tests switch on
        return "tasks run in the web process (eager mode): no worker needed"

    with _broker_connection() as conn:
        # Fail fast on a dead broker: the ping itself would retry the connection for ~2 s.
        conn.ensure_connection(max_retries=0, timeout=CHECK_TIMEOUT_S)
        answers = app.control.inspect(timeout=CHECK_TIMEOUT_S, connection=conn).ping() or {}
    if not answers:
        raise RuntimeError("no worker answered")
    return f"{len(answers)} worker(s) answered"


def _store() -> str:
    from measurements import storage

    try:
        return storage.save_probe()  # a tiny object written, read back and deleted
    except Exception as exc:
        # Name the store (never its credentials) and what went wrong.
        raise RuntimeError(f"{storage.describe()}: {type(exc).__name__}: {exc}") from exc


CHECKS = {"database": _database, "broker": _broker, "worker": _worker, "store": _store}


def _timed(check):
    started = time.monotonic()
    try:
        return "ok", check(), time.monotonic() - started
    except Exception as exc:  # any failure is "not ready"; its class says what, not secrets
        return "fail", str(exc)[:200] or type(exc).__name__, time.monotonic() - started


def _timed_out(name: str) -> str:
    if name == "store":  # which store, so the operator knows where to look
        from measurements import storage

        return f"{storage.describe()}: no answer in time"
    return "no answer in time"


def _run_checks() -> dict[str, dict]:
    pool = ThreadPoolExecutor(max_workers=len(CHECKS))
    futures = {name: pool.submit(_timed, check) for name, check in CHECKS.items()}
    wait(futures.values(), timeout=READY_DEADLINE_S)
    pool.shutdown(wait=False, cancel_futures=True)
    out = {}
    for name, future in futures.items():
        if future.done():
            status, detail, seconds = future.result()
        else:
            status, detail, seconds = "fail", _timed_out(name), READY_DEADLINE_S
        out[name] = {"status": status, "detail": detail, "seconds": round(seconds, 3)}
    return out


@login_not_required
@never_cache
@require_GET
def readyz(request):
    checks = _run_checks()
    ready = all(c["status"] == "ok" for c in checks.values())
    failing = [name for name, c in checks.items() if c["status"] != "ok"]
    body = {"status": "ok" if ready else "fail", "failing": failing, "checks": checks}
    return JsonResponse(body, status=200 if ready else 503)
