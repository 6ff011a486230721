"""Security groups: stateful allow rules on a mini PC's NIC, and which NICs are in which group."""
from __future__ import annotations

import uuid

import psycopg

from minicloud.config import Config
from minicloud.db.pool import Database

GROUP_COLUMNS = "id, vpc_id, name, description, is_default, number, created_at"


class SecurityGroups:
    def __init__(self, db: Database, config: Config, services):
        self.db = db
        self.config = config
        self.services = services

    def create_default(self, conn: psycopg.Connection, vpc_id: uuid.UUID) -> dict:
        """In the caller's transaction: the VPC's group ``default`` (is_default) with its two rules —
        ingress all from the group itself (source_group_id = its own id) and egress all to 0.0.0.0/0 — as a row."""
        group = conn.execute(
            "INSERT INTO security_groups (vpc_id, name, description, is_default) VALUES (%s, 'default', %s, true)"
            f" RETURNING {GROUP_COLUMNS}", (vpc_id, "default VPC security group")).fetchone()
        conn.execute("INSERT INTO security_group_rules (security_group_id, direction, protocol, source_group_id)"
                     " VALUES (%s, 'ingress', 'all', %s)", (group["id"], group["id"]))
        conn.execute("INSERT INTO security_group_rules (security_group_id, direction, protocol, cidr)"
                     " VALUES (%s, 'egress', 'all', '0.0.0.0/0')", (group["id"],))
        return group
