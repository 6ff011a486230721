"""Per-project quotas: mini PCs (instances, vCPUs, RAM, disk), storage (buckets, bucket bytes) and apps.

``reserve(conn, project_id, wanted)`` runs inside the caller's transaction: it
takes a transaction-scoped advisory lock for the project (so concurrent creates
and resizes in one project queue up behind each other), sums what the project's
live (non-deleted) instances use, and raises 403 ``quota_exceeded`` when the
request would go over a limit. The caller inserts or grows its instance in the
same transaction, before the lock is released at commit: two requests can
never both see the same room.
"""
from __future__ import annotations

import uuid

import psycopg

from minicloud.db.pool import Database
from minicloud.errors import Forbidden, Keyed, ValidationFailed
from minicloud.services.projects import Projects

COMPUTE = ("instances", "vcpus", "ram_mib", "disk_gib")
_USAGE = ("SELECT count(*) AS instances, coalesce(sum(vcpus), 0) AS vcpus, coalesce(sum(ram_mib), 0) AS ram_mib,"
          " coalesce(sum(disk_gib), 0) AS disk_gib FROM instances WHERE project_id = %s AND state <> 'deleted'")
STORAGE = ("buckets", "bucket_bytes")
# Bytes stored as last refreshed from Swift (after every upload and delete); uploads in flight are not usage.
_STORAGE_USAGE = ("SELECT count(*) AS buckets, coalesce(sum(bytes_used), 0) AS bucket_bytes FROM buckets"
                  " WHERE project_id = %s")

_APPS_USAGE = "SELECT count(*) AS n FROM apps WHERE project_id = %s"


class QuotaExceeded(Forbidden):
    code = "quota_exceeded"


class Quotas:
    def __init__(self, db: Database, projects: Projects):
        self.db = db
        self.projects = projects

    def limits(self, project_id: uuid.UUID) -> dict[str, int]:
        return self.projects.quotas(project_id)

    def usage(self, project_id: uuid.UUID, conn: psycopg.Connection | None = None) -> dict[str, int]:
        row = conn.execute(_USAGE, (project_id,)).fetchone() if conn else self.db.fetchone(_USAGE, (project_id,))
        apps = conn.execute(_APPS_USAGE, (project_id,)).fetchone() if conn else self.db.fetchone(_APPS_USAGE,
                                                                                                  (project_id,))
        return {**{k: int(row[k]) for k in COMPUTE}, **self.storage_usage(project_id, conn), "apps": int(apps["n"])}

    def storage_usage(self, project_id: uuid.UUID, conn: psycopg.Connection | None = None) -> dict[str, int]:
        """Buckets and bytes stored, from the database (no Swift call)."""
        row = (conn.execute(_STORAGE_USAGE, (project_id,)).fetchone() if conn
               else self.db.fetchone(_STORAGE_USAGE, (project_id,)))
        return {k: int(row[k]) for k in STORAGE}

    def show(self, project_id: uuid.UUID) -> dict:
        return {"project_id": project_id, "limits": self.limits(project_id), "usage": self.usage(project_id)}

    @staticmethod
    def lock(conn: psycopg.Connection, project_id: uuid.UUID) -> None:
        """Inside the caller's transaction: the lock every quota decision of a project takes (mini PCs,
        buckets, uploads and apps alike), held until commit."""
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"minicloud:quota:{project_id}",))

    def limits_in(self, conn: psycopg.Connection, project_id: uuid.UUID) -> dict[str, int]:
        """The project's limits read in the caller's transaction: its own rows over the defaults."""
        limits = dict(self.projects.default_quotas())
        for row in conn.execute('SELECT resource, "limit" FROM quotas WHERE project_id = %s', (project_id,)):
            limits[row["resource"]] = int(row["limit"])
        return limits

    def reserve(self, conn: psycopg.Connection, project_id: uuid.UUID, wanted: dict[str, int]) -> None:
        """Inside the caller's transaction: lock the project's quota, then refuse if ``wanted`` does not fit."""
        self.lock(conn, project_id)
        limits = self.limits_in(conn, project_id)
        usage = self.usage(project_id, conn)
        over = [k for k, n in wanted.items() if n > 0 and k in limits and usage[k] + n > limits[k]]
        if over:
            raise QuotaExceeded("instance.quota_exceeded", details={
                "exceeded": over, "limits": {k: limits[k] for k in COMPUTE if k in limits},
                "usage": usage, "requested": wanted})

    def set_limits(self, project_id: uuid.UUID, limits: dict[str, int]) -> dict:
        known = set(self.projects.default_quotas())
        bad: dict[str, Keyed] = {k: "quota.unknown_resource" for k in limits if k not in known}
        bad.update({k: ("validation.minimum", {"min": 0})
                    for k, v in limits.items() if k in known and (not isinstance(v, int) or isinstance(v, bool) or v < 0)})
        if bad:
            raise ValidationFailed(bad)
        with self.db.connection() as conn:
            if conn.execute("SELECT 1 FROM projects WHERE id = %s", (project_id,)).fetchone() is None:
                from minicloud.errors import NotFoundError
                raise NotFoundError("project.not_found")
            for resource, value in limits.items():
                conn.execute('INSERT INTO quotas (project_id, resource, "limit") VALUES (%s, %s, %s)'
                             ' ON CONFLICT (project_id, resource) DO UPDATE SET "limit" = EXCLUDED."limit"',
                             (project_id, resource, value))
        return self.show(project_id)
