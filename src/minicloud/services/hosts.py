"""Hypervisor hosts, their drivers, and placement (which host a new mini PC runs on).

The local host comes from ``[compute] default_host_uri`` and is inserted (or its
URI updated) as "local" the first time the service is used; administrators add
more and disable them. ``driver_for(host)`` is the host's compute driver, built from
its URI by ``Backends.compute`` (services/backends.py) and kept for the process.

Placement picks, among enabled hosts, one with room for the instance — the sum
of its live instances' vCPUs and RAM against the host's capacity (times the
allocation ratios) and, for GPU templates, N GPUs not yet assigned — and prefers
the one with the most free memory. It runs under one transaction-scoped
advisory lock held until the instance service has recorded the choice in the same
transaction, so two create jobs never take the same room or the same GPU.

The reconciler's findings per host (reachable or not, orphan domains and volumes)
are written here too (``record_report``) and shown on the admin page (``reports``).
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass

import psycopg
import psycopg.errors
from psycopg.types.json import Jsonb

from minicloud.config import Config
from minicloud.db.pool import Database
from minicloud.db.sql import update_row
from minicloud.drivers.compute.base import ComputeDriver, ComputeError, GpuDevice, HostInfo, HostUnavailable
from minicloud.errors import Conflict, NotFoundError
from minicloud.services.backends import ComputeFactory
from minicloud.services.pagination import MAX_LIMIT, Keyset

log = logging.getLogger("minicloud.hosts")
COLUMNS = "id, name, uri, enabled, created_at"
_ORDER = Keyset((("h.created_at", "time", "created_at"), ("h.id", "uuid", "id")))
# every host with what its live instances take
_WITH_USE = ("SELECT * FROM (SELECT h.id, h.name, h.uri, h.enabled, h.created_at,"
             " count(i.id) AS instances, coalesce(sum(i.vcpus), 0) AS vcpus_used,"
             " coalesce(sum(i.ram_mib), 0) AS ram_mib_used, coalesce(sum(i.disk_gib), 0) AS disk_gib_used,"
             " (SELECT count(*) FROM gpu_assignments g WHERE g.host_id = h.id) AS gpus_used"
             " FROM hosts h LEFT JOIN instances i ON i.host_id = h.id AND i.state <> 'deleted'"
             " GROUP BY h.id) h")
DEFAULT_HOST = "local"
_PLACEMENT_LOCK = "minicloud:placement"


class NoRoom(ComputeError):
    """No enabled host has room for the instance (a reason a person can act on)."""


@dataclass
class Placement:
    host: dict
    gpus: tuple[GpuDevice, ...]


class Hosts:
    def __init__(self, db: Database, config: Config, compute: ComputeFactory):
        self.db = db
        self.config = config
        self.compute = compute
        self._drivers: dict[str, ComputeDriver] = {}
        self._lock = threading.Lock()
        self._default_ensured = False
        self._health: tuple[float, dict | Exception] | None = None
        self._health_thread: threading.Thread | None = None

    # -- rows ------------------------------------------------------------------------------------
    def ensure_default(self) -> dict:
        """Insert the local host from the configuration, or bring its URI up to date (idempotent)."""
        row = self.db.fetchone(
            f"INSERT INTO hosts (name, uri) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET uri = EXCLUDED.uri"
            f" RETURNING {COLUMNS}", (DEFAULT_HOST, self.config.get("compute.default_host_uri")))
        self._default_ensured = True
        return row

    def _ensure(self) -> None:
        if not self._default_ensured:
            self.ensure_default()

    def list(self, *, limit: int = MAX_LIMIT, cursor: str | None = None) -> dict:
        """A page of the hosts, oldest first, with what their live instances take (vCPUs, RAM, disk, GPUs)."""
        self._ensure()
        return _ORDER.fetch(self.db, _WITH_USE, [], {}, limit, cursor)

    def get(self, host_id: uuid.UUID, conn: psycopg.Connection | None = None) -> dict:
        sql, params = f"SELECT {COLUMNS} FROM hosts WHERE id = %s", (host_id,)
        row = conn.execute(sql, params).fetchone() if conn is not None else self.db.fetchone(sql, params)
        if row is None:
            raise NotFoundError("host.not_found")
        return row

    def create(self, name: str, uri: str, enabled: bool = True) -> dict:
        self._ensure()
        try:
            return self.db.fetchone(f"INSERT INTO hosts (name, uri, enabled) VALUES (%s, %s, %s) RETURNING {COLUMNS}",
                                    (name, uri, enabled))
        except psycopg.errors.UniqueViolation:
            raise Conflict("host.name_taken", code="name_taken", name=name) from None

    def update(self, host_id: uuid.UUID, changes: dict) -> dict:
        changes = {k: v for k, v in changes.items() if k in ("name", "uri", "enabled") and v is not None}
        if not changes:
            return self.get(host_id)
        try:
            row = update_row(self.db, "hosts", host_id, changes, COLUMNS)
        except psycopg.errors.UniqueViolation:
            raise Conflict("host.name_taken", code="name_taken", name=changes.get("name")) from None
        if row is None:
            raise NotFoundError("host.not_found")
        if "uri" in changes:
            with self._lock:
                self._drivers.pop(str(host_id), None)
        return row

    # -- drivers ---------------------------------------------------------------------------------
    def driver_for(self, host: dict) -> ComputeDriver:
        """The host's driver (one per host and URI, kept for the life of the process)."""
        key = f"{host['id']}|{host['uri']}"
        with self._lock:
            driver = self._drivers.get(key)
            if driver is None:
                driver = self._drivers[key] = self.compute(host["uri"])
            return driver

    def default_host_health(self, wait: float = 2.0, max_age: float = 30.0) -> dict:
        """For /readyz: the local host's domain type, read in the background (never blocks long)."""
        def probe() -> None:
            try:
                uri = self.config.get("compute.default_host_uri")
                info = self.driver_for({"id": DEFAULT_HOST, "uri": uri}).host_info()
                result: dict | Exception = {"uri": uri, "domain_type": info.domain_type}
            except Exception as exc:  # noqa: BLE001 - reported, never raised into the request
                result = exc
            self._health = (time.monotonic(), result)

        with self._lock:
            stale = self._health is None or time.monotonic() - self._health[0] > max_age
            if stale and (self._health_thread is None or not self._health_thread.is_alive()):
                self._health_thread = threading.Thread(target=probe, name="libvirt-health", daemon=True)
                self._health_thread.start()
            thread = self._health_thread
        if self._health is None and thread is not None:
            thread.join(wait)
        if self._health is None:
            raise ComputeError("libvirt did not answer in time")
        result = self._health[1]
        if isinstance(result, Exception):
            raise ComputeError(f"{type(result).__name__}: {result}")
        return result

    # -- placement -------------------------------------------------------------------------------
    def choose(self, conn: psycopg.Connection, instance: dict, infos: dict[uuid.UUID, HostInfo]) -> Placement:
        """Inside the caller's transaction: the host (and GPUs) for ``instance``; ``NoRoom`` when none fits.

        ``infos`` maps host id -> HostInfo (read from the drivers beforehand, outside any lock). The
        placement lock is held until the transaction ends: the caller records the choice in it.
        """
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (_PLACEMENT_LOCK,))
        cpu_ratio = float(self.config.get("compute.cpu_allocation_ratio"))
        ram_ratio = float(self.config.get("compute.ram_allocation_ratio"))
        used = {r["host_id"]: r for r in conn.execute(
            "SELECT host_id, sum(vcpus) AS vcpus, sum(ram_mib) AS ram_mib FROM instances"
            " WHERE host_id IS NOT NULL AND state <> 'deleted' AND id <> %s GROUP BY host_id",
            (instance["id"],)).fetchall()}
        taken: dict[uuid.UUID, set[str]] = {}
        for r in conn.execute("SELECT host_id, address FROM gpu_assignments").fetchall():
            taken.setdefault(r["host_id"], set()).add(r["address"])
        candidates = []
        for host in conn.execute(f"SELECT {COLUMNS} FROM hosts WHERE enabled ORDER BY created_at, name").fetchall():
            info = infos.get(host["id"])
            if info is None:
                continue
            u = used.get(host["id"], {"vcpus": 0, "ram_mib": 0})
            free_vcpus = info.vcpus * cpu_ratio - u["vcpus"]
            free_ram = info.ram_mib * ram_ratio - u["ram_mib"]
            free_gpus = tuple(g for g in info.gpus if g.address not in taken.get(host["id"], set()))
            if free_vcpus < instance["vcpus"] or free_ram < instance["ram_mib"] or len(free_gpus) < instance["gpus"]:
                continue
            candidates.append((free_ram, info.free_ram_mib, host, free_gpus))
        if not candidates:
            raise NoRoom("no enabled host has room for this mini PC")
        candidates.sort(key=lambda c: (c[0], c[1]), reverse=True)
        _, _, host, free_gpus = candidates[0]
        return Placement(host, free_gpus[:instance["gpus"]])

    def infos(self, enabled_only: bool = True) -> dict[uuid.UUID, HostInfo]:
        """HostInfo of every (enabled) host that answers; hosts that do not are left out (logged)."""
        self._ensure()
        where = " WHERE enabled" if enabled_only else ""
        found, unreachable = {}, []
        for host in self.db.fetchall(f"SELECT {COLUMNS} FROM hosts{where}"):
            try:
                found[host["id"]] = self.driver_for(host).host_info()
            except ComputeError as exc:
                log.warning("host %s (%s) left out of placement: %s", host["name"], host["uri"], exc)
                if isinstance(exc, HostUnavailable):
                    unreachable.append(f"{host['name']}: {exc}")
        if not found and unreachable:
            raise HostUnavailable("no host can be reached (" + "; ".join(unreachable) + ")")
        return found

    def enabled(self) -> list[dict]:
        """The enabled hosts, by name."""
        return self.db.fetchall(f"SELECT {COLUMNS} FROM hosts WHERE enabled ORDER BY name")

    def record_unreachable(self, host_id: uuid.UUID, error: str) -> None:
        """The reconciler could not list the host: its report says so, with the error (orphans kept)."""
        self.db.execute(
            "INSERT INTO host_reports (host_id, reachable, error) VALUES (%s, false, %s)"
            " ON CONFLICT (host_id) DO UPDATE SET checked_at = now(), reachable = false, error = EXCLUDED.error",
            (host_id, error[:500]))

    def record_report(self, host_id: uuid.UUID, orphan_domains: list[str], orphan_volumes: list[str]) -> None:
        """The reconciler listed the host: it answered, and these domains and volumes of ours have no owner."""
        self.db.execute(
            "INSERT INTO host_reports (host_id, reachable, orphan_domains, orphan_volumes) VALUES (%s, true, %s, %s)"
            " ON CONFLICT (host_id) DO UPDATE SET checked_at = now(), reachable = true, error = NULL,"
            " orphan_domains = EXCLUDED.orphan_domains, orphan_volumes = EXCLUDED.orphan_volumes",
            (host_id, Jsonb(orphan_domains), Jsonb(orphan_volumes)))

    def reports(self) -> list[dict]:
        """Per host, from the reconciler's last pass: when, whether it answered, the orphans it found."""
        return self.db.fetchall(
            "SELECT h.id, h.name, h.uri, h.enabled, r.checked_at, r.reachable, r.error, r.orphan_domains,"
            " r.orphan_volumes FROM hosts h LEFT JOIN host_reports r ON r.host_id = h.id ORDER BY h.name")
