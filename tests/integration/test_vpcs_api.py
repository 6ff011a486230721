"""VPCs, subnets, route tables, the internet gateway and public IPs through the HTTP API."""
from __future__ import annotations

import pytest


@pytest.fixture
def config(config):
    return config.with_overrides({"network.public_pool": "198.51.100.0/29"})  # .2 to .6 free: 5 addresses


def vpc(user, name="main", cidr="10.0.0.0/16"):
    response = user.post("/api/v1/vpcs", json={"name": name, "cidr": cidr})
    assert response.status_code == 201, response.json
    return response.json


def test_a_vpc_is_created_listed_renamed_and_hidden_from_other_projects(auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    made = vpc(alice)
    assert made["cidr"] == "10.0.0.0/16" and made["internet_gateway"] is None
    assert [v["id"] for v in alice.get("/api/v1/vpcs").json["items"]] == [made["id"]]
    assert bob.get("/api/v1/vpcs").json["items"] == []
    for method, path in (("GET", ""), ("DELETE", ""), ("GET", "/subnets"), ("POST", "/internet-gateway")):
        assert bob.request(method, f"/api/v1/vpcs/{made['id']}{path}").status_code == 404, (method, path)
    assert vpc(bob, cidr="10.0.0.0/16")["cidr"] == "10.0.0.0/16"  # another project may use the same block
    renamed = alice.request("PUT", f"/api/v1/vpcs/{made['id']}", json={"name": "prod"})
    assert renamed.status_code == 200 and renamed.json["name"] == "prod"
    moved = alice.request("PUT", f"/api/v1/vpcs/{made['id']}", json={"name": "prod", "cidr": "10.1.0.0/16"})
    assert moved.status_code == 422 and moved.json["error"]["details"]["fields"] == {
        "cidr": "A VPC's block cannot be changed."}


def test_bad_blocks_are_named_and_overlaps_refused_in_both_languages(auth):
    alice = auth.user("alice")
    host = alice.post("/api/v1/vpcs", json={"name": "a", "cidr": "10.0.0.5/16"})
    assert host.status_code == 422
    assert host.json["error"]["details"]["fields"] == {"cidr": "10.0.0.5/16 is not the start of its block: use 10.0.0.0/16."}
    public = alice.post("/api/v1/vpcs", json={"name": "a", "cidr": "8.8.0.0/16"}, headers={"Accept-Language": "ko"})
    assert public.status_code == 422 and "사설 대역" in public.json["error"]["details"]["fields"]["cidr"]
    vpc(alice, "a", "10.0.0.0/16")
    overlap = alice.post("/api/v1/vpcs", json={"name": "b", "cidr": "10.0.128.0/20"})
    assert overlap.status_code == 409 and overlap.json["error"]["code"] == "cidr_overlap"


def test_subnets_count_addresses_and_a_vpc_with_dependents_is_not_deleted_but_planned(auth):
    alice = auth.user("alice")
    made = vpc(alice)
    subnet = alice.post(f"/api/v1/vpcs/{made['id']}/subnets", json={"name": "web", "cidr": "10.0.1.0/28"})
    assert subnet.status_code == 201, subnet.json
    assert (subnet.json["usable_ip_count"], subnet.json["available_ip_count"], subnet.json["public"]) == (11, 11, False)
    assert "bridge" not in str(subnet.json)
    assert alice.post(f"/api/v1/vpcs/{made['id']}/subnets", json={"name": "x", "cidr": "10.0.1.0/24"}).json[
        "error"]["code"] == "cidr_overlap"
    outside = alice.post(f"/api/v1/vpcs/{made['id']}/subnets", json={"name": "x", "cidr": "10.9.0.0/24"})
    assert outside.status_code == 422 and "cidr" in outside.json["error"]["details"]["fields"]
    refused = alice.delete(f"/api/v1/vpcs/{made['id']}")
    assert refused.status_code == 409 and refused.json["error"]["code"] == "vpc_has_dependents"
    assert refused.json["error"]["details"]["dependents"] == [
        {"kind": "subnets", "id": subnet.json["id"], "name": "web"}]
    plan = alice.get(f"/api/v1/vpcs/{made['id']}/delete-plan").json["steps"]
    assert [step["kind"] for step in plan] == ["instances", "public_ips", "subnets", "route_tables",
                                               "internet_gateway", "security_groups", "network_acls", "vpc"]
    assert plan[2]["items"] == [{"id": subnet.json["id"], "name": "web"}]
    cascade = alice.delete(f"/api/v1/vpcs/{made['id']}?cascade=true")
    assert cascade.status_code == 202
    assert alice.get(f"/api/v1/operations/{cascade.json['operation_id']}").json["kind"] == "vpc.delete"
    assert alice.delete(f"/api/v1/subnets/{subnet.json['id']}").status_code == 204
    assert alice.delete(f"/api/v1/vpcs/{made['id']}").status_code == 204
    assert alice.get(f"/api/v1/vpcs/{made['id']}").status_code == 404


def test_local_route_stays_one_gateway_per_vpc_and_the_pool_runs_out(auth):
    alice = auth.user("alice")
    made = vpc(alice)
    table = alice.get(f"/api/v1/route-tables/{made['main_route_table_id']}").json
    local = table["routes"][0]
    assert (local["destination"], local["target"]) == ("10.0.0.0/16", "local")
    assert alice.delete(f"/api/v1/route-tables/{table['id']}/routes/{local['id']}").json["error"]["code"] == "local_route"
    no_gateway = alice.post(f"/api/v1/route-tables/{table['id']}/routes",
                            json={"destination": "0.0.0.0/0", "target": "internet_gateway"})
    assert no_gateway.status_code == 409 and no_gateway.json["error"]["code"] == "no_internet_gateway"
    gateway = alice.post(f"/api/v1/vpcs/{made['id']}/internet-gateway")
    assert gateway.status_code == 201 and gateway.json["address"] == "198.51.100.2"
    again = alice.post(f"/api/v1/vpcs/{made['id']}/internet-gateway")
    assert again.status_code == 409 and again.json["error"]["code"] == "gateway_exists"
    routed = alice.post(f"/api/v1/route-tables/{table['id']}/routes",
                        json={"destination": "0.0.0.0/0", "target": "internet_gateway"})
    assert routed.status_code == 201 and len(routed.json["routes"]) == 2
    assert alice.delete(f"/api/v1/vpcs/{made['id']}/internet-gateway").json["error"]["code"] == "gateway_in_use"
    addresses = [alice.post("/api/v1/public-ips").json["address"] for _ in range(4)]
    assert addresses == ["198.51.100.3", "198.51.100.4", "198.51.100.5", "198.51.100.6"]
    exhausted = alice.post("/api/v1/public-ips")
    assert exhausted.status_code == 409 and exhausted.json["error"]["code"] == "pool_exhausted"
