"""Queue work for the Celery workers by task name, through a transactional outbox.

Services decide *that* work is needed; tasks (`<app>/tasks.py`) are thin wrappers that call the
services. Naming the task here instead of importing it keeps the arrow one way (tasks ->
services), with no import circle between the two modules.

The committed row is the job: `enqueue` writes a `Job` row in the caller's transaction and sends
the message once that commits, with the row's id as the Celery task id. A broker that is down
loses nothing (the row stays unsent, the request answers normally); workers mark the row started
and delete it when the task succeeds. `reconcile` (Celery beat, every LIMS_RECONCILE_EVERY_S)
sends what was never sent and re-sends what the broker lost (see its docstring).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import wraps
from importlib import import_module
from urllib.parse import urlparse

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .models import Job

log = logging.getLogger(__name__)


def task(name: str):
    """The Celery task at a dotted path, e.g. "measurements.tasks.process_measurement"."""
    module, _, attr = name.rpartition(".")
    return getattr(import_module(module), attr)


def enqueue(name: str, *args) -> Job:
    """Record the job in the current transaction (or now, outside one) and send it once that
    commits: a worker never looks for a row that is not there yet, a rolled-back write queues
    nothing, and a committed write always has its job."""
    job = Job.objects.create(task=name, args=list(args), subject=str(args[0]) if args else "")
    transaction.on_commit(lambda: send(job.pk))
    return job


def enqueue_on_commit(name: str, *args) -> Job:
    """The same as `enqueue` (the outbox row is written in the transaction, the message sent on
    commit); kept for the services that say so at the call."""
    return enqueue(name, *args)


# --- sending ---------------------------------------------------------------------------------


def send(job_id: int, *, retrying: bool = False) -> bool:
    """Claim an unsent row (sent_at NULL -> now; only one sender wins) and send it."""
    claimed = Job.objects.filter(pk=job_id, sent_at__isnull=True, finished_at__isnull=True).update(
        sent_at=timezone.now(), sends=F("sends") + 1
    )
    if not claimed:
        return False
    return _deliver(Job.objects.get(pk=job_id), retrying=retrying)


# After a broker error this process leaves jobs unsent for a few seconds instead of trying each
# one: connecting to a dead Redis takes seconds (redis-py retries), and a request that queues
# ten recomputations must not wait ten times that. The reconciler always tries.
BROKER_BACKOFF_S = 10.0
_broker_down_until = 0.0


def _broker_errors() -> tuple[type[BaseException], ...]:
    from kombu.exceptions import OperationalError as KombuOperationalError

    return (KombuOperationalError, ConnectionError, OSError, TimeoutError)


def _deliver(job: Job, *, retrying: bool = False) -> bool:
    """Hand the message to the broker; on a broker error un-claim the row, so the reconciler
    sends it when the broker is back. The caller's request does not fail."""
    global _broker_down_until
    celery_task = task(job.task)
    if celery_task.app.conf.task_always_eager:
        # Unit tests run the task here; its exceptions propagate as they always did.
        celery_task.apply_async(args=job.args, task_id=str(job.pk))
        return True
    error = "broker was unreachable moments ago"
    if retrying or time.monotonic() >= _broker_down_until:
        try:
            # retry=False: kombu's own retries would hold the request for many seconds.
            celery_task.apply_async(args=job.args, task_id=str(job.pk), retry=False)
            return True
        except _broker_errors() as exc:
            _broker_down_until = time.monotonic() + BROKER_BACKOFF_S
            error = str(exc)
    log.warning("job %s (%s) not sent, the reconciler will: %s", job.pk, job.task, error)
    Job.objects.filter(pk=job.pk, sent_at=job.sent_at).update(
        sent_at=None, last_error=f"not sent: {error}"[:2000]
    )
    return False


# --- the worker's side -----------------------------------------------------------------------


def _job_id(task_id) -> int | None:
    """Outbox jobs have integer ids; anything else (beat's reconcile pass) is not ours."""
    return int(task_id) if isinstance(task_id, str) and task_id.isdigit() else None


def _started(sender=None, task_id=None, **kwargs) -> None:
    if (pk := _job_id(task_id)) is not None:
        Job.objects.filter(pk=pk).update(started_at=timezone.now(), attempts=F("attempts") + 1)


