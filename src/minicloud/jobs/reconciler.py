"""The reconciler: moves the database to what libvirt reports, one domain listing per host per pass.

- an instance in a steady state (running, stopped) follows its domain: a guest that powered
  itself off becomes ``stopped``, one started behind our back ``running``;
- an instance whose domain disappeared ends in ``error`` ("instance.domain_missing");
- domains and volumes of ours (DOMAIN_PREFIX) that no live instance owns are recorded as
  orphans in ``host_reports`` for the admin page; nothing is deleted automatically.

Instances in a transitional state (building, stopping, ...) belong to their job, which
the queue re-runs after a crash, so a pass leaves them alone. Passes run every
``compute.reconcile_seconds`` and at once after a libvirt lifecycle event.
"""
from __future__ import annotations

import logging

from minicloud import metrics
from minicloud.drivers.compute.base import BASE_IMAGE_PREFIX, ComputeError
from minicloud.jobs.registry import periodic
from minicloud.jobs.worker import JobContext, Worker
from minicloud.services import Services

log = logging.getLogger("minicloud.reconciler")

STEADY = ("running", "stopped")
# libvirt state -> the steady instance state it means
FOLLOW = {"running": "running", "shutoff": "stopped", "crashed": "stopped"}


def reconcile_host(services: Services, host: dict) -> dict:
    """One pass over one host; returns what changed and what was found."""
    # The rows first, then the listing: jobs run beside a pass, and a row that moves after it was read
    # is left alone (follow_domain compares updated_at), so a listing taken before a job's start or stop
    # cannot undo it.
    placed = services.instances.live_on(host["id"])
    try:
        driver = services.hosts.driver_for(host)
        domains = driver.list_domains()
        volumes = driver.list_volumes()
    except ComputeError as exc:
        services.hosts.record_unreachable(host["id"], str(exc))
        return {"host": host["name"], "reachable": False}
    changed = []
    for row in (row for row in placed if row["state"] in STEADY):
        actual = domains.get(row["domain_name"])
        if actual is None:
            new, key = "error", "instance.domain_missing"
        else:
            new, key = FOLLOW.get(actual, row["state"]), None
        if new != row["state"] and services.instances.follow_domain(row, new, key):
            changed.append((str(row["id"]), row["state"], new))
            log.info("instance %s: %s -> %s (libvirt says %s)", row["id"], row["state"], new, actual)
    owned = {row["domain_name"] for row in placed}
    # Only names no instance of this host owns are looked up (orphans, or an instance placed elsewhere
    # meanwhile): few, so the pass costs what the host lists, not what the platform holds.
    listed = {*domains, *(_volume_domain(v) for v in volumes if not v.startswith(BASE_IMAGE_PREFIX))}
    owned |= services.instances.domain_names(listed - owned)
    orphan_domains = sorted(name for name in domains if name not in owned)
    orphan_volumes = sorted(v for v in volumes if not _owned_volume(v, owned))
    services.hosts.record_report(host["id"], orphan_domains, orphan_volumes)
    return {"host": host["name"], "reachable": True, "changed": changed,
            "orphan_domains": orphan_domains, "orphan_volumes": orphan_volumes}


def _volume_domain(volume: str) -> str:
    """The domain a volume is named after: ``mc-…-disk.qcow2`` and ``mc-…-seed.iso`` belong to ``mc-…``."""
    return volume.rsplit("-", 1)[0]


def _owned_volume(volume: str, owned: set[str]) -> bool:
    """Base images are shared; an instance owns the volumes named after its domain."""
    return volume.startswith(BASE_IMAGE_PREFIX) or _volume_domain(volume) in owned


@periodic("compute.reconcile", "compute.reconcile_seconds")
@metrics.RECONCILE_SECONDS.time()
def reconcile(context: JobContext) -> list[dict]:
    """One pass over every enabled host."""
    services = context.services
    return [reconcile_host(services, host) for host in services.hosts.enabled()]


def watch_hosts(services: Services, worker: Worker) -> list:
    """Subscribe to lifecycle events of every enabled host; each event triggers a pass."""
    from minicloud.drivers.compute.events import LifecycleWatcher

    watchers = []
    for host in services.hosts.enabled():
        watcher = LifecycleWatcher(host["uri"], lambda name, event: worker.trigger("compute.reconcile"))
        watcher.ensure()
        watchers.append(watcher)
    return watchers
