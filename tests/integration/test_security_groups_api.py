"""Security groups through the API: defaults, rules and their validation, limits, deleting, ownership."""
from __future__ import annotations

import pytest

from netsec_fixtures import apply_jobs, clear_apply_jobs, make_vpc, personal_project


@pytest.fixture
def alice(auth):
    return auth.user("alice")


@pytest.fixture
def vpc(alice, services):
    return make_vpc(services, personal_project(alice))


def new_group(user, vpc, name="web", **extra):
    return user.post("/api/v1/security-groups", json={"name": name, "vpc_id": vpc["vpc_id"], **extra})


def test_the_default_group_admits_its_members_and_sends_anywhere(alice, vpc):
    default = alice.get(f"/api/v1/security-groups/{vpc['group_id']}").json
    assert default["name"] == "default" and default["is_default"] is True and default["vpc_id"] == vpc["vpc_id"]
    rules = {(r["direction"], r["protocol"], r["cidr"], r["source_group_id"]) for r in default["rules"]}
    assert rules == {("ingress", "all", None, vpc["group_id"]), ("egress", "all", "0.0.0.0/0", None)}


def test_a_new_group_has_no_ingress_and_egress_to_anywhere_and_asks_for_an_apply(alice, vpc, services):
    clear_apply_jobs(services)
    response = new_group(alice, vpc, description="web servers")
    assert response.status_code == 201, response.json
    group = response.json
    assert group["is_default"] is False and group["description"] == "web servers"
    assert [(r["direction"], r["protocol"], r["cidr"], r["port_min"]) for r in group["rules"]] == [
        ("egress", "all", "0.0.0.0/0", None)]
    assert apply_jobs(services) == 1
    listing = alice.get(f"/api/v1/security-groups?vpc_id={vpc['vpc_id']}").json
    assert [g["name"] for g in listing["items"]] == ["default", "web"] and listing["next"] is None
    taken = new_group(alice, vpc, name="WEB")
    assert taken.status_code == 409 and taken.json["error"]["code"] == "name_taken"


def test_rules_are_added_validated_and_removed(alice, vpc, services):
    group = new_group(alice, vpc).json
    rules = f"/api/v1/security-groups/{group['id']}/rules"
    clear_apply_jobs(services)
    ssh = alice.post(rules, json={"direction": "ingress", "protocol": "tcp", "port_min": 22, "port_max": 22,
                                  "cidr": "203.0.113.0/24", "description": "office"})
    assert ssh.status_code == 201, ssh.json
    assert (ssh.json["cidr"], ssh.json["port_min"], ssh.json["port_max"]) == ("203.0.113.0/24", 22, 22)
    assert apply_jobs(services) == 1
    from_default = alice.post(rules, json={"direction": "ingress", "protocol": "all",
                                           "source_group_id": vpc["group_id"]})
    assert from_default.status_code == 201 and from_default.json["source_group_id"] == vpc["group_id"]
    bad = {
        "port_max": {"direction": "ingress", "protocol": "tcp", "port_min": 80, "port_max": 79, "cidr": "0.0.0.0/0"},
        "port_min": {"direction": "ingress", "protocol": "icmp", "port_min": 1, "port_max": 1, "cidr": "0.0.0.0/0"},
        "cidr": {"direction": "ingress", "protocol": "all", "cidr": "10.0.0.9/16"},
    }
    for field, body in bad.items():
        response = alice.post(rules, json=body)
        assert response.status_code == 422, (field, response.json)
        assert list(response.json["error"]["details"]["fields"]) == [field]
    both = alice.post(rules, json={"direction": "egress", "protocol": "all", "cidr": "0.0.0.0/0",
                                   "source_group_id": vpc["group_id"]}, headers={"Accept-Language": "ko"})
    assert both.status_code == 422 and both.json["error"]["details"]["fields"] == {
        "cidr": "cidr와 source_group_id 중 하나만 입력해주세요."}
    host = alice.post(rules, json={"direction": "ingress", "protocol": "all", "cidr": "10.0.0.9/16"})
    assert host.json["error"]["details"]["fields"] == {"cidr": "Give the block by its network address: 10.0.0.0/16."}
    shown = alice.get(f"/api/v1/security-groups/{group['id']}").json
    assert len(shown["rules"]) == 3
    assert alice.delete(f"{rules}/{ssh.json['id']}").status_code == 204
    assert alice.delete(f"{rules}/{ssh.json['id']}").status_code == 404
    assert len(alice.get(f"/api/v1/security-groups/{group['id']}").json["rules"]) == 2


def test_a_source_group_of_another_vpc_is_refused(alice, vpc, services):
    other = make_vpc(services, personal_project(alice), name="other", cidr="10.1.0.0/16", subnet_cidr="10.1.1.0/24")
    group = new_group(alice, vpc).json
    response = alice.post(f"/api/v1/security-groups/{group['id']}/rules", json={
        "direction": "ingress", "protocol": "tcp", "source_group_id": other["group_id"]})
    assert response.status_code == 422
    assert response.json["error"]["details"]["fields"] == {
        "source_group_id": "The source group must be a group of the same VPC."}


