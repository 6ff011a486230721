"""A mini PC's place in a VPC: its subnet, private IP, public IP and security groups, through the API.

Needs services/vpcs.py and services/subnets.py (the VPC branch of issue 10): until they are merged
into this tree, tests/netsec_fixtures.py stands in for ``ensure_default``, ``Subnets.get``,
``allocate_ip`` and ``set_network_acl`` (the real ones are used as soon as they exist).
"""
from __future__ import annotations

import pytest

from compute_fixtures import compute_overrides
from netsec_fixtures import apply_jobs, clear_apply_jobs, install_network_standins, make_vpc, personal_project


@pytest.fixture
def config(config):
    return compute_overrides(config)


@pytest.fixture(autouse=True)
def networks(services):
    install_network_standins(services)


@pytest.fixture
def alice(auth):
    return auth.user("alice")


@pytest.fixture
def vpc(alice, services):
    return make_vpc(services, personal_project(alice))


def create(user, compute, name="pc1", **extra):
    return user.post("/api/v1/instances", json={"name": name, "template_id": compute["tid"]("nano"), **extra})


def new_group(user, vpc, name):
    return user.post("/api/v1/security-groups", json={"name": name, "vpc_id": vpc["vpc_id"]}).json


def test_an_instance_in_a_subnet_gets_the_lowest_free_address_and_its_groups(alice, compute, vpc, services):
    web = new_group(alice, vpc, "web")
    clear_apply_jobs(services)
    first = create(alice, compute, subnet_id=vpc["subnet_id"], security_group_ids=[web["id"], vpc["group_id"]])
    assert first.status_code == 202, first.json
    body = first.json
    assert (body["subnet_id"], body["vpc_id"], body["private_ip"], body["public_ip"]) == (
        vpc["subnet_id"], vpc["vpc_id"], "10.0.1.4", None)
    assert body["security_groups"] == [{"id": vpc["group_id"], "name": "default"}, {"id": web["id"], "name": "web"}]
    assert apply_jobs(services) == 1
    second = create(alice, compute, name="pc2", subnet_id=vpc["subnet_id"]).json
    assert second["private_ip"] == "10.0.1.5"
    assert second["security_groups"] == [{"id": vpc["group_id"], "name": "default"}]
    shown = alice.get(f"/api/v1/instances/{body['id']}").json
    assert shown["private_ip"] == "10.0.1.4" and len(shown["security_groups"]) == 2
    listing = {i["name"]: i for i in alice.get("/api/v1/instances").json["items"]}
    assert listing["pc2"]["private_ip"] == "10.0.1.5" and listing["pc1"]["vpc_id"] == vpc["vpc_id"]


def test_without_a_subnet_the_project_gets_its_default_vpc_subnet_and_group(alice, compute, services):
    body = create(alice, compute).json
    assert body["private_ip"] == "172.31.0.4" and [g["name"] for g in body["security_groups"]] == ["default"]
    again = create(alice, compute, name="pc2").json
    assert again["vpc_id"] == body["vpc_id"] and again["private_ip"] == "172.31.0.5"
    default_vpcs = services.db.fetchone("SELECT count(*) AS n FROM vpcs WHERE is_default")["n"]
    assert default_vpcs == 1


def test_subnets_and_groups_are_checked(auth, alice, compute, vpc, services):
    bob = auth.user("bob")
    bobs = make_vpc(services, personal_project(bob), name="bobs")
    stranger = create(alice, compute, subnet_id=bobs["subnet_id"])
    assert stranger.status_code == 422 and list(stranger.json["error"]["details"]["fields"]) == ["subnet_id"]
    other = make_vpc(services, personal_project(alice), name="other", cidr="10.1.0.0/16", subnet_cidr="10.1.1.0/24")
    wrong_vpc = create(alice, compute, subnet_id=vpc["subnet_id"], security_group_ids=[other["group_id"]])
    assert wrong_vpc.status_code == 409 and wrong_vpc.json["error"]["code"] == "group_other_vpc"
    groups = [new_group(alice, vpc, f"g{n}")["id"] for n in range(6)]
    too_many = create(alice, compute, subnet_id=vpc["subnet_id"], security_group_ids=groups)
    assert too_many.status_code == 409 and too_many.json["error"]["code"] == "too_many_groups"
    assert too_many.json["error"]["message"] == "A mini PC may be in at most 5 security groups."
    unknown = create(alice, compute, subnet_id=vpc["subnet_id"],
                     security_group_ids=["00000000-0000-0000-0000-000000000000"])
    assert unknown.status_code == 422 and list(unknown.json["error"]["details"]["fields"]) == ["security_group_ids"]
    empty = create(alice, compute, subnet_id=vpc["subnet_id"], security_group_ids=[])
    assert empty.status_code == 422 and list(empty.json["error"]["details"]["fields"]) == ["security_group_ids"]
    assert services.db.fetchone("SELECT count(*) AS n FROM instances")["n"] == 0  # nothing half-made


