"""Deleting a project on the real infrastructure leaves nothing of it behind (issue 10): its mini PC's libvirt
domain and volumes, its subnet's bridge and dnsmasq, its VPC's router namespace, and its NIC in the host's
security-group ruleset are gone — while another project's network on the same host stays as it was.

The real workers, libvirt's qemu:///system, the tiny image and the real network driver, with this run's own
names (the fixtures of test_vpc_guests.py).
"""
from __future__ import annotations

import json
import subprocess

import pytest

from test_mini_pcs import lv_open, lv_volumes, mini_env  # noqa: F401 - mini_env is a fixture
from test_vpc_guests import config, network_driver, numbers, ok, tag, vpc_cloud  # noqa: F401 - fixtures
from waiting import wait_for

pytestmark = pytest.mark.system


def host_links() -> set[str]:
    shown = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True, check=True).stdout
    return {link["ifname"] for link in json.loads(shown)}


def host_namespaces() -> set[str]:
    shown = subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {ns["name"] for ns in json.loads(shown or "[]")}


def ruleset(table: str) -> str:
    return subprocess.run(["nft", "list", "table", "inet", table], capture_output=True, text=True).stdout


def test_a_deleted_project_leaves_no_domain_volume_bridge_namespace_or_rule(vpc_cloud, tiny_image, tag):  # noqa: F811
    mc = vpc_cloud
    image = mc.register_image(tiny_image)
    team = ok(mc.bob.post("/api/v1/projects", json={"name": "team-teardown"}))["id"]

    def in_team(method, path, expected, **body):
        return ok(mc.bob.request(method, path, project_id=team, json=body), expected)

    vpc = in_team("POST", "/api/v1/vpcs", 201, name="lab", cidr="10.88.0.0/16")
    subnet = in_team("POST", f"/api/v1/vpcs/{vpc['id']}/subnets", 201, name="one", cidr="10.88.1.0/24")
    pc = in_team("POST", "/api/v1/instances", 202, name="doomed", template_id=mc.template("nano-net"),
                 image_id=str(image["id"]), subnet_id=subnet["id"])
    mc.track(pc["id"])
    # Alice's network on the same host, which must stay
    alice_vpc = ok(mc.user.post("/api/v1/vpcs", json={"name": "keep", "cidr": "10.89.0.0/16"}))
    alice_subnet = ok(mc.user.post(f"/api/v1/vpcs/{alice_vpc['id']}/subnets", json={"name": "one",
                                                                                     "cidr": "10.89.1.0/24"}))
    with mc.db() as db:
        def state():
            return db.execute("SELECT state FROM instances WHERE id = %s", (pc["id"],)).fetchone()
        wait_for(lambda: (state() or {}).get("state") == "running", 120, "the team's mini PC to run", interval=0.5)
        numbers_of = {row["id"]: row["number"] for row in db.execute(
            "SELECT id::text, number FROM subnets WHERE id = ANY(%s::uuid[])",
            ([subnet["id"], alice_subnet["id"]],)).fetchall()}
        vpc_numbers = {row["id"]: row["number"] for row in db.execute(
            "SELECT id::text, number FROM vpcs WHERE id = ANY(%s::uuid[])", ([vpc["id"], alice_vpc["id"]],)).fetchall()}
    bridge, alice_bridge = f"mcbr-{numbers_of[subnet['id']]}", f"mcbr-{numbers_of[alice_subnet['id']]}"
    router, alice_router = f"mcvpc-{vpc_numbers[vpc['id']]}", f"mcvpc-{vpc_numbers[alice_vpc['id']]}"
    domain = f"mc-{pc['id']}"
    wait_for(lambda: {bridge, alice_bridge} <= host_links() and {router, alice_router} <= host_namespaces(), 60,
             "both projects' bridges and routers on the host", interval=0.5)
    assert bridge in ruleset(f"mcsg_{tag}")
    assert any(v.startswith(domain) for v in lv_volumes(mc.uri, mc.env["pool_name"]))

    gone = mc.bob.delete(f"/api/v1/projects/{team}")
    assert gone.status_code == 202, gone.json
    with mc.db() as db:
        wait_for(lambda: db.execute("SELECT 1 FROM projects WHERE id = %s", (team,)).fetchone() is None, 180,
                 "the project's delete job to finish", interval=1)
    assert mc.bob.get(f"/api/v1/projects/{team}").status_code in (403, 404)

    conn = lv_open(mc.uri)
    try:
        assert domain not in [d.name() for d in conn.listAllDomains(0)]
    finally:
        conn.close()
    assert not [v for v in lv_volumes(mc.uri, mc.env["pool_name"]) if v.startswith(domain)]
    wait_for(lambda: bridge not in host_links() and router not in host_namespaces(), 60,
             "the team's bridge and router namespace to be removed", interval=0.5)
    assert bridge not in ruleset(f"mcsg_{tag}") and "10.88." not in ruleset(f"mcsg_{tag}")
    assert alice_bridge in host_links() and alice_router in host_namespaces()  # the other project's network stays
    assert alice_bridge in ruleset(f"mcsg_{tag}")
    assert mc.user.get(f"/api/v1/vpcs/{alice_vpc['id']}").status_code == 200
