"""Public IPs of a project: addresses of ``[network] public_pool`` held until released, each mapped 1:1 to
at most one mini PC whose subnet is public. The pool also gives internet gateways their addresses
(``allocate_address``); its first address is the host's own on the public bridge. Allocation takes one
platform-wide transaction lock, so two requests never take the same address. This module alone writes the
table public_ips.
"""
from __future__ import annotations

import ipaddress
import uuid
from typing import TYPE_CHECKING

import psycopg
import psycopg.errors

from minicloud.config import Config
from minicloud.db.pool import Database
from minicloud.errors import Conflict, NotFoundError, ValidationFailed
from minicloud.services import ipam
from minicloud.services.pagination import MAX_LIMIT, Keyset

if TYPE_CHECKING:
    from minicloud.services import Services

_POOL_LOCK = "minicloud:public_pool"
_COLUMNS = "p.id, p.project_id, p.address, p.instance_id, i.name AS instance_name, p.created_at"
_FROM = " FROM public_ips p LEFT JOIN instances i ON i.id = p.instance_id"
_ORDER = Keyset((("p.created_at", "time", "created_at"), ("p.id", "uuid", "id")), descending=True)


class PublicIps:
    def __init__(self, db: Database, config: Config, services: Services):
        self.db = db
        self.config = config
        self.services = services

    @property
    def pool(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(str(self.config.get("network.public_pool")))

    @staticmethod
    def view(row: dict) -> dict:
        instance = {"id": row["instance_id"], "name": row["instance_name"]} if row["instance_id"] else None
        return {"id": row["id"], "project_id": row["project_id"], "address": str(row["address"]),
                "instance": instance, "created_at": row["created_at"]}

    def _row(self, conn: psycopg.Connection, project_id: uuid.UUID, ip_id: uuid.UUID, lock: bool = False) -> dict:
        if lock:
            conn.execute("SELECT id FROM public_ips WHERE id = %s FOR UPDATE", (ip_id,))
        row = conn.execute(f"SELECT {_COLUMNS}{_FROM} WHERE p.id = %s AND p.project_id = %s",
                           (ip_id, project_id)).fetchone()
        if row is None:
            raise NotFoundError("networks.public_ip_not_found")
        return row

    def allocate_address(self, conn: psycopg.Connection) -> str:
        """In the caller's transaction: the lowest free address of the pool (neither a public IP's nor a
        gateway's; the lock holds until the caller commits the row that takes it); 409 ``pool_exhausted``."""
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (_POOL_LOCK,))
        used = conn.execute("SELECT address FROM public_ips UNION ALL SELECT address FROM internet_gateways"
                            ).fetchall()
        address = ipam.first_free_public(self.pool, [row["address"] for row in used])
        if address is None:
            raise Conflict("networks.pool_exhausted", code="pool_exhausted", pool=str(self.pool))
        return str(address)

    def list(self, project_id: uuid.UUID, *, limit: int = MAX_LIMIT, cursor: str | None = None) -> dict:
        page = _ORDER.fetch(self.db, f"SELECT {_COLUMNS}{_FROM}", ["p.project_id = %(project)s"],
                            {"project": project_id}, limit, cursor)
        return {**page, "items": [self.view(row) for row in page["items"]]}

    def get(self, project_id: uuid.UUID, ip_id: uuid.UUID) -> dict:
        with self.db.connection() as conn:
            return self.view(self._row(conn, project_id, ip_id))

    def create(self, project_id: uuid.UUID) -> dict:
        """A new public IP of the project, associated with nothing."""
        with self.db.connection() as conn:
            address = self.allocate_address(conn)
            row = conn.execute("INSERT INTO public_ips (project_id, address) VALUES (%s, %s) RETURNING id",
                               (project_id, address)).fetchone()
            return self.view(self._row(conn, project_id, row["id"]))

    def delete(self, project_id: uuid.UUID, ip_id: uuid.UUID) -> None:
        """Release the address (disassociating it first when it is on a mini PC)."""
        with self.db.connection() as conn:
            row = self._row(conn, project_id, ip_id, lock=True)
            conn.execute("DELETE FROM public_ips WHERE id = %s", (ip_id,))
            if row["instance_id"] is not None:
                self.services.network_state.request_apply(conn)

    def associate(self, project_id: uuid.UUID, ip_id: uuid.UUID, instance_id: uuid.UUID) -> dict:
        """Map the address 1:1 to a live mini PC of the project (422 naming ``instance_id`` otherwise) whose
        subnet routes 0.0.0.0/0 to an internet gateway (else 409 ``subnet_not_public``); 409
        ``instance_has_public_ip`` / ``public_ip_in_use`` when either side is taken. Repeating it is safe."""
        with self.db.connection() as conn:
            row = self._row(conn, project_id, ip_id, lock=True)
            instance = conn.execute("SELECT id, name, subnet_id FROM instances WHERE id = %s AND project_id = %s"
                                    " AND state NOT IN ('deleting', 'deleted') FOR UPDATE",
                                    (instance_id, project_id)).fetchone()
            if instance is None:
                raise ValidationFailed({"instance_id": "instance.not_found"}, key="instance.not_found")
            if row["instance_id"] == instance["id"]:
                return self.view(row)
            if row["instance_id"] is not None:
                raise Conflict("networks.public_ip_in_use", code="public_ip_in_use", instance=row["instance_name"])
            if instance["subnet_id"] is None or not self.services.vpcs.subnet_is_public(conn, instance["subnet_id"]):
                raise Conflict("networks.subnet_not_public", code="subnet_not_public", instance=instance["name"])
            try:
                with conn.transaction():
                    conn.execute("UPDATE public_ips SET instance_id = %s WHERE id = %s", (instance["id"], ip_id))
            except psycopg.errors.UniqueViolation:
                raise Conflict("networks.instance_has_public_ip", code="instance_has_public_ip",
                               instance=instance["name"]) from None
            self.services.network_state.request_apply(conn)
            return self.view(self._row(conn, project_id, ip_id))

    def disassociate(self, project_id: uuid.UUID, ip_id: uuid.UUID) -> dict:
        """The address is on no mini PC any more (safe to repeat)."""
        with self.db.connection() as conn:
            row = self._row(conn, project_id, ip_id, lock=True)
            if row["instance_id"] is not None:
                conn.execute("UPDATE public_ips SET instance_id = NULL WHERE id = %s", (ip_id,))
                self.services.network_state.request_apply(conn)
            return self.view(self._row(conn, project_id, ip_id))
