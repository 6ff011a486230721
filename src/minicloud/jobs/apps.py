"""App jobs: deploy, redeploy, scale, delete — and the periodic status refresh.

Each job re-reads its app and does nothing when it is gone or being deleted, and every driver
operation is idempotent, so a job run again after a crash converges. The cluster not answering
(``ClusterUnavailable``) is retried with the queue's backoff; anything the cluster refused
(``KubernetesError``), or the last attempt, puts the app in FAILED with the cause.
"""
from __future__ import annotations

import logging
from typing import Callable

from minicloud.drivers.containers.base import ClusterUnavailable, KubernetesError
from minicloud.jobs.registry import PermanentJobError, job_type, periodic
from minicloud.jobs.worker import JobContext

log = logging.getLogger("minicloud.jobs.apps")


def _guard(job: dict, context: JobContext, work: Callable[[str], dict]) -> dict:
    apps = context.services.apps
    app_id = job["payload"]["app_id"]
    last = job["attempts"] >= job["max_attempts"]
    try:
        return work(app_id)
    except ClusterUnavailable as exc:
        if last:
            apps.fail(app_id, str(exc))
            raise PermanentJobError(str(exc)) from exc
        raise
    except KubernetesError as exc:
        apps.fail(app_id, str(exc))
        raise PermanentJobError(str(exc)) from exc
    except Exception as exc:
        if last:
            apps.fail(app_id, f"{type(exc).__name__}: {exc}")
        raise


@job_type("app.deploy")
def deploy(job: dict, context: JobContext) -> dict:
    return _guard(job, context, context.services.apps.run_deploy)


@job_type("app.redeploy")
def redeploy(job: dict, context: JobContext) -> dict:
    return _guard(job, context, context.services.apps.run_redeploy)


@job_type("app.scale")
def scale(job: dict, context: JobContext) -> dict:
    return _guard(job, context, context.services.apps.run_scale)


@job_type("app.delete")
def delete(job: dict, context: JobContext) -> dict:
    return _guard(job, context, context.services.apps.run_delete)


@periodic("apps.refresh", "kubernetes.refresh_seconds")
def refresh(context: JobContext) -> int:
    """Observe every app no job is working on; marks MISSING what was removed behind our back."""
    return context.services.apps.refresh_all()
