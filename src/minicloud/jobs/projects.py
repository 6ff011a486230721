"""The ``project.delete`` job (``{"project_id"}``, queued by ``DELETE /api/v1/projects/{id}``): everything the
project owns taken apart through each owning service, then the project's row.

Steps, in order, each recorded on the operation as it ends (``queue.record_progress``):
``apps`` (each through the apps service's delete path, so its Kubernetes objects go), ``namespace`` (the
project's namespace), ``instances`` (mini PCs in no VPC subnet), one ``vpc`` cascade per VPC (the steps of
``jobs.networks.delete_vpc_cascade``, each carrying its ``vpc_id``), ``public_ips`` (released), ``buckets``
(emptied and deleted), ``project`` (the row, with its members, quotas and key pairs). The project stays visible
until the last step. A failing step ends the job with its error; a backend that may come back, or something made in
the project while the job ran (the last step refuses), is retried (the job reads what is left afresh, so
what is gone is skipped); the project then stays, and a new DELETE
queues a new job.
"""
from __future__ import annotations

import uuid
from typing import Any, Callable

from minicloud.drivers.network.base import NetworkError, NetworkUnavailable
from minicloud.errors import ApiError
from minicloud.jobs.networks import Progress, delete_instance, delete_vpc_cascade
from minicloud.jobs.registry import UNAVAILABLE, PermanentJobError, cause_of, job_type
from minicloud.jobs.worker import JobContext
from minicloud.services import app_names


class ProjectProgress(Progress):
    """The job's steps as they grow, under the project's id."""

    def result(self) -> dict:
        return {"project_id": self.job["payload"]["project_id"], "steps": list(self.steps)}


class _InVpc:
    """What a VPC cascade records, passed on with the VPC's id."""

    def __init__(self, progress: ProjectProgress, vpc_id: uuid.UUID):
        self.progress, self.vpc_id = progress, vpc_id
        self.steps = progress.steps

    def record(self, step: dict) -> None:
        self.progress.record({**step, "vpc_id": str(self.vpc_id)})


def _step(progress: ProjectProgress, name: str, ids: list, delete_one: Callable[[Any], Any]) -> Exception | None:
    """``delete_one(id)`` for each id, recorded as one step (an id whose delete answered False had nothing to
    delete and is not listed); the error that ended it, else None."""
    deleted: list[str] = []
    try:
        for item_id in ids:
            if delete_one(item_id) is not False:
                deleted.append(str(item_id))
    except Exception as exc:  # noqa: BLE001 - the step's outcome says why; the job fails after it
        progress.record({"step": name, "deleted": deleted, "ok": False, "error": cause_of(exc)})
        return exc
    progress.record({"step": name, "deleted": deleted, "ok": True})
    return None


def _ids(context: JobContext, sql: str, project_id: uuid.UUID, column: str = "id") -> list:
    return [row[column] for row in context.services.db.fetchall(sql, (project_id,))]


def _delete_app(context: JobContext, project_id: uuid.UUID, app_id: uuid.UUID) -> None:
    """The app through its service: marked DELETING with its ``app.delete`` job queued, as a user's delete
    does, then its objects and row removed here and now (the queued job then finds nothing to do)."""
    apps = context.services.apps
    try:
        apps.delete(project_id, app_id)
    except ApiError as exc:  # already being deleted, or a job works on it: deleted here all the same
        if getattr(exc, "status", None) == 503:
            raise
    apps.run_delete(app_id)


def delete_project_cascade(job: dict, context: JobContext, project_id: uuid.UUID,
                           progress: ProjectProgress) -> Exception | None:
    """Every step in order; None when each went through, else the error of the step that ended it."""
    services = context.services
    steps: list[tuple[str, Callable[[], list], Callable[[Any], Any]]] = [
        ("apps", lambda: _ids(context, "SELECT id FROM apps WHERE project_id = %s ORDER BY created_at", project_id),
         lambda app_id: _delete_app(context, project_id, app_id)),
        ("namespace", lambda: [app_names.namespace_for(project_id)], lambda _: services.apps.delete_namespace(project_id)),
        ("instances", lambda: _ids(context, "SELECT id FROM instances WHERE project_id = %s AND subnet_id IS NULL"
                                            " AND state <> 'deleted' ORDER BY created_at", project_id),
         lambda instance_id: delete_instance(job, context, project_id, instance_id)),
    ]
    for name, ids, delete_one in steps:
        error = _step(progress, name, ids(), delete_one)
        if error is not None:
            return error
    for vpc_id in _ids(context, "SELECT id FROM vpcs WHERE project_id = %s ORDER BY created_at", project_id):
        error = delete_vpc_cascade(job, context, project_id, vpc_id, _InVpc(progress, vpc_id))
        if error is not None:
            return error
    buckets = _ids(context, "SELECT name FROM buckets WHERE project_id = %s ORDER BY created_at", project_id, "name")
    for name, ids, delete_one in [
        ("public_ips", _ids(context, "SELECT id FROM public_ips WHERE project_id = %s ORDER BY created_at", project_id),
         lambda ip_id: services.public_ips.delete(project_id, ip_id)),
        ("buckets", buckets, lambda bucket: services.storage.delete_bucket(project_id, bucket, force=True)),
        ("project", [project_id], lambda _: services.projects.remove(project_id)),
    ]:
        error = _step(progress, name, ids, delete_one)
        if error is not None:
            return error
    return None


@job_type("project.delete")
def delete_project(job: dict, context: JobContext) -> Any:
    project_id = uuid.UUID(str(job["payload"]["project_id"]))
    progress = ProjectProgress(job, context)
    error = delete_project_cascade(job, context, project_id, progress)
    if error is None:
        return progress.result()
    failed = progress.steps[-1]
    message = f"step {failed['step']} failed: {failed['error']}"
    made_meanwhile = isinstance(error, ApiError) and error.code == "project_not_empty"
    retry = made_meanwhile or isinstance(error, UNAVAILABLE) or (isinstance(error, NetworkError) and
                                                                 not isinstance(error, NetworkUnavailable))
    if retry and job["attempts"] < job["max_attempts"]:
        raise RuntimeError(message) from error  # run again: what is gone is skipped
    raise PermanentJobError(message) from error
