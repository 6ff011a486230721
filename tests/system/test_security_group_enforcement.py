"""Security groups and anti-spoofing enforced by the real kernel: the rulesets of ``rulesets.render_host``
loaded with ``nft.apply``, namespaces on a bridge standing in for guests (their veth's host end plays the
tap). Each test's tables, bridges and namespaces have names unique to the run and are removed afterwards.
"""
from __future__ import annotations

import subprocess
import sys

import pytest
from netns import Guest, NetLab, tag

from minicloud.drivers.network import nft, rulesets
from minicloud.drivers.network.base import HostState, Nic, SecurityGroup, SecurityGroupRule, Subnet, Vpc

pytestmark = pytest.mark.system

SUBNET = "10.77.0.0/24"
ALLOW_ALL_OUT = SecurityGroupRule(90, "out", "egress", "all", cidr="0.0.0.0/0")


def tcp_in(number: int, port: int, cidr: str = "0.0.0.0/0") -> SecurityGroupRule:
    return SecurityGroupRule(number, f"tcp{port}", "ingress", "tcp", port, port, cidr=cidr)


class Host:
    """The lab plus this run's own copies of the host tables."""

    def __init__(self, lab: NetLab) -> None:
        self.lab = lab
        suffix = tag()
        self.sg_table, self.spoof_table = f"mctest_sg_{suffix}", f"mctest_spoof_{suffix}"
        self.vpc_number = 40000 + int(suffix, 16) % 20000  # also the conntrack zone: away from the driver's

    def apply(self, *vpcs: Vpc) -> None:
        texts = rulesets.render_host(HostState(vpcs), sg_table=self.sg_table, spoof_table=self.spoof_table)
        nft.apply("\n".join(texts.values()))

    def close(self) -> None:
        nft.delete_table("inet", self.sg_table)
        nft.delete_table("bridge", self.spoof_table)


@pytest.fixture
def host():
    with NetLab() as lab:
        lab.br_netfilter_on()
        h = Host(lab)
        try:
            yield h
        finally:
            h.close()


def nic(guest: Guest, *groups: int) -> Nic:
    return Nic(port=guest.port, mac=guest.mac, ip=guest.ip, hostname=guest.ns, groups=tuple(groups))


def vpc(number: int, bridge_number: int, nics: tuple[Nic, ...], groups: tuple[SecurityGroup, ...],
        cidr: str = SUBNET) -> Vpc:
    subnet = Subnet(bridge_number, f"s{bridge_number}", "test", cidr, "default", (), 1, (), nics)
    return Vpc(number, f"v{number}", "test", cidr, subnets=(subnet,), groups=groups)


def one_subnet(host: Host, count: int, bridge: str | None = None, prefix: str = "10.77.0") -> tuple[str, list[Guest]]:
    """A bridge named like the driver's (``mcbr-<n>``, the subnet number unique to the run) with ``count`` guests."""
    number = 100000 + int(tag(), 16) % 800000
    bridge = bridge or host.lab.bridge(f"mcbr-{number}")
    guests = [host.lab.guest(bridge, f"{prefix}.{10 + i}/24") for i in range(count)]
    return bridge, guests


def subnet_number(bridge: str) -> int:
    return int(bridge.split("-")[1])


def test_a_group_opens_its_port_to_another_guest_on_the_subnet_and_no_other(host):
    bridge, (a, b) = one_subnet(host, 2)
    lab = host.lab
    web = SecurityGroup(1, "g1", "web", (tcp_in(1, 8080), ALLOW_ALL_OUT))
    with lab.tcp_server(b, 8080), lab.tcp_server(b, 8081):
        assert lab.tcp_connects(a, b.ip, 8081), "without rules the bridge passes everything"
        host.apply(vpc(host.vpc_number, subnet_number(bridge), (nic(a, 1), nic(b, 1)), (web,)))
        assert lab.tcp_connects(a, b.ip, 8080)
        assert not lab.tcp_connects(a, b.ip, 8081)
    listed = nft.list_table("inet", host.sg_table)
    assert 'comment "sg web (sg1) rule 1: tcp 8080 from 0.0.0.0/0"' in listed
    assert "counter packets" in listed


