"""Subnets of a VPC: their blocks, the addresses their mini PCs hold (IPAM), their route table and ACL.

A subnet's block lies inside its VPC's, from /16 to /28, shares no address with another subnet of the
VPC and never changes. It starts on the VPC's main route table and default network ACL. Its mini PCs
get the lowest free usable address (``allocate_ip``, under a lock on the subnet's row); five are
reserved (``services.ipam``). Whether a subnet is *public* is its route table's business
(``Vpcs.subnet_is_public``). This module alone writes the table subnets.
"""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import psycopg
import psycopg.errors

from minicloud.config import Config
from minicloud.db.pool import Database
from minicloud.errors import Conflict, NotFoundError, ValidationFailed
from minicloud.services import ipam

if TYPE_CHECKING:
    from minicloud.services import Services

_COLUMNS = ("s.id, s.vpc_id, s.name, s.cidr, s.is_default, s.route_table_id, s.network_acl_id, s.number,"
            " s.created_at, (SELECT count(*) FROM instances i WHERE i.subnet_id = s.id AND i.state <> 'deleted'"
            " AND i.private_ip IS NOT NULL) AS used_ip_count,"
            " EXISTS (SELECT 1 FROM routes r WHERE r.route_table_id = s.route_table_id"
            " AND r.destination = '0.0.0.0/0' AND r.target = 'internet_gateway') AS public")
_FROM = " FROM subnets s JOIN vpcs v ON v.id = s.vpc_id"


