"""Security groups: allow-only firewall rules on each NIC, grouped and shared by the NICs of one VPC.

The one writer of security_groups, security_group_rules and instance_security_groups. A new group
has no ingress rule and one egress rule (all to 0.0.0.0/0); each VPC has a ``default`` group whose
members admit each other (ingress all from the group itself). At most 60 rules per direction per
group and 5 groups per NIC. Every change asks the host to apply the new state
(``network_state.request_apply``) in the same transaction. Semantics: services/network_rules.py.
"""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import psycopg
import psycopg.errors

from minicloud.config import Config
from minicloud.db.pool import Database
from minicloud.errors import Conflict, NotFoundError, ValidationFailed
from minicloud.services.network_rules import (ANYWHERE, MAX_GROUPS_PER_NIC, MAX_RULES_PER_DIRECTION,
                                              validate_sg_rule)
from minicloud.services.pagination import MAX_LIMIT, Keyset

if TYPE_CHECKING:
    from minicloud.services import Services

GROUP_COLUMNS = ("g.id, v.project_id, g.vpc_id, g.name, g.description, g.is_default, g.number, g.created_at")
RULE_COLUMNS = ("id, security_group_id, direction, protocol, port_min, port_max, cidr::text AS cidr,"
                " source_group_id, description, created_at")
_FROM = " FROM security_groups g JOIN vpcs v ON v.id = g.vpc_id"
_ORDER = Keyset((("g.name", "text", "name"), ("g.id", "uuid", "id")))


