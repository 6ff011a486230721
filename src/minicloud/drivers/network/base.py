"""The network driver contract: the one code that touches a host's network.

The services compute the *desired state* of a host — every VPC with its subnets, route tables,
ACLs, security groups, NICs and public IPs — as the frozen dataclasses below, and hand it to
``NetworkDriver.apply``, which makes the host match it exactly: a Linux bridge per subnet, a router
network namespace per VPC with a leg (the subnet's ``.1``) on each of its subnets' bridges, dnsmasq
per subnet with static leases, and the nftables rulesets (security groups and anti-spoofing on the
host, NACLs and NAT in each router), rendered from ``configs/network/*.nft.j2``, checked with
``nft -c`` and applied in one transaction. ``tests/contract/test_network_contract.py`` holds the
real driver and every stand-in to this contract.

Repeats: ``apply`` converges. Called again with the same state it changes nothing; called with a
new one it adds what is missing, changes what differs and removes minicloud's own leftovers (only
names that start with ``NAME_PREFIX``; nothing else on the host is ever touched).

Errors, all ``NetworkError`` (a message for people):
- ``NetworkUnavailable``: the host cannot do it at all (not root, ``nft`` or ``ip`` missing, the
  kernel lacks a feature the state needs). Nothing changed; ``capabilities()`` says why.
- plain ``NetworkError``: a step failed (the message names the command and what it printed). A
  ruleset that fails ``nft -c`` is never applied; the host keeps the rules it had.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Protocol

NAME_PREFIX = "mc"  # every bridge, veth, tap, namespace and nftables table minicloud makes starts with this


class NetworkError(Exception):
    """A step of applying the network state failed (the message says which, and what the host said)."""


class NetworkUnavailable(NetworkError):
    """This host cannot enforce networks (the message says what is missing)."""


# ---- names on the host (interface names have at most 15 characters) -------------------------------

def bridge_name(subnet_number: int) -> str:
    """The subnet's Linux bridge: ``mcbr-<subnet number>``."""
    return f"mcbr-{subnet_number}"


def tap_name(instance_id: str) -> str:
    """A guest NIC's tap on the host: ``mct`` and the first 12 hex digits of the instance id."""
    return "mct" + str(instance_id).replace("-", "")[:12]


def router_namespace(vpc_number: int) -> str:
    """The VPC router's network namespace: ``mcvpc-<vpc number>``."""
    return f"mcvpc-{vpc_number}"


def leg_names(subnet_number: int) -> tuple[str, str]:
    """The router's leg on a subnet: (name inside the router namespace, name of the host-side peer)."""
    return f"leg-{subnet_number}", f"mcl-{subnet_number}"


def uplink_names(vpc_number: int) -> tuple[str, str]:
    """The router's uplink to the public network: (inside the namespace, host-side peer on the public bridge)."""
    return "uplink", f"mcu-{vpc_number}"


# ---- the desired state ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Nic:
    """A guest's port on its subnet's bridge (a tap for a mini PC; a veth for a test's namespace)."""

    port: str                    # host-side interface name (tap_name(...) for mini PCs)
    mac: str                     # "52:54:00:…": the only source MAC the port may send from
    ip: str                      # its static private address: the only source IP it may send from
    hostname: str = ""           # for the subnet's DNS (dnsmasq) and the lease
    groups: tuple[int, ...] = () # SecurityGroup.number of each group it belongs to (1 … 5)


@dataclass(frozen=True)
class SecurityGroupRule:
    """One allow rule. Exactly one of ``cidr`` and ``source_group`` is set."""

    number: int                  # position for a stable rendering; the comment names ``rule_id``
    rule_id: str
    direction: str               # "ingress" | "egress"
    protocol: str                # "tcp" | "udp" | "icmp" | "all"
    port_min: int | None = None  # tcp/udp destination port range; None = every port
    port_max: int | None = None
    cidr: str | None = None      # the remote side's block ("0.0.0.0/0" = anywhere)
    source_group: int | None = None  # the remote side is any current member of this group (SecurityGroup.number)


@dataclass(frozen=True)
class SecurityGroup:
    number: int                  # security_groups.number: names its nftables set and chains (sg<number>)
    group_id: str
    name: str
    rules: tuple[SecurityGroupRule, ...] = ()


@dataclass(frozen=True)
class AclEntry:
    number: int                  # 1 … 32766, evaluated ascending, first match wins
    direction: str               # "ingress" (entering the subnet) | "egress" (leaving it)
    action: str                  # "allow" | "deny"
    protocol: str                # "tcp" | "udp" | "icmp" | "all"
    cidr: str                    # the other side's block
    port_min: int | None = None
    port_max: int | None = None


