"""The Linux network driver on this host's kernel: namespaces stand in for guests (a veth whose host end is
the NIC's port, put on the subnet's bridge by the test, as libvirt puts a tap), and an "outside" namespace
on the public bridge stands in for the world. Traffic stays inside the namespaces and bridges made here;
names come from a random base (tests/network_states.py), so concurrent runs never meet.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from netns import NetLab, run, wait_until
from network_states import host_tables, default_group, new_base, public_network, scope, two_subnet_state

from minicloud.drivers.network import nft
from minicloud.drivers.network.base import AclEntry, Nic, PublicIp, SecurityGroup, SecurityGroupRule
from minicloud.drivers.network.linux import LinuxNetworkDriver

pytestmark = pytest.mark.system


@pytest.fixture
def net(tmp_path):
    base = new_base()
    driver = LinuxNetworkDriver(tmp_path / "network", scope=scope(base), public=public_network(base),
                                    **host_tables(base))
    lab = NetLab()
    try:
        yield base, driver, lab
    finally:
        driver.teardown()
        lab.close()


def prefix_of(state) -> str:
    return state.vpcs[0].cidr.rsplit(".", 2)[0]  # "10.x"


def nic_for(guest, hostname: str, groups: tuple[int, ...]) -> Nic:
    return Nic(guest.port, guest.mac, guest.ip, hostname, groups)


def with_nics(state, nics1=(), nics2=()):
    vpc = state.vpcs[0]
    subnets = (replace(vpc.subnets[0], nics=tuple(nics1)), replace(vpc.subnets[1], nics=tuple(nics2)))
    return replace(state, vpcs=(replace(vpc, subnets=subnets),))


def ours(base: int) -> dict[str, list[str]]:
    """This run's objects on the host: links, namespaces, dnsmasq processes."""
    keep = scope(base)
    links = [e["ifname"] for e in json.loads(run("ip", "-j", "link", "show").stdout) if keep(e["ifname"])]
    spaces = [e["name"] for e in json.loads(run("ip", "-j", "netns", "list").stdout or "[]") if keep(e["name"])]
    procs = [pid for pid in os.listdir("/proc") if pid.isdigit() and _is_our_dnsmasq(pid, base)]
    return {"links": links, "namespaces": spaces, "dnsmasq": procs}


