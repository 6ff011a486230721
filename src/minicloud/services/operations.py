"""Operations: the API's view of jobs (``GET /api/v1/operations/{id}``)."""
from __future__ import annotations

import uuid

from minicloud.db.pool import Database
from minicloud.errors import NotFoundError
from minicloud.db import queue
from minicloud.services.principal import Principal

_COLUMNS = ("id, kind, state, target, attempts, max_attempts, last_error, result, project_id,"
            " created_at, started_at, finished_at, updated_at")


class Operations:
    def __init__(self, db: Database):
        self.db = db

    def get(self, principal: Principal, operation_id: uuid.UUID) -> dict:
        """The job, if it belongs to one of the caller's projects (or the caller is a global admin); a job whose
        project is gone (a project's delete) stays the caller's when they asked for it."""
        row = self.db.fetchone(f"SELECT {_COLUMNS}, user_id FROM jobs WHERE id = %s", (operation_id,))
        if row is None or not (principal.is_admin or
                               (row["project_id"] and principal.membership(row["project_id"])) or
                               (row["project_id"] is None and row["user_id"] is not None
                                and row["user_id"] == principal.user_id)):
            raise NotFoundError("operation.not_found")
        del row["user_id"]
        return row

    def latest_for(self, project_id: uuid.UUID, target: str) -> dict | None:
        """The project's newest job on ``target`` (a mini PC's id …), or None: what a page shows running."""
        return self.db.fetchone(f"SELECT {_COLUMNS} FROM jobs WHERE project_id = %s AND target = %s"
                                " ORDER BY created_at DESC LIMIT 1", (project_id, target))

    def submit(self, kind: str, payload: dict, *, principal: Principal | None = None,
               project_id: uuid.UUID | None = None, target: str | None = None, max_attempts: int = 5) -> dict:
        with self.db.connection() as conn:
            return queue.enqueue(conn, kind, payload, project_id=project_id,
                                 user_id=principal.user_id if principal else None,
                                 target=target, max_attempts=max_attempts)

    def counts(self, project_id: uuid.UUID) -> dict[str, int]:
        rows = self.db.fetchall("SELECT state, count(*) AS n FROM jobs WHERE project_id = %s GROUP BY state",
                                (project_id,))
        counts = {"queued": 0, "running": 0, "succeeded": 0, "failed": 0}
        counts.update({r["state"]: r["n"] for r in rows})
        return counts
