"""Security-group rules and ACL entries: every validation rule, and what a set of them means (AWS VPC)."""
from __future__ import annotations

import pytest

from minicloud.errors import ValidationFailed
from minicloud.services.network_rules import (Packet, lookup_route, nacl_decision, parse_cidr, sg_allows,
                                              validate_acl_entry, validate_sg_rule)


def field_of(exc: pytest.ExceptionInfo) -> tuple[str, str]:
    (field, keyed), = exc.value.fields.items()
    return field, keyed if isinstance(keyed, str) else keyed[0]


def rule(**over):
    return {"direction": "ingress", "protocol": "tcp", "port_min": 22, "port_max": 22, "cidr": "0.0.0.0/0", **over}


def entry(**over):
    return {"number": 100, "direction": "ingress", "action": "allow", "protocol": "all", "cidr": "0.0.0.0/0", **over}


# ---- validation -------------------------------------------------------------------------------

def test_a_good_rule_is_normalised():
    assert validate_sg_rule(rule(description="ssh")) == {
        "direction": "ingress", "protocol": "tcp", "port_min": 22, "port_max": 22, "cidr": "0.0.0.0/0",
        "source_group_id": None, "description": "ssh"}
    assert validate_sg_rule(rule(protocol="udp", port_min=None, port_max=None))["port_min"] is None


@pytest.mark.parametrize("given, field, key", [
    ({"direction": "inbound"}, "direction", "networks.rule_choose_one"),
    ({"protocol": "sctp"}, "protocol", "networks.rule_choose_one"),
    ({"protocol": "icmp"}, "port_min", "networks.ports_not_allowed"),
    ({"protocol": "all", "port_min": None}, "port_max", "networks.ports_not_allowed"),
    ({"port_min": 80, "port_max": 22}, "port_max", "networks.port_order"),
    ({"port_min": -1}, "port_min", "networks.port_range"),
    ({"port_max": 65536}, "port_max", "networks.port_range"),
    ({"port_max": None}, "port_max", "networks.ports_both"),
    ({"cidr": None}, "cidr", "networks.cidr_or_group"),
    ({"source_group_id": "0b0e7b2c-0000-0000-0000-000000000000"}, "cidr", "networks.cidr_or_group"),
    ({"cidr": "10.0.0.5/16"}, "cidr", "networks.rule_cidr_not_network"),
    ({"cidr": "10.0.0.0"}, "cidr", "networks.rule_cidr_invalid"),
    ({"cidr": "300.0.0.0/8"}, "cidr", "networks.rule_cidr_invalid"),
    ({"cidr": "10.0.0.0/33"}, "cidr", "networks.rule_cidr_invalid"),
    ({"cidr": "fd00::/8"}, "cidr", "networks.rule_cidr_invalid"),
])
def test_every_rule_rule_names_its_field(given, field, key):
    with pytest.raises(ValidationFailed) as exc:
        validate_sg_rule(rule(**given))
    assert field_of(exc) == (field, key)


def test_icmp_and_all_take_no_ports_and_a_group_may_replace_the_cidr():
    assert validate_sg_rule(rule(protocol="icmp", port_min=None, port_max=None))["port_min"] is None
    by_group = validate_sg_rule(rule(protocol="all", port_min=None, port_max=None, cidr=None, source_group_id="g"))
    assert by_group["cidr"] is None and by_group["source_group_id"] == "g"


def test_a_good_acl_entry_is_normalised():
    assert validate_acl_entry(entry(protocol="tcp", port_min=80, port_max=443, cidr="10.1.0.0/16")) == {
        "number": 100, "direction": "ingress", "action": "allow", "protocol": "tcp", "port_min": 80,
        "port_max": 443, "cidr": "10.1.0.0/16"}


@pytest.mark.parametrize("given, field, key", [
    ({"number": 0}, "number", "networks.acl_number_range"),
    ({"number": 32767}, "number", "networks.acl_number_range"),
    ({"number": "100"}, "number", "networks.acl_number_range"),
    ({"action": "drop"}, "action", "networks.rule_choose_one"),
    ({"direction": None}, "direction", "networks.rule_choose_one"),
    ({"cidr": None}, "cidr", "networks.cidr_required"),
    ({"protocol": "icmp", "port_min": 1, "port_max": 2}, "port_min", "networks.ports_not_allowed"),
    ({"protocol": "tcp", "port_min": 9, "port_max": 1}, "port_max", "networks.port_order"),
    ({"cidr": "192.168.1.1/24"}, "cidr", "networks.rule_cidr_not_network"),
])
def test_every_acl_entry_rule_names_its_field(given, field, key):
    with pytest.raises(ValidationFailed) as exc:
        validate_acl_entry(entry(**given))
    assert field_of(exc) == (field, key)


def test_the_acl_number_bounds_are_inclusive():
    assert validate_acl_entry(entry(number=1))["number"] == 1
    assert validate_acl_entry(entry(number=32766))["number"] == 32766


def test_parse_cidr_accepts_anywhere_and_a_host_route():
    assert parse_cidr("0.0.0.0/0") == "0.0.0.0/0" and parse_cidr("10.0.0.7/32") == "10.0.0.7/32"


# ---- security groups ---------------------------------------------------------------------------

WEB = [{"direction": "ingress", "protocol": "tcp", "port_min": 80, "port_max": 80, "cidr": "0.0.0.0/0"},
       {"direction": "egress", "protocol": "all", "cidr": "0.0.0.0/0"}]
