"""Network ACLs through the API: the default ACL, a new one denying all, numbered entries, limits, deleting."""
from __future__ import annotations

import pytest

from netsec_fixtures import apply_jobs, clear_apply_jobs, make_vpc, personal_project


@pytest.fixture
def alice(auth):
    return auth.user("alice")


@pytest.fixture
def vpc(alice, services):
    return make_vpc(services, personal_project(alice))


def entry(number=100, **over):
    return {"number": number, "direction": "ingress", "action": "allow", "protocol": "all", "cidr": "0.0.0.0/0",
            **over}


def test_the_default_acl_allows_everything_and_filters_the_subnet(alice, vpc):
    listing = alice.get(f"/api/v1/vpcs/{vpc['vpc_id']}/network-acls").json
    (default,) = listing["items"]
    assert default["id"] == vpc["acl_id"] and default["name"] == "default" and default["is_default"] is True
    assert [(e["number"], e["direction"], e["action"], e["protocol"], e["cidr"]) for e in default["entries"]] == [
        (100, "ingress", "allow", "all", "0.0.0.0/0"), (100, "egress", "allow", "all", "0.0.0.0/0")]
    assert [s["id"] for s in default["subnets"]] == [vpc["subnet_id"]]


def test_a_new_acl_has_no_entries_and_entries_keep_their_order(alice, vpc, services):
    created = alice.post(f"/api/v1/vpcs/{vpc['vpc_id']}/network-acls", json={"name": "strict"})
    assert created.status_code == 201, created.json
    acl = created.json
    assert acl["entries"] == [] and acl["subnets"] == [] and acl["is_default"] is False
    entries = f"/api/v1/network-acls/{acl['id']}/entries"
    clear_apply_jobs(services)
    allow = alice.post(entries, json=entry(200, protocol="tcp", port_min=22, port_max=22))
    assert allow.status_code == 201, allow.json
    assert apply_jobs(services) == 1
    deny = alice.post(entries, json=entry(100, action="deny", protocol="tcp", port_min=22, port_max=22,
                                          cidr="10.9.0.0/16"))
    assert deny.status_code == 201
    assert alice.post(entries, json=entry(100, direction="egress")).status_code == 201
    shown = alice.get(f"/api/v1/network-acls/{acl['id']}").json
    assert [(e["direction"], e["number"], e["action"]) for e in shown["entries"]] == [
        ("ingress", 100, "deny"), ("ingress", 200, "allow"), ("egress", 100, "allow")]
    again = alice.post(entries, json=entry(200))
    assert again.status_code == 409 and again.json["error"]["code"] == "acl_entry_exists"
    assert again.json["error"]["message"] == "The ingress entry number 200 is taken."
    assert alice.delete(f"{entries}/{deny.json['id']}").status_code == 204
    assert alice.delete(f"{entries}/{deny.json['id']}").status_code == 404
    taken = alice.post(f"/api/v1/vpcs/{vpc['vpc_id']}/network-acls", json={"name": "Strict"})
    assert taken.status_code == 409 and taken.json["error"]["code"] == "name_taken"


def test_entries_are_validated_naming_the_field(alice, vpc):
    acl = alice.post(f"/api/v1/vpcs/{vpc['vpc_id']}/network-acls", json={"name": "x"}).json
    entries = f"/api/v1/network-acls/{acl['id']}/entries"
    for field, body in {"number": entry(0), "cidr": entry(cidr="10.0.0.1/8"),
                        "port_min": entry(protocol="icmp", port_min=0, port_max=0),
                        "port_max": entry(protocol="udp", port_min=53, port_max=1)}.items():
        response = alice.post(entries, json=body)
        assert response.status_code == 422, (field, response.json)
        assert list(response.json["error"]["details"]["fields"]) == [field]
    missing = {k: v for k, v in entry().items() if k != "cidr"}
    assert list(alice.post(entries, json=missing).json["error"]["details"]["fields"]) == ["cidr"]
    korean = alice.post(entries, json=entry(cidr="10.0.0.1/8"), headers={"Accept-Language": "ko"})
    assert korean.json["error"]["details"]["fields"] == {"cidr": "대역은 네트워크 주소로 입력해주세요: 10.0.0.0/8."}


