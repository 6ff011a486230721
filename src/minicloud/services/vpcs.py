"""VPCs of a project with their route tables, routes and internet gateway (AWS VPC semantics).

A VPC is born with a main route table (``main``, holding the local route ``{vpc cidr -> local}`` that can
be neither removed nor changed), the default network ACL and the default security group (made by their
services). A project's VPCs may not overlap; two projects may use the same block. Creating a VPC, a
project's default VPC included, takes a per-project transaction lock, so two racing requests cannot both
pass the overlap check or both create the default VPC. Every change the host enforces asks
``network_state.request_apply`` in the same transaction. This module alone writes the tables vpcs,
route_tables, routes and internet_gateways.
"""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import psycopg
import psycopg.errors

from minicloud.config import Config
from minicloud.db import queue
from minicloud.db.pool import Database
from minicloud.errors import Conflict, NotFoundError, ValidationFailed
from minicloud.services import ipam
from minicloud.services.pagination import MAX_LIMIT, Keyset

if TYPE_CHECKING:
    from minicloud.services import Services

DEFAULT_VPC_NAME, DEFAULT_VPC_CIDR = "default", "172.31.0.0/16"
DEFAULT_SUBNET_NAME, DEFAULT_SUBNET_CIDR = "default", "172.31.0.0/20"
DELETE_JOB = "vpc.delete"
_COLUMNS = ("v.id, v.project_id, v.name, v.cidr, v.is_default, v.number, v.created_at, v.updated_at,"
            " (SELECT id FROM route_tables WHERE vpc_id = v.id AND is_main) AS main_route_table_id,"
            " (SELECT id FROM network_acls WHERE vpc_id = v.id AND is_default) AS default_network_acl_id,"
            " (SELECT id FROM security_groups WHERE vpc_id = v.id AND is_default) AS default_security_group_id,"
            " g.id AS gateway_id, g.address AS gateway_address")
_FROM = " FROM vpcs v LEFT JOIN internet_gateways g ON g.vpc_id = v.id"
_ORDER = Keyset((("v.created_at", "time", "created_at"), ("v.id", "uuid", "id")), descending=True)
GATEWAY_COLUMNS = "id, vpc_id, address, created_at"
# The order a VPC is taken apart in (GET /vpcs/{id}/delete-plan, the vpc.delete job): (kind, action).
DELETE_ORDER = (("instances", "delete"), ("public_ips", "disassociate"), ("subnets", "delete"),
                ("route_tables", "delete"), ("internet_gateway", "delete"), ("security_groups", "delete"),
                ("network_acls", "delete"), ("vpc", "delete"))
_DEPENDENTS = {  # kind -> SQL of (id, name) of what stands in the way of deleting the VPC %(vpc)s
    "instances": "SELECT i.id, i.name FROM instances i JOIN subnets s ON s.id = i.subnet_id"
                 " WHERE s.vpc_id = %(vpc)s AND i.state <> 'deleted' ORDER BY i.created_at, i.id",
    "public_ips": "SELECT p.id, host(p.address) AS name FROM public_ips p JOIN instances i ON i.id = p.instance_id"
                  " JOIN subnets s ON s.id = i.subnet_id WHERE s.vpc_id = %(vpc)s ORDER BY p.address",
    "subnets": "SELECT id, name FROM subnets WHERE vpc_id = %(vpc)s ORDER BY created_at, id",
    "route_tables": "SELECT id, name FROM route_tables WHERE vpc_id = %(vpc)s AND NOT is_main ORDER BY number",
    "internet_gateway": "SELECT id, host(address) AS name FROM internet_gateways WHERE vpc_id = %(vpc)s",
    "security_groups": "SELECT id, name FROM security_groups WHERE vpc_id = %(vpc)s AND NOT is_default"
                       " ORDER BY number",
    "network_acls": "SELECT id, name FROM network_acls WHERE vpc_id = %(vpc)s AND NOT is_default"
                    " ORDER BY created_at, id",
}


