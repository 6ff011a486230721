"""Network ACLs: numbered, stateless allow/deny entries filtering traffic entering and leaving a subnet.

The one writer of network_acls and network_acl_entries. Entries are evaluated by ascending number
per direction, the first match decides, a final ``*`` entry denies the rest (network_rules.py). The
VPC's ``default`` ACL allows everything both ways; a new ACL has no entries, so it denies
everything. Numbers 1–32766, unique per ACL and direction, 20 entries per direction. A subnet's
ACL is changed through services/subnets.py (the owner of that row). Every change asks the host to
apply the new state in the same transaction.
"""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import psycopg
import psycopg.errors

from minicloud.config import Config
from minicloud.db.pool import Database
from minicloud.errors import Conflict, NotFoundError, ValidationFailed
from minicloud.services.network_rules import ANYWHERE, MAX_ACL_ENTRIES_PER_DIRECTION, validate_acl_entry
from minicloud.services.pagination import MAX_LIMIT, Keyset

if TYPE_CHECKING:
    from minicloud.services import Services

ACL_COLUMNS = "a.id, v.project_id, a.vpc_id, a.name, a.is_default, a.created_at"
ENTRY_COLUMNS = ("id, network_acl_id, number, direction, action, protocol, port_min, port_max, cidr::text AS cidr,"
                 " created_at")
_FROM = " FROM network_acls a JOIN vpcs v ON v.id = a.vpc_id"
_ORDER = Keyset((("a.name", "text", "name"), ("a.id", "uuid", "id")))