def test_sixty_rules_per_direction(alice, vpc):
    group = new_group(alice, vpc).json
    rules = f"/api/v1/security-groups/{group['id']}/rules"
    for port in range(60):
        assert alice.post(rules, json={"direction": "ingress", "protocol": "tcp", "port_min": port,
                                       "port_max": port, "cidr": "0.0.0.0/0"}).status_code == 201
    refused = alice.post(rules, json={"direction": "ingress", "protocol": "udp", "cidr": "0.0.0.0/0"})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "rule_limit"
    assert refused.json["error"]["message"] == "A security group holds at most 60 ingress rules."
    # egress has its own 60 (one is there already)
    assert alice.post(rules, json={"direction": "egress", "protocol": "udp", "cidr": "10.0.0.0/8"}).status_code == 201


def test_a_group_in_use_by_another_groups_rule_or_the_default_group_cannot_be_deleted(alice, vpc, services):
    web, db = new_group(alice, vpc, "web").json, new_group(alice, vpc, "db").json
    assert alice.post(f"/api/v1/security-groups/{db['id']}/rules", json={
        "direction": "ingress", "protocol": "tcp", "port_min": 5432, "port_max": 5432,
        "source_group_id": web["id"]}).status_code == 201
    in_use = alice.delete(f"/api/v1/security-groups/{web['id']}")
    assert in_use.status_code == 409 and in_use.json["error"]["code"] == "group_in_use"
    assert in_use.json["error"]["details"]["used_by"] == [{"kind": "security_group", "id": db["id"], "name": "db"}]
    default = alice.delete(f"/api/v1/security-groups/{vpc['group_id']}")
    assert default.status_code == 409 and default.json["error"]["code"] == "default_group"
    # a group whose rule names itself goes with its rules
    assert alice.post(f"/api/v1/security-groups/{db['id']}/rules", json={
        "direction": "ingress", "protocol": "all", "source_group_id": db["id"]}).status_code == 201
    clear_apply_jobs(services)
    assert alice.delete(f"/api/v1/security-groups/{db['id']}").status_code == 204
    assert apply_jobs(services) == 1
    assert alice.delete(f"/api/v1/security-groups/{web['id']}").status_code == 204
    assert alice.get(f"/api/v1/security-groups/{web['id']}").status_code == 404


def test_another_projects_groups_and_vpcs_are_not_found(auth, alice, vpc):
    bob = auth.user("bob")
    group = new_group(alice, vpc).json
    assert bob.get(f"/api/v1/security-groups/{group['id']}").status_code == 404
    assert bob.get("/api/v1/security-groups").json["items"] == []
    assert bob.delete(f"/api/v1/security-groups/{group['id']}").status_code == 404
    assert bob.post(f"/api/v1/security-groups/{group['id']}/rules", json={
        "direction": "ingress", "protocol": "all", "cidr": "0.0.0.0/0"}).status_code == 404
    stranger = new_group(bob, vpc)
    assert stranger.status_code == 422 and list(stranger.json["error"]["details"]["fields"]) == ["vpc_id"]


def test_changes_are_audited(alice, vpc, services):
    group = new_group(alice, vpc).json
    alice.post(f"/api/v1/security-groups/{group['id']}/rules", json={
        "direction": "ingress", "protocol": "icmp", "cidr": "0.0.0.0/0"})
    rows = services.db.fetchall("SELECT action, target FROM audit_log WHERE target = %s ORDER BY at",
                                (group["id"],))
    assert [(r["action"], r["target"]) for r in rows] == [("security_groups.create", group["id"]),
                                                          ("security_groups.add_rule", group["id"])], rows


def test_parallel_rule_adds_never_pass_the_limit(alice, vpc, app):
    import threading

    from conformance import ConformingClient

    group = new_group(alice, vpc).json
    rules = f"/api/v1/security-groups/{group['id']}/rules"
    for port in range(50):
        assert alice.post(rules, json={"direction": "ingress", "protocol": "tcp", "port_min": port,
                                       "port_max": port, "cidr": "0.0.0.0/0"}).status_code == 201
    results, barrier = [], threading.Barrier(16)

    def add(port):
        client = ConformingClient(app)
        barrier.wait()
        response = client.post(rules, json={"direction": "ingress", "protocol": "udp", "port_min": port,
                                            "port_max": port, "cidr": "0.0.0.0/0"},
                               headers={"Authorization": f"Bearer {alice.token}"})
        results.append(response.status_code)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201] * 10 + [409] * 6
    ingress = [r for r in alice.get(f"/api/v1/security-groups/{group['id']}").json["rules"]
               if r["direction"] == "ingress"]
    assert len(ingress) == 60
