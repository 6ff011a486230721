"""A VPC made directly in the database for the security-group, ACL and instance-network tests.

The VPC service (services/vpcs.py, another branch of issue 10) is not needed: ``make_vpc`` inserts
the VPC, its main route table with the local route, and a subnet, and asks the two services of
this branch for the VPC's default ACL and default group — the rows the VPC service makes the same way.
"""
from __future__ import annotations


def personal_project(user) -> str:
    return next(p["id"] for p in user.me["projects"] if p["personal"])


def make_vpc(services, project_id, name="main", cidr="10.0.0.0/16", subnet_cidr="10.0.1.0/24") -> dict:
    """{"vpc_id", "subnet_id", "acl_id", "group_id", "route_table_id"} of a new VPC with one subnet."""
    with services.db.connection() as conn:
        vpc = conn.execute("INSERT INTO vpcs (project_id, name, cidr) VALUES (%s, %s, %s) RETURNING id",
                           (project_id, name, cidr)).fetchone()["id"]
        table = conn.execute("INSERT INTO route_tables (vpc_id, name, is_main) VALUES (%s, 'main', true)"
                             " RETURNING id", (vpc,)).fetchone()["id"]
        conn.execute("INSERT INTO routes (route_table_id, destination, target) VALUES (%s, %s, 'local')",
                     (table, cidr))
        acl = services.network_acls.create_default(conn, vpc)
        group = services.security_groups.create_default(conn, vpc)
        subnet = conn.execute("INSERT INTO subnets (vpc_id, name, cidr, route_table_id, network_acl_id)"
                              " VALUES (%s, 'web', %s, %s, %s) RETURNING id",
                              (vpc, subnet_cidr, table, acl["id"])).fetchone()["id"]
    return {"vpc_id": str(vpc), "subnet_id": str(subnet), "acl_id": str(acl["id"]), "group_id": str(group["id"]),
            "route_table_id": str(table)}


def apply_jobs(services) -> int:
    """How many network.apply jobs wait (one at most: request_apply coalesces)."""
    return services.db.fetchone("SELECT count(*) AS n FROM jobs WHERE kind = 'network.apply'"
                                " AND state = 'queued'")["n"]


def clear_apply_jobs(services) -> None:
    with services.db.connection() as conn:
        conn.execute("DELETE FROM jobs WHERE kind = 'network.apply'")
