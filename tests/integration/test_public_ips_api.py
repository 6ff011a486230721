"""Public IPs on mini PCs: only in a public subnet, one per mini PC, released back to the pool.

Until instances take a subnet_id (the other half of issue 10), the test puts the mini PC in a subnet
with SQL of its own, as the instance service will.
"""
from __future__ import annotations

import pytest

from compute_fixtures import compute_overrides


@pytest.fixture
def config(config):
    return compute_overrides(config)


def test_associate_needs_a_public_subnet_and_one_address_per_mini_pc(auth, compute, services):
    alice, bob = auth.user("alice"), auth.user("bob")
    vpc = alice.post("/api/v1/vpcs", json={"name": "v", "cidr": "10.0.0.0/16"}).json
    subnet = alice.post(f"/api/v1/vpcs/{vpc['id']}/subnets", json={"name": "s", "cidr": "10.0.1.0/24"}).json
    pc = alice.post("/api/v1/instances", json={"name": "pc", "template_id": compute["tid"]("nano")}).json
    with services.db.connection() as conn:
        ip = services.subnets.allocate_ip(conn, subnet["id"])
        conn.execute("UPDATE instances SET subnet_id = %s, private_ip = %s WHERE id = %s", (subnet["id"], ip, pc["id"]))
    assert ip == "10.0.1.4"
    assert alice.get(f"/api/v1/subnets/{subnet['id']}").json["available_ip_count"] == 250
    address = alice.post("/api/v1/public-ips").json
    private = alice.post(f"/api/v1/public-ips/{address['id']}/associate", json={"instance_id": pc["id"]})
    assert private.status_code == 409 and private.json["error"]["code"] == "subnet_not_public"
    alice.post(f"/api/v1/vpcs/{vpc['id']}/internet-gateway")
    alice.post(f"/api/v1/route-tables/{vpc['main_route_table_id']}/routes",
               json={"destination": "0.0.0.0/0", "target": "internet_gateway"})
    assert alice.get(f"/api/v1/subnets/{subnet['id']}").json["public"] is True
    done = alice.post(f"/api/v1/public-ips/{address['id']}/associate", json={"instance_id": pc["id"]})
    assert done.status_code == 200 and done.json["instance"] == {"id": pc["id"], "name": "pc"}
    second = alice.post("/api/v1/public-ips").json
    twice = alice.post(f"/api/v1/public-ips/{second['id']}/associate", json={"instance_id": pc["id"]})
    assert twice.status_code == 409 and twice.json["error"]["code"] == "instance_has_public_ip"
    assert bob.post(f"/api/v1/public-ips/{address['id']}/disassociate").status_code == 404
    stranger = bob.post("/api/v1/public-ips").json
    theirs = bob.post(f"/api/v1/public-ips/{stranger['id']}/associate", json={"instance_id": pc["id"]})
    assert theirs.status_code == 422 and "instance_id" in theirs.json["error"]["details"]["fields"]
    off = alice.post(f"/api/v1/public-ips/{address['id']}/disassociate")
    assert off.status_code == 200 and off.json["instance"] is None
    assert alice.delete(f"/api/v1/subnets/{subnet['id']}").json["error"]["code"] == "subnet_has_instances"