def test_twenty_entries_per_direction(alice, vpc):
    acl = alice.post(f"/api/v1/vpcs/{vpc['vpc_id']}/network-acls", json={"name": "many"}).json
    entries = f"/api/v1/network-acls/{acl['id']}/entries"
    for number in range(1, 21):
        assert alice.post(entries, json=entry(number)).status_code == 201
    full = alice.post(entries, json=entry(21))
    assert full.status_code == 409 and full.json["error"]["code"] == "acl_entry_limit"
    assert alice.post(entries, json=entry(21, direction="egress")).status_code == 201


def test_the_default_acl_and_one_a_subnet_uses_cannot_be_deleted(alice, vpc, services):
    default = alice.delete(f"/api/v1/network-acls/{vpc['acl_id']}")
    assert default.status_code == 409 and default.json["error"]["code"] == "default_acl"
    acl = alice.post(f"/api/v1/vpcs/{vpc['vpc_id']}/network-acls", json={"name": "used"}).json
    with services.db.connection() as conn:  # a second subnet filtered by it (services/subnets.py makes these)
        conn.execute("INSERT INTO subnets (vpc_id, name, cidr, route_table_id, network_acl_id)"
                     " VALUES (%s, 'db', '10.0.2.0/24', %s, %s)", (vpc["vpc_id"], vpc["route_table_id"], acl["id"]))
    in_use = alice.delete(f"/api/v1/network-acls/{acl['id']}", headers={"Accept-Language": "ko"})
    assert in_use.status_code == 409 and in_use.json["error"]["code"] == "acl_in_use"
    assert in_use.json["error"]["message"] == "네트워크 ACL이 서브넷 db에 적용되어 있습니다. 먼저 다른 ACL로 바꿔주세요."
    assert [s["name"] for s in in_use.json["error"]["details"]["subnets"]] == ["db"]
    unused = alice.post(f"/api/v1/vpcs/{vpc['vpc_id']}/network-acls", json={"name": "unused"}).json
    assert alice.delete(f"/api/v1/network-acls/{unused['id']}").status_code == 204
    assert alice.get(f"/api/v1/network-acls/{unused['id']}").status_code == 404


def test_another_projects_acls_and_vpcs_are_not_found(auth, alice, vpc):
    bob = auth.user("bob")
    assert bob.get(f"/api/v1/vpcs/{vpc['vpc_id']}/network-acls").status_code == 404
    assert bob.post(f"/api/v1/vpcs/{vpc['vpc_id']}/network-acls", json={"name": "x"}).status_code == 404
    assert bob.get(f"/api/v1/network-acls/{vpc['acl_id']}").status_code == 404
    assert bob.delete(f"/api/v1/network-acls/{vpc['acl_id']}").status_code == 404
    assert bob.post(f"/api/v1/network-acls/{vpc['acl_id']}/entries", json=entry(5)).status_code == 404


def test_parallel_entries_with_one_number_give_one_entry_and_conflicts(alice, vpc, app):
    import threading

    from conformance import ConformingClient

    acl = alice.post(f"/api/v1/vpcs/{vpc['vpc_id']}/network-acls", json={"name": "race"}).json
    results, barrier = [], threading.Barrier(8)

    def add():
        client = ConformingClient(app)
        barrier.wait()
        response = client.post(f"/api/v1/network-acls/{acl['id']}/entries", json=entry(100),
                               headers={"Authorization": f"Bearer {alice.token}"})
        results.append((response.status_code, response.json))

    threads = [threading.Thread(target=add) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(status for status, _ in results) == [201] + [409] * 7
    assert {body["error"]["code"] for status, body in results if status == 409} == {"acl_entry_exists"}