def project_lock(conn: psycopg.Connection, project_id: uuid.UUID) -> None:
    """Until the transaction ends: this project's VPCs are created one at a time."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"minicloud:vpcs:{project_id}",))


class Vpcs:
    def __init__(self, db: Database, config: Config, services: Services):
        self.db = db
        self.config = config
        self.services = services

    # -- reading ---------------------------------------------------------------------------------
    @staticmethod
    def view(row: dict) -> dict:
        gateway = {"id": row["gateway_id"], "address": str(row["gateway_address"])} if row["gateway_id"] else None
        return {"id": row["id"], "project_id": row["project_id"], "name": row["name"], "cidr": str(row["cidr"]),
                "is_default": row["is_default"], "main_route_table_id": row["main_route_table_id"],
                "default_network_acl_id": row["default_network_acl_id"],
                "default_security_group_id": row["default_security_group_id"], "internet_gateway": gateway,
                "created_at": row["created_at"], "updated_at": row["updated_at"]}

    def _row(self, conn: psycopg.Connection, project_id: uuid.UUID, vpc_id: uuid.UUID, lock: bool = False) -> dict:
        """The project's VPC, or 404 (another project's VPC is "not found" too)."""
        if lock:  # FOR UPDATE cannot sit beside the outer join: lock the VPC's own row first
            found = conn.execute("SELECT id FROM vpcs WHERE id = %s AND project_id = %s FOR UPDATE",
                                 (vpc_id, project_id)).fetchone()
            if found is None:
                raise NotFoundError("networks.vpc_not_found")
        row = conn.execute(f"SELECT {_COLUMNS}{_FROM} WHERE v.id = %s AND v.project_id = %s",
                           (vpc_id, project_id)).fetchone()
        if row is None:
            raise NotFoundError("networks.vpc_not_found")
        return row

    def get(self, project_id: uuid.UUID, vpc_id: uuid.UUID, conn: psycopg.Connection | None = None) -> dict:
        if conn is not None:
            return self.view(self._row(conn, project_id, vpc_id))
        with self.db.connection() as own:
            return self.view(self._row(own, project_id, vpc_id))

    def list(self, project_id: uuid.UUID, *, limit: int = MAX_LIMIT, cursor: str | None = None) -> dict:
        """A page of the project's VPCs, newest first."""
        page = _ORDER.fetch(self.db, f"SELECT {_COLUMNS}{_FROM}", ["v.project_id = %(project)s"],
                            {"project": project_id}, limit, cursor)
        return {**page, "items": [self.view(row) for row in page["items"]]}

    def summary(self, project_id: uuid.UUID) -> dict:
        """The dashboard card: how many VPCs and subnets the project has and how many of its public IPs are
        on a mini PC."""
        row = self.db.fetchone(
            "SELECT (SELECT count(*) FROM vpcs WHERE project_id = %(p)s) AS vpcs,"
            " (SELECT count(*) FROM subnets s JOIN vpcs v ON v.id = s.vpc_id WHERE v.project_id = %(p)s) AS subnets,"
            " (SELECT count(*) FROM public_ips WHERE project_id = %(p)s AND instance_id IS NOT NULL)"
            " AS public_ips_in_use", {"p": project_id})
        return {"vpcs": row["vpcs"], "subnets": row["subnets"], "public_ips_in_use": row["public_ips_in_use"]}

    # -- creating --------------------------------------------------------------------------------
    def create(self, project_id: uuid.UUID, name: str, cidr: str) -> dict:
        """A VPC with its main route table, default ACL and default group; 409 ``cidr_overlap`` when
        it shares an address with another VPC of the project, 409 ``name_taken`` for a name in use."""
        block = ipam.vpc_block(cidr)
        with self.db.connection() as conn:
            vpc = self._insert(conn, project_id, name, block, is_default=False)
            self.services.network_state.request_apply(conn)
            return self.view(self._row(conn, project_id, vpc["id"]))

    def _insert(self, conn: psycopg.Connection, project_id: uuid.UUID, name: str, block, is_default: bool) -> dict:
        project_lock(conn, project_id)
        clash = conn.execute("SELECT name, cidr FROM vpcs WHERE project_id = %s AND cidr && %s ORDER BY cidr LIMIT 1",
                             (project_id, block)).fetchone()
        if clash is not None:
            raise Conflict("networks.cidr_overlap", code="cidr_overlap", cidr=str(block), other=clash["name"],
                           other_cidr=str(clash["cidr"]))
        try:
            with conn.transaction():
                vpc = conn.execute("INSERT INTO vpcs (project_id, name, cidr, is_default) VALUES (%s, %s, %s, %s)"
                                   " RETURNING id, cidr", (project_id, name, block, is_default)).fetchone()
        except psycopg.errors.UniqueViolation:
            raise Conflict("networks.vpc_name_taken", code="name_taken", name=name) from None
        table = conn.execute("INSERT INTO route_tables (vpc_id, name, is_main) VALUES (%s, 'main', true)"
                             " RETURNING id", (vpc["id"],)).fetchone()
        self._add_local_route(conn, table["id"], vpc["cidr"])
        self.services.network_acls.create_default(conn, vpc["id"])
        self.services.security_groups.create_default(conn, vpc["id"])
        return vpc

    def ensure_default(self, conn: psycopg.Connection, project_id: uuid.UUID) -> dict:
        """In the caller's transaction: the project's default VPC (``default``, 172.31.0.0/16, with its
        subnet ``default`` 172.31.0.0/20) as a view plus ``subnet_id`` of the default subnet, made when
        missing. Two racing callers get the same VPC (a per-project lock; the unique index
        vpcs_one_default holds it besides). 409 ``default_vpc_blocked`` when a VPC of the project named
        ``default`` or overlapping 172.31.0.0/16 leaves no room for it."""
        project_lock(conn, project_id)
        found = conn.execute("SELECT id FROM vpcs WHERE project_id = %s AND is_default", (project_id,)).fetchone()
        if found is None:
            try:
                with conn.transaction():
                    vpc = self._insert(conn, project_id, DEFAULT_VPC_NAME, ipam.vpc_block(DEFAULT_VPC_CIDR), True)
            except Conflict:
                raise Conflict("networks.default_vpc_blocked", code="default_vpc_blocked",
                               cidr=DEFAULT_VPC_CIDR) from None
            self.services.subnets.insert(conn, self._row(conn, project_id, vpc["id"]), DEFAULT_SUBNET_NAME,
                                         ipam.subnet_block(DEFAULT_SUBNET_CIDR, DEFAULT_VPC_CIDR), is_default=True)
            self.services.network_state.request_apply(conn)
            found = vpc
        out = self.view(self._row(conn, project_id, found["id"]))
        subnet = conn.execute("SELECT id FROM subnets WHERE vpc_id = %s ORDER BY is_default DESC, created_at, id"
                              " LIMIT 1", (found["id"],)).fetchone()
        out["subnet_id"] = subnet["id"] if subnet else None
        return out

    # -- changing --------------------------------------------------------------------------------
    def rename(self, project_id: uuid.UUID, vpc_id: uuid.UUID, name: str, cidr: str | None = None) -> dict:
        """A new name; the block cannot change (a ``cidr`` other than the VPC's own is 422 naming it)."""
        with self.db.connection() as conn:
            current = self._row(conn, project_id, vpc_id, lock=True)
            if cidr is not None and cidr.strip() != str(current["cidr"]):
                raise ValidationFailed({"cidr": "networks.cidr_immutable"}, key="networks.cidr_immutable")
            try:
                with conn.transaction():
                    conn.execute("UPDATE vpcs SET name = %s, updated_at = now() WHERE id = %s", (name, vpc_id))
            except psycopg.errors.UniqueViolation:
                raise Conflict("networks.vpc_name_taken", code="name_taken", name=name) from None
            return self.view(self._row(conn, project_id, vpc_id))

    # -- deleting --------------------------------------------------------------------------------
    def _dependents(self, conn: psycopg.Connection, vpc_id: uuid.UUID) -> dict[str, list[dict]]:
        return {kind: conn.execute(sql, {"vpc": vpc_id}).fetchall() for kind, sql in _DEPENDENTS.items()}

    def delete_plan(self, project_id: uuid.UUID, vpc_id: uuid.UUID) -> list[dict]:
        """The steps that take the VPC apart, in order: instances, public IPs (disassociated), subnets,
        route tables (not main), internet gateway, security groups and network ACLs (not the defaults),
        then the VPC itself (with its main table, default ACL and default group); each lists its items."""
        with self.db.connection() as conn:
            vpc = self._row(conn, project_id, vpc_id)
            found = self._dependents(conn, vpc_id)
        found["vpc"] = [{"id": vpc["id"], "name": vpc["name"]}]
        return [{"order": number, "kind": kind, "action": action,
                 "items": [{"id": item["id"], "name": item["name"]} for item in found[kind]]}
                for number, (kind, action) in enumerate(DELETE_ORDER, start=1)]

    def delete(self, project_id: uuid.UUID, vpc_id: uuid.UUID) -> None:
        """Delete an empty VPC (its main table, default ACL and group go with it); 409
        ``vpc_has_dependents`` listing (kind, id, name) of everything still in it."""
        with self.db.connection() as conn:
            self._row(conn, project_id, vpc_id, lock=True)
            found = self._dependents(conn, vpc_id)
            dependents = [{"kind": kind, "id": item["id"], "name": item["name"]}
                          for kind, _ in DELETE_ORDER if kind in found for item in found[kind]]
            if dependents:
                raise Conflict("networks.vpc_has_dependents", code="vpc_has_dependents", count=len(dependents),
                               details={"dependents": dependents})
            conn.execute("DELETE FROM vpcs WHERE id = %s", (vpc_id,))
            self.services.network_state.request_apply(conn)

    def delete_cascade(self, principal, project_id: uuid.UUID, vpc_id: uuid.UUID) -> dict:
        """Queue the ``vpc.delete`` job (payload {vpc_id}) that takes the VPC apart step by step: the job row."""
        with self.db.connection() as conn:
            self._row(conn, project_id, vpc_id, lock=True)
            return queue.enqueue(conn, DELETE_JOB, {"vpc_id": str(vpc_id)}, project_id=project_id,
                                 user_id=principal.user_id, target=f"vpc:{vpc_id}",
                                 max_attempts=int(self.config.get("jobs.max_attempts")))

    # -- routes and the gateway ------------------------------------------------------------------
    def subnet_is_public(self, conn: psycopg.Connection, subnet_id: uuid.UUID) -> bool:
        """Whether the subnet's route table sends 0.0.0.0/0 to the VPC's internet gateway."""
        return conn.execute(
            "SELECT 1 FROM subnets s JOIN routes r ON r.route_table_id = s.route_table_id"
            " WHERE s.id = %s AND r.destination = '0.0.0.0/0' AND r.target = 'internet_gateway'",
            (subnet_id,)).fetchone() is not None

    @staticmethod
    def _add_local_route(conn: psycopg.Connection, table_id: uuid.UUID, cidr) -> None:
        conn.execute("INSERT INTO routes (route_table_id, destination, target) VALUES (%s, %s, 'local')",
                     (table_id, cidr))

    def attach_gateway(self, project_id: uuid.UUID, vpc_id: uuid.UUID) -> dict:
        """The VPC's internet gateway, its address taken from the public pool; 409 ``gateway_exists`` for a
        second one, 409 ``pool_exhausted`` when no address is left."""
        with self.db.connection() as conn:
            vpc = self._row(conn, project_id, vpc_id, lock=True)
            if vpc["gateway_id"] is not None:
                raise Conflict("networks.gateway_exists", code="gateway_exists", vpc=vpc["name"])
            address = self.services.public_ips.allocate_address(conn)
            gateway = conn.execute(f"INSERT INTO internet_gateways (vpc_id, address) VALUES (%s, %s)"
                                   f" RETURNING {GATEWAY_COLUMNS}", (vpc_id, address)).fetchone()
            self.services.network_state.request_apply(conn)
        return {**gateway, "address": str(gateway["address"])}

    def detach_gateway(self, project_id: uuid.UUID, vpc_id: uuid.UUID) -> None:
        """Remove the VPC's gateway (its address returns to the pool); 404 without one, 409
        ``gateway_in_use`` naming the route tables whose routes point at it."""
        with self.db.connection() as conn:
            vpc = self._row(conn, project_id, vpc_id, lock=True)
            if vpc["gateway_id"] is None:
                raise NotFoundError("networks.gateway_not_found")
            tables = conn.execute("SELECT DISTINCT t.id, t.name FROM routes r JOIN route_tables t"
                                  " ON t.id = r.route_table_id WHERE r.internet_gateway_id = %s ORDER BY t.name",
                                  (vpc["gateway_id"],)).fetchall()
            if tables:
                raise Conflict("networks.gateway_in_use", code="gateway_in_use",
                               tables=", ".join(t["name"] for t in tables), details={"route_tables": tables})
            conn.execute("DELETE FROM internet_gateways WHERE id = %s", (vpc["gateway_id"],))
            self.services.network_state.request_apply(conn)

    # -- route tables --------------------------------------------------------------------------
    def _table(self, conn: psycopg.Connection, project_id: uuid.UUID, table_id: uuid.UUID, lock: bool = False) -> dict:
        row = conn.execute("SELECT t.id, t.vpc_id, t.name, t.is_main, t.created_at, v.cidr AS vpc_cidr"
                           " FROM route_tables t JOIN vpcs v ON v.id = t.vpc_id"
                           " WHERE t.id = %s AND v.project_id = %s" + (" FOR UPDATE OF t" if lock else ""),
                           (table_id, project_id)).fetchone()
        if row is None:
            raise NotFoundError("networks.route_table_not_found")
        return row

    @staticmethod
    def _table_view(conn: psycopg.Connection, row: dict) -> dict:
        routes = conn.execute("SELECT id, destination, target, internet_gateway_id FROM routes"
                              " WHERE route_table_id = %s ORDER BY masklen(destination) DESC, destination",
                              (row["id"],)).fetchall()
        subnets = conn.execute("SELECT id FROM subnets WHERE route_table_id = %s ORDER BY created_at, id",
                               (row["id"],)).fetchall()
        return {"id": row["id"], "vpc_id": row["vpc_id"], "name": row["name"], "is_main": row["is_main"],
                "routes": [{**route, "destination": str(route["destination"])} for route in routes],
                "subnet_ids": [subnet["id"] for subnet in subnets], "created_at": row["created_at"]}

    def get_route_table(self, project_id: uuid.UUID, table_id: uuid.UUID) -> dict:
        with self.db.connection() as conn:
            return self._table_view(conn, self._table(conn, project_id, table_id))

    def route_table_of(self, conn: psycopg.Connection, project_id: uuid.UUID, table_id: uuid.UUID) -> dict:
        """The project's route table row (id, vpc_id, name, is_main), or 404."""
        return self._table(conn, project_id, table_id)

    def list_route_tables(self, project_id: uuid.UUID, vpc_id: uuid.UUID) -> dict:
        """Every route table of the VPC with its routes, the main one first (a VPC has a handful)."""
        with self.db.connection() as conn:
            self._row(conn, project_id, vpc_id)
            rows = conn.execute("SELECT t.id, t.vpc_id, t.name, t.is_main, t.created_at FROM route_tables t"
                                " WHERE t.vpc_id = %s ORDER BY t.is_main DESC, t.number", (vpc_id,)).fetchall()
            return {"items": [self._table_view(conn, row) for row in rows], "next": None}

    def create_route_table(self, project_id: uuid.UUID, vpc_id: uuid.UUID, name: str) -> dict:
        """A route table holding only the local route; 409 ``name_taken`` for a name in use in the VPC."""
        with self.db.connection() as conn:
            vpc = self._row(conn, project_id, vpc_id, lock=True)
            try:
                with conn.transaction():
                    row = conn.execute("INSERT INTO route_tables (vpc_id, name) VALUES (%s, %s)"
                                       " RETURNING id, vpc_id, name, is_main, created_at", (vpc_id, name)).fetchone()
            except psycopg.errors.UniqueViolation:
                raise Conflict("networks.route_table_name_taken", code="name_taken", name=name) from None
            self._add_local_route(conn, row["id"], vpc["cidr"])
            return self._table_view(conn, row)

    def delete_route_table(self, project_id: uuid.UUID, table_id: uuid.UUID) -> None:
        """409 ``main_route_table`` for the main one (it goes with its VPC), 409 ``route_table_in_use``
        while subnets use it."""
        with self.db.connection() as conn:
            table = self._table(conn, project_id, table_id, lock=True)
            if table["is_main"]:
                raise Conflict("networks.main_route_table", code="main_route_table")
            users = conn.execute("SELECT name FROM subnets WHERE route_table_id = %s ORDER BY name",
                                 (table_id,)).fetchall()
            if users:
                raise Conflict("networks.route_table_in_use", code="route_table_in_use",
                               subnets=", ".join(s["name"] for s in users))
            conn.execute("DELETE FROM route_tables WHERE id = %s", (table_id,))

    def add_route(self, project_id: uuid.UUID, table_id: uuid.UUID, destination: str, target: str) -> dict:
        """A route ``destination -> internet_gateway`` (the VPC's gateway): 409 ``no_internet_gateway``
        without one, 409 ``local_route`` for a local target or the VPC's own block, 409 ``route_exists``
        for a destination the table routes already. The table's answer, with its routes."""
        block = ipam.parse_block(destination, "destination")
        with self.db.connection() as conn:
            table = self._table(conn, project_id, table_id, lock=True)
            if target == "local" or block == ipam.IPv4Network(str(table["vpc_cidr"])):
                raise Conflict("networks.local_route", code="local_route")
            gateway = conn.execute("SELECT id FROM internet_gateways WHERE vpc_id = %s",
                                   (table["vpc_id"],)).fetchone()
            if gateway is None:
                raise Conflict("networks.no_internet_gateway", code="no_internet_gateway")
            try:
                with conn.transaction():
                    conn.execute("INSERT INTO routes (route_table_id, destination, target, internet_gateway_id)"
                                 " VALUES (%s, %s, 'internet_gateway', %s)", (table_id, block, gateway["id"]))
            except psycopg.errors.UniqueViolation:
                raise Conflict("networks.route_exists", code="route_exists", destination=str(block)) from None
            self.services.network_state.request_apply(conn)
            return self._table_view(conn, table)

    def delete_route(self, project_id: uuid.UUID, table_id: uuid.UUID, route_id: uuid.UUID) -> None:
        """Remove a route; the local route answers 409 ``local_route``."""
        with self.db.connection() as conn:
            self._table(conn, project_id, table_id, lock=True)
            route = conn.execute("SELECT target FROM routes WHERE id = %s AND route_table_id = %s",
                                 (route_id, table_id)).fetchone()
            if route is None:
                raise NotFoundError("networks.route_not_found")
            if route["target"] == "local":
                raise Conflict("networks.local_route", code="local_route")
            conn.execute("DELETE FROM routes WHERE id = %s", (route_id,))
            self.services.network_state.request_apply(conn)
