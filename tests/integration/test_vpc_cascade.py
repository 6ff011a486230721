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

    def release(self, conn, public_ip_id):
        self._call("public_ips.release", public_ip_id)

    def delete(self, project_id, item_id):
        self._call(f"{self.kind}.delete", item_id)

    def delete_route_table(self, project_id, table_id):
        self._call("vpcs.delete_route_table", table_id)

    def delete_internet_gateway(self, project_id, vpc_id):
        self._call("vpcs.delete_internet_gateway", vpc_id)


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
    return [{"step": "instances", "items": [item("instance", i) for i in instance_ids]},
            {"step": "public_ips", "items": [item("public_ip", ids["ip"])]},
            {"step": "subnets", "items": [item("subnet", ids["subnet"])]},
            {"step": "route_tables", "items": [item("route_table", ids["table"])]},
            {"step": "internet_gateway", "items": [item("internet_gateway", ids["igw"])]},
            {"step": "security_groups", "items": [item("security_group", ids["group"])]},
            {"step": "network_acls", "items": []},
            {"step": "vpc", "items": [item("vpc", vpc_id)]}]


def _run(services, config, db, project, vpc_id):
    with services.db.connection() as conn:
        job = queue.enqueue(conn, "vpc.delete", {"vpc_id": str(vpc_id)}, project_id=project, max_attempts=1)
    worker = Worker(config, services, name="cascade")
    while worker.run_once(db):
        pass
    return db.execute("SELECT * FROM jobs WHERE id = %s", (job["id"],)).fetchone()


def test_the_cascade_deletes_the_instances_then_each_dependent_then_the_vpc(config, services, db):
    project = rows.user_project(db)
    vpc = rows.vpc(db, project, "10.1.0.0/16")
    subnet = rows.subnet(db, vpc, "10.1.1.0/24")
    cat = rows.catalog(db)
    pcs = [rows.instance(db, project, subnet, "10.1.1.4", cat=cat),
           rows.instance(db, project, subnet, "10.1.1.5", state="error", cat=cat)]
    ids = {k: uuid.uuid4() for k in ("ip", "subnet", "table", "igw", "group")}
    log = doubles(services, _plan(vpc["id"], pcs, ids))
    job = _run(services, config, db, project, vpc["id"])
    assert job["state"] == "succeeded", job["last_error"]
    states = {r["state"] for r in db.execute("SELECT state FROM instances WHERE id = ANY(%s)", (pcs,)).fetchall()}
    assert states == {"deleted"}
    assert log == [("public_ips.release", str(ids["ip"])), ("subnets.delete", str(ids["subnet"])),
                   ("vpcs.delete_route_table", str(ids["table"])), ("vpcs.delete_internet_gateway", str(vpc["id"])),
                   ("security_groups.delete", str(ids["group"])), ("vpcs.delete", str(vpc["id"]))]
    steps = job["result"]["steps"]
    assert [s["step"] for s in steps] == ["instances", "public_ips", "subnets", "route_tables", "internet_gateway",
                                          "security_groups", "network_acls", "vpc"]
    assert all(s["ok"] for s in steps) and set(steps[0]["deleted"]) == {str(p) for p in pcs}


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
