"""Rows of the networks schema (migration 0009) written straight into the database, for tests of the
code that reads them (the desired host state, the cascades) before the owning services exist.
Each builder takes an autocommit psycopg connection with dict rows."""
from __future__ import annotations

import itertools
import uuid

_names = itertools.count(1)


def user_project(conn, name: str = "") -> uuid.UUID:
    """A user and a team project of theirs; the project's id."""
    n = next(_names)
    user = conn.execute("INSERT INTO users (username, display_name, password_hash) VALUES (%s, %s, 'x') RETURNING id",
                        (f"netuser{n}-{uuid.uuid4().hex[:6]}", "Net User")).fetchone()["id"]
    return conn.execute("INSERT INTO projects (name, owner_id) VALUES (%s, %s) RETURNING id",
                        (name or f"netproject{n}", user)).fetchone()["id"]


def vpc(conn, project_id, cidr: str = "10.0.0.0/16", name: str = "") -> dict:
    """A VPC with what every VPC has: main table with its local route, default ACL (allow all both ways),
    default group (all from itself in, all to anywhere out)."""
    row = conn.execute("INSERT INTO vpcs (project_id, name, cidr) VALUES (%s, %s, %s) RETURNING id, number",
                       (project_id, name or f"vpc{next(_names)}", cidr)).fetchone()
    vpc_id = row["id"]
    main = conn.execute("INSERT INTO route_tables (vpc_id, name, is_main) VALUES (%s, 'main', true)"
                        " RETURNING id, number", (vpc_id,)).fetchone()
    conn.execute("INSERT INTO routes (route_table_id, destination, target) VALUES (%s, %s, 'local')",
                 (main["id"], cidr))
    acl = conn.execute("INSERT INTO network_acls (vpc_id, name, is_default) VALUES (%s, 'default', true)"
                       " RETURNING id", (vpc_id,)).fetchone()["id"]
    for direction in ("ingress", "egress"):
        conn.execute("INSERT INTO network_acl_entries (network_acl_id, number, direction, action, protocol, cidr)"
                     " VALUES (%s, 100, %s, 'allow', 'all', '0.0.0.0/0')", (acl, direction))
    group = conn.execute("INSERT INTO security_groups (vpc_id, name, is_default) VALUES (%s, 'default', true)"
                         " RETURNING id, number", (vpc_id,)).fetchone()
    conn.execute("INSERT INTO security_group_rules (security_group_id, direction, protocol, source_group_id)"
                 " VALUES (%s, 'ingress', 'all', %s)", (group["id"], group["id"]))
    conn.execute("INSERT INTO security_group_rules (security_group_id, direction, protocol, cidr)"
                 " VALUES (%s, 'egress', 'all', '0.0.0.0/0')", (group["id"],))
    return {"id": vpc_id, "number": row["number"], "cidr": cidr, "project_id": project_id,
            "main_table": main["id"], "main_table_number": main["number"], "default_acl": acl,
            "default_group": group["id"], "default_group_number": group["number"]}


def subnet(conn, vpc_row: dict, cidr: str, name: str = "", route_table_id=None, acl_id=None) -> dict:
    return conn.execute(
        "INSERT INTO subnets (vpc_id, name, cidr, route_table_id, network_acl_id) VALUES (%s, %s, %s, %s, %s)"
        " RETURNING id, number", (vpc_row["id"], name or f"subnet{next(_names)}", cidr,
                                  route_table_id or vpc_row["main_table"], acl_id or vpc_row["default_acl"])
    ).fetchone()


def route_table(conn, vpc_row: dict, name: str) -> dict:
    table = conn.execute("INSERT INTO route_tables (vpc_id, name) VALUES (%s, %s) RETURNING id, number",
                         (vpc_row["id"], name)).fetchone()
    conn.execute("INSERT INTO routes (route_table_id, destination, target) VALUES (%s, %s, 'local')",
                 (table["id"], vpc_row["cidr"]))
    return table


def internet_gateway(conn, vpc_row: dict, address: str) -> uuid.UUID:
    return conn.execute("INSERT INTO internet_gateways (vpc_id, address) VALUES (%s, %s) RETURNING id",
                        (vpc_row["id"], address)).fetchone()["id"]


def group(conn, vpc_row: dict, name: str) -> dict:
    return conn.execute("INSERT INTO security_groups (vpc_id, name) VALUES (%s, %s) RETURNING id, number",
                        (vpc_row["id"], name)).fetchone()


def catalog(conn) -> tuple[uuid.UUID, uuid.UUID]:
    """A template and an image for instance rows."""
    n = uuid.uuid4().hex[:8]
    template = conn.execute("INSERT INTO templates (name, vcpus, ram_mib, disk_gib) VALUES (%s, 1, 512, 1)"
                            " RETURNING id", (f"net-{n}",)).fetchone()["id"]
    image = conn.execute("INSERT INTO images (name, disk_path) VALUES (%s, '/nonexistent.qcow2') RETURNING id",
                         (f"net-{n}",)).fetchone()["id"]
    return template, image


def instance(conn, project_id, subnet_row: dict | None, ip: str | None, *, state: str = "running",
             groups=(), name: str = "", cat=None) -> uuid.UUID:
    template, image = cat or catalog(conn)
    instance_id = uuid.uuid4()
    name = name or f"pc{next(_names)}"
    conn.execute(
        "INSERT INTO instances (id, project_id, name, hostname, template_id, image_id, state, vcpus, ram_mib,"
        " disk_gib, domain_name, subnet_id, private_ip) VALUES (%s, %s, %s, %s, %s, %s, %s, 1, 512, 1, %s, %s, %s)",
        (instance_id, project_id, name, name, template, image, state, f"mc-{instance_id}",
         subnet_row["id"] if subnet_row else None, ip))
    for group_id in groups:
        conn.execute("INSERT INTO instance_security_groups (instance_id, security_group_id) VALUES (%s, %s)",
                     (instance_id, group_id))
    return instance_id
