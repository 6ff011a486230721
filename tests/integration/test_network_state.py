"""The glue between the database and the host's network: the desired state read from the tables, apply
through the driver (the ``network.apply`` job and the reconciler pass), the "underneath" view, and the
``network`` component of /readyz. The driver here is a recording stand-in; the real one has its own tests."""
from __future__ import annotations

import logging
import time
import uuid

import network_rows as rows
import psycopg
import pytest
from psycopg.rows import dict_row

from minicloud.drivers.network.base import (
    Applied, Capabilities, HostState, NetworkError, NetworkUnavailable, Underneath, Vpc, tap_name,
)
from minicloud.jobs.networks import reconcile
from minicloud.jobs.worker import JobContext, Worker
from minicloud.services.networking import mac_for


class RecordingDriver:
    """Remembers every state it was given; reports changes the first time a state is seen."""

    def __init__(self, can_apply: bool = True, reason: str = ""):
        self.caps = Capabilities(can_apply=can_apply, bridge_conntrack=True, br_netfilter=can_apply, reason=reason)
        self.applied: list[HostState] = []
        self.fail_with: Exception | None = None
        self.drifted = False

    def capabilities(self) -> Capabilities:
        return self.caps

    def apply(self, state: HostState) -> Applied:
        if self.fail_with is not None:
            raise self.fail_with
        changed = not self.applied or self.applied[-1] != state or self.drifted
        self.drifted = False
        self.applied.append(state)
        changes = tuple(f"bridge {s.bridge} created" for v in state.vpcs for s in v.subnets) if changed else ()
        return Applied(digest=state.digest(), rulesets={}, changes=changes)

    def underneath(self, vpc: Vpc) -> Underneath:
        return Underneath(ruleset=f"table inet minicloud_sg # vpc {vpc.number}", routes="default via x",
                          leases=" ".join(n.ip for s in vpc.subnets for n in s.nics))

    def teardown(self) -> tuple[str, ...]:
        return ()


