"""Network jobs: apply the desired state to the host, the reconciler pass, and a VPC's cascading delete.

- ``network.apply`` (queued by ``NetworkState.request_apply`` in the transaction of every change; at most
  one waits): ``services.network_state.apply_now()``. A host that cannot enforce networks
  (``NetworkUnavailable``) fails the job for good with the driver's message; a failed step
  (``NetworkError``) is retried with the queue's backoff (the driver leaves the old rules in place).
- ``network.reconcile`` (every ``network.reconcile_seconds``): the same apply. The driver converges and
  changes nothing when the host matches, so a pass that reports changes repaired drift (a bridge or a
  table removed behind our back, a host restart) or ran before a change's own apply job; it is logged.
- ``vpc.delete`` (``{"vpc_id"}``): the cascade of ``DELETE /vpcs/{id}?cascade=true`` — each step calls the
  owning service's delete (instances, public IPs (disassociated: they stay the project's), subnets, route
  tables, gateway, groups (rules naming them first), ACLs, the VPC);
  the result lists each step's outcome and is written as it goes (``queue.record_progress``), so the
  operation shows the steps done so far while it runs.
"""
from __future__ import annotations

import logging
import uuid
from typing import Any

from minicloud.db import queue
from minicloud.drivers.network.base import NetworkError, NetworkUnavailable
from minicloud.jobs import instances as instance_jobs
from minicloud.errors import ApiError
from minicloud.jobs.registry import UNAVAILABLE, PermanentJobError, cause_of, job_type, periodic
from minicloud.jobs.worker import JobContext
from minicloud.services.principal import Principal, ProjectRef

log = logging.getLogger("minicloud.jobs.networks")

CASCADE_ORDER = ("instances", "public_ips", "subnets", "route_tables", "internet_gateway", "security_groups",
                 "network_acls", "vpc")


@job_type("network.apply")
def apply(job: dict, context: JobContext) -> dict:
    try:
        return context.services.network_state.apply_now()
    except NetworkUnavailable as exc:
        raise PermanentJobError(str(exc)) from exc
    except NetworkError:
        raise  # retried with backoff; the last attempt fails the job with this message


@periodic("network.reconcile", "network.reconcile_seconds")
def reconcile(context: JobContext) -> dict:
    """One pass: apply the desired state; what it had to change was drift, and is logged."""
    try:
        outcome = context.services.network_state.apply_now()
    except NetworkUnavailable as exc:
        log.warning("network reconcile: the host cannot apply networks: %s", exc)
        return {"applied": False, "reason": str(exc)}
    if outcome.get("changes"):
        log.warning("network reconcile changed the host (drift, or a change whose apply job had not run yet; "
                    "digest %s): %s", outcome["digest"], "; ".join(outcome["changes"]))
    return outcome


# ---- the VPC cascade ------------------------------------------------------------------------------

class Progress:
    """The cascade's result as it grows: written onto the job after each step."""

    def __init__(self, job: dict, context: JobContext):
        self.job, self.context = job, context
        self.steps: list[dict] = []

    def record(self, step: dict) -> None:
        self.steps.append(step)
        with self.context.services.db.connection() as conn:
            queue.record_progress(conn, self.job, self.context.worker, self.result())

    def result(self) -> dict:
        return {"vpc_id": self.job["payload"]["vpc_id"], "steps": list(self.steps)}


def delete_vpc_cascade(job: dict, context: JobContext, project_id: uuid.UUID, vpc_id: uuid.UUID,
                       progress: Progress) -> Exception | None:
    """Each step of the VPC's delete plan in order; None when every step went through. A step that fails is
    recorded with its error and ends the cascade (what follows it would fail on what is left): its error is
    returned."""
    services = context.services
    plan = {step["kind"]: step["items"] for step in services.vpcs.delete_plan(project_id, vpc_id)}
    for name in CASCADE_ORDER:
        items = plan.get(name, [])
        if name == "vpc":
            items = items or [{"kind": "vpc", "id": str(vpc_id)}]
        elif not items:
            progress.record({"step": name, "deleted": [], "ok": True})
            continue
        deleted: list[str] = []
        try:
            if name == "security_groups":  # groups that name each other: their references go first
                services.security_groups.drop_references(project_id, vpc_id)
            for item in items:
                _delete_one(job, context, project_id, vpc_id, name, item)
                deleted.append(str(item["id"]))
        except Exception as exc:  # noqa: BLE001 - the step's outcome says why; the job fails after it
            progress.record({"step": name, "deleted": deleted, "ok": False, "error": cause_of(exc)})
            return exc
        progress.record({"step": name, "deleted": deleted, "ok": True})
    return None