@dataclass(frozen=True)
class Route:
    destination: str             # a CIDR
    target: str                  # "local" | "internet_gateway"


@dataclass(frozen=True)
class Subnet:
    number: int                  # subnets.number: names its bridge, legs and dnsmasq
    subnet_id: str
    name: str
    cidr: str
    acl_name: str
    acl: tuple[AclEntry, ...]    # the associated ACL's entries (both directions); the final * deny is implied
    route_table: int             # route_tables.number: the policy-routing table in the router
    routes: tuple[Route, ...]    # the associated table's routes, the local route included
    nics: tuple[Nic, ...] = ()

    @property
    def bridge(self) -> str:
        return bridge_name(self.number)


@dataclass(frozen=True)
class PublicIp:
    address: str                 # from network.public_pool
    private_ip: str              # 1:1 NAT to this instance address


@dataclass(frozen=True)
class Vpc:
    number: int                  # vpcs.number: names the router namespace and the conntrack zone
    vpc_id: str
    name: str
    cidr: str
    subnets: tuple[Subnet, ...] = ()
    groups: tuple[SecurityGroup, ...] = ()
    gateway_address: str | None = None  # the internet gateway's public address; None: no gateway
    public_ips: tuple[PublicIp, ...] = ()

    @property
    def namespace(self) -> str:
        return router_namespace(self.number)


@dataclass(frozen=True)
class PublicNetwork:
    """The host side of every internet gateway: a bridge holding ``gateway`` (the host's own address in
    ``cidr``), on which each router's uplink sits. Nothing routes it further unless the operator does."""

    bridge: str = "mcpub0"
    cidr: str = "203.0.113.0/24"
    gateway: str = "203.0.113.1"


@dataclass(frozen=True)
class HostState:
    """Everything one host must enforce."""

    vpcs: tuple[Vpc, ...] = ()
    public: PublicNetwork = field(default_factory=PublicNetwork)

    def digest(self) -> str:
        """A stable fingerprint of the state (the reconciler compares it with what was applied)."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


# ---- what comes back -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Capabilities:
    """What this host offers, detected (never assumed); shown in /readyz."""

    can_apply: bool              # root, with ip, bridge and nft present
    bridge_conntrack: bool       # `ct state` works in the bridge family (nf_conntrack_bridge)
    br_netfilter: bool           # bridged IPv4 reaches the inet family's hooks (needed for security groups)
    reason: str = ""             # why can_apply is False, in words

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Applied:
    """What ``apply`` did: the digest of the state, the rendered rulesets by table, and the commands run."""

    digest: str
    rulesets: dict[str, str]     # table name -> the ruleset text applied
    changes: tuple[str, ...]     # one line per thing created, changed or removed ("" when nothing was)
    calls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Underneath:
    """The host's own view of one VPC, for the console's "underneath" panels."""

    ruleset: str                 # `nft list table …` with counters: the tables that apply to this VPC
    routes: str                  # `ip rule` and `ip route show table all` inside the router namespace
    leases: str                  # dnsmasq's static hosts and leases per subnet
    calls: tuple[str, ...] = ()


class NetworkDriver(Protocol):
    """One host's network. Every method may raise ``NetworkUnavailable`` except ``capabilities``."""

    def capabilities(self) -> Capabilities:
        """What the host offers, probed now (``nft -c`` on throwaway tables; nothing is applied).

        Afterwards: nothing changed. Raises nothing. Repeat: safe."""

    def apply(self, state: HostState) -> Applied:
        """Make the host's network exactly ``state``.

        Afterwards: every subnet has its bridge, every VPC its router namespace with legs, routes
        (one policy table per route table, ``ip rule`` per subnet), ACL chains, NAT when it has a
        gateway, dnsmasq per subnet serving exactly the NICs' static leases; the host tables hold
        every NIC's anti-spoofing and security-group rules, group sets holding the current members;
        established flows keep passing, a flow a removed rule no longer allows is cut. minicloud
        objects not in ``state`` are gone. Raises NetworkUnavailable, NetworkError (a ruleset that
        fails ``nft -c`` leaves the old rules in place). Repeat: safe; the same state changes nothing
        (``Applied.changes`` is empty)."""

    def underneath(self, vpc: Vpc) -> Underneath:
        """The ruleset with counters, the router's routes and the leases of ``vpc`` as the host has them.

        Afterwards: nothing changed. Raises NetworkUnavailable; a VPC not on the host gives empty
        texts. Repeat: safe."""

    def teardown(self) -> tuple[str, ...]:
        """Remove everything minicloud made on this host's network (bridges, veths, namespaces, dnsmasq,
        tables); the names removed. Afterwards: nothing named ``NAME_PREFIX…`` of ours is left. Raises
        NetworkUnavailable. Repeat: safe (nothing left: returns ())."""
