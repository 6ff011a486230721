"""Address management for VPCs, subnets and the public pool: pure functions on ``ipaddress`` values, no database.

A VPC's block is private (RFC 1918) and from /16 to /28; a subnet's block lies inside its VPC's and has the
same size limits; both are given as their network address (``10.0.0.5/16`` is refused, naming ``10.0.0.0/16``).
A subnet reserves five addresses as AWS does: the network address, +1 (its router), +2 (DNS), +3 (reserved)
and the broadcast address, so a /28 has 11 usable addresses. Checks raise ``ValidationFailed`` naming the
field, with catalog keys ``networks.cidr_*``.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network

from minicloud.errors import ValidationFailed

PRIVATE_BLOCKS = tuple(ipaddress.IPv4Network(block) for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
MIN_PREFIX, MAX_PREFIX = 16, 28
RESERVED_AT_START = 4  # network, router (+1), DNS (+2), reserved (+3)
RESERVED = RESERVED_AT_START + 1  # ... and the broadcast address
ANYWHERE = IPv4Network("0.0.0.0/0")


def _fail(field: str, key: str, **params) -> ValidationFailed:
    return ValidationFailed({field: (key, params)} if params else {field: key}, key=key, **params)


def parse_block(text: str, field: str = "cidr") -> IPv4Network:
    """Any IPv4 block in network-address form (``0.0.0.0/0`` included); 422 naming ``field`` otherwise."""
    if not isinstance(text, str) or "/" not in text:
        raise _fail(field, "networks.cidr_invalid")
    try:
        loose = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise _fail(field, "networks.cidr_invalid") from None
    if not isinstance(loose, IPv4Network):
        raise _fail(field, "networks.cidr_invalid")
    if loose.network_address != ipaddress.ip_interface(text.strip()).ip:
        raise _fail(field, "networks.cidr_not_network", cidr=text.strip(), network=str(loose))
    return loose


def _check_size(block: IPv4Network, field: str) -> None:
    if not MIN_PREFIX <= block.prefixlen <= MAX_PREFIX:
        raise _fail(field, "networks.cidr_size", min=MIN_PREFIX, max=MAX_PREFIX)


def is_private(block: IPv4Network) -> bool:
    return any(block.subnet_of(private) for private in PRIVATE_BLOCKS)


def vpc_block(text: str, field: str = "cidr") -> IPv4Network:
    """A VPC's block: network-address form, inside 10/8, 172.16/12 or 192.168/16, /16 to /28."""
    block = parse_block(text, field)
    if not is_private(block):
        raise _fail(field, "networks.cidr_not_private")
    _check_size(block, field)
    return block


def subnet_block(text: str, vpc_cidr: IPv4Network | str, field: str = "cidr") -> IPv4Network:
    """A subnet's block: network-address form, /16 to /28, inside its VPC's block."""
    block = parse_block(text, field)
    vpc = IPv4Network(str(vpc_cidr))
    if not block.subnet_of(vpc):
        raise _fail(field, "networks.cidr_outside_vpc", vpc_cidr=str(vpc))
    _check_size(block, field)
    return block


def overlapping(block: IPv4Network, others: Iterable[IPv4Network | str]) -> list[IPv4Network]:
    """The blocks of ``others`` that share an address with ``block``."""
    return [IPv4Network(str(other)) for other in others if block.overlaps(IPv4Network(str(other)))]


def usable_range(cidr: IPv4Network | str) -> tuple[IPv4Address, IPv4Address]:
    """(first, last) address a subnet hands to its mini PCs (the five reserved ones left out)."""
    block = IPv4Network(str(cidr))
    return block.network_address + RESERVED_AT_START, block.broadcast_address - 1


def usable_count(cidr: IPv4Network | str) -> int:
    """How many addresses of a subnet its mini PCs may have: 11 for a /28, 251 for a /24."""
    return IPv4Network(str(cidr)).num_addresses - RESERVED


def first_free(cidr: IPv4Network | str, used: Iterable[IPv4Address | str]) -> IPv4Address | None:
    """The lowest usable address of the subnet not in ``used``, or None when every one is taken."""
    taken = {IPv4Address(str(address).split("/")[0]) for address in used}
    first, last = usable_range(cidr)
    address = first
    while address <= last:
        if address not in taken:
            return address
        address += 1
    return None


def pool_host_address(pool: IPv4Network | str) -> IPv4Address:
    """The host's own address on the public bridge: the pool's first host address."""
    return next(IPv4Network(str(pool)).hosts())


def first_free_public(pool: IPv4Network | str, used: Iterable[IPv4Address | str]) -> IPv4Address | None:
    """The lowest address of the public pool a gateway or a public IP may take (not the network, the
    broadcast or the host's own first address, not in ``used``), or None when the pool is exhausted."""
    block = IPv4Network(str(pool))
    taken = {IPv4Address(str(address).split("/")[0]) for address in used} | {pool_host_address(block)}
    return next((address for address in block.hosts() if address not in taken), None)
