"""Templates: the mini PC specs (vCPUs, RAM, disk, GPUs) users choose from; administrators manage them."""
from __future__ import annotations

import tomllib
import uuid
from pathlib import Path

import psycopg.errors

from minicloud.config import Config
from minicloud.db.pool import Database
from minicloud.db.sql import update_row
from minicloud.errors import Conflict, NotFoundError
from minicloud.services.pagination import MAX_LIMIT, Keyset
from minicloud.services.principal import Principal

COLUMNS = "id, name, vcpus, ram_mib, disk_gib, gpus, enabled, description, created_at"
# smallest first
_ORDER = Keyset(tuple((column, kind, column) for column, kind in (
    ("gpus", "int"), ("vcpus", "int"), ("ram_mib", "int"), ("disk_gib", "int"), ("name", "text"), ("id", "uuid"))))
EDITABLE = ("name", "vcpus", "ram_mib", "disk_gib", "gpus", "enabled", "description")


class Templates:
    def __init__(self, db: Database, config: Config):
        self.db = db
        self.config = config

    def list(self, principal: Principal, *, limit: int = MAX_LIMIT, cursor: str | None = None) -> dict:
        """A page of the enabled templates, smallest first; administrators also see disabled ones."""
        return _ORDER.fetch(self.db, f"SELECT {COLUMNS} FROM templates", [] if principal.is_admin else ["enabled"],
                            {}, limit, cursor)

    def get(self, template_id: uuid.UUID, conn=None) -> dict | None:
        sql, params = f"SELECT {COLUMNS} FROM templates WHERE id = %s", (template_id,)
        if conn is not None:
            return conn.execute(sql, params).fetchone()
        return self.db.fetchone(sql, params)

    def create(self, values: dict) -> dict:
        try:
            return self.db.fetchone(
                f"INSERT INTO templates (name, vcpus, ram_mib, disk_gib, gpus, enabled, description)"
                f" VALUES (%(name)s, %(vcpus)s, %(ram_mib)s, %(disk_gib)s, %(gpus)s, %(enabled)s, %(description)s)"
                f" RETURNING {COLUMNS}", values)
        except psycopg.errors.UniqueViolation:
            raise Conflict("template.name_taken", code="name_taken", name=values["name"]) from None

    def update(self, template_id: uuid.UUID, changes: dict) -> dict:
        changes = {k: v for k, v in changes.items() if k in EDITABLE and v is not None}
        if not changes:
            row = self.get(template_id)
        else:
            try:
                row = update_row(self.db, "templates", template_id, changes, COLUMNS)
            except psycopg.errors.UniqueViolation:
                raise Conflict("template.name_taken", code="name_taken", name=changes.get("name")) from None
        if row is None:
            raise NotFoundError("template.not_found")
        return row

    def seed(self, path: Path | None = None) -> list[str]:
        """Create the templates of configs/templates.toml missing by name (idempotent); returns the names added."""
        if path is None:
            path = Path(self.config.get("compute.templates_file"))
            if not path.is_absolute():
                path = self.config.root / path
        with open(path, "rb") as fh:
            entries = tomllib.load(fh).get("template", [])
        added = []
        with self.db.connection() as conn:
            for entry in entries:
                row = conn.execute(
                    "INSERT INTO templates (name, vcpus, ram_mib, disk_gib, gpus, description)"
                    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING RETURNING name",
                    (entry["name"], int(entry["vcpus"]), int(entry["ram_mib"]), int(entry["disk_gib"]),
                     int(entry.get("gpus", 0)), entry.get("description", "")),
                ).fetchone()
                if row:
                    added.append(row["name"])
        return added
