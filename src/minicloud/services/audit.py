"""The audit log: who did what, in which project, to what, with which result."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from minicloud.db.pool import Database
from minicloud.errors import Forbidden
from minicloud.services.pagination import Keyset
from minicloud.services.principal import Principal, ProjectRef


_ORDER = Keyset((("id", "int", "id"),), descending=True)
_COLUMNS = "id, at, user_id, username, project_id, action, method, path, target, result, status, request_id, address"


@dataclass
class AuditEntry:
    action: str
    method: str
    path: str
    status: int
    request_id: str
    user_id: uuid.UUID | None = None
    username: str | None = None
    project_id: uuid.UUID | None = None
    target: str | None = None
    address: str | None = None

    @property
    def result(self) -> str:
        return "success" if self.status < 400 else "failure"


class Audit:
    def __init__(self, db: Database):
        self.db = db

    def record(self, entry: AuditEntry) -> None:
        # The project is the one acted in, while it exists: deleting a project is recorded without it.
        self.db.execute(
            "INSERT INTO audit_log (user_id, username, project_id, action, method, path, target, result,"
            " status, request_id, address) VALUES (%s, %s, (SELECT id FROM projects WHERE id = %s),"
            " %s, %s, %s, %s, %s, %s, %s, %s)",
            (entry.user_id, entry.username, entry.project_id, entry.action, entry.method, entry.path,
             entry.target, entry.result, entry.status, entry.request_id, entry.address),
        )

    def search(self, principal: Principal, project: ProjectRef, *, limit: int, cursor: str | None = None,
               action: str | None = None, username: str | None = None, result: str | None = None,
               since: datetime | None = None, until: datetime | None = None,
               all_projects: bool = False) -> dict:
        """A page of entries, newest first: the acting project for its admins, everything for global admins."""
        if all_projects and not principal.is_admin:
            raise Forbidden("error.admin_only")
        if not all_projects and not project.allows("admin"):
            raise Forbidden("error.role_forbids", role=project.role)
        where, params = [], {}
        if not all_projects:
            where.append("project_id = %(project)s")
            params["project"] = project.id
        for column, value in (("action", action), ("result", result)):
            if value:
                where.append(f"{column} = %({column})s")
                params[column] = value
        if username:
            where.append("lower(username) = lower(%(username)s)")
            params["username"] = username
        if since:
            where.append("at >= %(since)s")
            params["since"] = since
        if until:
            where.append("at < %(until)s")
            params["until"] = until
        return _ORDER.fetch(self.db, f"SELECT {_COLUMNS} FROM audit_log", where, params, limit, cursor)

    def recent_for_user(self, user_id: uuid.UUID, limit: int = 5) -> list[dict]:
        return self.db.fetchall(
            "SELECT at, action, target, result FROM audit_log WHERE user_id = %s ORDER BY id DESC LIMIT %s",
            (user_id, limit),
        )