def _delete_one(job: dict, context: JobContext, project_id: uuid.UUID, vpc_id: uuid.UUID, step: str,
                item: dict) -> None:
    services = context.services
    item_id = uuid.UUID(str(item["id"]))
    if step == "instances":
        delete_instance(job, context, project_id, item_id)
    elif step == "public_ips":  # a public IP belongs to the project, not the VPC: it is only taken off
        services.public_ips.disassociate(project_id, item_id)
    elif step == "subnets":
        services.subnets.delete(project_id, item_id)
    elif step == "route_tables":
        services.vpcs.delete_route_table(project_id, item_id)
    elif step == "internet_gateway":
        services.vpcs.detach_gateway(project_id, vpc_id)
    elif step == "security_groups":
        services.security_groups.delete(project_id, item_id)
    elif step == "network_acls":
        services.network_acls.delete(project_id, item_id)
    elif step == "vpc":
        services.vpcs.delete(project_id, vpc_id)


def system_principal(job: dict, context: JobContext, project_id: uuid.UUID) -> Principal:
    """Who a cascade acts as: the user who asked for it (the job's ``user_id``), else the project's owner."""
    user_id = job.get("user_id")
    if user_id is None:
        owner = context.services.db.fetchone("SELECT owner_id FROM projects WHERE id = %s", (project_id,))
        user_id = owner["owner_id"] if owner else None
    return Principal(user_id=user_id, username="minicloud", display_name="minicloud", is_admin=True)


def delete_instance(job: dict, context: JobContext, project_id: uuid.UUID, instance_id: uuid.UUID) -> None:
    """The mini PC gone: moved to ``deleting`` through its service (which queues its ``instance.delete`` job,
    as a user's delete does), then deleted here and now under the instance's lock, the way that job does —
    the cascade does not wait on another job (one worker with one slot would wait for ever). The queued
    job then finds the instance deleted and does nothing. Raises what the driver or the service raises."""
    services = context.services
    row = services.instances.row(instance_id, include_deleted=True)
    if row is None or row["state"] == "deleted":
        return
    if row["state"] != "deleting":
        project = ProjectRef(project_id, "", "admin")
        try:
            services.instances.act(system_principal(job, context, project_id), project, instance_id, "delete")
        except ApiError:  # moved meanwhile (a user's delete): re-read below
            pass
    with services.instances.lock(instance_id):
        row = services.instances.row(instance_id, include_deleted=True)
        if row is None or row["state"] == "deleted":
            return
        if row["state"] != "deleting":
            raise NetworkError(f"mini PC {row['name']} is {row['state']}, not deleting")
        instance_jobs.delete(job, context, row)


@job_type("vpc.delete")
def delete_vpc(job: dict, context: JobContext) -> Any:
    project_id = uuid.UUID(str(job["project_id"]))
    vpc_id = uuid.UUID(str(job["payload"]["vpc_id"]))
    progress = Progress(job, context)
    error = delete_vpc_cascade(job, context, project_id, vpc_id, progress)
    if error is None:
        return progress.result()
    failed = progress.steps[-1]
    message = f"step {failed['step']} failed: {failed['error']}"
    retry = isinstance(error, UNAVAILABLE) or (isinstance(error, NetworkError) and
                                               not isinstance(error, NetworkUnavailable))
    if retry and job["attempts"] < job["max_attempts"]:
        raise RuntimeError(message) from error  # run again: the plan is read afresh, what is gone is skipped
    raise PermanentJobError(message) from error