def test_icmp_passes_only_with_an_icmp_rule(host):
    bridge, (a, b) = one_subnet(host, 2)
    number = subnet_number(bridge)
    plain = SecurityGroup(1, "g1", "plain", (tcp_in(1, 22), ALLOW_ALL_OUT))
    host.apply(vpc(host.vpc_number, number, (nic(a, 1), nic(b, 1)), (plain,)))
    assert not host.lab.ping(b, a.ip)
    pingable = SecurityGroup(1, "g1", "plain", (tcp_in(1, 22), ALLOW_ALL_OUT,
                                                SecurityGroupRule(2, "icmp", "ingress", "icmp", cidr=SUBNET)))
    host.apply(vpc(host.vpc_number, number, (nic(a, 1), nic(b, 1)), (pingable,)))
    assert host.lab.ping(b, a.ip)


def test_a_reply_passes_where_only_the_request_was_allowed(host):
    bridge, (client, server) = one_subnet(host, 2)
    lab = host.lab
    clients = SecurityGroup(1, "g1", "clients", (ALLOW_ALL_OUT,))        # nothing may come in
    servers = SecurityGroup(2, "g2", "servers", (tcp_in(1, 8080), ALLOW_ALL_OUT))
    host.apply(vpc(host.vpc_number, subnet_number(bridge), (nic(client, 1), nic(server, 2)), (clients, servers)))
    with lab.tcp_server(server, 8080), lab.tcp_server(client, 8080):
        assert lab.tcp_connects(client, server.ip, 8080), "the server's answer comes back to the client"
        assert not lab.tcp_connects(server, client.ip, 8080), "but the client admits no new connection"


def test_a_rule_naming_a_group_follows_its_membership(host):
    bridge, (a, b, c) = one_subnet(host, 3)
    lab = host.lab
    number = subnet_number(bridge)
    db = SecurityGroup(1, "g1", "db", (SecurityGroupRule(1, "from-app", "ingress", "tcp", 5432, 5432,
                                                        source_group=2), ALLOW_ALL_OUT))
    app = SecurityGroup(2, "g2", "app", (ALLOW_ALL_OUT,))
    other = SecurityGroup(3, "g3", "other", (ALLOW_ALL_OUT,))
    with lab.tcp_server(b, 5432):
        host.apply(vpc(host.vpc_number, number, (nic(a, 2), nic(b, 1), nic(c, 3)), (db, app, other)))
        assert lab.tcp_connects(a, b.ip, 5432)
        assert not lab.tcp_connects(c, b.ip, 5432)
        host.apply(vpc(host.vpc_number, number, (nic(a, 3), nic(b, 1), nic(c, 2)), (db, app, other)))
        assert not lab.tcp_connects(a, b.ip, 5432), "a left the group: the rule no longer admits it"
        assert lab.tcp_connects(c, b.ip, 5432), "c joined it"


def test_a_flow_a_removed_rule_no_longer_allows_is_cut_once_its_conntrack_entries_are_flushed(host):
    bridge, (a, b) = one_subnet(host, 2)
    lab = host.lab
    number = subnet_number(bridge)
    udp = SecurityGroupRule(1, "dns", "ingress", "udp", 5353, 5353, cidr="0.0.0.0/0")
    with lab.tcp_server(b, 5353, udp=True):
        host.apply(vpc(host.vpc_number, number, (nic(a, 1), nic(b, 1)),
                       (SecurityGroup(1, "g1", "g", (udp, ALLOW_ALL_OUT)),)))
        assert lab.udp_answers(a, b.ip, 5353, sport=40001)
        host.apply(vpc(host.vpc_number, number, (nic(a, 1), nic(b, 1)),
                       (SecurityGroup(1, "g1", "g", (ALLOW_ALL_OUT,)),)))
        assert lab.udp_answers(a, b.ip, 5353, sport=40001), "the tracked flow still passes"
        assert nft.flush_conntrack(b.ip, zone=host.vpc_number) >= 1
        assert not lab.udp_answers(a, b.ip, 5353, sport=40001)
        assert nft.flush_conntrack(b.ip, zone=host.vpc_number) == 0


