"""The nftables rulesets rendered from configs/network/*.nft.j2: accepted by ``nft -c``, names escaped, stable,
growing with rules + NICs; and nft.py's check/apply/list/delete/probe on tables named for this run only."""
from __future__ import annotations

import random
import re
import time

import pytest
from netns import NetLab, tag

from minicloud.drivers.network import nft, rulesets
from minicloud.drivers.network.base import (
    AclEntry,
    HostState,
    NetworkError,
    Nic,
    PublicIp,
    PublicNetwork,
    Route,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    Vpc,
)

NASTY = 'web"; drop\n}\ttable inet x { chain y { accept } } # \\ \'x\''
OUT = SecurityGroupRule(90, "out", "egress", "all", cidr="0.0.0.0/0")


def make_nic(index: int, subnet_base: str = "10.1.0", groups: tuple[int, ...] = (12,)) -> Nic:
    return Nic(f"mct{index:012x}", f"52:54:00:{index >> 16 & 255:02x}:{index >> 8 & 255:02x}:{index & 255:02x}",
               f"{subnet_base}.{10 + index}", f"host{index}", groups)


def make_vpc(name: str = "prod", group_name: str = "web", nics: tuple[Nic, ...] | None = None,
             gateway: str | None = "203.0.113.5", number: int = 3, subnets: tuple[int, int] = (5, 6)) -> Vpc:
    web = SecurityGroup(12, "g12", group_name, (
        SecurityGroupRule(1, "r1", "ingress", "tcp", 22, 22, cidr="0.0.0.0/0"),
        SecurityGroupRule(2, "r2", "ingress", "all", source_group=12),
        SecurityGroupRule(4, "r4", "ingress", "udp", 1000, 2000, cidr="10.1.0.0/16"),
        SecurityGroupRule(5, "r5", "ingress", "icmp", cidr="10.1.2.3/32"),
        SecurityGroupRule(6, "r6", "egress", "tcp", cidr="10.2.0.0/16"),
        OUT,
    ))
    db = SecurityGroup(13, "g13", "데이터베이스", (SecurityGroupRule(1, "d1", "ingress", "tcp", 5432, 5432,
                                                                   source_group=12),))
    acl = (AclEntry(200, "ingress", "allow", "all", "0.0.0.0/0"), AclEntry(100, "ingress", "deny", "tcp",
                                                                           "10.0.0.0/8", 22, 22),
           AclEntry(100, "egress", "allow", "all", "0.0.0.0/0"))
    nics = nics if nics is not None else (make_nic(1), make_nic(2, groups=(12, 13)))
    return Vpc(number, f"v{number}", name, "10.1.0.0/16", subnets=(
        Subnet(subnets[0], "s5", "front", "10.1.0.0/24", "main acl", acl, 1, (Route("10.1.0.0/16", "local"),),
               nics=nics),
        Subnet(subnets[1], "s6", "back", "10.1.1.0/24", "new", (), 1, (), ())),
        groups=(web, db), gateway_address=gateway,
        public_ips=(PublicIp("203.0.113.9", "10.1.0.11"),) if gateway else ())


