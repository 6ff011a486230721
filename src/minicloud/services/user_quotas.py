"""Limits that bind a person, whatever projects they make: today ``projects``, how many projects a
user may own (their personal project included).

The default is ``[quotas] projects_per_user``; a global administrator sets another for one user
(``user_quotas`` rows). ``reserve_project(conn, user_id)`` runs inside the transaction that creates
the project: under a per-user advisory lock it counts what the user owns and refuses (403
``quota_exceeded``) when one more would go over — so ten parallel creates cannot all slip through.
"""
from __future__ import annotations

import uuid

import psycopg

from minicloud.config import Config
from minicloud.db.pool import Database
from minicloud.errors import Forbidden, Keyed, NotFoundError, ValidationFailed

RESOURCES = ("projects",)
DEFAULT_KEYS = {"projects": "quotas.projects_per_user"}  # resource -> its configured default
_OWNED = "SELECT count(*) AS n FROM projects WHERE owner_id = %s"


class ProjectQuotaExceeded(Forbidden):
    code = "quota_exceeded"


class UserQuotas:
    def __init__(self, db: Database, config: Config):
        self.db = db
        self.config = config

    def defaults(self) -> dict[str, int]:
        return {resource: int(self.config.get(key)) for resource, key in DEFAULT_KEYS.items()}

    def limits(self, user_id: uuid.UUID, conn: psycopg.Connection | None = None) -> dict[str, int]:
        """The user's limits: their own rows over the configured defaults."""
        sql, params = 'SELECT resource, "limit" FROM user_quotas WHERE user_id = %s', (user_id,)
        rows = conn.execute(sql, params).fetchall() if conn is not None else self.db.fetchall(sql, params)
        return {**self.defaults(), **{r["resource"]: int(r["limit"]) for r in rows if r["resource"] in RESOURCES}}

    def show(self, user_id: uuid.UUID) -> dict:
        """``{"user_id", "limits", "usage"}``; NotFound for no such user."""
        if self.db.fetchone("SELECT 1 AS ok FROM users WHERE id = %s", (user_id,)) is None:
            raise NotFoundError("user.not_found")
        owned = self.db.fetchone(_OWNED, (user_id,))["n"]
        return {"user_id": user_id, "limits": self.limits(user_id), "usage": {"projects": owned}}

    def set_limits(self, user_id: uuid.UUID, limits: dict) -> dict:
        """Set some of the user's limits (a global administrator's call); 422 naming unknown or negative ones."""
        bad: dict[str, Keyed] = {k: "quota.unknown_resource" for k in limits if k not in RESOURCES}
        bad.update({k: ("validation.minimum", {"min": 0}) for k, v in limits.items()
                    if k in RESOURCES and (not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 2 ** 31)})
        fields = {f"limits.{k}": v for k, v in bad.items()}
        if not limits:
            fields["limits"] = "validation.required"
        if fields:
            raise ValidationFailed(fields)
        with self.db.connection() as conn:
            if conn.execute("SELECT 1 FROM users WHERE id = %s", (user_id,)).fetchone() is None:
                raise NotFoundError("user.not_found")
            for resource, value in limits.items():
                conn.execute('INSERT INTO user_quotas (user_id, resource, "limit") VALUES (%s, %s, %s)'
                             ' ON CONFLICT (user_id, resource) DO UPDATE SET "limit" = EXCLUDED."limit"',
                             (user_id, resource, value))
        return self.show(user_id)

    def reserve_project(self, conn: psycopg.Connection, user_id: uuid.UUID) -> None:
        """Inside the caller's transaction: lock the user's project count, then refuse one over the limit."""
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"minicloud:user-projects:{user_id}",))
        limit = self.limits(user_id, conn)["projects"]
        owned = conn.execute(_OWNED, (user_id,)).fetchone()["n"]
        if owned >= limit:
            raise ProjectQuotaExceeded("project.quota_exceeded", limit=limit,
                                       details={"limit": limit, "owned": owned, "resource": "projects"})
