"""Projects (workspaces), their members and roles, and per-project quota limits."""
from __future__ import annotations

import uuid

import psycopg
import psycopg.errors

from minicloud.config import Config
from minicloud.db import queue
from minicloud.db.pool import Database
from minicloud.errors import Conflict, Forbidden, NotFoundError
from minicloud.services.pagination import MAX_LIMIT, Keyset
from minicloud.services.principal import ROLE_RANK, Principal, ProjectRef
from minicloud.services.user_quotas import DEFAULT_KEYS, UserQuotas

ROLES = tuple(ROLE_RANK)
DELETE_JOB = "project.delete"
_COLUMNS = "p.id, p.name, p.description, p.personal, p.owner_id, p.created_at"
# personal projects first, then oldest first
_PROJECT_ORDER = Keyset((("(NOT p.personal)", "bool", lambda row: not row["personal"]),
                         ("p.created_at", "time", "created_at"), ("p.id", "uuid", "id")))
_MEMBER_ORDER = Keyset((("m.created_at", "time", "created_at"), ("u.id", "uuid", "user_id")))


_PERSON_KEYS = {key.split(".", 1)[1] for key in DEFAULT_KEYS.values()}  # [quotas] keys that are per user


_LEFTOVERS = ("SELECT (SELECT count(*) FROM instances WHERE project_id = %(project)s AND state <> 'deleted') AS instances,"
              " (SELECT count(*) FROM apps WHERE project_id = %(project)s) AS apps,"
              " (SELECT count(*) FROM buckets WHERE project_id = %(project)s) AS buckets,"
              " (SELECT count(*) FROM vpcs WHERE project_id = %(project)s) AS vpcs,"
              " (SELECT count(*) FROM public_ips WHERE project_id = %(project)s) AS public_ips")


# What a project's delete takes apart, in the job's order (jobs/projects.py); each query names the items.
_PLAN = (
    ("apps", "SELECT name AS label FROM apps WHERE project_id = %(project)s ORDER BY created_at"),
    ("instances", "SELECT name AS label FROM instances WHERE project_id = %(project)s AND state <> 'deleted'"
                  " ORDER BY created_at"),
    ("vpcs", "SELECT name AS label FROM vpcs WHERE project_id = %(project)s ORDER BY created_at"),
    ("public_ips", "SELECT host(address) AS label FROM public_ips WHERE project_id = %(project)s ORDER BY created_at"),
    ("buckets", "SELECT name AS label FROM buckets WHERE project_id = %(project)s ORDER BY created_at"),
    ("keypairs", "SELECT name AS label FROM keypairs WHERE project_id = %(project)s ORDER BY name"),
    ("members", "SELECT u.username AS label FROM memberships m JOIN users u ON u.id = m.user_id"
                " WHERE m.project_id = %(project)s ORDER BY m.created_at"),
)


def _target(project_id: uuid.UUID) -> str:
    return f"project:{project_id}"


