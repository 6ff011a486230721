"""App jobs: deploy, redeploy, scale, delete — and the periodic status refresh.

Each job re-reads its app and does nothing when it is gone or being deleted, and every driver
operation is idempotent, so a job run again after a crash converges. An unavailable backend (the
cluster not answering, the database restarting: ``registry.UNAVAILABLE``) is retried with the queue's
backoff; anything the cluster refused (``KubernetesError``), or the last attempt, puts the app in
FAILED with the cause, as does a job abandoned after its last attempt never ended.
"""
from __future__ import annotations

import logging
from typing import Callable

from minicloud.drivers.containers.base import KubernetesError
from minicloud.jobs.registry import guarded, job_type, periodic
from minicloud.jobs.worker import JobContext
from minicloud.services import Services

log = logging.getLogger("minicloud.jobs.apps")


def _app_job(kind: str, run: Callable[[Services, str], dict]) -> None:
    """Register job type ``kind``: ``run(services, app_id)``, whose failure (and abandonment) puts the app
    in FAILED with the cause."""
    def failed(job: dict, context: JobContext, cause: str) -> None:
        context.services.apps.fail(job["payload"]["app_id"], cause)

    def carry_out(job: dict, context: JobContext) -> dict:
        return guarded(job, lambda: run(context.services, job["payload"]["app_id"]),
                       lambda cause: failed(job, context, cause), permanent=(KubernetesError,))

    job_type(kind, abandoned=failed)(carry_out)


_app_job("app.deploy", lambda services, app_id: services.apps.run_deploy(app_id))
_app_job("app.redeploy", lambda services, app_id: services.apps.run_redeploy(app_id))
_app_job("app.scale", lambda services, app_id: services.apps.run_scale(app_id))
_app_job("app.delete", lambda services, app_id: services.apps.run_delete(app_id))


@periodic("apps.refresh", "kubernetes.refresh_seconds")
def refresh(context: JobContext) -> int:
    """Observe every app no job is working on; marks MISSING what was removed behind our back."""
    return context.services.apps.refresh_all()
