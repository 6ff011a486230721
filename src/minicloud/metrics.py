"""Metrics in Prometheus's format: every metric minicloud keeps, and how they are read out.

The web process counts requests (by route endpoint, never the raw path, so the series stay
few), the drivers time their calls to libvirt, Swift and Kubernetes, the job worker times
each job and counts its failures, the reconciler times its passes. ``exposition`` renders
them for ``GET /metrics`` together with gauges read from the database at scrape time.

gunicorn forks several workers, and ``minicloud worker`` is a process of its own: with
``PROMETHEUS_MULTIPROC_DIR`` set (configs/gunicorn.conf.py, scripts/run.sh), each process writes its
values to files there and a scrape sums them over every process, the dead ones included (a
counter never goes back). Without it (tests, one process) the values live in this process.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "unmatched"  # the endpoint label of a request no route answered (404, 405, OPTIONS)

HTTP_REQUESTS = Counter("minicloud_http_requests", "HTTP requests answered, by route endpoint and status",
                        ["endpoint", "status"])
HTTP_SECONDS = Histogram("minicloud_http_request_duration_seconds",
                         "Seconds from a request's arrival to its answer's headers, by route endpoint", ["endpoint"])
JOB_SECONDS = Histogram("minicloud_job_duration_seconds", "Seconds one run of a job took, by kind", ["kind"],
                        buckets=(0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, float("inf")))
JOB_FAILURES = Counter("minicloud_job_failures", "Runs of a job that raised, by kind (each retry counts)", ["kind"])
RECONCILE_SECONDS = Histogram("minicloud_reconcile_pass_duration_seconds",
                              "Seconds one reconciler pass over every host took",
                              buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, float("inf")))
BACKEND_SECONDS = Histogram("minicloud_backend_call_duration_seconds",
                            "Seconds a driver method took, by backend (libvirt, swift, kubernetes) and method",
                            ["backend", "operation"])


_REQUEST_SERIES: dict[tuple[str, int], tuple[Any, Any]] = {}  # (endpoint, status) -> its counter and histogram


def observe_request(endpoint: str | None, status: int, seconds: float) -> None:
    """Count one answered request; ``endpoint`` is None when no route matched. The series of each
    (endpoint, status) are looked up once (endpoints are the route table's, so they are few)."""
    key = (endpoint or UNMATCHED, status)
    series = _REQUEST_SERIES.get(key)
    if series is None:
        series = _REQUEST_SERIES[key] = (HTTP_REQUESTS.labels(key[0], str(status)), HTTP_SECONDS.labels(key[0]))
    series[0].inc()
    series[1].observe(seconds)


def observe_backend_call(backend: str, operation: str, seconds: float) -> None:
    BACKEND_SECONDS.labels(backend, operation).observe(seconds)


def timed_job(kind: str, run: Callable[..., Any], *args: Any) -> Any:
    """``run(*args)``, its duration observed under ``kind``, and counted as a failure when it raises."""
    started = time.perf_counter()
    try:
        return run(*args)
    except Exception:
        JOB_FAILURES.labels(kind).inc()
        raise
    finally:
        JOB_SECONDS.labels(kind).observe(time.perf_counter() - started)


@dataclass(frozen=True)
class StateGauge:
    """A gauge read at scrape time: how many of something are in each state."""

    name: str
    documentation: str
    counts: dict[str, int]

    def family(self) -> GaugeMetricFamily:
        family = GaugeMetricFamily(self.name, self.documentation, labels=["state"])
        for state, count in sorted(self.counts.items()):
            family.add_metric([state], count)
        return family


@dataclass(frozen=True)
class Gauge:
    """A gauge of one value read at scrape time."""

    name: str
    documentation: str
    value: float

    def family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(self.name, self.documentation, value=self.value)


class _Collector:
    """A collector yielding what ``collected()`` returns."""

    def __init__(self, collected: Callable[[], Iterable]):
        self.collect = collected


def exposition(gauges: Iterable["Gauge | StateGauge"], accept: str | None) -> tuple[bytes, str]:
    """(body, content type): every process's metrics and ``gauges``, in the format ``accept`` prefers
    (the Prometheus text format, or OpenMetrics when asked for)."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROCESS_DIR):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Collector(REGISTRY.collect))
    families = [gauge.family() for gauge in gauges]
    registry.register(_Collector(lambda: families))
    encode, content_type = choose_encoder(accept)
    return encode(registry), content_type
