"""The vpc.delete job: every step of the delete plan in order, each through the owning service, the
steps visible on the operation as they go, a failing step ending the cascade with its error."""
from __future__ import annotations

import uuid

import network_rows as rows
import psycopg
import pytest
from psycopg.rows import dict_row

from minicloud.db import queue
from minicloud.errors import Conflict
from minicloud.jobs.worker import Worker


class Calls:
    """Stand-ins for the network services' delete methods: each records (method, id) in one shared list."""

    def __init__(self, log: list, plan: list | None = None, fail_on: str | None = None):
        self.log, self.plan, self.fail_on = log, plan or [], fail_on

    def _call(self, name, item_id):
        if name == self.fail_on:
            raise Conflict("networks.group_in_use", code="group_in_use")
        self.log.append((name, str(item_id)))

    def delete_plan(self, project_id, vpc_id):
        return self.plan

    def disassociate(self, project_id, public_ip_id):
        self._call("public_ips.disassociate", public_ip_id)

    def drop_references(self, project_id, vpc_id):
        self._call("security_groups.drop_references", vpc_id)

    def delete(self, project_id, item_id):
        self._call(f"{self.kind}.delete", item_id)

    def delete_route_table(self, project_id, table_id):
        self._call("vpcs.delete_route_table", table_id)

    def detach_gateway(self, project_id, vpc_id):
        self._call("vpcs.detach_gateway", vpc_id)


def doubles(services, plan, fail_on=None) -> list:
    log: list = []
    for kind in ("vpcs", "subnets", "public_ips", "security_groups", "network_acls"):
        double = Calls(log, plan, fail_on)
        double.kind = kind
        setattr(services, kind, double)
    return log


@pytest.fixture
def db(clean_db):
    with psycopg.connect(clean_db, autocommit=True, row_factory=dict_row) as conn:
        yield conn


def _plan(vpc_id, instance_ids, ids):
    item = lambda kind, i: {"kind": kind, "id": str(i), "name": kind}  # noqa: E731
    return [{"kind": "instances", "items": [item("instance", i) for i in instance_ids]},
            {"kind": "public_ips", "items": [item("public_ip", ids["ip"])]},
            {"kind": "subnets", "items": [item("subnet", ids["subnet"])]},
            {"kind": "route_tables", "items": [item("route_table", ids["table"])]},
            {"kind": "internet_gateway", "items": [item("internet_gateway", ids["igw"])]},
            {"kind": "security_groups", "items": [item("security_group", ids["group"])]},
            {"kind": "network_acls", "items": []},
            {"kind": "vpc", "items": [item("vpc", vpc_id)]}]


def _run(services, config, db, project, vpc_id):
    with services.db.connection() as conn:
        job = queue.enqueue(conn, "vpc.delete", {"vpc_id": str(vpc_id)}, project_id=project, max_attempts=1)
    worker = Worker(config, services, name="cascade")
    while worker.run_once(db):
        pass
    return db.execute("SELECT * FROM jobs WHERE id = %s", (job["id"],)).fetchone()


