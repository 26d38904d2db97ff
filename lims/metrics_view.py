"""`GET /metrics`: the lab's state for Prometheus, read at scrape time (names in lims/metrics.py).

Access: without login from a loopback address (a Prometheus or node agent on the same machine),
or from anywhere with ``Authorization: Bearer <LIMS_METRICS_TOKEN>``. A request that came
through a reverse proxy (X-Forwarded-For, Forwarded, X-Real-IP) is not taken as loopback even
though the proxy connects from 127.0.0.1. The answer holds counts only: no code, name or file.

Bounded: the broker is asked with the readiness probe's 1 s connect timeout in a thread cut at
BROKER_DEADLINE_S; a broker or database that does not answer is `lims_source_up{source} 0`, and
the scrape still answers 200 with what could be read.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import Count, Q
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from core.models import Job
from measurements import selectors
from measurements.models import Status

from . import health, metrics

log = logging.getLogger(__name__)
BROKER_DEADLINE_S = 2.0
PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-Ip")


def allowed(request) -> bool:
    token = settings.LIMS_METRICS_TOKEN
    offered = request.headers.get("Authorization", "")
    if token and offered.startswith("Bearer "):
        return hmac.compare_digest(offered[len("Bearer ") :].encode(), token.encode())
    if any(header in request.headers for header in PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:  # a unix socket or no address: not provably local
        return False


def _queue_depth() -> int:
    """Messages waiting in the queue, asked the transport's own way (Redis: LLEN of the queue's
    lists; filesystem broker: its message files) through a passive declare."""
    with health._broker_connection() as conn:
        conn.ensure_connection(max_retries=0, timeout=health.CHECK_TIMEOUT_S)
        channel = conn.channel()
        try:
            _, count, _ = channel.queue_declare(
                queue=settings.CELERY_TASK_DEFAULT_QUEUE, passive=True
            )
        finally:
            channel.close()
    return count


def _outbox() -> tuple[int, int]:
    """Jobs of the outbox (core.models.Job) never sent, and not yet finished (sent or not)."""
    counts = Job.objects.aggregate(
        unsent=Count("pk", filter=Q(sent_at__isnull=True, finished_at__isnull=True)),
        outstanding=Count("pk", filter=Q(finished_at__isnull=True)),
    )
    return counts["unsent"], counts["outstanding"]


def lab_state() -> metrics.LabState:
    pool = ThreadPoolExecutor(max_workers=1)
    depth = pool.submit(_queue_depth)  # in parallel with the database queries
    fields: dict = {"statuses": tuple(Status.values), "queue": settings.CELERY_TASK_DEFAULT_QUEUE}
    try:
        counts = selectors.status_counts()
        outbox = _outbox()
    except Exception:  # a database that does not answer is a metric, not a 500
        log.exception("metrics: the database did not answer")
        fields["database_up"] = False
    else:
        now = timezone.now()
        fields["measurements"] = {s: n for s, (n, _) in counts["measurement"].items()}
        fields["series"] = {s: n for s, (n, _) in counts["temperature_series"].items()}
        fields["oldest_queued_s"] = {
            kind: max(0.0, (now - rows[Status.QUEUED][1]).total_seconds())
            for kind, rows in counts.items()
            if Status.QUEUED in rows
        }
        fields["outbox_unsent"], fields["outbox_outstanding"] = outbox
    try:
        fields["queue_messages"] = depth.result(timeout=BROKER_DEADLINE_S)
    except FutureTimeout:
        fields["broker_up"] = False
    except Exception as exc:
        log.warning("metrics: broker queue depth unavailable: %s", exc)
        fields["broker_up"] = False
    pool.shutdown(wait=False, cancel_futures=True)
    return metrics.LabState(**fields)


@login_not_required
@never_cache
@require_GET
def metrics_view(request):
    if not allowed(request):
        return HttpResponse(
            "metrics: only from this machine, or with Authorization: Bearer <LIMS_METRICS_TOKEN>\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    return HttpResponse(metrics.exposition(lab_state()), content_type=CONTENT_TYPE_LATEST)