def _receiver(lab: NetLab, guest: Guest, port: int) -> subprocess.Popen:
    """A UDP server in ``guest`` printing each datagram's payload and sender (no answer)."""
    code = ("import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
            f"s.bind(('0.0.0.0',{port}))\nprint('ready',flush=True)\n"
            "while True:\n d,p=s.recvfrom(2048)\n print(d.decode(),p[0],flush=True)\n")
    proc = subprocess.Popen(["ip", "netns", "exec", guest.ns, sys.executable, "-c", code],
                            stdout=subprocess.PIPE, text=True)
    lab.processes.append(proc)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _send(lab: NetLab, guest: Guest, ip: str, port: int, payload: str, source: str = "") -> None:
    code = ("import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
            f"s.bind(({source!r},0))\n"
            f"[s.sendto({payload!r}.encode(),({ip!r},{port})) for _ in range(3)]\n")
    lab.exec(guest, sys.executable, "-c", code)


def _received(proc: subprocess.Popen) -> str:
    proc.kill()
    out, _ = proc.communicate(timeout=5)
    return out


def test_a_spoofed_source_address_and_a_spoofed_mac_are_dropped(host):
    bridge, (a, b) = one_subnet(host, 2)
    lab = host.lab
    group = SecurityGroup(1, "g1", "open", (SecurityGroupRule(1, "all", "ingress", "all", cidr="0.0.0.0/0"),
                                            ALLOW_ALL_OUT))
    host.apply(vpc(host.vpc_number, subnet_number(bridge), (nic(a, 1), nic(b, 1)), (group,)))
    # a takes another address as well; b knows a's MAC for it, so only the rules can stop the datagram
    lab.exec(a, "ip", "addr", "add", "10.77.0.99/32", "dev", "eth0")
    lab.exec(b, "ip", "neigh", "replace", "10.77.0.99", "lladdr", a.mac, "dev", "eth0")
    receiver = _receiver(lab, b, 9999)
    _send(lab, a, b.ip, 9999, "honest")
    _send(lab, a, b.ip, 9999, "spoofed", source="10.77.0.99")
    out = _received(receiver)
    assert f"honest {a.ip}" in out
    assert "spoofed" not in out
    spoof = nft.list_table("bridge", host.spoof_table)
    assert f'comment "not from {a.ip}, or not IPv4 or ARP"' in spoof

    with lab.tcp_server(b, 8080):
        assert lab.tcp_connects(a, b.ip, 8080)
        lab.exec(a, "ip", "link", "set", "eth0", "address", "52:54:00:00:00:99")
        assert not lab.tcp_connects(a, b.ip, 8080), "another MAC than its own: dropped"
        lab.exec(a, "ip", "link", "set", "eth0", "address", a.mac)


def test_two_vpcs_with_the_same_cidr_each_work_and_share_no_tracked_flows(host):
    lab = host.lab
    bridge1, (a1, b1) = one_subnet(host, 2)
    bridge2, (a2, b2) = one_subnet(host, 2)
    assert (a1.ip, b1.ip) == (a2.ip, b2.ip)
    open_udp = SecurityGroup(1, "g1", "open", (tcp_in(1, 8080),
                                               SecurityGroupRule(2, "u", "ingress", "udp", 5353, 5353,
                                                                 cidr="0.0.0.0/0"), ALLOW_ALL_OUT))
    tcp_only = SecurityGroup(2, "g2", "tcp only", (tcp_in(1, 8080), ALLOW_ALL_OUT))
    first = vpc(host.vpc_number, subnet_number(bridge1), (nic(a1, 1), nic(b1, 1)), (open_udp,))
    second = vpc(host.vpc_number + 1, subnet_number(bridge2), (nic(a2, 2), nic(b2, 2)), (tcp_only,))
    host.apply(first, second)
    with lab.tcp_server(b1, 8080), lab.tcp_server(b2, 8080), lab.tcp_server(b1, 5353, udp=True), \
            lab.tcp_server(b2, 5353, udp=True):
        assert lab.tcp_connects(a1, b1.ip, 8080)
        assert lab.tcp_connects(a2, b2.ip, 8080)
        # the same addresses and ports in both VPCs: the first VPC's tracked flow must not admit the second's
        assert lab.udp_answers(a1, b1.ip, 5353, sport=40002)
        assert not lab.udp_answers(a2, b2.ip, 5353, sport=40002)
    # the same address in the other VPC is the other VPC's guest: a server on b1 alone answers nobody in VPC 2
    with lab.tcp_server(b1, 8080):
        assert lab.tcp_connects(a1, b1.ip, 8080)
        assert not lab.tcp_connects(a2, b2.ip, 8080)
