"""Security-group rules and network-ACL entries: what is a valid one, and what a set of them means.

Pure functions, no database: the services validate with them, the console explains with them,
and the unit tests pin AWS VPC's semantics down (shared/design/NETWORKING.md):

- a security group holds allow-only rules; a NIC's groups are a union (a packet passes when any
  rule of any of its groups admits it); nothing admits an ingress packet by default. Groups are
  stateful on the host (a reply to an allowed request always passes through conntrack) — that is
  *not* modelled by ``sg_allows``, which answers for a packet that opens a connection;
- a network ACL holds numbered allow/deny entries per direction, evaluated by ascending number,
  the first match decides, and a final ``*`` entry denies everything else (stateless);
- a route table's most specific route (the longest prefix) containing the destination wins.

Validation raises ``ValidationFailed`` naming the field with a catalog key (``networks.<code>``).
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from minicloud.errors import ValidationFailed

DIRECTIONS = ("ingress", "egress")
PROTOCOLS = ("tcp", "udp", "icmp", "all")
PORTED = ("tcp", "udp")
ACTIONS = ("allow", "deny")
MIN_ACL_NUMBER, MAX_ACL_NUMBER = 1, 32766
MAX_GROUPS_PER_NIC = 5
MAX_RULES_PER_DIRECTION = 60
MAX_ACL_ENTRIES_PER_DIRECTION = 20
ANYWHERE = "0.0.0.0/0"


@dataclass(frozen=True)
class Packet:
    """A packet as a rule sees it. ``remote`` is the other side: the source of an ingress packet,
    the destination of an egress one. ``port`` is the destination port (tcp/udp only)."""

    direction: str
    protocol: str
    remote: str
    port: int | None = None


def _fail(field: str, key: str, **params) -> ValidationFailed:
    return ValidationFailed({field: (key, params) if params else key}, key=key, **params)


def parse_cidr(value, field: str = "cidr") -> str:
    """The IPv4 block ``value`` in network-address form ("10.0.0.0/16"); 422 naming ``field`` otherwise
    (a host address such as 10.0.0.5/16 is refused: write the block's network address)."""
    if not isinstance(value, str) or "/" not in value:
        raise _fail(field, "networks.rule_cidr_invalid")
    try:
        network = ipaddress.IPv4Network(value, strict=False)
    except (ipaddress.AddressValueError, ipaddress.NetmaskValueError, ValueError):
        raise _fail(field, "networks.rule_cidr_invalid") from None
    if str(network) != value.strip():
        raise _fail(field, "networks.rule_cidr_not_network", network=str(network))
    return str(network)


def _ports(rule: Mapping) -> tuple[int | None, int | None]:
    """(port_min, port_max) for tcp/udp (omitted = every port); icmp and all take none (422)."""
    port_min, port_max = rule.get("port_min"), rule.get("port_max")
    if rule["protocol"] not in PORTED:
        if port_min is not None or port_max is not None:
            raise _fail("port_min" if port_min is not None else "port_max", "networks.ports_not_allowed",
                        protocol=rule["protocol"])
        return None, None
    if port_min is None and port_max is None:
        return None, None
    if port_min is None or port_max is None:
        raise _fail("port_min" if port_min is None else "port_max", "networks.ports_both")
    for field, value in (("port_min", port_min), ("port_max", port_max)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
            raise _fail(field, "networks.port_range")
    if port_min > port_max:
        raise _fail("port_max", "networks.port_order")
    return port_min, port_max


def _choice(rule: Mapping, field: str, allowed: tuple[str, ...]) -> str:
    value = rule.get(field)
    if value not in allowed:
        raise _fail(field, "networks.rule_choose_one", choices=", ".join(allowed))
    return value


def validate_sg_rule(rule: Mapping) -> dict:
    """A security-group rule normalised: direction, protocol, port_min/port_max, and exactly one of
    ``cidr`` (network-address form) and ``source_group_id`` (whether that group is of the same VPC
    is the service's check). Raises ValidationFailed naming the field."""
    direction = _choice(rule, "direction", DIRECTIONS)
    protocol = _choice(rule, "protocol", PROTOCOLS)
    port_min, port_max = _ports({**rule, "protocol": protocol})
    cidr, source = rule.get("cidr"), rule.get("source_group_id")
    if (cidr is None) == (source is None):
        raise _fail("cidr", "networks.cidr_or_group")
    return {"direction": direction, "protocol": protocol, "port_min": port_min, "port_max": port_max,
            "cidr": parse_cidr(cidr) if cidr is not None else None,
            "source_group_id": source, "description": str(rule.get("description") or "")}


def validate_acl_entry(entry: Mapping) -> dict:
    """A network-ACL entry normalised: number 1–32766, direction, action, protocol, ports, cidr
    (always required). Raises ValidationFailed naming the field."""
    number = entry.get("number")
    if isinstance(number, bool) or not isinstance(number, int) or not MIN_ACL_NUMBER <= number <= MAX_ACL_NUMBER:
        raise _fail("number", "networks.acl_number_range", min=MIN_ACL_NUMBER, max=MAX_ACL_NUMBER)
    direction = _choice(entry, "direction", DIRECTIONS)
    action = _choice(entry, "action", ACTIONS)
    protocol = _choice(entry, "protocol", PROTOCOLS)
    port_min, port_max = _ports({**entry, "protocol": protocol})
    if entry.get("cidr") is None:
        raise _fail("cidr", "networks.cidr_required")
    return {"number": number, "direction": direction, "action": action, "protocol": protocol,
            "port_min": port_min, "port_max": port_max, "cidr": parse_cidr(entry["cidr"])}


# ---- meaning ----------------------------------------------------------------------------------

def _in(ip: str, cidr: str) -> bool:
    return ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(cidr)


def _matches_traffic(rule: Mapping, packet: Packet) -> bool:
    """Direction, protocol and port of ``rule`` admit ``packet`` (the remote side is checked apart)."""
    if rule["direction"] != packet.direction:
        return False
    if rule["protocol"] != "all" and rule["protocol"] != packet.protocol:
        return False
    if rule["protocol"] in PORTED and rule.get("port_min") is not None:
        return packet.port is not None and rule["port_min"] <= packet.port <= rule["port_max"]
    return True


def sg_allows(groups: Mapping[str, Iterable[Mapping]], nic_groups: Iterable[str], packet: Packet,
              members: Mapping[str, Iterable[str]] | None = None) -> bool:
    """Does a NIC in ``nic_groups`` admit ``packet`` (the first packet of a connection)?

    ``groups`` maps a group id to its rules; ``members`` maps a group id to the addresses of its
    members (for rules with ``source_group_id``). The rules of all the NIC's groups are a union of
    allows; no rule, no pass. Replies to an allowed connection pass on the host by conntrack
    (stateful), which this function does not model.
    """
    members = members or {}
    for group_id in nic_groups:
        for rule in groups.get(group_id, ()):
            if not _matches_traffic(rule, packet):
                continue
            if rule.get("cidr") is not None:
                if _in(packet.remote, rule["cidr"]):
                    return True
            elif packet.remote in set(members.get(rule["source_group_id"], ())):
                return True
    return False


def nacl_decision(entries: Iterable[Mapping], direction: str, packet: Packet) -> tuple[str, int | None]:
    """(``allow`` | ``deny``, the deciding entry's number — None for the final ``*`` deny): the
    entries of ``direction`` by ascending number, the first whose protocol, ports and cidr match."""
    for entry in sorted((e for e in entries if e["direction"] == direction), key=lambda e: e["number"]):
        if _matches_traffic(entry, Packet(direction, packet.protocol, packet.remote, packet.port)) \
                and _in(packet.remote, entry["cidr"]):
            return entry["action"], entry["number"]
    return "deny", None


def lookup_route(routes: Iterable[Mapping], ip: str) -> Mapping | None:
    """The route whose ``destination`` holds ``ip`` with the longest prefix; None when none does."""
    best, best_len = None, -1
    for route in routes:
        network = ipaddress.IPv4Network(route["destination"])
        if ipaddress.IPv4Address(ip) in network and network.prefixlen > best_len:
            best, best_len = route, network.prefixlen
    return best
