"""Every CIDR rule of VPCs, subnets and the public pool (services/ipam.py)."""
from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from minicloud.errors import ValidationFailed
from minicloud.services import ipam


def refused(call, *args) -> str:
    with pytest.raises(ValidationFailed) as caught:
        call(*args)
    field, keyed = next(iter(caught.value.fields.items()))
    return f"{field}:{keyed if isinstance(keyed, str) else keyed[0]}"


@pytest.mark.parametrize("cidr", ["10.0.0.0/16", "172.16.0.0/16", "172.31.0.0/16", "192.168.0.0/24", "10.1.2.16/28"])
def test_private_blocks_from_16_to_28_are_vpcs(cidr):
    assert ipam.vpc_block(cidr) == IPv4Network(cidr)


@pytest.mark.parametrize("cidr, why", [
    ("8.8.0.0/16", "cidr:networks.cidr_not_private"), ("172.32.0.0/16", "cidr:networks.cidr_not_private"),
    ("10.0.0.0/8", "cidr:networks.cidr_size"), ("10.0.0.0/15", "cidr:networks.cidr_size"),
    ("10.0.0.0/29", "cidr:networks.cidr_size"), ("10.0.0.5/16", "cidr:networks.cidr_not_network"),
    ("10.0.0.0", "cidr:networks.cidr_invalid"), ("10.0.0.0/33", "cidr:networks.cidr_invalid"),
    ("fd00::/64", "cidr:networks.cidr_invalid"), ("nonsense/16", "cidr:networks.cidr_invalid"),
])
def test_what_is_not_a_vpc_block_is_named_under_cidr(cidr, why):
    assert refused(ipam.vpc_block, cidr) == why


def test_a_host_address_names_its_network_address():
    with pytest.raises(ValidationFailed) as caught:
        ipam.vpc_block("10.0.0.5/16")
    assert caught.value.fields["cidr"] == ("networks.cidr_not_network", {"cidr": "10.0.0.5/16", "network": "10.0.0.0/16"})


def test_a_subnet_lies_inside_its_vpc_and_has_the_same_sizes():
    assert ipam.subnet_block("10.0.1.0/24", "10.0.0.0/16") == IPv4Network("10.0.1.0/24")
    assert refused(ipam.subnet_block, "10.1.0.0/24", "10.0.0.0/16") == "cidr:networks.cidr_outside_vpc"
    assert refused(ipam.subnet_block, "10.0.0.0/15", "10.0.0.0/16") == "cidr:networks.cidr_outside_vpc"
    assert refused(ipam.subnet_block, "10.0.0.0/29", "10.0.0.0/16") == "cidr:networks.cidr_size"
    assert refused(ipam.subnet_block, "10.0.1.1/24", "10.0.0.0/16") == "cidr:networks.cidr_not_network"


def test_overlap():
    block = IPv4Network("10.0.0.0/24")
    assert ipam.overlapping(block, ["10.0.0.128/25", "10.0.1.0/24", "10.0.0.0/16"]) == [
        IPv4Network("10.0.0.128/25"), IPv4Network("10.0.0.0/16")]
    assert ipam.overlapping(block, ["10.0.1.0/24"]) == []


def test_five_addresses_are_reserved_and_a_28_has_11_usable():
    assert ipam.usable_count("10.0.0.0/28") == 11
    assert ipam.usable_count("10.0.0.0/24") == 251
    assert ipam.usable_range("10.0.0.0/28") == (IPv4Address("10.0.0.4"), IPv4Address("10.0.0.14"))


def test_the_lowest_free_address_is_handed_out_and_a_full_subnet_has_none():
    assert ipam.first_free("10.0.0.0/28", []) == IPv4Address("10.0.0.4")
    assert ipam.first_free("10.0.0.0/28", ["10.0.0.4", "10.0.0.6"]) == IPv4Address("10.0.0.5")
    full = [f"10.0.0.{n}" for n in range(4, 15)]
    assert ipam.first_free("10.0.0.0/28", full) is None
    assert ipam.first_free("10.0.0.0/28", full[1:]) == IPv4Address("10.0.0.4")


def test_the_public_pool_keeps_its_first_address_for_the_host():
    assert ipam.pool_host_address("203.0.113.0/24") == IPv4Address("203.0.113.1")
    assert ipam.first_free_public("203.0.113.0/24", []) == IPv4Address("203.0.113.2")
    assert ipam.first_free_public("198.51.100.0/30", []) == IPv4Address("198.51.100.2")
    assert ipam.first_free_public("198.51.100.0/30", ["198.51.100.2"]) is None


def test_routes_take_any_block_in_network_form():
    assert ipam.parse_block("0.0.0.0/0", "destination") == ipam.ANYWHERE
    assert refused(ipam.parse_block, "1.2.3.4/0", "destination") == "destination:networks.cidr_not_network"