@pytest.fixture
def db(clean_db):
    with psycopg.connect(clean_db, autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture
def driver(services):
    recorder = RecordingDriver()
    services.network_state.driver = recorder
    return recorder


@pytest.fixture
def network(db):
    """Two projects: one VPC with a public and a private subnet, groups, NICs and a public IP; one VPC
    of another project with the same CIDR."""
    project = rows.user_project(db)
    vpc = rows.vpc(db, project, "10.0.0.0/16", "prod")
    igw = rows.internet_gateway(db, vpc, "203.0.113.10")
    public_table = rows.route_table(db, vpc, "public")
    db.execute("INSERT INTO routes (route_table_id, destination, target, internet_gateway_id)"
               " VALUES (%s, '0.0.0.0/0', 'internet_gateway', %s)", (public_table["id"], igw))
    acl = db.execute("INSERT INTO network_acls (vpc_id, name) VALUES (%s, 'strict') RETURNING id",
                     (vpc["id"],)).fetchone()["id"]
    db.execute("INSERT INTO network_acl_entries (network_acl_id, number, direction, action, protocol, port_min,"
               " port_max, cidr) VALUES (%s, 200, 'ingress', 'allow', 'tcp', 22, 22, '10.0.0.0/16'),"
               " (%s, 100, 'ingress', 'deny', 'tcp', 22, 22, '10.0.9.0/24')", (acl, acl))
    web_subnet = rows.subnet(db, vpc, "10.0.1.0/24", "web", route_table_id=public_table["id"])
    db_subnet = rows.subnet(db, vpc, "10.0.2.0/24", "db", acl_id=acl)
    web = rows.group(db, vpc, "web")
    dbg = rows.group(db, vpc, "db")
    db.execute("INSERT INTO security_group_rules (security_group_id, direction, protocol, port_min, port_max,"
               " source_group_id) VALUES (%s, 'ingress', 'tcp', 5432, 5432, %s)", (dbg["id"], web["id"]))
    db.execute("INSERT INTO security_group_rules (security_group_id, direction, protocol, port_min, port_max, cidr)"
               " VALUES (%s, 'ingress', 'tcp', 80, 80, '0.0.0.0/0')", (web["id"],))
    cat = rows.catalog(db)
    www = rows.instance(db, project, web_subnet, "10.0.1.4", groups=[web["id"], vpc["default_group"]], name="www",
                        cat=cat)
    pg = rows.instance(db, project, db_subnet, "10.0.2.4", state="stopped", groups=[dbg["id"]], name="pg", cat=cat)
    going = rows.instance(db, project, db_subnet, "10.0.2.5", state="deleting", groups=[dbg["id"]], cat=cat)
    gone = rows.instance(db, project, db_subnet, "10.0.2.6", state="deleted", cat=cat)
    db.execute("INSERT INTO public_ips (project_id, address, instance_id) VALUES (%s, '203.0.113.20', %s)",
               (project, www))
    other_project = rows.user_project(db)
    other = rows.vpc(db, other_project, "10.0.0.0/16", "prod")
    return {"project": project, "vpc": vpc, "public_table": public_table, "web_subnet": web_subnet,
            "db_subnet": db_subnet, "web": web, "db": dbg, "www": www, "pg": pg, "going": going, "gone": gone,
            "other_project": other_project, "other": other, "acl": acl}


def test_the_desired_state_holds_every_vpc_subnet_route_acl_group_nic_and_public_ip(services, network):
    state = services.network_state.desired()
    vpc_row = network["vpc"]
    assert [v.vpc_id for v in state.vpcs] == [str(vpc_row["id"]), str(network["other"]["id"])]
    vpc = state.vpcs[0]
    assert (vpc.number, vpc.name, vpc.cidr, vpc.gateway_address) == (vpc_row["number"], "prod", "10.0.0.0/16",
                                                                     "203.0.113.10")
    web, dbs = vpc.subnets
    assert (web.name, web.cidr, web.route_table) == ("web", "10.0.1.0/24", network["public_table"]["number"])
    assert [(r.destination, r.target) for r in web.routes] == [("10.0.0.0/16", "local"),
                                                                ("0.0.0.0/0", "internet_gateway")]
    assert dbs.route_table == vpc_row["main_table_number"]  # no table of its own: the main one
    assert [(r.destination, r.target) for r in dbs.routes] == [("10.0.0.0/16", "local")]
    assert web.acl_name == "default" and [(e.number, e.direction, e.action) for e in web.acl] == [
        (100, "egress", "allow"), (100, "ingress", "allow")]
    assert dbs.acl_name == "strict" and [(e.number, e.action, e.protocol, e.cidr, e.port_min) for e in dbs.acl] == [
        (100, "deny", "tcp", "10.0.9.0/24", 22), (200, "allow", "tcp", "10.0.0.0/16", 22)]
    www = network["www"]
    assert [(n.port, n.mac, n.ip, n.hostname) for n in web.nics] == [(tap_name(www), mac_for(www), "10.0.1.4", "www")]
    assert set(web.nics[0].groups) == {network["web"]["number"], vpc_row["default_group_number"]}
    # a stopped mini PC and one being deleted keep their ports (their domains exist); a deleted one has none
    assert [n.ip for n in dbs.nics] == ["10.0.2.4", "10.0.2.5"]
    assert dbs.nics[0].groups == (network["db"]["number"],)
    groups = {g.name: g for g in vpc.groups}
    assert set(groups) == {"default", "web", "db"}
    (from_web,) = groups["db"].rules
    assert (from_web.source_group, from_web.cidr, from_web.port_min) == (network["web"]["number"], None, 5432)
    default_in = next(r for r in groups["default"].rules if r.direction == "ingress")
    assert default_in.source_group == vpc_row["default_group_number"]
    assert [(p.address, p.private_ip) for p in vpc.public_ips] == [("203.0.113.20", "10.0.1.4")]
    other = state.vpcs[1]
    assert other.cidr == "10.0.0.0/16" and other.subnets == () and other.gateway_address is None
    assert (state.public.bridge, state.public.cidr, state.public.gateway) == ("mcpub0", "203.0.113.0/24",
                                                                              "203.0.113.1")


def test_the_desired_state_follows_the_public_network_settings(config, services, db):
    services.network_state.config = config.with_overrides({"network.public_pool": "198.51.100.0/25",
                                                           "network.public_bridge": "mcpubtest"})
    public = services.network_state.desired().public
    assert (public.bridge, public.cidr, public.gateway) == ("mcpubtest", "198.51.100.0/25", "198.51.100.1")


def test_the_desired_state_of_a_thousand_nics_takes_a_constant_number_of_queries(services, db):
    project = rows.user_project(db)
    vpc = rows.vpc(db, project, "10.8.0.0/16")
    subnet = rows.subnet(db, vpc, "10.8.0.0/20")
    template, image = rows.catalog(db)
    db.execute("INSERT INTO instances (project_id, name, hostname, template_id, image_id, state, vcpus, ram_mib,"
               " disk_gib, domain_name, subnet_id, private_ip)"
               " SELECT %s, 'pc' || n, 'pc' || n, %s, %s, 'running', 1, 1, 1, 'mc-bulk-' || n, %s,"
               " '10.8.0.0'::inet + (n + 4) FROM generate_series(1, 1000) n", (project, template, image, subnet["id"]))
    db.execute("INSERT INTO instance_security_groups SELECT id, %s FROM instances WHERE project_id = %s",
               (vpc["default_group"], project))
    statements = []
    real = services.network_state.db.connection

    def counting():
        cm = real()
        conn = cm.__enter__()
        original = conn.execute

        def execute(sql, *args, **kwargs):
            statements.append(sql)
            return original(sql, *args, **kwargs)
        conn.execute = execute
        return _Wrapped(cm, conn)

    services.network_state.db.connection = counting
    try:
        started = time.monotonic()
        state = services.network_state.desired()
        elapsed = time.monotonic() - started
    finally:
        services.network_state.db.connection = real
    assert len(state.vpcs[0].subnets[0].nics) == 1000
    assert all(n.groups == (vpc["default_group_number"],) for n in state.vpcs[0].subnets[0].nics)
    assert len(statements) <= 9, statements  # the snapshot's SET plus one query per kind of row
    assert elapsed < 2.0


class _Wrapped:
    def __init__(self, cm, conn):
        self.cm, self.conn = cm, conn

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc):
        return self.cm.__exit__(*exc)