def _finished(sender=None, task_id=None, retval=None, state=None, **kwargs) -> None:
    """Success deletes the row; a failure keeps it, finished, with the error. A retry (a new
    message with the same id is already on its way) changes nothing."""
    if (pk := _job_id(task_id)) is None:
        return
    if state == "SUCCESS":
        Job.objects.filter(pk=pk).delete()
    elif state == "FAILURE":
        Job.objects.filter(pk=pk).update(finished_at=timezone.now(), last_error=repr(retval)[:2000])


def connect_signals() -> None:
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_started, dispatch_uid="lims_job_started", weak=False)
    task_postrun.connect(_finished, dispatch_uid="lims_job_finished", weak=False)


# --- the same limits for every task ----------------------------------------------------------


@contextmanager
def _alarm(seconds: int) -> Iterator[None]:
    """The soft time limit raised after ``seconds``, also where Celery enforces none: the solo
    pool and eager runs ignore time_limit. Only in the main thread, where a signal can be
    handled; elsewhere the Celery limits are all there is."""
    import signal

    from celery.exceptions import SoftTimeLimitExceeded

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise SoftTimeLimitExceeded(f"{seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def lab_task(func: Callable) -> Callable:
    """A Celery task with the lab's delivery rules and limits, the same for every task:
    acks_late + reject_on_worker_lost (a killed worker's message goes back to the broker; the
    services are idempotent), database hiccups retried, Celery's soft/hard time limits
    (LIMS_TASK_TIME_LIMIT_S, hard kill 30 s later) and the same limit as an in-task timer.
    Limits are read at import: a worker is restarted to change them."""
    from celery import shared_task
    from django.db import InterfaceError, OperationalError

    limit = settings.LIMS_TASK_TIME_LIMIT_S

    @wraps(func)
    def run(*args, **kwargs):
        # Read per call (the setting can be changed in tests without re-importing the task).
        with _alarm(settings.LIMS_TASK_TIME_LIMIT_S):
            return func(*args, **kwargs)

    return shared_task(
        acks_late=True,
        reject_on_worker_lost=True,
        autoretry_for=(OperationalError, InterfaceError),
        retry_backoff=2,
        retry_backoff_max=60,
        max_retries=5,
        soft_time_limit=limit,
        time_limit=limit + settings.LIMS_TASK_HARD_KILL_AFTER_S,
    )(run)


# --- the reconciler --------------------------------------------------------------------------

# Task name -> function that queues the work again *as a new run* (measurements, temperature
# series): a late original and its re-enqueue never both write. Filled by the apps.
RESENDERS: dict[str, Callable[..., object]] = {}
# Functions (limit) -> how many records they queued again that sat queued/processing with no
# outstanding job at all (rows from before the outbox, a row deleted by hand). Filled by apps.
BACKSTOPS: list[Callable[[int], int]] = []


def register_resender(task_name: str, requeue: Callable[..., object]) -> None:
    RESENDERS[task_name] = requeue


def register_backstop(requeue_stranded: Callable[[int], int]) -> None:
    if requeue_stranded not in BACKSTOPS:
        BACKSTOPS.append(requeue_stranded)


BROKER_MARKER = "lims:broker-alive"


def _redis():
    """A client of the Redis broker, or None for another broker."""
    url = settings.CELERY_BROKER_URL
    if urlparse(url).scheme not in {"redis", "rediss"}:
        return None
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _broker_epoch(client) -> tuple[datetime | None, bool]:
    """Since when the broker holds its messages, and whether this pass noticed it losing them:
    a marker key holding the time it was set, which only a Redis restarted without persistence
    (or flushed) loses. SET NX: of concurrent reconcilers, only one re-creates it. Every job
    sent before that time and not started since is lost, so a wipe with more outstanding jobs
    than one pass takes is finished by the next passes. The first pass on a new broker counts as
    a wipe (re-sending then costs a run number, never a result). The filesystem broker keeps its
    files: nothing to detect."""
    if client is None:
        return None, False
    key = f"{BROKER_MARKER}:{settings.CELERY_TASK_DEFAULT_QUEUE}"
    now = timezone.now()
    if client.set(key, now.isoformat(), nx=True):
        return now, True
    value = client.get(key)
    return (datetime.fromisoformat(value.decode()) if value else now), False


def _broker_idle(client) -> bool:
    """Whether no message waits in the queue and none is held by a worker. A job sent long ago
    and never started is only lost then: behind a long queue it is just waiting, and queueing it
    again (a new run at the back) would chase it forever."""
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    if client is not None:
        # kombu keeps delivered, unacknowledged messages (acks_late: also the running ones) in
        # the "unacked" hash until the task ends.
        return client.llen(queue) == 0 and client.hlen("unacked") == 0
    folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in")
    if folder:
        from pathlib import Path

        return not any(Path(folder).glob(f"*.{queue}.msg"))
    return True  # a broker whose queue cannot be seen: the lease alone decides


def _lost(now, lease: timedelta, epoch: datetime | None, idle: bool) -> Q:
    lost = Q(started_at__lt=now - lease)
    if idle:
        lost |= Q(sent_at__lt=now - lease, started_at__isnull=True)
    if epoch is not None:
        lost |= Q(sent_at__lt=epoch) & (Q(started_at__isnull=True) | Q(started_at__lt=epoch))
    return Q(finished_at__isnull=True, sent_at__isnull=False) & lost


def _claim_lost(now, lease: timedelta, epoch, idle: bool, limit: int) -> list[Job]:
    """Rows whose message is lost, each taken by exactly one reconciler: locked with SKIP
    LOCKED (PostgreSQL) and claimed by a conditional write (any database)."""
    claimed = []
    with transaction.atomic():
        rows = list(
            Job.objects.filter(_lost(now, lease, epoch, idle))
            .select_for_update(skip_locked=True)
            .order_by("id")[:limit]
        )
        for job in rows:
            same = Job.objects.filter(
                pk=job.pk, sent_at=job.sent_at, started_at=job.started_at, finished_at=None
            )
            requeue = RESENDERS.get(job.task)
            if requeue is not None:
                # A new run with a new job; this one is superseded.
                if same.delete()[0]:
                    requeue(*job.args)
                    claimed.append(job)
            elif same.update(sent_at=now, started_at=None, sends=F("sends") + 1):
                job.sent_at = now
                transaction.on_commit(lambda job=job: _deliver(job, retrying=True))
                claimed.append(job)
    return claimed


def reconcile() -> dict[str, int | bool]:
    """One bounded pass (LIMS_RECONCILE_BATCH rows a step), safe to run concurrently:
    (a) send rows never sent (the broker was down when they were written);
    (b) re-send rows whose message was lost: started but not finished within the lease (the
        hard time limit plus a margin, the same number as Redis's visibility timeout), sent but
        not started within it while the broker holds no message at all, or everything
        sent before the broker last lost its data and not started since;
        measurements and temperature series are queued again as a new run;
    (c) backstop: records queued/processing with no outstanding job at all.
    Old failed rows (kept for inspection) are pruned after LIMS_JOB_KEEP_FAILED_DAYS."""
    now = timezone.now()
    lease = timedelta(seconds=settings.LIMS_JOB_LEASE_S)
    limit = settings.LIMS_RECONCILE_BATCH
    report: dict[str, int | bool] = {"sent": 0, "resent": 0, "stranded": 0, "wiped": False}
    client = _redis()
    try:
        epoch, report["wiped"] = _broker_epoch(client)
        idle = _broker_idle(client)
    except Exception as exc:  # a broker that is down: nothing can be sent this pass anyway
        log.warning("reconcile: broker unreachable: %s", exc)
        return report
    finally:
        if client is not None:
            client.close()
    unsent = Job.objects.filter(sent_at__isnull=True, finished_at__isnull=True, created_at__lte=now)
    for pk in list(unsent.order_by("id").values_list("pk", flat=True)[:limit]):
        if send(pk, retrying=True):
            report["sent"] += 1
        elif time.monotonic() < _broker_down_until:
            return report  # the broker went away during the pass: the next pass goes on
    report["resent"] = len(_claim_lost(now, lease, epoch, idle, limit))
    for requeue_stranded in BACKSTOPS:
        report["stranded"] += requeue_stranded(limit)
    keep = timedelta(days=settings.LIMS_JOB_KEEP_FAILED_DAYS)
    old = Job.objects.filter(finished_at__lt=now - keep).values_list("pk", flat=True)[:limit]
    Job.objects.filter(pk__in=list(old)).delete()
    if report["sent"] or report["resent"] or report["stranded"] or report["wiped"]:
        log.warning("reconcile: %s", report)
    else:
        log.info("reconcile: nothing to do")
    return report