class SecurityGroups:
    def __init__(self, db: Database, config: Config, services: Services):
        self.db = db
        self.config = config
        self.services = services

    # -- reading ---------------------------------------------------------------------------------
    def _group(self, conn: psycopg.Connection, project_id: uuid.UUID, group_id, lock: bool = False) -> dict:
        row = conn.execute(f"SELECT {GROUP_COLUMNS}{_FROM} WHERE g.id = %s AND v.project_id = %s"
                           + (" FOR UPDATE OF g" if lock else ""), (group_id, project_id)).fetchone()
        if row is None:
            raise NotFoundError("networks.group_not_found")
        return row

    def _rules(self, conn: psycopg.Connection, group_ids: list) -> dict:
        rules: dict = {g: [] for g in group_ids}
        for rule in conn.execute(f"SELECT {RULE_COLUMNS} FROM security_group_rules WHERE security_group_id = ANY(%s)"
                                 " ORDER BY direction DESC, created_at, id", (list(group_ids),)).fetchall():
            rules[rule["security_group_id"]].append(rule)
        return rules

    def get(self, project_id: uuid.UUID, group_id: uuid.UUID, conn: psycopg.Connection | None = None) -> dict:
        """The project's group with its rules (ingress first), or 404."""
        if conn is None:
            with self.db.connection() as own:
                return self.get(project_id, group_id, own)
        group = self._group(conn, project_id, group_id)
        group["rules"] = self._rules(conn, [group["id"]])[group["id"]]
        return group

    def list(self, project_id: uuid.UUID, *, vpc_id: uuid.UUID | None = None, limit: int = MAX_LIMIT,
             cursor: str | None = None) -> dict:
        """A page of the project's groups by name (``vpc_id`` filters), each with its rules."""
        where, params = ["v.project_id = %(project)s"], {"project": project_id}
        if vpc_id is not None:
            where.append("g.vpc_id = %(vpc)s")
            params["vpc"] = vpc_id
        page = _ORDER.fetch(self.db, f"SELECT {GROUP_COLUMNS}{_FROM}", where, params, limit, cursor)
        with self.db.connection() as conn:
            rules = self._rules(conn, [g["id"] for g in page["items"]])
        for group in page["items"]:
            group["rules"] = rules[group["id"]]
        return page

    # -- groups ----------------------------------------------------------------------------------
    def _insert(self, conn: psycopg.Connection, vpc_id, name: str, description: str, is_default: bool) -> dict:
        row = conn.execute("INSERT INTO security_groups (vpc_id, name, description, is_default)"
                           " VALUES (%s, %s, %s, %s) RETURNING id", (vpc_id, name, description, is_default)).fetchone()
        return row

    def _add(self, conn: psycopg.Connection, group_id, rule: dict) -> dict:
        return conn.execute(
            "INSERT INTO security_group_rules (security_group_id, direction, protocol, port_min, port_max, cidr,"
            " source_group_id, description) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            f" RETURNING {RULE_COLUMNS}",
            (group_id, rule["direction"], rule["protocol"], rule.get("port_min"), rule.get("port_max"),
             rule.get("cidr"), rule.get("source_group_id"), rule.get("description", ""))).fetchone()

    def create_default(self, conn: psycopg.Connection, vpc_id: uuid.UUID) -> dict:
        """In the VPC's creating transaction: its ``default`` group (is_default), whose members admit
        each other (ingress all from the group itself) and may send anywhere (egress all)."""
        group = self._insert(conn, vpc_id, "default", "The VPC's default group", True)
        self._add(conn, group["id"], {"direction": "ingress", "protocol": "all", "source_group_id": group["id"]})
        self._add(conn, group["id"], {"direction": "egress", "protocol": "all", "cidr": ANYWHERE})
        self.services.network_state.request_apply(conn)
        return conn.execute(f"SELECT {GROUP_COLUMNS}{_FROM} WHERE g.id = %s", (group["id"],)).fetchone()

    def create(self, project_id: uuid.UUID, body: dict) -> dict:
        """A new group in one of the project's VPCs: no ingress rule, egress all to 0.0.0.0/0."""
        try:
            with self.db.connection() as conn:
                vpc = conn.execute("SELECT id FROM vpcs WHERE id = %s AND project_id = %s",
                                   (body["vpc_id"], project_id)).fetchone()
                if vpc is None:
                    raise ValidationFailed({"vpc_id": "networks.rule_vpc_not_found"}, key="networks.rule_vpc_not_found")
                group = self._insert(conn, vpc["id"], body["name"], body.get("description") or "", False)
                self._add(conn, group["id"], {"direction": "egress", "protocol": "all", "cidr": ANYWHERE})
                self.services.network_state.request_apply(conn)
                return self.get(project_id, group["id"], conn)
        except psycopg.errors.UniqueViolation:
            raise Conflict("networks.group_name_taken", code="name_taken", name=body["name"]) from None

    def delete(self, project_id: uuid.UUID, group_id: uuid.UUID) -> None:
        """Delete a group: 409 for the default group, and while a NIC or another group's rule uses it."""
        with self.db.connection() as conn:
            group = self._group(conn, project_id, group_id, lock=True)
            if group["is_default"]:
                raise Conflict("networks.default_group", code="default_group")
            users = conn.execute(
                "SELECT 'instance' AS kind, i.id, i.name FROM instance_security_groups m"
                " JOIN instances i ON i.id = m.instance_id WHERE m.security_group_id = %(g)s AND i.state <> 'deleted'"
                " UNION ALL SELECT DISTINCT 'security_group', o.id, o.name FROM security_group_rules r"
                " JOIN security_groups o ON o.id = r.security_group_id"
                " WHERE r.source_group_id = %(g)s AND r.security_group_id <> %(g)s ORDER BY 1, 3",
                {"g": group_id}).fetchall()
            if users:
                raise Conflict("networks.group_in_use", code="group_in_use",
                               details={"used_by": [{"kind": u["kind"], "id": u["id"], "name": u["name"]}
                                                    for u in users]},
                               names=", ".join(u["name"] for u in users))
            # a deleted instance's membership is history: it goes with the group
            conn.execute("DELETE FROM instance_security_groups WHERE security_group_id = %s", (group_id,))
            conn.execute("DELETE FROM security_group_rules WHERE security_group_id = %s", (group_id,))
            conn.execute("DELETE FROM security_groups WHERE id = %s", (group_id,))
            self.services.network_state.request_apply(conn)

    # -- rules -----------------------------------------------------------------------------------
    def add_rule(self, project_id: uuid.UUID, group_id: uuid.UUID, body: dict) -> dict:
        """An allow rule (validated by network_rules.validate_sg_rule); a source group must be of the same
        VPC (422); 60 rules per direction at most (409 rule_limit)."""
        rule = validate_sg_rule(body)
        with self.db.connection() as conn:
            group = self._group(conn, project_id, group_id, lock=True)
            if rule["source_group_id"] is not None:
                source = conn.execute("SELECT vpc_id FROM security_groups WHERE id = %s",
                                      (rule["source_group_id"],)).fetchone()
                if source is None or source["vpc_id"] != group["vpc_id"]:
                    raise ValidationFailed({"source_group_id": "networks.source_group_other_vpc"},
                                           key="networks.source_group_other_vpc")
            count = conn.execute("SELECT count(*) AS n FROM security_group_rules WHERE security_group_id = %s"
                                 " AND direction = %s", (group_id, rule["direction"])).fetchone()["n"]
            if count >= MAX_RULES_PER_DIRECTION:
                raise Conflict("networks.rule_limit", code="rule_limit", limit=MAX_RULES_PER_DIRECTION,
                               direction=rule["direction"])
            added = self._add(conn, group_id, rule)
            self.services.network_state.request_apply(conn)
        return added

    def delete_rule(self, project_id: uuid.UUID, group_id: uuid.UUID, rule_id: uuid.UUID) -> None:
        with self.db.connection() as conn:
            self._group(conn, project_id, group_id, lock=True)
            if not conn.execute("DELETE FROM security_group_rules WHERE id = %s AND security_group_id = %s",
                                (rule_id, group_id)).rowcount:
                raise NotFoundError("networks.rule_not_found")
            self.services.network_state.request_apply(conn)

    # -- membership (called by services/instances.py) ----------------------------------------------
    def resolve_for_instance(self, conn: psycopg.Connection, project_id: uuid.UUID, vpc_id: uuid.UUID,
                             group_ids: list | None) -> list[uuid.UUID]:
        """The groups a NIC in ``vpc_id`` gets: ``group_ids`` (1–5 of the project's groups of that VPC) or,
        when None, the VPC's default group. 422 naming ``security_group_ids`` for an unknown group, 409
        ``too_many_groups`` past 5, 409 ``group_other_vpc`` for a group of another VPC."""
        if group_ids is None:
            found = conn.execute("SELECT id FROM security_groups WHERE vpc_id = %s AND is_default",
                                 (vpc_id,)).fetchone()
            if found is None:
                raise Conflict("networks.no_default_group", code="no_default_group")
            return [found["id"]]
        wanted = list(dict.fromkeys(str(g) for g in group_ids))
        if not wanted:
            raise ValidationFailed({"security_group_ids": "networks.groups_required"},
                                   key="networks.groups_required")
        if len(wanted) > MAX_GROUPS_PER_NIC:
            raise Conflict("networks.too_many_groups", code="too_many_groups", limit=MAX_GROUPS_PER_NIC)
        rows = conn.execute(f"SELECT g.id, g.vpc_id, g.name{_FROM} WHERE g.id = ANY(%s::uuid[]) AND v.project_id = %s",
                            (wanted, project_id)).fetchall()
        if len(rows) != len(wanted):
            raise ValidationFailed({"security_group_ids": "networks.group_not_found"},
                                   key="networks.group_not_found")
        other = [r["name"] for r in rows if r["vpc_id"] != vpc_id]
        if other:
            raise Conflict("networks.group_other_vpc", code="group_other_vpc", names=", ".join(other))
        by_id = {str(r["id"]): r["id"] for r in rows}
        return [by_id[g] for g in wanted]

    def set_for_instance(self, conn: psycopg.Connection, instance_id: uuid.UUID, group_ids: list) -> None:
        """In the caller's transaction: the instance's groups are exactly ``group_ids`` (already resolved),
        and the host is asked to apply it."""
        conn.execute("DELETE FROM instance_security_groups WHERE instance_id = %s AND NOT security_group_id = ANY(%s)",
                     (instance_id, list(group_ids)))
        for group_id in group_ids:
            conn.execute("INSERT INTO instance_security_groups (instance_id, security_group_id) VALUES (%s, %s)"
                         " ON CONFLICT DO NOTHING", (instance_id, group_id))
        self.services.network_state.request_apply(conn)

    def of_instances(self, instance_ids: list, conn: psycopg.Connection | None = None) -> dict:
        """{instance id: [{"id", "name"}, ...] by name} for these instances."""
        if not instance_ids:
            return {}
        sql = ("SELECT m.instance_id, g.id, g.name FROM instance_security_groups m"
               " JOIN security_groups g ON g.id = m.security_group_id WHERE m.instance_id = ANY(%s) ORDER BY g.name")
        rows = (conn.execute(sql, (list(instance_ids),)).fetchall() if conn is not None
                else self.db.fetchall(sql, (list(instance_ids),)))
        out: dict = {i: [] for i in instance_ids}
        for row in rows:
            out.setdefault(row["instance_id"], []).append({"id": row["id"], "name": row["name"]})
        return out
