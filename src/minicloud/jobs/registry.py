"""Job types: ``@job_type("name")`` registers the function the worker calls for a job of that kind.

A job function receives ``(job: dict, context: JobContext)`` and returns a JSON-able
result. It must be safe to run again: a job whose worker died is run once more.
``abandoned(job, context, cause)``, when a kind names one, says what becomes of the job's
resource when the job is given up after its last attempt never ended (its worker died): else
the resource would stay in the transitional state the job was to move it out of.

``@periodic("name", "section.interval_setting")`` registers a task every worker runs
when it is due (one worker at a time: the run holds an advisory lock), such as the
reconciler that compares the database with what the infrastructure reports.

``guarded`` is how a job decides between retrying and failing for good: a backend that is
unavailable (``UNAVAILABLE``: the database, a host, the storage, the cluster — the 503 family)
is retried with the queue's backoff until the last attempt.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from minicloud.drivers.compute.base import HostUnavailable
from minicloud.drivers.containers.base import ClusterUnavailable
from minicloud.drivers.storage.base import StorageUnavailable
from minicloud.errors import ApiError, ServiceUnavailable

if TYPE_CHECKING:
    from minicloud.jobs.worker import JobContext

JobFunction = Callable[[dict, "JobContext"], Any]
AbandonedFunction = Callable[[dict, "JobContext", str], None]
PeriodicFunction = Callable[["JobContext"], Any]
UNAVAILABLE = (ServiceUnavailable, HostUnavailable, StorageUnavailable, ClusterUnavailable)
"""Failures of a backend that may come back (each answers 503 at the API): a job retries them."""


@dataclass(frozen=True)
class JobType:
    run: JobFunction
    abandoned: AbandonedFunction | None = None


_REGISTRY: dict[str, JobType] = {}
_PERIODIC: dict[str, tuple[PeriodicFunction, str]] = {}


class PermanentJobError(Exception):
    """A failure that retrying cannot fix: the job fails at once with this message."""


def job_type(kind: str, abandoned: AbandonedFunction | None = None) -> Callable[[JobFunction], JobFunction]:
    def register(fn: JobFunction) -> JobFunction:
        _REGISTRY[kind] = JobType(fn, abandoned)
        return fn

    return register


def cause_of(exc: Exception) -> str:
    """What a person reads of a failure (an ``ApiError`` in English, its catalog key being for the web layer)."""
    return exc.message("en") if isinstance(exc, ApiError) else str(exc)


def guarded(job: dict, work: Callable[[], Any], mark_failed: Callable[[str], None],
            permanent: tuple[type[Exception], ...]) -> Any:
    """``work()``, whose failure ``mark_failed(cause)`` records on the job's resource when retrying cannot
    help: at once for ``permanent`` errors (then the job fails for good), on the last attempt for anything
    else. ``UNAVAILABLE`` backends and unexpected errors are retried with the queue's backoff."""
    last = job["attempts"] >= job["max_attempts"]
    try:
        return work()
    except UNAVAILABLE as exc:
        if last:
            mark_failed(cause_of(exc))
            raise PermanentJobError(cause_of(exc)) from exc
        raise
    except permanent as exc:
        mark_failed(cause_of(exc))
        raise PermanentJobError(cause_of(exc)) from exc
    except Exception as exc:
        if last:
            mark_failed(f"{type(exc).__name__}: {exc}")
        raise


def periodic(name: str, interval_setting: str) -> Callable[[PeriodicFunction], PeriodicFunction]:
    """Run ``fn(context)`` every ``config.get(interval_setting)`` seconds in some worker."""
    def register(fn: PeriodicFunction) -> PeriodicFunction:
        _PERIODIC[name] = (fn, interval_setting)
        return fn

    return register


def periodic_tasks() -> dict[str, tuple[PeriodicFunction, str]]:
    return dict(_PERIODIC)


def lookup(kind: str) -> JobType | None:
    return _REGISTRY.get(kind)


def kinds() -> list[str]:
    return sorted(_REGISTRY)


def load_modules(names: str) -> None:
    """Import the built-in job modules and every extra one named (comma-separated)."""
    importlib.import_module("minicloud.jobs.maintenance")
    importlib.import_module("minicloud.jobs.instances")
    importlib.import_module("minicloud.jobs.reconciler")
    importlib.import_module("minicloud.jobs.storage")
    importlib.import_module("minicloud.jobs.apps")
    importlib.import_module("minicloud.jobs.networks")
    importlib.import_module("minicloud.jobs.projects")
    for name in filter(None, (n.strip() for n in names.split(","))):
        importlib.import_module(name)