def test_groups_change_on_a_running_guest_without_a_restart(alice, compute, cloud, vpc, work, services):
    body = create(alice, compute, subnet_id=vpc["subnet_id"]).json
    work()
    assert alice.get(f"/api/v1/instances/{body['id']}").json["state"] == "running"
    web = new_group(alice, vpc, "web")
    clear_apply_jobs(services)
    changed = alice.request("PUT", f"/api/v1/instances/{body['id']}/security-groups",
                            json={"security_group_ids": [web["id"]]})
    assert changed.status_code == 200, changed.json
    assert changed.json["state"] == "running" and changed.json["security_groups"] == [{"id": web["id"], "name": "web"}]
    assert apply_jobs(services) == 1
    instance_jobs = services.db.fetchone("SELECT count(*) AS n FROM jobs WHERE target = %s AND state = 'queued'",
                                         (body["id"],))["n"]
    assert instance_jobs == 0  # no reboot, no rebuild: the host's rules change, the guest keeps running
    in_use = alice.delete(f"/api/v1/security-groups/{web['id']}")
    assert in_use.status_code == 409 and in_use.json["error"]["details"]["used_by"] == [
        {"kind": "instance", "id": body["id"], "name": "pc1"}]
    assert alice.delete(f"/api/v1/security-groups/{vpc['group_id']}").json["error"]["code"] == "default_group"
    six = [new_group(alice, vpc, f"g{n}")["id"] for n in range(6)]
    refused = alice.request("PUT", f"/api/v1/instances/{body['id']}/security-groups",
                            json={"security_group_ids": six})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "too_many_groups"
    assert alice.get(f"/api/v1/instances/{body['id']}").json["security_groups"] == [{"id": web["id"], "name": "web"}]


def test_a_deleted_instance_frees_its_address_and_its_groups(alice, compute, cloud, vpc, work, services):
    web = new_group(alice, vpc, "web")
    body = create(alice, compute, subnet_id=vpc["subnet_id"], security_group_ids=[web["id"]]).json
    work()
    assert alice.delete(f"/api/v1/instances/{body['id']}").status_code == 202
    work()
    assert alice.delete(f"/api/v1/security-groups/{web['id']}").status_code == 204
    assert create(alice, compute, name="pc2", subnet_id=vpc["subnet_id"]).json["private_ip"] == "10.0.1.4"


def test_the_public_ip_associated_with_it_is_shown(alice, compute, vpc, services):
    body = create(alice, compute, subnet_id=vpc["subnet_id"]).json
    with services.db.connection() as conn:  # services/public_ips.py associates these
        conn.execute("INSERT INTO public_ips (project_id, address, instance_id) VALUES (%s, '203.0.113.7', %s)",
                     (personal_project(alice), body["id"]))
    assert alice.get(f"/api/v1/instances/{body['id']}").json["public_ip"] == "203.0.113.7"


def test_another_projects_instance_groups_cannot_be_changed(auth, alice, compute, vpc):
    body = create(alice, compute, subnet_id=vpc["subnet_id"]).json
    bob = auth.user("bob")
    assert bob.request("PUT", f"/api/v1/instances/{body['id']}/security-groups",
                       json={"security_group_ids": [vpc["group_id"]]}).status_code == 404


def test_a_subnet_takes_another_acl_of_its_vpc(auth, alice, vpc, services):
    strict = alice.post(f"/api/v1/vpcs/{vpc['vpc_id']}/network-acls", json={"name": "strict"}).json
    clear_apply_jobs(services)
    moved = alice.request("PUT", f"/api/v1/subnets/{vpc['subnet_id']}/network-acl",
                          json={"network_acl_id": strict["id"]})
    assert moved.status_code == 200, moved.json
    assert moved.json == {"subnet_id": vpc["subnet_id"], "network_acl_id": strict["id"], "network_acl_name": "strict"}
    assert apply_jobs(services) == 1
    assert [s["id"] for s in alice.get(f"/api/v1/network-acls/{strict['id']}").json["subnets"]] == [vpc["subnet_id"]]
    assert alice.delete(f"/api/v1/network-acls/{strict['id']}").json["error"]["code"] == "acl_in_use"
    other = make_vpc(services, personal_project(alice), name="other", cidr="10.1.0.0/16", subnet_cidr="10.1.1.0/24")
    wrong = alice.request("PUT", f"/api/v1/subnets/{vpc['subnet_id']}/network-acl",
                          json={"network_acl_id": other["acl_id"]})
    assert wrong.status_code == 422 and list(wrong.json["error"]["details"]["fields"]) == ["network_acl_id"]
    bob = auth.user("bob")
    assert bob.request("PUT", f"/api/v1/subnets/{vpc['subnet_id']}/network-acl",
                       json={"network_acl_id": strict["id"]}).status_code == 404
