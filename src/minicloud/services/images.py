"""Images: a qcow2 base disk plus, optionally, a kernel, an initrd and a command line for direct boot.

Administrators register images by the paths of files on the server (each must exist);
every user sees the enabled ones.
"""
from __future__ import annotations

import os
import uuid

import psycopg.errors

from minicloud.config import Config
from minicloud.db.pool import Database
from minicloud.db.sql import update_row
from minicloud.drivers.compute.base import ImageSpec
from minicloud.errors import Conflict, Keyed, NotFoundError, ValidationFailed
from minicloud.services.pagination import MAX_LIMIT, Keyset
from minicloud.services.principal import Principal

COLUMNS = ("id, name, disk_path, kernel_path, initrd_path, cmdline, default_user, os, min_disk_gib, enabled,"
           " created_at")
PATHS = ("disk_path", "kernel_path", "initrd_path")
SERVER_SIDE = (*PATHS, "cmdline")  # what only administrators are shown
EDITABLE = ("disk_path", "kernel_path", "initrd_path", "cmdline", "default_user", "os", "min_disk_gib", "enabled")
_ORDER = Keyset((("name", "text", "name"), ("id", "uuid", "id")))


class Images:
    def __init__(self, db: Database, config: Config):
        self.db = db
        self.config = config

    def list(self, principal: Principal, *, limit: int = MAX_LIMIT, cursor: str | None = None) -> dict:
        """A page of the enabled images by name; administrators also see disabled ones, and the files and
        kernel command line behind each (where the server keeps its files is not every user's business)."""
        page = _ORDER.fetch(self.db, f"SELECT {COLUMNS} FROM images", [] if principal.is_admin else ["enabled"],
                            {}, limit, cursor)
        if not principal.is_admin:
            page["items"] = [{k: v for k, v in image.items() if k not in SERVER_SIDE} for image in page["items"]]
        return page

    def get(self, image_id: uuid.UUID, conn=None) -> dict | None:
        sql, params = f"SELECT {COLUMNS} FROM images WHERE id = %s", (image_id,)
        return conn.execute(sql, params).fetchone() if conn is not None else self.db.fetchone(sql, params)

    def default(self, conn) -> dict | None:
        """The configured default image (by name) when enabled, else the first enabled image by name."""
        name = self.config.get("compute.default_image")
        if name:
            row = conn.execute(f"SELECT {COLUMNS} FROM images WHERE name = %s AND enabled", (name,)).fetchone()
            if row:
                return row
        return conn.execute(f"SELECT {COLUMNS} FROM images WHERE enabled ORDER BY name LIMIT 1").fetchone()

    @staticmethod
    def _check_paths(values: dict) -> None:
        missing: dict[str, Keyed] = {k: ("image.file_missing", {"path": values[k]})
                                     for k in PATHS if values.get(k) and not os.path.isfile(values[k])}
        for k in PATHS:
            if values.get(k) and not os.path.isabs(values[k]):
                missing[k] = "image.path_not_absolute"
        if missing:
            raise ValidationFailed(missing)

    def create(self, values: dict) -> dict:
        self._check_paths(values)
        row = {k: values.get(k) for k in ("name", *EDITABLE)}
        row["default_user"] = row["default_user"] or "student"
        row["os"] = row["os"] or ""
        row["min_disk_gib"] = row["min_disk_gib"] if row["min_disk_gib"] is not None else 1
        row["enabled"] = True if row["enabled"] is None else row["enabled"]
        try:
            return self.db.fetchone(
                "INSERT INTO images (name, disk_path, kernel_path, initrd_path, cmdline, default_user, os,"
                " min_disk_gib, enabled) VALUES (%(name)s, %(disk_path)s, %(kernel_path)s, %(initrd_path)s,"
                f" %(cmdline)s, %(default_user)s, %(os)s, %(min_disk_gib)s, %(enabled)s) RETURNING {COLUMNS}", row)
        except psycopg.errors.UniqueViolation:
            raise Conflict("image.name_taken", code="name_taken", name=values["name"]) from None

    def update(self, image_id: uuid.UUID, changes: dict) -> dict:
        required = ("disk_path", "default_user", "os", "min_disk_gib", "enabled")  # NOT NULL columns
        changes = {k: v for k, v in changes.items() if k in EDITABLE and (v is not None or k not in required)}
        self._check_paths(changes)
        if changes:
            row = update_row(self.db, "images", image_id, changes, COLUMNS)
        else:
            row = self.get(image_id)
        if row is None:
            raise NotFoundError("image.not_found")
        return row

    @staticmethod
    def spec(image: dict) -> ImageSpec:
        return ImageSpec(name=image["name"], disk_path=image["disk_path"], kernel_path=image["kernel_path"],
                         initrd_path=image["initrd_path"], cmdline=image["cmdline"],
                         default_user=image["default_user"])
