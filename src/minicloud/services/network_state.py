"""The host's network as the database says it should be, and the one way a change reaches the host.

Every service that changes something the host enforces (a subnet, a security-group rule or
membership, an ACL entry, a route, a gateway, a public IP, an instance's NIC) calls
``request_apply(conn)`` in its own transaction: one ``network.apply`` job is queued (never a second
one while one waits), and the worker applies the whole desired state when it runs. Applying the
whole state each time keeps one code path for a change, the reconciler and a host restart.

``desired()`` reads every table in eight queries in one snapshot, whatever the number of VPCs and
NICs. A NIC is every instance with an address that is not ``deleted`` (its domain may still exist:
``deleting`` and ``error`` included), so the host keeps a guest's port until the guest is gone.

``[network] enforcement``: ``"off"`` — nothing is applied (guests stay on ``compute.network_mode``);
``"auto"`` — applied when the driver says the host can (``Capabilities.can_apply``), skipped with the
reason otherwise (a development box without root is not an error); anything else (``"on"``) — applied,
and a host that cannot apply fails the job (``NetworkUnavailable``).
"""
from __future__ import annotations

import ipaddress
import uuid
from collections import defaultdict

import psycopg

from minicloud.config import Config
from minicloud.db import queue
from minicloud.db.pool import Database
from minicloud.drivers.network.base import (
    AclEntry, HostState, NetworkDriver, Nic, PublicIp, PublicNetwork, Route, SecurityGroup, SecurityGroupRule,
    Subnet, Vpc, tap_name,
)
from minicloud.errors import NotFoundError
from minicloud.services.networking import mac_for

APPLY_JOB = "network.apply"
APPLY_TARGET = "network:host"  # one apply at a time: jobs of one target never run together

_VPCS = """SELECT v.id, v.number, v.name, v.cidr::text AS cidr, host(g.address) AS gateway
FROM vpcs v LEFT JOIN internet_gateways g ON g.vpc_id = v.id ORDER BY v.number"""
_SUBNETS = """SELECT s.id, s.vpc_id, s.number, s.name, s.cidr::text AS cidr, s.route_table_id, s.network_acl_id,
       rt.number AS route_table, a.name AS acl_name
FROM subnets s JOIN route_tables rt ON rt.id = s.route_table_id JOIN network_acls a ON a.id = s.network_acl_id
ORDER BY s.number"""
_ROUTES = """SELECT route_table_id, destination::text AS destination, target FROM routes
ORDER BY route_table_id, masklen(destination) DESC, destination"""
_ACL_ENTRIES = """SELECT network_acl_id, number, direction, action, protocol, cidr::text AS cidr, port_min, port_max
FROM network_acl_entries ORDER BY network_acl_id, direction, number"""
_GROUPS = "SELECT id, vpc_id, number, name FROM security_groups ORDER BY number"
_RULES = """SELECT r.id, r.security_group_id, r.direction, r.protocol, r.port_min, r.port_max, r.cidr::text AS cidr,
       src.number AS source_group
FROM security_group_rules r LEFT JOIN security_groups src ON src.id = r.source_group_id
ORDER BY r.security_group_id, r.created_at, r.id"""
_NICS = """SELECT i.id, i.hostname, i.subnet_id, host(i.private_ip) AS ip,
       coalesce(array_agg(g.number ORDER BY g.number) FILTER (WHERE g.number IS NOT NULL), '{}') AS groups
FROM instances i
LEFT JOIN instance_security_groups m ON m.instance_id = i.id
LEFT JOIN security_groups g ON g.id = m.security_group_id
WHERE i.state <> 'deleted' AND i.subnet_id IS NOT NULL AND i.private_ip IS NOT NULL
GROUP BY i.id ORDER BY i.private_ip, i.id"""
_PUBLIC_IPS = """SELECT s.vpc_id, host(p.address) AS address, host(i.private_ip) AS private_ip
FROM public_ips p JOIN instances i ON i.id = p.instance_id JOIN subnets s ON s.id = i.subnet_id
WHERE i.state <> 'deleted' AND i.private_ip IS NOT NULL ORDER BY p.address"""