class Subnets:
    def __init__(self, db: Database, config: Config, services: Services):
        self.db = db
        self.config = config
        self.services = services

    @staticmethod
    def view(row: dict) -> dict:
        """What the API shows of a subnet (not its bridge: that is the host's business)."""
        usable = ipam.usable_count(row["cidr"])
        return {"id": row["id"], "vpc_id": row["vpc_id"], "name": row["name"], "cidr": str(row["cidr"]),
                "is_default": row["is_default"], "route_table_id": row["route_table_id"],
                "network_acl_id": row["network_acl_id"], "public": row["public"],
                "usable_ip_count": usable, "used_ip_count": row["used_ip_count"],
                "available_ip_count": usable - row["used_ip_count"], "created_at": row["created_at"]}

    def _row(self, conn: psycopg.Connection, project_id: uuid.UUID, subnet_id: uuid.UUID) -> dict:
        row = conn.execute(f"SELECT {_COLUMNS}{_FROM} WHERE s.id = %s AND v.project_id = %s",
                           (subnet_id, project_id)).fetchone()
        if row is None:
            raise NotFoundError("networks.subnet_not_found")
        return row

    def get(self, project_id: uuid.UUID, subnet_id: uuid.UUID, conn: psycopg.Connection | None = None) -> dict:
        """The project's subnet as the API shows it, or 404 (another project's subnet too)."""
        if conn is not None:
            return self.view(self._row(conn, project_id, subnet_id))
        with self.db.connection() as own:
            return self.view(self._row(own, project_id, subnet_id))

    def list(self, project_id: uuid.UUID, vpc_id: uuid.UUID) -> dict:
        """Every subnet of the VPC, oldest first (one page: a VPC holds a handful)."""
        with self.db.connection() as conn:
            self.services.vpcs.get(project_id, vpc_id, conn)
            rows = conn.execute(f"SELECT {_COLUMNS}{_FROM} WHERE s.vpc_id = %s ORDER BY s.created_at, s.id",
                                (vpc_id,)).fetchall()
        return {"items": [self.view(row) for row in rows], "next": None}

    def create(self, project_id: uuid.UUID, vpc_id: uuid.UUID, name: str, cidr: str) -> dict:
        with self.db.connection() as conn:
            vpc = self.services.vpcs.get(project_id, vpc_id, conn)
            conn.execute("SELECT id FROM vpcs WHERE id = %s FOR UPDATE", (vpc_id,))  # subnets one at a time
            subnet = self.insert(conn, vpc, name, ipam.subnet_block(cidr, vpc["cidr"]))
            self.services.network_state.request_apply(conn)
            return self.view(self._row(conn, project_id, subnet["id"]))

    def insert(self, conn: psycopg.Connection, vpc: dict, name: str, block, is_default: bool = False) -> dict:
        """In the caller's transaction (which holds the VPC's row lock): a subnet on the VPC's main route
        table and default ACL; 409 ``cidr_overlap`` / ``name_taken``."""
        clash = conn.execute("SELECT name, cidr FROM subnets WHERE vpc_id = %s AND cidr && %s ORDER BY cidr LIMIT 1",
                             (vpc["id"], block)).fetchone()
        if clash is not None:
            raise Conflict("networks.subnet_overlap", code="cidr_overlap", cidr=str(block), other=clash["name"],
                           other_cidr=str(clash["cidr"]))
        try:
            with conn.transaction():
                return conn.execute(
                    "INSERT INTO subnets (vpc_id, name, cidr, is_default, route_table_id, network_acl_id)"
                    " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                    (vpc["id"], name, block, is_default, vpc["main_route_table_id"],
                     vpc["default_network_acl_id"])).fetchone()
        except psycopg.errors.UniqueViolation:
            raise Conflict("networks.subnet_name_taken", code="name_taken", name=name) from None

    def delete(self, project_id: uuid.UUID, subnet_id: uuid.UUID) -> None:
        """409 ``subnet_has_instances`` while mini PCs live in it."""
        with self.db.connection() as conn:
            self._row(conn, project_id, subnet_id)
            conn.execute("SELECT id FROM subnets WHERE id = %s FOR UPDATE", (subnet_id,))
            living = conn.execute("SELECT name FROM instances WHERE subnet_id = %s AND state <> 'deleted'"
                                  " ORDER BY name", (subnet_id,)).fetchall()
            if living:
                raise Conflict("networks.subnet_has_instances", code="subnet_has_instances",
                               instances=", ".join(i["name"] for i in living))
            conn.execute("DELETE FROM subnets WHERE id = %s", (subnet_id,))
            self.services.network_state.request_apply(conn)

    def set_route_table(self, project_id: uuid.UUID, subnet_id: uuid.UUID, route_table_id: uuid.UUID) -> dict:
        """Route the subnet by another table of its VPC (422 naming ``route_table_id`` otherwise)."""
        with self.db.connection() as conn:
            subnet = self._row(conn, project_id, subnet_id)
            try:
                table = self.services.vpcs.route_table_of(conn, project_id, route_table_id)
            except NotFoundError:
                table = None
            if table is None or table["vpc_id"] != subnet["vpc_id"]:
                raise ValidationFailed({"route_table_id": "networks.route_table_other_vpc"},
                                       key="networks.route_table_other_vpc")
            conn.execute("UPDATE subnets SET route_table_id = %s WHERE id = %s", (route_table_id, subnet_id))
            self.services.network_state.request_apply(conn)
            return self.view(self._row(conn, project_id, subnet_id))

    def set_network_acl(self, conn: psycopg.Connection, subnet_id: uuid.UUID, network_acl_id: uuid.UUID) -> None:
        """In the caller's transaction: the subnet's ACL is now ``network_acl_id`` (the caller has checked it
        is an ACL of the subnet's VPC); the host is asked to apply it."""
        conn.execute("UPDATE subnets SET network_acl_id = %s WHERE id = %s", (network_acl_id, subnet_id))
        self.services.network_state.request_apply(conn)

    def allocate_ip(self, conn: psycopg.Connection, subnet_id: uuid.UUID) -> str:
        """In the caller's transaction: the lowest usable address of the subnet no live mini PC holds (the
        subnet's row stays locked until the caller commits the instance holding it); 409 ``subnet_full``."""
        subnet = conn.execute("SELECT name, cidr FROM subnets WHERE id = %s FOR UPDATE", (subnet_id,)).fetchone()
        if subnet is None:
            raise NotFoundError("networks.subnet_not_found")
        used = conn.execute("SELECT private_ip FROM instances WHERE subnet_id = %s AND state <> 'deleted'"
                            " AND private_ip IS NOT NULL", (subnet_id,)).fetchall()
        address = ipam.first_free(subnet["cidr"], [row["private_ip"] for row in used])
        if address is None:
            raise Conflict("networks.subnet_full", code="subnet_full", subnet=subnet["name"],
                           usable=ipam.usable_count(subnet["cidr"]))
        return str(address)