def test_apply_now_hands_the_desired_state_to_the_driver_and_says_what_changed(services, driver, network):
    first = services.network_state.apply_now()
    assert driver.applied == [services.network_state.desired()]
    assert first["applied"] is True and first["digest"] == driver.applied[0].digest()
    assert "bridge mcbr-%d created" % network["web_subnet"]["number"] in first["changes"]
    again = services.network_state.apply_now()
    assert again == {"digest": first["digest"], "changes": [], "applied": True}


def test_enforcement_off_applies_nothing_and_auto_skips_a_host_that_cannot(config, services, driver, network):
    services.network_state.config = config.with_overrides({"network.enforcement": "off"})
    off = services.network_state.apply_now()
    assert off["applied"] is False and "off" in off["reason"] and driver.applied == []
    services.network_state.config = config.with_overrides({"network.enforcement": "auto"})
    driver.caps = Capabilities(can_apply=False, bridge_conntrack=False, br_netfilter=False, reason="not root")
    skipped = services.network_state.apply_now()
    assert skipped == {"digest": services.network_state.desired().digest(), "changes": [], "applied": False,
                       "reason": "not root"}
    assert driver.applied == []


def test_readyz_reports_the_network_without_making_minicloud_unready(config, client, services, driver):
    ok = client.get("/readyz")
    assert ok.status_code == 200
    network = ok.json["backends"]["network"]
    assert network["status"] == "ok" and network["can_apply"] is True and network["enforcing"] is True
    driver.caps = Capabilities(can_apply=False, bridge_conntrack=False, br_netfilter=False, reason="nft is missing")
    degraded = client.get("/readyz")
    assert degraded.status_code == 200 and degraded.json["status"] == "ready"
    assert degraded.json["backends"]["network"] == {
        "status": "degraded", "enforcement": "auto", "enforcing": False, "can_apply": False,
        "bridge_conntrack": False, "br_netfilter": False, "reason": "nft is missing"}
    services.network_state.config = config.with_overrides({"network.enforcement": "off"})
    off = client.get("/readyz")
    assert off.status_code == 200 and off.json["backends"]["network"]["status"] == "off"


