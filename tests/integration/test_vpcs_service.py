"""VPCs, subnets, gateways, routes and public IPs through their services (the HTTP API comes with its handlers)."""

def test_a_vpc_is_born_furnished_its_subnet_counts_addresses_and_becomes_public_by_its_route(services, auth):
    alice = auth.user("alice")
    pid = alice.personal_project
    s = services
    v = s.vpcs.create(pid, "a", "10.0.0.0/16")
    assert v["main_route_table_id"] and v["default_network_acl_id"] and v["default_security_group_id"]
    sub = s.subnets.create(pid, v["id"], "web", "10.0.1.0/28")
    assert sub["available_ip_count"] == 11 and sub["public"] is False
    g = s.vpcs.attach_gateway(pid, v["id"])
    assert g["address"] == "203.0.113.2"
    s.vpcs.add_route(pid, v["main_route_table_id"], "0.0.0.0/0", "internet_gateway")
    assert s.subnets.get(pid, sub["id"])["public"] is True
    plan = s.vpcs.delete_plan(pid, v["id"])
    assert [p["kind"] for p in plan][:3] == ["instances", "public_ips", "subnets"]
    with s.db.connection() as conn:
        d = s.vpcs.ensure_default(conn, pid)
        assert s.subnets.allocate_ip(conn, d["subnet_id"]) == "172.31.0.4"
    ip = s.public_ips.create(pid)
    assert ip["address"] == "203.0.113.3"
    v2 = s.vpcs.create(pid, "b", "10.1.0.0/16")
    s.vpcs.delete(pid, v2["id"])