SSH_FROM_OFFICE = [{"direction": "ingress", "protocol": "tcp", "port_min": 22, "port_max": 22,
                    "cidr": "10.9.0.0/16"}]
NEW_GROUP = [{"direction": "egress", "protocol": "all", "cidr": "0.0.0.0/0"}]


def test_a_new_group_admits_no_ingress_and_all_egress():
    groups = {"new": NEW_GROUP}
    assert not sg_allows(groups, ["new"], Packet("ingress", "tcp", "10.0.0.9", 22))
    assert not sg_allows(groups, ["new"], Packet("ingress", "icmp", "10.0.0.9"))
    assert sg_allows(groups, ["new"], Packet("egress", "udp", "8.8.8.8", 53))


def test_the_groups_of_a_nic_are_a_union_of_allows():
    groups = {"web": WEB, "ssh": SSH_FROM_OFFICE}
    ssh = Packet("ingress", "tcp", "10.9.1.1", 22)
    assert not sg_allows(groups, ["web"], ssh)
    assert sg_allows(groups, ["web", "ssh"], ssh)
    assert sg_allows(groups, ["web", "ssh"], Packet("ingress", "tcp", "1.2.3.4", 80))
    assert not sg_allows(groups, ["web", "ssh"], Packet("ingress", "tcp", "1.2.3.4", 22))
    assert not sg_allows(groups, ["web", "ssh"], Packet("ingress", "udp", "10.9.1.1", 22))
    assert not sg_allows(groups, [], Packet("egress", "tcp", "1.2.3.4", 80))


def test_a_port_range_and_protocol_all():
    groups = {"g": [{"direction": "ingress", "protocol": "udp", "port_min": 1000, "port_max": 2000,
                     "cidr": "0.0.0.0/0"}, {"direction": "ingress", "protocol": "all", "cidr": "10.0.0.0/24"}]}
    assert sg_allows(groups, ["g"], Packet("ingress", "udp", "9.9.9.9", 1000))
    assert sg_allows(groups, ["g"], Packet("ingress", "udp", "9.9.9.9", 2000))
    assert not sg_allows(groups, ["g"], Packet("ingress", "udp", "9.9.9.9", 2001))
    assert sg_allows(groups, ["g"], Packet("ingress", "icmp", "10.0.0.200"))


def test_a_rule_naming_a_group_follows_its_members():
    default = [{"direction": "ingress", "protocol": "all", "source_group_id": "default"}]
    packet = Packet("ingress", "tcp", "10.0.0.5", 5432)
    assert sg_allows({"default": default}, ["default"], packet, members={"default": ["10.0.0.4", "10.0.0.5"]})
    assert not sg_allows({"default": default}, ["default"], packet, members={"default": ["10.0.0.4"]})


def test_stateful_replies_are_not_modelled_a_reply_is_judged_as_a_new_packet():
    # On the host conntrack lets the reply to an allowed egress request in; sg_allows judges only the
    # packet it is given, so an inbound "reply" with no ingress rule answers False here.
    assert sg_allows({"new": NEW_GROUP}, ["new"], Packet("egress", "tcp", "1.2.3.4", 443))
    assert not sg_allows({"new": NEW_GROUP}, ["new"], Packet("ingress", "tcp", "1.2.3.4", 51000))


# ---- network ACLs -----------------------------------------------------------------------------

def test_the_lowest_number_decides_deny_100_beats_allow_200():
    entries = [entry(number=200, protocol="tcp", port_min=22, port_max=22),
               entry(number=100, action="deny", protocol="tcp", port_min=22, port_max=22, cidr="10.9.0.0/16")]
    assert nacl_decision(entries, "ingress", Packet("ingress", "tcp", "10.9.0.1", 22)) == ("deny", 100)
    assert nacl_decision(entries, "ingress", Packet("ingress", "tcp", "10.8.0.1", 22)) == ("allow", 200)


def test_the_final_star_denies_what_no_entry_matches():
    entries = [entry(number=100, protocol="tcp", port_min=80, port_max=80)]
    assert nacl_decision(entries, "ingress", Packet("ingress", "tcp", "1.1.1.1", 81)) == ("deny", None)
    assert nacl_decision(entries, "egress", Packet("egress", "tcp", "1.1.1.1", 80)) == ("deny", None)
    assert nacl_decision([], "ingress", Packet("ingress", "icmp", "1.1.1.1")) == ("deny", None)


def test_the_default_acl_allows_everything_both_ways():
    default = [entry(number=100), entry(number=100, direction="egress")]
    assert nacl_decision(default, "ingress", Packet("ingress", "udp", "7.7.7.7", 53)) == ("allow", 100)
    assert nacl_decision(default, "egress", Packet("egress", "icmp", "7.7.7.7")) == ("allow", 100)


# ---- routes -----------------------------------------------------------------------------------

def test_the_longest_prefix_wins():
    routes = [{"destination": "0.0.0.0/0", "target": "internet_gateway"},
              {"destination": "10.0.0.0/16", "target": "local"},
              {"destination": "10.0.5.0/24", "target": "peer"}]
    assert lookup_route(routes, "10.0.5.9")["target"] == "peer"
    assert lookup_route(routes, "10.0.6.9")["target"] == "local"
    assert lookup_route(routes, "8.8.8.8")["target"] == "internet_gateway"
    assert lookup_route(routes[1:], "8.8.8.8") is None
