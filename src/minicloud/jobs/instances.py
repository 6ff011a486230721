"""Mini PC jobs: create, start, stop, reboot, resize, delete.

Each job holds its instance's advisory lock (one job per instance at a time),
re-reads the instance and does nothing when the state shows the work is done
or superseded (say, deleted meanwhile), so a job run again after a crash is
safe; the drivers' operations are idempotent too. The jobs call the driver and
then the instance service's transition (``built``, ``stopped`` …): only the
service writes the instance.

Failures (``registry.guarded``): an unavailable backend (libvirtd down, the database
restarting: ``registry.UNAVAILABLE``) and unexpected errors are retried with the queue's
backoff; a ``ComputeError`` (a reason a person can act on) or another ``ApiError``, or the
last attempt of anything, puts the instance in ``error`` with a catalog key
("instance.create_failed" …) and the cause, and fails the job for good. So does a job
abandoned after its last attempt never ended (its worker died).
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Callable

from minicloud.drivers.compute.base import ComputeDriver, ComputeError, GpuDevice, HostUnavailable
from minicloud.errors import ApiError
from minicloud.jobs.registry import AbandonedFunction, guarded, job_type
from minicloud.jobs.worker import JobContext
from minicloud.services import Services

log = logging.getLogger("minicloud.jobs.instances")


Work = Callable[[dict, JobContext, dict], dict]


def _instance_job(kind: str, key: str, states: tuple[str, ...]) -> Callable[[Work], Work]:
    """Register ``work(job, context, instance)`` as job type ``kind``: it runs on an instance in one of
    ``states``, whose failure (and abandonment) puts the instance in ``error`` with catalog key ``key``."""
    def failed(job: dict, context: JobContext, cause: str) -> None:
        context.services.instances.fail(job["payload"]["instance_id"], key, cause, states)

    def register(work: Work) -> Work:
        job_type(kind, abandoned=failed)(lambda job, context: _run(job, context, states, work, failed))
        return work

    return register


def _run(job: dict, context: JobContext, expected: tuple[str, ...], work: Work,
         failed: AbandonedFunction) -> dict:
    services = context.services
    instance_id = job["payload"]["instance_id"]
    with services.instances.lock(instance_id):
        instance = services.instances.row(instance_id, include_deleted=True)
        if instance is None or instance["state"] not in expected:
            state = instance["state"] if instance else "gone"
            log.info("job %s: instance %s is %s; nothing to do", job["id"], instance_id, state)
            return {"instance_id": instance_id, "skipped": True, "state": state}
        return guarded(job, lambda: work(job, context, instance), lambda cause: failed(job, context, cause),
                       permanent=(ComputeError, ApiError))


def _host_gpus(services: Services, host: dict, instance: dict) -> tuple[GpuDevice, ...]:
    addresses = services.instances.gpus_of(instance["id"])
    if not addresses:
        return ()
    known = {g.address: g for g in services.hosts.driver_for(host).host_info().gpus}
    return tuple(known.get(a) or GpuDevice(address=a, name="pci_" + a.replace(":", "_").replace(".", "_"))
                 for a in addresses)


def _driver(services: Services, instance: dict) -> ComputeDriver:
    if instance["host_id"] is None:
        raise ComputeError("the mini PC was never placed on a host")
    return services.hosts.driver_for(services.hosts.get(instance["host_id"]))


@_instance_job("instance.create", "instance.create_failed", ("pending", "building"))
def create(job: dict, context: JobContext, instance: dict) -> dict:
    services = context.services
    instance_id = instance["id"]
    if instance["host_id"] is None:
        placement = services.instances.place(instance)
        host, gpus = placement.host, placement.gpus
    else:
        host = services.hosts.get(instance["host_id"])
        gpus = _host_gpus(services, host, instance)
        services.instances.building(instance_id)
    instance = services.instances.row(instance_id)
    if instance is None or instance["state"] != "building":
        return {"instance_id": str(instance_id), "skipped": True}
    driver = services.hosts.driver_for(host)
    spec = services.instances.spec(instance, gpus)
    if spec.nic.mode == "bridge":  # its subnet's bridge, lease and rules exist before the guest's first packet
        services.network_state.apply_now()
    artefacts = driver.create(spec)
    try:
        addresses = driver.addresses(instance["domain_name"])
    except ComputeError:
        addresses = []
    services.instances.built(instance_id, dataclasses.asdict(artefacts), list(addresses))
    return {"instance_id": str(instance_id), "state": "running", "host": host["name"],
            "gpus": [g.address for g in gpus]}


@_instance_job("instance.start", "instance.start_failed", ("starting",))
def start(job: dict, context: JobContext, instance: dict) -> dict:
    if (instance.get("nic") or {}).get("mode") == "bridge":  # after a host restart its bridge may be gone
        context.services.network_state.apply_now()
    _driver(context.services, instance).start(instance["domain_name"])
    context.services.instances.started(instance["id"])
    return {"instance_id": str(instance["id"]), "state": "running"}


@_instance_job("instance.stop", "instance.stop_failed", ("stopping",))
def stop(job: dict, context: JobContext, instance: dict) -> dict:
    _driver(context.services, instance).stop(instance["domain_name"],
                                             float(context.config.get("compute.stop_timeout_seconds")))
    context.services.instances.stopped(instance["id"])
    return {"instance_id": str(instance["id"]), "state": "stopped"}


@_instance_job("instance.reboot", "instance.reboot_failed", ("rebooting",))
def reboot(job: dict, context: JobContext, instance: dict) -> dict:
    _driver(context.services, instance).reboot(instance["domain_name"])
    context.services.instances.rebooted(instance["id"])
    return {"instance_id": str(instance["id"]), "state": "running"}


@_instance_job("instance.resize", "instance.resize_failed", ("resizing",))
def resize(job: dict, context: JobContext, instance: dict) -> dict:
    services = context.services
    try:
        xml = _driver(services, instance).resize(instance["domain_name"], instance["vcpus"], instance["ram_mib"])
    except ComputeError as exc:
        if isinstance(exc, HostUnavailable) and job["attempts"] < job["max_attempts"]:
            raise
        previous = job["payload"].get("previous") or {}
        if previous:
            services.instances.undo_resize(instance["id"], previous)
        raise
    artefacts = dict(instance["artefacts"] or {})
    artefacts["domain_xml"] = xml
    artefacts.setdefault("calls", []).append(
        f"resize {instance['domain_name']} vcpus={instance['vcpus']} memory={instance['ram_mib']}MiB")
    services.instances.resized(instance["id"], artefacts)
    return {"instance_id": str(instance["id"]), "state": "stopped", "vcpus": instance["vcpus"],
            "ram_mib": instance["ram_mib"]}


@_instance_job("instance.delete", "instance.delete_failed", ("deleting",))
def delete(job: dict, context: JobContext, instance: dict) -> dict:
    if instance["host_id"] is not None:
        _driver(context.services, instance).delete(instance["domain_name"])
    context.services.instances.deleted(instance["id"])
    return {"instance_id": str(instance["id"]), "state": "deleted"}