class NetworkState:
    def __init__(self, db: Database, config: Config, driver: NetworkDriver | None = None):
        self.db = db
        self.config = config
        self.driver = driver

    def request_apply(self, conn: psycopg.Connection) -> None:
        """In the caller's transaction: make sure a ``network.apply`` job is waiting (at most one queued)."""
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (APPLY_TARGET,))
        waiting = conn.execute("SELECT 1 FROM jobs WHERE kind = %s AND state = 'queued' LIMIT 1",
                               (APPLY_JOB,)).fetchone()
        if waiting is None:
            queue.enqueue(conn, APPLY_JOB, {}, target=APPLY_TARGET,
                          max_attempts=int(self.config.get("jobs.max_attempts")))

    # -- the desired state ------------------------------------------------------------------------
    def public_network(self) -> PublicNetwork:
        """``[network] public_bridge`` holding the first address of ``public_pool``."""
        pool = ipaddress.ip_network(str(self.config.get("network.public_pool")), strict=False)
        gateway = str(next(pool.hosts())) if pool.num_addresses > 1 else str(pool.network_address)
        return PublicNetwork(bridge=str(self.config.get("network.public_bridge")), cidr=str(pool), gateway=gateway)

    def desired(self) -> HostState:
        """Every VPC with its subnets, routes, ACLs, groups, NICs and public IPs, read in one snapshot."""
        with self.db.connection() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            rows = {name: conn.execute(sql).fetchall() for name, sql in (
                ("vpcs", _VPCS), ("subnets", _SUBNETS), ("routes", _ROUTES), ("acl", _ACL_ENTRIES),
                ("groups", _GROUPS), ("rules", _RULES), ("nics", _NICS), ("public_ips", _PUBLIC_IPS))}
        return HostState(vpcs=_build_vpcs(rows), public=self.public_network())

    # -- the host ---------------------------------------------------------------------------------
    def _driver(self) -> NetworkDriver:
        if self.driver is None:
            raise RuntimeError("NetworkState was built without a network driver")
        return self.driver

    def enforcement(self) -> str:
        return str(self.config.get("network.enforcement")).strip().lower()

    def capabilities(self) -> dict:
        """What the host offers (probed now) and what minicloud does with it: ``enforcing`` says whether
        ``apply_now`` changes the host."""
        mode = self.enforcement()
        caps = self._driver().capabilities()
        enforcing = mode != "off" and (caps.can_apply or mode != "auto")
        return {"enforcement": mode, "enforcing": enforcing, **caps.as_dict()}

    def health(self) -> dict:
        """The ``network`` component of /readyz: ``ok`` when networks are enforced as configured, ``off`` when
        enforcement is off, ``degraded`` when ``auto`` finds a host that cannot apply (minicloud is ready, its
        VPCs are not enforced, and ``reason`` says why). Readiness itself never depends on it."""
        caps = self.capabilities()
        if caps["enforcement"] == "off":
            status = "off"
        else:
            status = "ok" if caps["can_apply"] else "degraded"
        return {"status": status, **caps}

    def apply_now(self) -> dict:
        """Build the desired state and make the host match it: ``{digest, changes}`` (``changes`` empty when
        the host already matched; ``applied`` False, with the reason, when enforcement is off or, under
        ``auto``, the host cannot apply). Raises ``NetworkUnavailable`` / ``NetworkError`` from the driver."""
        state = self.desired()
        mode = self.enforcement()
        if mode == "off":
            return {"digest": state.digest(), "changes": [], "applied": False, "reason": "network.enforcement is off"}
        driver = self._driver()
        if mode == "auto":
            caps = driver.capabilities()
            if not caps.can_apply:
                return {"digest": state.digest(), "changes": [], "applied": False, "reason": caps.reason}
        applied = driver.apply(state)
        return {"digest": applied.digest, "changes": [c for c in applied.changes if c], "applied": True}

    def underneath(self, project_id: uuid.UUID, vpc_id: uuid.UUID) -> dict:
        """The host's own view of one of the project's VPCs (ruleset with counters, routes, leases); 404 when
        the VPC is not the project's."""
        owned = self.db.fetchone("SELECT 1 FROM vpcs WHERE id = %s AND project_id = %s", (vpc_id, project_id))
        if owned is None:
            raise NotFoundError("networks.vpc_not_found", code="not_found")
        vpc = next((v for v in self.desired().vpcs if v.vpc_id == str(vpc_id)), None)
        if vpc is None:  # deleted between the two reads
            raise NotFoundError("networks.vpc_not_found", code="not_found")
        seen = self._driver().underneath(vpc)
        return {"vpc_id": str(vpc_id), "namespace": vpc.namespace, "ruleset": seen.ruleset, "routes": seen.routes,
                "leases": seen.leases, "calls": list(seen.calls)}


def _by(rows: list[dict], key: str) -> dict:
    grouped: dict = defaultdict(list)
    for row in rows:
        grouped[row[key]].append(row)
    return grouped


def _build_vpcs(rows: dict[str, list[dict]]) -> tuple[Vpc, ...]:
    routes = {table: tuple(Route(r["destination"], r["target"]) for r in found)
              for table, found in _by(rows["routes"], "route_table_id").items()}
    acls = {acl: tuple(AclEntry(e["number"], e["direction"], e["action"], e["protocol"], e["cidr"],
                                e["port_min"], e["port_max"]) for e in found)
            for acl, found in _by(rows["acl"], "network_acl_id").items()}
    nics = {subnet: tuple(Nic(port=tap_name(n["id"]), mac=mac_for(n["id"]), ip=n["ip"], hostname=n["hostname"] or "",
                              groups=tuple(n["groups"])) for n in found)
            for subnet, found in _by(rows["nics"], "subnet_id").items()}
    rules = _by(rows["rules"], "security_group_id")
    groups = _by(rows["groups"], "vpc_id")
    subnets = _by(rows["subnets"], "vpc_id")
    public_ips = _by(rows["public_ips"], "vpc_id")
    vpcs = []
    for v in rows["vpcs"]:
        vpcs.append(Vpc(
            number=v["number"], vpc_id=str(v["id"]), name=v["name"], cidr=v["cidr"], gateway_address=v["gateway"],
            subnets=tuple(Subnet(number=s["number"], subnet_id=str(s["id"]), name=s["name"], cidr=s["cidr"],
                                 acl_name=s["acl_name"], acl=acls.get(s["network_acl_id"], ()),
                                 route_table=s["route_table"], routes=routes.get(s["route_table_id"], ()),
                                 nics=nics.get(s["id"], ()))
                          for s in subnets.get(v["id"], ())),
            groups=tuple(SecurityGroup(number=g["number"], group_id=str(g["id"]), name=g["name"],
                                       rules=tuple(_rule(i, r) for i, r in enumerate(rules.get(g["id"], ()), 1)))
                         for g in groups.get(v["id"], ())),
            public_ips=tuple(PublicIp(p["address"], p["private_ip"]) for p in public_ips.get(v["id"], ())),
        ))
    return tuple(vpcs)


def _rule(position: int, r: dict) -> SecurityGroupRule:
    return SecurityGroupRule(number=position, rule_id=str(r["id"]), direction=r["direction"], protocol=r["protocol"],
                             port_min=r["port_min"], port_max=r["port_max"], cidr=r["cidr"],
                             source_group=r["source_group"])
