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


class SubnetsStandIn:
    """services.subnets until the VPC branch of issue 10 is merged (then the real one is used)."""

    def __init__(self, db):
        self.db = db

    def get(self, project_id, subnet_id, conn=None):
        from minicloud.errors import NotFoundError

        row = conn.execute("SELECT s.id, s.vpc_id, s.cidr::text AS cidr, s.number FROM subnets s"
                           " JOIN vpcs v ON v.id = s.vpc_id WHERE s.id = %s AND v.project_id = %s",
                           (subnet_id, project_id)).fetchone()
        if row is None:
            raise NotFoundError("networks.subnet_not_found")
        return row

    def allocate_ip(self, conn, subnet_id) -> str:
        import ipaddress

        cidr = conn.execute("SELECT cidr FROM subnets WHERE id = %s FOR UPDATE", (subnet_id,)).fetchone()["cidr"]
        used = {str(r["ip"]) for r in conn.execute("SELECT host(private_ip) AS ip FROM instances WHERE subnet_id = %s"
                                                   " AND state <> 'deleted'", (subnet_id,)).fetchall()}
        hosts = list(ipaddress.IPv4Network(cidr).hosts())[3:]
        return next(str(ip) for ip in hosts if str(ip) not in used)

    def set_network_acl(self, conn, subnet_id, acl_id) -> None:
        conn.execute("UPDATE subnets SET network_acl_id = %s WHERE id = %s", (acl_id, subnet_id))


class VpcsStandIn:
    def __init__(self, services):
        self.services = services

    def ensure_default(self, conn, project_id) -> dict:
        row = conn.execute("SELECT v.id, s.id AS subnet_id FROM vpcs v JOIN subnets s ON s.vpc_id = v.id"
                           " AND s.is_default WHERE v.project_id = %s AND v.is_default", (project_id,)).fetchone()
        if row is None:
            vpc = conn.execute("INSERT INTO vpcs (project_id, name, cidr, is_default) VALUES (%s, 'default',"
                               " '172.31.0.0/16', true) RETURNING id", (project_id,)).fetchone()["id"]
            table = conn.execute("INSERT INTO route_tables (vpc_id, name, is_main) VALUES (%s, 'main', true)"
                                 " RETURNING id", (vpc,)).fetchone()["id"]
            acl = self.services.network_acls.create_default(conn, vpc)
            self.services.security_groups.create_default(conn, vpc)
            subnet = conn.execute("INSERT INTO subnets (vpc_id, name, cidr, is_default, route_table_id,"
                                  " network_acl_id) VALUES (%s, 'default', '172.31.0.0/20', true, %s, %s) RETURNING id",
                                  (vpc, table, acl["id"])).fetchone()["id"]
            row = {"id": vpc, "subnet_id": subnet}
        return row


def install_network_standins(services) -> None:
    """Give ``services`` the VPC side of issue 10 when this tree does not have it yet."""
    if not hasattr(services, "subnets"):
        services.subnets = SubnetsStandIn(services.db)
    if not hasattr(services, "vpcs"):
        services.vpcs = VpcsStandIn(services)