def test_the_cascade_takes_a_whole_vpc_apart_through_the_api(auth, compute, work, services, db):
    """A VPC with mini PCs, a public IP, two subnets, a route table, a gateway, groups that name each other
    and an ACL: one DELETE ?cascade=true, one job, everything gone but the project's public IP."""
    alice = auth.user("alice")
    vpc = alice.post("/api/v1/vpcs", json={"name": "lab", "cidr": "10.1.0.0/16"}).json
    one = alice.post(f"/api/v1/vpcs/{vpc['id']}/subnets", json={"name": "one", "cidr": "10.1.1.0/24"}).json
    two = alice.post(f"/api/v1/vpcs/{vpc['id']}/subnets", json={"name": "two", "cidr": "10.1.2.0/24"}).json
    assert alice.post(f"/api/v1/vpcs/{vpc['id']}/internet-gateway").status_code == 201
    table = alice.post(f"/api/v1/vpcs/{vpc['id']}/route-tables", json={"name": "public"}).json
    assert alice.post(f"/api/v1/route-tables/{table['id']}/routes",
                      json={"destination": "0.0.0.0/0", "target": "internet_gateway"}).status_code == 201
    assert alice.put(f"/api/v1/subnets/{one['id']}/route-table", json={"route_table_id": table["id"]}).status_code == 200
    web = alice.post("/api/v1/security-groups", json={"name": "web", "vpc_id": vpc["id"]}).json
    db_group = alice.post("/api/v1/security-groups", json={"name": "db", "vpc_id": vpc["id"]}).json
    for group, other in ((web, db_group), (db_group, web)):
        assert alice.post(f"/api/v1/security-groups/{group['id']}/rules", json={
            "direction": "ingress", "protocol": "tcp", "port_min": 22, "port_max": 22,
            "source_group_id": other["id"]}).status_code == 201
    acl = alice.post(f"/api/v1/vpcs/{vpc['id']}/network-acls", json={"name": "strict"}).json
    assert alice.put(f"/api/v1/subnets/{two['id']}/network-acl", json={"network_acl_id": acl["id"]}).status_code == 200
    pcs = [alice.post("/api/v1/instances", json={"name": name, "template_id": compute["tid"]("nano"),
                                                 "subnet_id": subnet["id"], "security_group_ids": [group["id"]]}).json
           for name, subnet, group in (("a", one, web), ("b", two, db_group))]
    work()
    address = alice.post("/api/v1/public-ips").json
    assert alice.post(f"/api/v1/public-ips/{address['id']}/associate",
                      json={"instance_id": pcs[0]["id"]}).status_code == 200
    refused = alice.delete(f"/api/v1/vpcs/{vpc['id']}")
    assert refused.status_code == 409 and refused.json["error"]["code"] == "vpc_has_dependents"

    accepted = alice.delete(f"/api/v1/vpcs/{vpc['id']}?cascade=true")
    assert accepted.status_code == 202, accepted.json
    work()
    operation = alice.get(f"/api/v1/operations/{accepted.json['operation_id']}").json
    assert operation["state"] == "succeeded", operation
    steps = operation["result"]["steps"]
    assert [s["step"] for s in steps] == ["instances", "public_ips", "subnets", "route_tables", "internet_gateway",
                                          "security_groups", "network_acls", "vpc"]
    assert all(s["ok"] for s in steps)
    assert set(steps[0]["deleted"]) == {p["id"] for p in pcs}
    assert alice.get(f"/api/v1/vpcs/{vpc['id']}").status_code == 404
    assert {r["state"] for r in db.execute("SELECT state FROM instances").fetchall()} == {"deleted"}
    for table_name in ("subnets", "route_tables", "internet_gateways", "security_groups", "network_acls"):
        assert db.execute(f"SELECT count(*) AS n FROM {table_name}").fetchone()["n"] == 0, table_name
    kept = alice.get(f"/api/v1/public-ips/{address['id']}").json
    assert kept["instance"] is None  # the address stays the project's, on no mini PC
    assert services.backends.network.last_state.vpcs == ()  # the host was told: nothing of it is left


def test_a_failing_step_ends_the_cascade_and_the_operation_shows_the_steps_done(config, services, db):
    project = rows.user_project(db)
    vpc = rows.vpc(db, project, "10.2.0.0/16")
    ids = {k: uuid.uuid4() for k in ("ip", "subnet", "table", "igw", "group")}
    log = doubles(services, _plan(vpc["id"], [], ids), fail_on="security_groups.delete")
    job = _run(services, config, db, project, vpc["id"])
    assert job["state"] == "failed" and "security_groups" in job["last_error"]
    steps = job["result"]["steps"]
    assert [s["ok"] for s in steps] == [True, True, True, True, True, False]
    assert steps[-1]["step"] == "security_groups" and steps[-1]["error"]
    assert ("vpcs.delete", str(vpc["id"])) not in log
