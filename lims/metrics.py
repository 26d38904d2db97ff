"""Every Prometheus metric of the LIMS, in one place: names, types, labels, buckets.

Two kinds, two exporters:

- The worker's own measurements (task durations, failures, measurement outcomes) are counted
  where the tasks run, by Celery signals (`lims/worker_metrics.py`), and exported by the worker
  main process on LIMS_WORKER_METRICS_PORT. With prometheus_client's multiprocess mode
  (PROMETHEUS_MULTIPROC_DIR) every prefork child writes its own file there and the exporter sums
  them, so a task counted in a child is never lost to the scrape.
- The lab's state (measurements and temperature series by status, broker queue depth, oldest
  queued work) is read at scrape time by the web's `/metrics` (`lims/metrics_view.py`) into the
  gauges built here from a plain `LabState`: one answer per scrape, nothing cached.

This module reads no database, broker or settings; what it is given is all it shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# Measurement tasks take from ~10 ms (a small TGA file) to minutes (1.5M rows, a long fit); the
# top bucket is the default task time limit (LIMS_TASK_TIME_LIMIT_S = 600).
TASK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, float("inf"))

TASK_DURATION = Histogram(
    "lims_task_duration_seconds",
    "Wall time of one Celery task run, by task name and final state (success, failure, retry).",
    ["task", "state"],
    buckets=TASK_BUCKETS,
)
TASK_FAILURES = Counter(
    "lims_task_failures",  # exported as lims_task_failures_total
    "Celery task runs that ended in an exception (a retried attempt counts as state=retry in "
    "the duration histogram, not here).",
    ["task"],
)
MEASUREMENT_OUTCOMES = Counter(
    "lims_measurement_outcomes",  # exported as lims_measurement_outcomes_total
    "Finished measurement runs by the status they ended in "
    "(done, done_with_warnings, needs_input, failed; stale: superseded by a newer run).",
    ["outcome"],
)
MEASUREMENT_TASK = "measurements.tasks.process_measurement"
OUTCOMES = ("done", "done_with_warnings", "needs_input", "failed", "stale")


@dataclass(frozen=True)
class LabState:
    """What the web's /metrics reads at scrape time. None means "could not be read": the
    source's `lims_source_up` is then 0 and its gauges are left out (absent, never a stale or
    invented zero)."""

    statuses: tuple[str, ...]
    measurements: Mapping[str, int] | None = None
    series: Mapping[str, int] | None = None
    # Age in seconds of the oldest queued measurement / series; absent when none is queued.
    oldest_queued_s: Mapping[str, float] = field(default_factory=dict)
    queue: str = ""
    queue_messages: int | None = None
    database_up: bool = True
    broker_up: bool = True
    # Outbox rows (core's Job model, H2): None until that model is installed.
    outbox_unsent: int | None = None
    outbox_outstanding: int | None = None


def lab_families(state: LabState) -> Iterable[GaugeMetricFamily]:
    up = GaugeMetricFamily(
        "lims_source_up", "1 when the source answered this scrape, else 0.", labels=["source"]
    )
    up.add_metric(["database"], 1 if state.database_up else 0)
    up.add_metric(["broker"], 1 if state.broker_up else 0)
    yield up
    for name, counts, what in (
        ("lims_measurements", state.measurements, "Measurements"),
        ("lims_temperature_series", state.series, "Temperature series (Arrhenius/VFT fits)"),
    ):
        if counts is None:
            continue
        family = GaugeMetricFamily(name, f"{what} by status.", labels=["status"])
        for status in state.statuses:  # every status, zeros included: a rate needs the series
            family.add_metric([status], counts.get(status, 0))
        yield family
    if state.oldest_queued_s:
        family = GaugeMetricFamily(
            "lims_oldest_queued_age_seconds",
            "Age of the oldest queued measurement or temperature series (for a measurement "
            "re-queued after it finished: since it last finished, an upper bound).",
            labels=["kind"],
        )
        for kind, age in sorted(state.oldest_queued_s.items()):
            family.add_metric([kind], age)
        yield family
    if state.queue_messages is not None:
        family = GaugeMetricFamily(
            "lims_queue_messages",
            "Messages waiting in the broker queue (not yet taken by a worker).",
            labels=["queue"],
        )
        family.add_metric([state.queue], state.queue_messages)
        yield family
    # The job outbox (core.models.Job); None when the database did not answer.
    if state.outbox_unsent is not None:
        yield GaugeMetricFamily(
            "lims_outbox_unsent",
            "Outbox jobs committed but never sent to the broker.",
            value=state.outbox_unsent,
        )
    if state.outbox_outstanding is not None:
        yield GaugeMetricFamily(
            "lims_outbox_outstanding",
            "Outbox jobs not finished (unsent, queued, running or failed and kept).",
            value=state.outbox_outstanding,
        )


class _Snapshot(Collector):
    def __init__(self, state: LabState):
        self.state = state

    def collect(self):
        return lab_families(self.state)


def exposition(state: LabState) -> bytes:
    """The Prometheus text format of one scrape's lab state."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(state))
    return generate_latest(registry)
