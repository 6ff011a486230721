"""Desired network states for the driver tests, with numbers unique to this run.

Every name the driver makes derives from a VPC or subnet number (``mcvpc-<n>``, ``mcbr-<n>``, …), so
a run that takes its numbers from a random base (``60000 + random``, subnets ``<base><digit>``) never
meets another run's objects; ``scope(base)`` is the name filter the real driver gets so that its
leftover removal and teardown touch only this run's names.
"""
from __future__ import annotations

import random
import re

from minicloud.drivers.network.base import (AclEntry, HostState, Nic, PublicIp, PublicNetwork, Route,
                                            SecurityGroup, SecurityGroupRule, Subnet, Vpc)

ALLOW_ALL = (AclEntry(100, "ingress", "allow", "all", "0.0.0.0/0"), AclEntry(100, "egress", "allow", "all", "0.0.0.0/0"))


def new_base() -> int:
    """A VPC number for this run (a conntrack zone: at most 65535): subnets are ``base * 10 + k``."""
    return 60000 + random.randrange(5500)


def host_tables(base: int) -> dict[str, str]:
    """Host nftables table names of this run (each table guards only its own bridges)."""
    return {"sg_table": f"mc_sg{base}", "spoof_table": f"mc_spoof{base}"}


def scope(base: int):
    """The names of this run: ``…-<base>``, ``…-<base><k>`` and the public bridge ``mcpub<base>``."""
    pattern = re.compile(rf"(-{base}\d?|mcpub{base})$")
    return lambda name: pattern.search(name) is not None


def public_network(base: int) -> PublicNetwork:
    """A public network unique to the run: bridge ``mcpub<base>``, a /28 of 203.0.113.0/24."""
    block = (base % 16) * 16
    return PublicNetwork(bridge=f"mcpub{base}", cidr=f"203.0.113.{block}/28", gateway=f"203.0.113.{block + 1}")


def default_group(number: int) -> SecurityGroup:
    """The VPC's default group: ingress from its own members, egress anywhere."""
    return SecurityGroup(number, f"sg-{number}", "default", (
        SecurityGroupRule(1, f"r{number}-1", "ingress", "all", source_group=number),
        SecurityGroupRule(2, f"r{number}-2", "egress", "all", cidr="0.0.0.0/0"),
    ))


def subnet(base: int, k: int, cidr: str, vpc_cidr: str, *, nics: tuple[Nic, ...] = (), acl: tuple[AclEntry, ...] = ALLOW_ALL,
           public: bool = False, route_table: int = 1) -> Subnet:
    routes = (Route(vpc_cidr, "local"),) + ((Route("0.0.0.0/0", "internet_gateway"),) if public else ())
    return Subnet(base * 10 + k, f"subnet-{base}-{k}", f"s{k}", cidr, "acl", acl, route_table, routes, nics)


def two_subnet_state(base: int, *, nics1: tuple[Nic, ...] = (), nics2: tuple[Nic, ...] = (),
                     acl2: tuple[AclEntry, ...] = ALLOW_ALL, groups: tuple[SecurityGroup, ...] | None = None,
                     gateway: bool = False, public_ips: tuple[PublicIp, ...] = ()) -> HostState:
    """One VPC 10.<x>.0.0/16 with subnets .1.0/24 (public when ``gateway``) and .2.0/24."""
    x = base % 200 + 20
    public = public_network(base)
    gateway_address = public.gateway.rsplit(".", 1)[0] + "." + str(int(public.gateway.rsplit(".", 1)[1]) + 1)
    vpc = Vpc(base, f"vpc-{base}", "v", f"10.{x}.0.0/16",
              (subnet(base, 1, f"10.{x}.1.0/24", f"10.{x}.0.0/16", nics=nics1, public=gateway,
                      route_table=2 if gateway else 1),
               subnet(base, 2, f"10.{x}.2.0/24", f"10.{x}.0.0/16", nics=nics2, acl=acl2)),
              groups if groups is not None else (default_group(base),),
              gateway_address if gateway else None, public_ips)
    return HostState((vpc,), public)