def body(text: str) -> str:
    """The ruleset without its comment lines."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


# ---- rendering ------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", [HostState(), HostState((make_vpc(),)), HostState((make_vpc(nics=()),)),
                                   HostState((make_vpc(), Vpc(4, "v4", "same cidr", "10.1.0.0/16", (
                                       Subnet(7, "s7", "x", "10.1.0.0/24", "a", (), 1, (), (make_nic(3, groups=(20,)),)),),
                                       (SecurityGroup(20, "g20", "default", (OUT,)),))))],
                         ids=["empty", "one vpc", "no nics", "two vpcs"])
def test_every_host_ruleset_is_accepted_by_nft_and_replaces_its_whole_table(state):
    texts = rulesets.render_host(state)
    assert set(texts) == {"minicloud_sg", "minicloud_spoof"}
    for (family, table), text in zip([("inet", "minicloud_sg"), ("bridge", "minicloud_spoof")], texts.values()):
        assert body(text).lstrip().startswith(f"table {family} {table} {{}}\ndelete table {family} {table}\n")
        nft.check(text)
    nft.check("\n".join(texts.values()))  # both in one transaction, as the driver loads them


@pytest.mark.parametrize("gateway", ["203.0.113.5", None])
def test_the_router_ruleset_is_accepted_by_nft(gateway):
    text = rulesets.render_router(make_vpc(gateway=gateway), PublicNetwork())
    assert body(text).lstrip().startswith("table inet minicloud_router {}\ndelete table inet minicloud_router\n")
    nft.check(text)
    assert ("snat ip to 203.0.113.5" in text) == bool(gateway)
    assert ("dnat ip to 10.1.0.11" in text) == bool(gateway)


def test_acl_entries_are_one_rule_each_in_ascending_number_and_end_in_a_named_deny():
    text = rulesets.render_router(make_vpc(), PublicNetwork())
    chain = text.split("chain acl5_ingress {")[1].split("}")[0]
    lines = [line.strip() for line in chain.strip().splitlines()]
    assert lines == [
        'ip saddr 10.0.0.0/8 tcp dport 22 counter drop comment "acl main acl entry 100: deny tcp 22 from 10.0.0.0/8"',
        'meta nfproto ipv4 counter return comment "acl main acl entry 200: allow all from 0.0.0.0/0"',
        'counter drop comment "acl main acl entry *: deny (ingress)"',
    ]
    assert 'iifname "leg-5" jump acl5_egress' in text and 'oifname "leg-5" jump acl5_ingress' in text
    new_acl = text.split("chain acl6_egress {")[1].split("}")[0].strip()
    assert new_acl == 'counter drop comment "acl new entry *: deny (egress)"', "a new ACL denies everything"


def test_group_rules_read_in_words_and_a_group_reference_is_its_member_set():
    text = rulesets.render_host(HostState((make_vpc(),)))["minicloud_sg"]
    assert ('ip saddr @sg12 counter accept comment "sg web (sg12) rule 2: all from group web (sg12)"' in text)
    assert 'comment "sg web (sg12) rule 1: tcp 22 from 0.0.0.0/0"' in text
    assert "ip daddr 10.2.0.0/16 meta l4proto tcp counter goto ingress" in text  # an allowed egress goes on to the receiver
    members = re.search(r"set sg12 \{[^}]*elements = \{ ([^}]*) \}", text).group(1)
    assert members == "10.1.0.11, 10.1.0.12"
    assert re.search(r"set sg13 \{[^}]*elements = \{ 10\.1\.0\.12 \}", text)


def test_a_hostile_group_name_stays_inside_its_comment():
    plain = rulesets.render_host(HostState((make_vpc(group_name="web"),)))["minicloud_sg"]
    hostile = rulesets.render_host(HostState((make_vpc(group_name=NASTY, name=NASTY),)))["minicloud_sg"]
    nft.check(hostile)
    assert len(hostile.splitlines()) == len(plain.splitlines())
    assert 'drop\n' not in hostile.replace("counter drop\n", "")
    for line in hostile.splitlines():
        if "comment" in line:
            assert line.count('"') == 2, line
    router = rulesets.render_router(make_vpc(name=NASTY, group_name=NASTY), PublicNetwork())
    nft.check(router)
    for text in (router, hostile):
        statements = [line for line in body(text).splitlines() if line.startswith("table") or line.startswith("delete")]
        assert len(statements) == 3, statements


@pytest.mark.parametrize("bad", [
    {"port": 'mct"; accept'}, {"port": "a-name-far-too-long"}, {"mac": "52:54:00:zz:00:01"},
    {"ip": "10.9.9.9"}, {"ip": "10.1.0.1; drop"}, {"groups": (99,)},
])
def test_values_that_cannot_be_rendered_safely_are_refused(bad):
    fields = {"port": "mct000000000001", "mac": "52:54:00:00:00:01", "ip": "10.1.0.11", "groups": (12,)} | bad
    with pytest.raises(NetworkError):
        rulesets.render_host(HostState((make_vpc(nics=(Nic(**fields),)),)))


def test_a_subnet_or_group_number_used_twice_is_refused():
    with pytest.raises(NetworkError, match="mcbr-5"):
        rulesets.render_host(HostState((make_vpc(), Vpc(4, "v4", "x", "10.1.0.0/16", (
            Subnet(5, "s5", "x", "10.1.0.0/24", "a", (), 1, (), ()),)))))
    with pytest.raises(NetworkError, match="sg12"):
        rulesets.render_host(HostState((make_vpc(), make_vpc(number=4, nics=(), subnets=(8, 9)))))


def test_a_rule_naming_a_group_outside_its_vpc_is_refused():
    vpc = make_vpc()
    stray = SecurityGroup(12, "g12", "web", (SecurityGroupRule(1, "x", "ingress", "all", source_group=77),))
    with pytest.raises(NetworkError, match="sg77"):
        rulesets.render_host(HostState((Vpc(vpc.number, vpc.vpc_id, vpc.name, vpc.cidr, vpc.subnets,
                                            (stray, vpc.groups[1])),)))


def test_the_rendering_does_not_depend_on_the_order_of_the_state():
    vpc = make_vpc(nics=tuple(make_nic(i) for i in range(1, 30)))
    shuffled_nics = list(vpc.subnets[0].nics)
    random.Random(7).shuffle(shuffled_nics)
    subnet = vpc.subnets[0]
    shuffled = Vpc(vpc.number, vpc.vpc_id, vpc.name, vpc.cidr,
                   (vpc.subnets[1], Subnet(subnet.number, subnet.subnet_id, subnet.name, subnet.cidr,
                                           subnet.acl_name, tuple(reversed(subnet.acl)), subnet.route_table,
                                           subnet.routes, tuple(shuffled_nics))),
                   tuple(reversed(vpc.groups)), vpc.gateway_address, vpc.public_ips)
    assert rulesets.render_host(HostState((vpc,))) == rulesets.render_host(HostState((shuffled,)))
    assert rulesets.render_router(vpc, PublicNetwork()) == rulesets.render_router(shuffled, PublicNetwork())


def test_a_thousand_nics_render_once_per_group_rule_and_pass_nft():
    nics = tuple(make_nic(i, subnet_base=f"10.1.{i // 200}", groups=(12,)) for i in range(1000))
    nics = tuple(Nic(n.port, n.mac, f"10.1.{i // 200}.{10 + i % 200}", n.hostname, n.groups)
                 for i, n in enumerate(nics))
    vpc = make_vpc(nics=())
    big = Vpc(vpc.number, vpc.vpc_id, vpc.name, vpc.cidr,
              (Subnet(5, "s5", "big", "10.1.0.0/21", "acl", (), 1, (), nics),), vpc.groups)
    started = time.perf_counter()
    texts = rulesets.render_host(HostState((big,)))
    rendered_in = time.perf_counter() - started
    sg = texts["minicloud_sg"]
    assert sg.count('comment "sg web (sg12) rule 1:') == 1, "a group's rules are rendered once, not per NIC"
    assert sg.count("jump sg12_in") == 1000
    nft.check(sg)
    nft.check(texts["minicloud_spoof"])
    print(f"1,000 NICs rendered in {rendered_in * 1000:.0f} ms")


# ---- nft.py on this run's own tables ------------------------------------------------------------

def test_apply_is_atomic_and_repeatable_and_list_shows_counters():
    table = f"mctest_{tag()}"
    text = rulesets.render_host(HostState((make_vpc(),)), sg_table=table)[table]
    try:
        nft.apply(text)
        nft.apply(text)  # the same again: fine, one table
        listed = nft.list_table("inet", table)
        assert "counter packets 0 bytes 0" in listed and 'comment "sg web (sg12) rule 1' in listed
        broken = text.replace("jump sg12_in", "jump sg_missing_in", 1)
        with pytest.raises(NetworkError, match="sg_missing_in"):
            nft.check(broken)
        with pytest.raises(NetworkError):
            nft.apply(broken)
        assert nft.list_table("inet", table) == listed, "a refused ruleset leaves the old one in place"
        assert ("inet", table) in nft.list_tables()
    finally:
        assert nft.delete_table("inet", table) is True
    assert nft.delete_table("inet", table) is False
    assert nft.list_table("inet", table) == ""


def test_apply_and_list_inside_a_namespace():
    with NetLab() as lab:
        ns = lab.namespace()
        text = rulesets.render_router(make_vpc(), PublicNetwork())
        nft.apply(text, netns=ns)
        assert "acl main acl entry 100" in nft.list_table("inet", "minicloud_router", netns=ns)
        assert nft.delete_table("inet", "minicloud_router", netns=ns)


def test_probe_reports_the_host_and_leaves_nothing_behind():
    found = nft.probe()
    assert found["nft"] is True and found["root"] is True
    assert isinstance(found["bridge_conntrack"], bool)
    assert found["br_netfilter"] == nft.BRIDGE_NF_CALL.exists()
    assert not [name for _, name in nft.list_tables() if name.startswith("mc_probe_")], "the probe applied nothing"


def test_nft_names_are_validated_before_anything_runs():
    with pytest.raises(NetworkError):
        nft.list_table("inet", "x; flush ruleset")
    with pytest.raises(NetworkError):
        nft.apply("table inet x {}", netns="../etc")