def _is_our_dnsmasq(pid: str, base: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
    except OSError:
        return False
    return "dnsmasq" in cmdline and f"leg-{base}" in cmdline


def test_dhcp_hands_a_guest_its_static_address_and_dns_answers_its_name(net, tmp_path):
    base, driver, lab = net
    state = two_subnet_state(base)
    driver.apply(state)
    net_prefix = prefix_of(state)
    subnet = state.vpcs[0].subnets[0]
    guest = lab.guest(subnet.bridge, f"{net_prefix}.1.10/24", gateway=f"{net_prefix}.1.1")
    state = with_nics(state, [nic_for(guest, "web-1", (base,))])
    applied = driver.apply(state)
    assert any("static leases" in line or "dnsmasq" in line for line in applied.changes)

    lab.exec(guest, "ip", "addr", "flush", "dev", "eth0")
    script = tmp_path / "udhcpc.sh"
    script.write_text(f'#!/bin/sh\n[ "$1" = bound ] && echo "$ip $mask $router $dns" > {tmp_path}/lease\nexit 0\n')
    script.chmod(0o755)
    lab.exec(guest, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-t", "5", "-T", "1", "-s", str(script),
             timeout=30)
    assert (tmp_path / "lease").read_text().split() == [f"{net_prefix}.1.10", "24", f"{net_prefix}.1.1",
                                                         f"{net_prefix}.1.2"]

    lab.exec(guest, "ip", "addr", "add", f"{net_prefix}.1.10/24", "dev", "eth0")
    answer = lab.exec(guest, "busybox", "nslookup", "web-1", f"{net_prefix}.1.2", check=False).stdout
    assert f"Address: {net_prefix}.1.10" in answer
    assert "52:54:00" in driver.underneath(state.vpcs[0]).leases


def test_subnets_talk_through_the_router_and_an_acl_deny_at_100_beats_an_allow_at_200(net):
    base, driver, lab = net
    acl2 = (AclEntry(100, "ingress", "deny", "tcp", "0.0.0.0/0", 8080, 8080),
            AclEntry(200, "ingress", "allow", "all", "0.0.0.0/0"),
            AclEntry(100, "egress", "allow", "all", "0.0.0.0/0"))
    state = two_subnet_state(base, acl2=acl2)
    driver.apply(state)
    p = prefix_of(state)
    s1, s2 = state.vpcs[0].subnets
    a = lab.guest(s1.bridge, f"{p}.1.10/24", gateway=f"{p}.1.1")
    b = lab.guest(s2.bridge, f"{p}.2.10/24", gateway=f"{p}.2.1")
    c = lab.guest(s2.bridge, f"{p}.2.11/24", gateway=f"{p}.2.1")
    state = with_nics(state, [nic_for(a, "a", (base,))], [nic_for(b, "b", (base,)), nic_for(c, "c", (base,))])
    driver.apply(state)
    assert driver.apply(state).changes == ()

    with lab.tcp_server(b, 8080), lab.tcp_server(b, 8081):
        assert lab.tcp_connects(a, b.ip, 8081)          # across subnets, routed by the VPC router
        assert lab.ping(a, b.ip)
        assert not lab.tcp_connects(a, b.ip, 8080)      # entry 100 deny beats entry 200 allow
        assert lab.tcp_connects(c, b.ip, 8080)          # within the subnet: the ACL does not apply


def _peer_server(lab: NetLab, ns: str, port: int) -> subprocess.Popen:
    """A TCP server in ``ns`` that prints the address of its first client."""
    code = ("import socket,sys\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
            f"s.bind(('0.0.0.0',{port}));s.listen(1);print('ready',flush=True)\n"
            "c,peer=s.accept();c.sendall(b'ping');print(peer[0],flush=True)\n")
    proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lab.processes.append(proc)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_the_gateway_nats_out_and_a_public_ip_is_reachable_only_on_allowed_ports(net):
    base, driver, lab = net
    web = SecurityGroup(base + 1, "sg-web", "web", (
        SecurityGroupRule(1, "w1", "ingress", "tcp", 8080, 8080, cidr="0.0.0.0/0"),
        SecurityGroupRule(2, "w2", "egress", "all", cidr="0.0.0.0/0"),
    ))
    state = two_subnet_state(base, gateway=True, groups=(default_group(base), web))
    driver.apply(state)
    p, public = prefix_of(state), state.public
    gateway_address = state.vpcs[0].gateway_address
    public_address = public.gateway.rsplit(".", 1)[0] + "." + str(int(public.gateway.rsplit(".", 1)[1]) + 4)
    outside_address = public.gateway.rsplit(".", 1)[0] + "." + str(int(public.gateway.rsplit(".", 1)[1]) + 13)
    a = lab.guest(state.vpcs[0].subnets[0].bridge, f"{p}.1.10/24", gateway=f"{p}.1.1")
    state = with_nics(state, [nic_for(a, "a", (base, base + 1))])
    driver.apply(state)
    outside = lab.namespace()
    prefix_len = public.cidr.split("/")[1]
    lab.veth_into(outside, "eth0", f"{outside_address}/{prefix_len}", bridge=public.bridge)

    server = _peer_server(lab, outside, 9000)
    assert lab.tcp_connects(a, outside_address, 9000)
    assert server.stdout.readline().strip() == gateway_address  # masqueraded to the gateway's address

    state = replace(state, vpcs=(replace(state.vpcs[0], public_ips=(PublicIp(public_address, a.ip),)),))
    driver.apply(state)
    with lab.tcp_server(a, 8080), lab.tcp_server(a, 8081):
        assert lab.tcp_connects(outside, public_address, 8080)      # the group allows 8080
        assert not lab.tcp_connects(outside, public_address, 8081)  # and nothing else
    server = _peer_server(lab, outside, 9001)
    assert lab.tcp_connects(a, outside_address, 9001)
    assert server.stdout.readline().strip() == public_address   # 1:1 NAT: it leaves as its public IP


def test_after_a_host_restart_the_same_apply_rebuilds_everything(net):
    base, driver, lab = net
    state = two_subnet_state(base)
    driver.apply(state)
    p = prefix_of(state)
    s1, s2 = state.vpcs[0].subnets
    a = lab.guest(s1.bridge, f"{p}.1.10/24", gateway=f"{p}.1.1")
    b = lab.guest(s2.bridge, f"{p}.2.10/24", gateway=f"{p}.2.1")
    state = with_nics(state, [nic_for(a, "a", (base,))], [nic_for(b, "b", (base,))])
    first = driver.apply(state)
    with lab.tcp_server(b, 8080):
        assert lab.tcp_connects(a, b.ip, 8080)

    # "restart": the router, its dnsmasq, the bridges and the host tables are gone
    for number in (s1.number, s2.number):
        pid = int((driver.state_dir / f"dnsmasq-{number}.pid").read_text())
        os.kill(pid, signal.SIGTERM)
    run("ip", "netns", "del", state.vpcs[0].namespace)
    for subnet in (s1, s2):
        run("ip", "link", "del", subnet.bridge)
    tables = host_tables(base)
    assert set(tables.values()) <= set(first.rulesets)
    nft.delete_table("inet", tables["sg_table"])
    nft.delete_table("bridge", tables["spoof_table"])
    assert wait_until(lambda: not ours(base)["dnsmasq"])

    repaired = driver.apply(state)
    assert any(state.vpcs[0].namespace in line for line in repaired.changes)
    assert any(s1.bridge in line for line in repaired.changes)
    with lab.tcp_server(b, 8080):
        assert lab.tcp_connects(a, b.ip, 8080)
    assert driver.apply(state).changes == ()


def test_teardown_leaves_nothing_of_ours(net):
    base, driver, lab = net
    driver.apply(two_subnet_state(base, gateway=True))
    assert ours(base)["namespaces"] and ours(base)["dnsmasq"]
    removed = driver.teardown()
    assert removed
    assert wait_until(lambda: ours(base) == {"links": [], "namespaces": [], "dnsmasq": []})
    assert driver.teardown() == ()