def test_underneath_shows_the_hosts_view_of_the_projects_own_vpc_only(services, driver, network):
    seen = services.network_state.underneath(network["project"], network["vpc"]["id"])
    assert seen["ruleset"] == f"table inet minicloud_sg # vpc {network['vpc']['number']}"
    assert seen["leases"] == "10.0.1.4 10.0.2.4 10.0.2.5"
    assert seen["namespace"] == f"mcvpc-{network['vpc']['number']}"
    from minicloud.errors import NotFoundError
    with pytest.raises(NotFoundError):
        services.network_state.underneath(network["project"], network["other"]["id"])
    with pytest.raises(NotFoundError):
        services.network_state.underneath(network["project"], uuid.uuid4())


# ---- the jobs --------------------------------------------------------------------------------------

@pytest.fixture
def worker(config, services):
    return Worker(config.with_overrides({"jobs.backoff_base_seconds": 0.1}), services, name="net-worker")


def _request_apply(services) -> dict:
    with services.db.connection() as conn:
        services.network_state.request_apply(conn)
    return services.db.fetchone("SELECT * FROM jobs WHERE kind = 'network.apply' ORDER BY created_at DESC LIMIT 1")


def _job(services, job_id) -> dict:
    return services.db.fetchone("SELECT * FROM jobs WHERE id = %s", (job_id,))


def test_the_apply_job_applies_the_state_and_records_what_changed(services, driver, network, worker, db):
    job = _request_apply(services)
    assert worker.run_once(db) is True
    done = _job(services, job["id"])
    assert done["state"] == "succeeded" and done["result"]["applied"] is True
    assert done["result"]["digest"] == services.network_state.desired().digest() and done["result"]["changes"]
    assert len(driver.applied) == 1


def test_a_host_that_cannot_apply_fails_the_job_for_good_and_a_failed_step_is_retried(config, services, driver,
                                                                                      network, worker, db):
    services.network_state.config = config.with_overrides({"network.enforcement": "on"})
    driver.fail_with = NetworkUnavailable("nft is not installed")
    job = _request_apply(services)
    worker.run_once(db)
    failed = _job(services, job["id"])
    assert failed["state"] == "failed" and failed["attempts"] == 1 and "nft is not installed" in failed["last_error"]
    driver.fail_with = NetworkError("ip link add mcbr-1 failed: File exists")
    job = _request_apply(services)
    worker.run_once(db)
    retried = _job(services, job["id"])
    assert retried["state"] == "queued" and "mcbr-1" in retried["last_error"]
    driver.fail_with = None
    db.execute("UPDATE jobs SET run_after = now() WHERE id = %s", (job["id"],))
    worker.run_once(db)
    assert _job(services, job["id"])["state"] == "succeeded"


def test_the_reconciler_pass_repairs_drift_and_says_so(config, services, driver, network, caplog):
    context = JobContext(config, "net-worker", services)
    first = reconcile(context)
    assert first["changes"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="minicloud.jobs.networks"):
        assert reconcile(context)["changes"] == []
        assert not [r for r in caplog.records if "drift" in r.getMessage()]
        driver.drifted = True  # someone removed a bridge behind minicloud's back
        repaired = reconcile(context)
    assert repaired["changes"]
    assert any("network reconcile changed the host" in r.getMessage() for r in caplog.records)
    assert len(driver.applied) == 3


def test_the_reconciler_is_a_periodic_task_on_its_setting(config, services):
    from minicloud.jobs.registry import periodic_tasks
    Worker(config, services)  # loads the job modules
    fn, setting = periodic_tasks()["network.reconcile"]
    assert fn is reconcile and setting == "network.reconcile_seconds" and config.get(setting) == 30.0