class Projects:
    def __init__(self, db: Database, config: Config, user_quotas: UserQuotas):
        self.db = db
        self.config = config
        self.user_quotas = user_quotas

    def default_quotas(self) -> dict[str, int]:
        """The limits a new project gets: [quotas], without the ones that bind a person."""
        return {k: int(v) for k, v in self.config.section("quotas").items() if k not in _PERSON_KEYS}

    def create_in(self, conn: psycopg.Connection, owner_id: uuid.UUID, name: str,
                  description: str = "", personal: bool = False) -> dict:
        """Inside the caller's transaction: the project, its owner as admin, its quota rows."""
        project = conn.execute(
            "INSERT INTO projects (name, description, personal, owner_id) VALUES (%s, %s, %s, %s)"
            " RETURNING id, name, description, personal, owner_id, created_at",
            (name, description, personal, owner_id),
        ).fetchone()
        conn.execute("INSERT INTO memberships (project_id, user_id, role) VALUES (%s, %s, 'admin')",
                     (project["id"], owner_id))
        with conn.cursor() as cur:
            cur.executemany(
                'INSERT INTO quotas (project_id, resource, "limit") VALUES (%s, %s, %s)',
                [(project["id"], k, v) for k, v in self.default_quotas().items()],
            )
        project["role"] = "admin"
        return project

    def create(self, principal: Principal, name: str, description: str) -> dict:
        """A team project owned by the caller (its admin); 403 over the caller's project limit, 409 for a
        name they already use."""
        try:
            with self.db.connection() as conn:
                self.user_quotas.reserve_project(conn, principal.user_id)
                return self.create_in(conn, principal.user_id, name, description)
        except psycopg.errors.UniqueViolation:
            raise Conflict("project.name_taken", code="name_taken", name=name) from None

    def list_for(self, principal: Principal, *, limit: int = MAX_LIMIT, cursor: str | None = None) -> dict:
        """A page of the projects ``principal`` belongs to, with their role: personal first, then oldest."""
        return _PROJECT_ORDER.fetch(
            self.db, f"SELECT {_COLUMNS}, m.role FROM projects p JOIN memberships m ON m.project_id = p.id",
            ["m.user_id = %(user)s"], {"user": principal.user_id}, limit, cursor)

    def resolve(self, principal: Principal, project_id: uuid.UUID | None) -> ProjectRef:
        """The project the request acts in: the chosen one (member, or any for a global admin), else the personal one."""
        if project_id is None:
            personal = principal.personal_project
            if personal is None:
                raise NotFoundError("error.no_project")
            return personal
        membership = principal.membership(project_id)
        if membership:
            return membership
        if principal.is_admin:
            row = self.db.fetchone("SELECT id, name, personal FROM projects WHERE id = %s", (project_id,))
            if row:
                return ProjectRef(row["id"], row["name"], "admin", row["personal"])
        raise NotFoundError("project.not_found", code="not_found")

    def get(self, principal: Principal, project_id: uuid.UUID) -> dict:
        ref = self.resolve(principal, project_id)
        row = self.db.fetchone(f"SELECT {_COLUMNS} FROM projects p WHERE p.id = %s", (ref.id,))
        if row is None:
            raise NotFoundError("project.not_found")
        row["role"] = ref.role
        row["members"] = self.members(principal, project_id)["items"]
        return row

    def update(self, principal: Principal, project_id: uuid.UUID, name: str | None = None,
               description: str | None = None) -> dict:
        """Rename the project or change its description (its admins); 409 for a name its owner already uses."""
        ref = self._require_admin(principal, project_id)
        try:
            if not self.db.execute("UPDATE projects SET name = coalesce(%s, name), description = coalesce(%s, description)"
                                   " WHERE id = %s", (name, description, ref.id)):
                raise NotFoundError("project.not_found")
        except psycopg.errors.UniqueViolation:
            raise Conflict("project.name_taken", code="name_taken", name=name) from None
        row = self.db.fetchone(f"SELECT {_COLUMNS} FROM projects p WHERE p.id = %s", (ref.id,))
        if row is None:
            raise NotFoundError("project.not_found")
        row["role"] = ref.role
        return row

    def delete_plan(self, principal: Principal, project_id: uuid.UUID) -> list[dict]:
        """What deleting the project takes apart, in the order the ``project.delete`` job goes (its admins):
        [{"kind", "items": [names]}] for apps, mini PCs, VPCs (each taken apart with all it holds), public
        IPs, buckets, then key pairs and members, which go with the project's row."""
        ref = self._require_admin(principal, project_id)
        plan = []
        for kind, sql in _PLAN:
            rows = self.db.fetchall(sql, {"project": ref.id})
            plan.append({"kind": kind, "items": [str(row["label"]) for row in rows]})
        return plan

    def _require_admin(self, principal: Principal, project_id: uuid.UUID) -> ProjectRef:
        ref = self.resolve(principal, project_id)
        if not ref.allows("admin"):
            raise Forbidden("error.role_forbids", role=ref.role)
        return ref

    def members(self, principal: Principal, project_id: uuid.UUID, *, limit: int = MAX_LIMIT,
                cursor: str | None = None) -> dict:
        """A page of the project's members with their roles, in the order they joined."""
        ref = self.resolve(principal, project_id)
        return _MEMBER_ORDER.fetch(
            self.db, "SELECT u.id AS user_id, u.username, u.display_name, m.role, m.created_at"
                     " FROM memberships m JOIN users u ON u.id = m.user_id",
            ["m.project_id = %(project)s"], {"project": ref.id}, limit, cursor)

    def member_count(self, project_id: uuid.UUID) -> int:
        return self.db.fetchone("SELECT count(*) AS n FROM memberships WHERE project_id = %s", (project_id,))["n"]

    def add_member(self, principal: Principal, project_id: uuid.UUID, username: str, role: str) -> dict:
        ref = self._require_admin(principal, project_id)
        user = self.db.fetchone("SELECT id, username, display_name FROM users WHERE lower(username) = %s",
                                (username.strip().lower(),))
        if user is None:
            raise NotFoundError("project.user_not_found", code="user_not_found", username=username)
        try:
            self.db.execute("INSERT INTO memberships (project_id, user_id, role) VALUES (%s, %s, %s)",
                            (ref.id, user["id"], role))
        except psycopg.errors.UniqueViolation:
            raise Conflict("project.already_member", code="already_member", username=user["username"]) from None
        return {"user_id": user["id"], "username": user["username"],
                "display_name": user["display_name"], "role": role}

    def _owner(self, project_id: uuid.UUID) -> uuid.UUID:
        """The project's owner; NotFound when the project was deleted meanwhile (a concurrent delete)."""
        row = self.db.fetchone("SELECT owner_id FROM projects WHERE id = %s", (project_id,))
        if row is None:
            raise NotFoundError("project.not_found")
        return row["owner_id"]

    def change_role(self, principal: Principal, project_id: uuid.UUID, user_id: uuid.UUID, role: str) -> dict:
        ref = self._require_admin(principal, project_id)
        if user_id == self._owner(ref.id) and role != "admin":
            raise Conflict("project.owner_stays_admin", code="owner_stays_admin")
        row = self.db.fetchone(
            "UPDATE memberships SET role = %s WHERE project_id = %s AND user_id = %s RETURNING user_id, role",
            (role, ref.id, user_id),
        )
        if row is None:
            raise NotFoundError("project.member_not_found")
        return row

    def remove_member(self, principal: Principal, project_id: uuid.UUID, user_id: uuid.UUID) -> None:
        ref = self._require_admin(principal, project_id)
        if user_id == self._owner(ref.id):
            raise Conflict("project.owner_stays_admin", code="owner_stays_admin")
        if not self.db.execute("DELETE FROM memberships WHERE project_id = %s AND user_id = %s",
                               (ref.id, user_id)):
            raise NotFoundError("project.member_not_found")

    def request_delete(self, principal: Principal, project_id: uuid.UUID) -> dict:
        """Queue the ``project.delete`` job that takes everything the project owns apart, then its row: the
        job row. While such a job is queued or running, the same job (a repeat is safe). 409 for a personal
        project; the caller must be the project's admin."""
        ref = self._require_admin(principal, project_id)
        if ref.personal:
            raise Conflict("project.personal_cannot_be_deleted", code="personal_project")
        with self.db.connection() as conn:
            if conn.execute("SELECT 1 FROM projects WHERE id = %s FOR UPDATE", (ref.id,)).fetchone() is None:
                raise NotFoundError("project.not_found")
            pending = conn.execute("SELECT * FROM jobs WHERE kind = %s AND target = %s AND state IN ('queued', 'running')"
                                   " ORDER BY created_at LIMIT 1", (DELETE_JOB, _target(ref.id))).fetchone()
            if pending is not None:
                return pending
            return queue.enqueue(conn, DELETE_JOB, {"project_id": str(ref.id)}, project_id=ref.id,
                                 user_id=principal.user_id, target=_target(ref.id),
                                 max_attempts=int(self.config.get("jobs.max_attempts")))

    def remove(self, project_id: uuid.UUID) -> bool:
        """The ``project.delete`` job's last step: the project's row (its members, quotas and key pairs go with
        it; API keys are the user's and stay). Under the project's quota lock (the one every create takes), so
        nothing is made meanwhile; 409 ``project_not_empty`` when a mini PC, app, bucket, VPC or public IP was
        made after its step (the job runs its steps again). Whether a row was deleted (False when already
        gone: a repeat is safe)."""
        from minicloud.services.quotas import Quotas  # quotas builds on this module

        with self.db.connection() as conn:
            Quotas.lock(conn, project_id)
            left = conn.execute(_LEFTOVERS, {"project": project_id}).fetchone()
            held = [kind for kind, n in left.items() if n]
            if held:
                raise Conflict("project.not_empty", code="project_not_empty", kinds=", ".join(held))
            return bool(conn.execute("DELETE FROM projects WHERE id = %s", (project_id,)).rowcount)

    def quotas(self, project_id: uuid.UUID) -> dict[str, int]:
        """The project's limits: its own rows over the configured defaults."""
        limits = self.default_quotas()
        for row in self.db.fetchall('SELECT resource, "limit" FROM quotas WHERE project_id = %s', (project_id,)):
            limits[row["resource"]] = row["limit"]
        return limits
