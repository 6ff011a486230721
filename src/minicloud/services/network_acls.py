"""Network ACLs: stateless allow/deny lists on a subnet's border, and their numbered entries."""
from __future__ import annotations

import uuid

import psycopg

from minicloud.config import Config
from minicloud.db.pool import Database

ACL_COLUMNS = "id, vpc_id, name, is_default, created_at"


class NetworkAcls:
    def __init__(self, db: Database, config: Config, services):
        self.db = db
        self.config = config
        self.services = services

    def create_default(self, conn: psycopg.Connection, vpc_id: uuid.UUID) -> dict:
        """In the caller's transaction: the VPC's ACL ``default`` (is_default) with its two entries —
        ingress 100 allow all from 0.0.0.0/0 and egress 100 allow all to 0.0.0.0/0 — as a row."""
        acl = conn.execute(f"INSERT INTO network_acls (vpc_id, name, is_default) VALUES (%s, 'default', true)"
                           f" RETURNING {ACL_COLUMNS}", (vpc_id,)).fetchone()
        for direction in ("ingress", "egress"):
            conn.execute("INSERT INTO network_acl_entries (network_acl_id, number, direction, action, protocol, cidr)"
                         " VALUES (%s, 100, %s, 'allow', 'all', '0.0.0.0/0')", (acl["id"], direction))
        return acl
