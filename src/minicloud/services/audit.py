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
               all_projects: bool = False, actions: list[str] | None = None) -> dict:
        """A page of entries, newest first: the acting project for its admins, everything for global admins."""
        if all_projects and not principal.is_admin:
            raise Forbidden("error.admin_only")
        if not all_projects and not project.allows("admin"):
            raise Forbidden("error.role_forbids", role=project.role)
        where, params = [], {}
        if not all_projects:
            where.append("project_id = %(project)s")
            params["project"] = project.id
        if actions is not None:  # the codes whose words matched what a person typed (none: no entry)
            where.append("action = ANY(%(actions)s)")
            params["actions"] = list(actions)
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

    def target_names(self, wanted: dict[str, set[str]]) -> dict[tuple[str, str], dict]:
        """What the entries' targets are called now: (kind, id) -> {"name", "vpc_id"} for the ids of each
        kind (``TARGET_NAMES``) that still exist; a target that is gone is simply missing."""
        found: dict[tuple[str, str], dict] = {}
        for kind, ids in wanted.items():
            sql = TARGET_NAMES.get(kind)
            valid = [value for value in ids if _is_uuid(value)]
            if sql is None or not valid:
                continue
            for row in self.db.fetchall(sql, (valid,)):
                found[(kind, str(row["id"]))] = {"name": row["name"], "vpc_id": row.get("vpc_id")}
        return found


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


# kind -> the query naming targets of that kind by id (ids passed as one uuid[] parameter)
TARGET_NAMES = {
    "instance": "SELECT id, name FROM instances WHERE id = ANY(%s::uuid[]) AND state <> 'deleted'",
    "vpc": "SELECT id, name FROM vpcs WHERE id = ANY(%s::uuid[])",
    "gateway": "SELECT g.id, v.name, g.vpc_id FROM internet_gateways g JOIN vpcs v ON v.id = g.vpc_id"
               " WHERE g.id = ANY(%s::uuid[])",
    "subnet": "SELECT id, name, vpc_id FROM subnets WHERE id = ANY(%s::uuid[])",
    "route_table": "SELECT id, name, vpc_id FROM route_tables WHERE id = ANY(%s::uuid[])",
    "security_group": "SELECT id, name, vpc_id FROM security_groups WHERE id = ANY(%s::uuid[])",
    "network_acl": "SELECT id, name, vpc_id FROM network_acls WHERE id = ANY(%s::uuid[])",
    "public_ip": "SELECT id, host(address) AS name FROM public_ips WHERE id = ANY(%s::uuid[])",
    "app": "SELECT id, name FROM apps WHERE id = ANY(%s::uuid[])",
    "keypair": "SELECT id, name FROM keypairs WHERE id = ANY(%s::uuid[])",
    "api_key": "SELECT id, name FROM api_keys WHERE id = ANY(%s::uuid[])",
    "project": "SELECT id, name FROM projects WHERE id = ANY(%s::uuid[])",
    "user": "SELECT id, username AS name FROM users WHERE id = ANY(%s::uuid[])",
    "template": "SELECT id, name FROM templates WHERE id = ANY(%s::uuid[])",
    "image": "SELECT id, name FROM images WHERE id = ANY(%s::uuid[])",
    "host": "SELECT id, name FROM hosts WHERE id = ANY(%s::uuid[])",
}
