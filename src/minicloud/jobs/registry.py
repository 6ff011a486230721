"""Job types: ``@job_type("name")`` registers the function the worker calls for a job of that kind.

A job function receives ``(job: dict, context: JobContext)`` and returns a JSON-able
result. It must be safe to run again: a job whose worker died is run once more.

``@periodic("name", "section.interval_setting")`` registers a task every worker runs
when it is due (one worker at a time: the run holds an advisory lock), such as the
reconciler that compares the database with what the infrastructure reports.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from minicloud.jobs.worker import JobContext

JobFunction = Callable[[dict, "JobContext"], Any]
PeriodicFunction = Callable[["JobContext"], Any]
_REGISTRY: dict[str, JobFunction] = {}
_PERIODIC: dict[str, tuple[PeriodicFunction, str]] = {}


class PermanentJobError(Exception):
    """A failure that retrying cannot fix: the job fails at once with this message."""


def job_type(kind: str) -> Callable[[JobFunction], JobFunction]:
    def register(fn: JobFunction) -> JobFunction:
        _REGISTRY[kind] = fn
        return fn

    return register


def periodic(name: str, interval_setting: str) -> Callable[[PeriodicFunction], PeriodicFunction]:
    """Run ``fn(context)`` every ``config.get(interval_setting)`` seconds in some worker."""
    def register(fn: PeriodicFunction) -> PeriodicFunction:
        _PERIODIC[name] = (fn, interval_setting)
        return fn

    return register


def periodic_tasks() -> dict[str, tuple[PeriodicFunction, str]]:
    return dict(_PERIODIC)


def lookup(kind: str) -> JobFunction | None:
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
    for name in filter(None, (n.strip() for n in names.split(","))):
        importlib.import_module(name)