class NetworkAcls:
    def __init__(self, db: Database, config: Config, services: Services):
        self.db = db
        self.config = config
        self.services = services

    # -- reading ---------------------------------------------------------------------------------
    def _acl(self, conn: psycopg.Connection, project_id: uuid.UUID, acl_id, lock: bool = False) -> dict:
        row = conn.execute(f"SELECT {ACL_COLUMNS}{_FROM} WHERE a.id = %s AND v.project_id = %s"
                           + (" FOR UPDATE OF a" if lock else ""), (acl_id, project_id)).fetchone()
        if row is None:
            raise NotFoundError("networks.acl_not_found")
        return row

    def _details(self, conn: psycopg.Connection, acls: list[dict]) -> list[dict]:
        """Each ACL with its entries (ingress then egress, by number) and the subnets it filters."""
        ids = [a["id"] for a in acls]
        entries: dict = {i: [] for i in ids}
        subnets: dict = {i: [] for i in ids}
        for entry in conn.execute(f"SELECT {ENTRY_COLUMNS} FROM network_acl_entries WHERE network_acl_id = ANY(%s)"
                                  " ORDER BY direction DESC, number", (ids,)).fetchall():
            entries[entry["network_acl_id"]].append(entry)
        for subnet in conn.execute("SELECT id, name, network_acl_id FROM subnets WHERE network_acl_id = ANY(%s)"
                                   " ORDER BY name", (ids,)).fetchall():
            subnets[subnet["network_acl_id"]].append({"id": subnet["id"], "name": subnet["name"]})
        for acl in acls:
            acl["entries"], acl["subnets"] = entries[acl["id"]], subnets[acl["id"]]
        return acls

    def get(self, project_id: uuid.UUID, acl_id: uuid.UUID, conn: psycopg.Connection | None = None) -> dict:
        if conn is None:
            with self.db.connection() as own:
                return self.get(project_id, acl_id, own)
        return self._details(conn, [self._acl(conn, project_id, acl_id)])[0]

    def _vpc(self, conn: psycopg.Connection, project_id: uuid.UUID, vpc_id: uuid.UUID) -> dict:
        vpc = conn.execute("SELECT id FROM vpcs WHERE id = %s AND project_id = %s", (vpc_id, project_id)).fetchone()
        if vpc is None:
            raise NotFoundError("networks.rule_vpc_not_found")
        return vpc

    def list(self, project_id: uuid.UUID, vpc_id: uuid.UUID, *, limit: int = MAX_LIMIT,
             cursor: str | None = None) -> dict:
        """A page of the VPC's ACLs by name, with their entries and subnets (404 for another project's VPC)."""
        with self.db.connection() as conn:
            self._vpc(conn, project_id, vpc_id)
        page = _ORDER.fetch(self.db, f"SELECT {ACL_COLUMNS}{_FROM}", ["a.vpc_id = %(vpc)s"], {"vpc": vpc_id},
                            limit, cursor)
        with self.db.connection() as conn:
            page["items"] = self._details(conn, page["items"])
        return page

    # -- ACLs ------------------------------------------------------------------------------------
    def _insert(self, conn: psycopg.Connection, vpc_id, name: str, is_default: bool) -> uuid.UUID:
        return conn.execute("INSERT INTO network_acls (vpc_id, name, is_default) VALUES (%s, %s, %s) RETURNING id",
                            (vpc_id, name, is_default)).fetchone()["id"]

    def _add(self, conn: psycopg.Connection, acl_id, entry: dict) -> dict:
        return conn.execute(
            "INSERT INTO network_acl_entries (network_acl_id, number, direction, action, protocol, port_min,"
            f" port_max, cidr) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING {ENTRY_COLUMNS}",
            (acl_id, entry["number"], entry["direction"], entry["action"], entry["protocol"], entry.get("port_min"),
             entry.get("port_max"), entry["cidr"])).fetchone()

    def create_default(self, conn: psycopg.Connection, vpc_id: uuid.UUID) -> dict:
        """In the VPC's creating transaction: its ``default`` ACL (is_default), allowing everything both ways
        (ingress 100 and egress 100: allow all 0.0.0.0/0)."""
        acl_id = self._insert(conn, vpc_id, "default", True)
        for direction in ("ingress", "egress"):
            self._add(conn, acl_id, {"number": 100, "direction": direction, "action": "allow", "protocol": "all",
                                     "cidr": ANYWHERE})
        self.services.network_state.request_apply(conn)
        return conn.execute(f"SELECT {ACL_COLUMNS}{_FROM} WHERE a.id = %s", (acl_id,)).fetchone()

    def create(self, project_id: uuid.UUID, vpc_id: uuid.UUID, name: str) -> dict:
        """A new ACL in the project's VPC, with no entries: it denies everything until entries are added."""
        try:
            with self.db.connection() as conn:
                self._vpc(conn, project_id, vpc_id)
                acl_id = self._insert(conn, vpc_id, name, False)
                self.services.network_state.request_apply(conn)
                return self.get(project_id, acl_id, conn)
        except psycopg.errors.UniqueViolation:
            raise Conflict("networks.acl_name_taken", code="name_taken", name=name) from None

    def delete(self, project_id: uuid.UUID, acl_id: uuid.UUID) -> None:
        """409 for the default ACL (it goes with its VPC) and while subnets use it."""
        with self.db.connection() as conn:
            acl = self._details(conn, [self._acl(conn, project_id, acl_id, lock=True)])[0]
            if acl["is_default"]:
                raise Conflict("networks.default_acl", code="default_acl")
            if acl["subnets"]:
                raise Conflict("networks.acl_in_use", code="acl_in_use", details={"subnets": acl["subnets"]},
                               names=", ".join(s["name"] for s in acl["subnets"]))
            conn.execute("DELETE FROM network_acls WHERE id = %s", (acl_id,))
            self.services.network_state.request_apply(conn)

    # -- entries ---------------------------------------------------------------------------------
    def add_entry(self, project_id: uuid.UUID, acl_id: uuid.UUID, body: dict) -> dict:
        """A numbered entry (validated by network_rules.validate_acl_entry); 409 ``acl_entry_exists`` for a
        number taken in that direction, 409 ``acl_entry_limit`` past 20 entries per direction."""
        entry = validate_acl_entry(body)
        with self.db.connection() as conn:
            self._acl(conn, project_id, acl_id, lock=True)
            taken = conn.execute("SELECT count(*) AS n, count(*) FILTER (WHERE number = %s) AS same"
                                 " FROM network_acl_entries WHERE network_acl_id = %s AND direction = %s",
                                 (entry["number"], acl_id, entry["direction"])).fetchone()
            if taken["same"]:
                raise Conflict("networks.acl_entry_exists", code="acl_entry_exists", number=entry["number"],
                               direction=entry["direction"])
            if taken["n"] >= MAX_ACL_ENTRIES_PER_DIRECTION:
                raise Conflict("networks.acl_entry_limit", code="acl_entry_limit",
                               limit=MAX_ACL_ENTRIES_PER_DIRECTION, direction=entry["direction"])
            added = self._add(conn, acl_id, entry)
            self.services.network_state.request_apply(conn)
        return added

    def delete_entry(self, project_id: uuid.UUID, acl_id: uuid.UUID, entry_id: uuid.UUID) -> None:
        with self.db.connection() as conn:
            self._acl(conn, project_id, acl_id, lock=True)
            if not conn.execute("DELETE FROM network_acl_entries WHERE id = %s AND network_acl_id = %s",
                                (entry_id, acl_id)).rowcount:
                raise NotFoundError("networks.acl_entry_not_found")
            self.services.network_state.request_apply(conn)

    # -- subnets ---------------------------------------------------------------------------------
    def associate(self, project_id: uuid.UUID, subnet_id: uuid.UUID, acl_id: uuid.UUID) -> dict:
        """The subnet is filtered by ``acl_id`` from now on (an ACL of the subnet's VPC: else 422 naming
        ``network_acl_id``). The subnets row is written by services/subnets.py."""
        with self.db.connection() as conn:
            subnet = self.services.subnets.get(project_id, subnet_id, conn)
            acl = conn.execute(f"SELECT {ACL_COLUMNS}{_FROM} WHERE a.id = %s AND v.project_id = %s",
                               (acl_id, project_id)).fetchone()
            if acl is None or acl["vpc_id"] != subnet["vpc_id"]:
                raise ValidationFailed({"network_acl_id": "networks.acl_other_vpc"}, key="networks.acl_other_vpc")
            self.services.subnets.set_network_acl(conn, subnet_id, acl_id)
            self.services.network_state.request_apply(conn)
        return {"subnet_id": subnet_id, "network_acl_id": acl_id, "network_acl_name": acl["name"]}
