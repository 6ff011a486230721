"""The nftables rulesets of a host's desired state, rendered from ``configs/network/*.nft.j2``.

Three tables, each text self-contained and atomic: it starts with ``table X {}`` + ``delete table X`` and
then defines the whole table, so one ``nft -f`` replaces it in one transaction (``nft.apply``).

- ``inet minicloud_sg`` on the host (``security_groups.nft.j2``): security groups. Bridged IPv4 reaches
  the inet ``forward`` hook through br_netfilter, where ``iifname``/``oifname`` is the *bridge*. A raw
  prerouting chain puts each VPC's bridges in conntrack zone ``vpc.number``; one base chain on
  ``forward`` accepts flows already allowed at its first rule, then checks the sending NIC's egress
  (chain ``egress``: ``iifname . ip saddr vmap @nic_out``) and the receiving NIC's ingress (chain
  ``ingress``: ``oifname . ip daddr vmap @nic_in``): one lookup each, however many NICs.
  A NIC's chain jumps to its groups' chains (``sg<n>_out`` / ``sg<n>_in``, rendered once per group); an
  allowing egress rule goes on to the receiver's check (``goto ingress``), an allowing ingress rule
  accepts; the NIC chain drops the rest. Group membership is the set ``sg<n>`` of its members' addresses, so ``ip saddr @sg<n>`` follows
  membership. Replies pass (``ct state established,related accept``); DHCP and everything to or from
  the router's ``.1``/``.2`` pass unfiltered.
- ``bridge minicloud_spoof`` on the host (``antispoof.nft.j2``): per port (``iifname`` is the tap in the
  bridge family) only its MAC, only its IP (ARP included), no DHCP server replies, nothing but IPv4/ARP.
- ``inet minicloud_router`` inside each VPC's router namespace (``router.nft.j2``): the NACLs, stateless,
  per subnet (``iifname "leg-<n>"`` leaving the subnet, ``oifname "leg-<n>"`` entering it), one rule per
  entry in ascending number and the final ``*`` deny; the internet gateway's NAT.

Nothing from user input reaches a ruleset raw: names are reduced to safe characters inside quoted
comments; everything else is a validated number, address, MAC or interface name (``NetworkError``
otherwise).
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jinja2

from minicloud.config import PROJECT_ROOT
from minicloud.drivers.network.base import (
    AclEntry,
    HostState,
    NetworkError,
    PublicNetwork,
    SecurityGroup,
    SecurityGroupRule,
    Vpc,
    leg_names,
    uplink_names,
)

TEMPLATES_DIR = PROJECT_ROOT / "configs" / "network"
SG_TABLE = "minicloud_sg"            # inet, on the host
SPOOF_TABLE = "minicloud_spoof"      # bridge, on the host
ROUTER_TABLE = "minicloud_router"    # inet, inside each router namespace
FAMILY = {SG_TABLE: "inet", SPOOF_TABLE: "bridge", ROUTER_TABLE: "inet"}
MAX_ZONE = 65535                     # conntrack zones are 16 bits

_IFNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")
_TABLE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_SAFE_PUNCTUATION = set(" _-.,:/()+=@#*>")
COMMENT_BYTES = 120                  # nft allows 128


# ---- safe pieces ------------------------------------------------------------------------------

def clean_name(name: str, limit: int = 40) -> str:
    """A user-given name made safe for an nft comment: letters (any script), digits and a few
    punctuation marks kept, anything else (quotes, backslashes, newlines, semicolons, braces) → ``_``."""
    cleaned = "".join(ch if (ch.isalnum() or ch in _SAFE_PUNCTUATION) else "_" for ch in str(name))
    cleaned = " ".join(cleaned.split())[:limit]
    return cleaned or "_"


def comment(text: str) -> str:
    """``comment "…"`` with ``text`` already made of safe pieces, cut to nft's length limit."""
    safe = "".join(ch if (ch.isalnum() or ch in _SAFE_PUNCTUATION) else "_" for ch in text)
    data = safe.encode()
    if len(data) > COMMENT_BYTES:
        safe = data[:COMMENT_BYTES].decode(errors="ignore")
    return f'comment "{safe}"'


def ifname(name: str) -> str:
    """An interface name, validated (at most 15 characters, no quotes): ``"name"``."""
    if not isinstance(name, str) or not _IFNAME.fullmatch(name):
        raise NetworkError(f"not an interface name: {name!r}")
    return f'"{name}"'


def chain_part(name: str) -> str:
    """An interface name as part of a chain name (``-`` and ``.`` become ``_``)."""
    ifname(name)
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def table_name(name: str) -> str:
    if not _TABLE.fullmatch(name):
        raise NetworkError(f"not a table name: {name!r}")
    return name


def address(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except (ipaddress.AddressValueError, ValueError) as exc:
        raise NetworkError(f"not an IPv4 address: {value!r}") from exc


def network(value: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value, strict=False)
    except (ipaddress.AddressValueError, ipaddress.NetmaskValueError, ValueError) as exc:
        raise NetworkError(f"not an IPv4 block: {value!r}") from exc


def mac(value: str) -> str:
    value = str(value).lower()
    if not _MAC.fullmatch(value):
        raise NetworkError(f"not a MAC address: {value!r}")
    return value


def number(value: int, what: str, low: int = 0, high: int = 2**31) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise NetworkError(f"{what} must be a whole number {low}…{high}, not {value!r}")
    return value


def protocol_match(protocol: str, port_min: int | None, port_max: int | None) -> tuple[str, str]:
    """(nft match, words) for a protocol and destination port range."""
    if protocol in ("tcp", "udp"):
        if port_min is None and port_max is None:
            return f"meta l4proto {protocol}", f"{protocol} all ports"
        low = number(port_min if port_min is not None else 0, "port_min", 0, 65535)
        high = number(port_max if port_max is not None else 65535, "port_max", 0, 65535)
        if low > high:
            raise NetworkError(f"port_min {low} is above port_max {high}")
        ports = str(low) if low == high else f"{low}-{high}"
        return f"{protocol} dport {ports}", f"{protocol} {ports}"
    if protocol == "icmp":
        return "meta l4proto icmp", "icmp"
    if protocol == "all":
        return "", "all"
    raise NetworkError(f"not a protocol: {protocol!r}")


def cidr_match(field_name: str, cidr: str) -> str:
    """``ip saddr 10.0.0.0/8`` (``field_name`` saddr or daddr); "" for 0.0.0.0/0 (anywhere)."""
    block = network(cidr)
    if block.prefixlen == 0:
        return ""
    if block.prefixlen == 32:
        return f"ip {field_name} {block.network_address}"
    return f"ip {field_name} {block}"


def _join(*parts: str) -> str:
    return " ".join(part for part in parts if part)


# ---- the host's security groups and anti-spoofing -------------------------------------------------

@dataclass
class Rendered:
    """A rule line for a template: the nft statement and its comment."""

    rule: str
    comment: str

    def __str__(self) -> str:
        return f"{self.rule} {self.comment}"


@dataclass
class HostModel:
    sg_table: str
    spoof_table: str
    bridges: list[str] = field(default_factory=list)                 # quoted names
    zones: list[tuple[str, int, str]] = field(default_factory=list)  # (bridge, zone, words)
    infra: list[tuple[str, str, str]] = field(default_factory=list)  # (bridge, address, words)
    groups: list[dict] = field(default_factory=list)
    nics: list[dict] = field(default_factory=list)


def _rule_line(group: SecurityGroup, rule: SecurityGroupRule, groups_known: dict[int, str]) -> Rendered:
    direction = rule.direction
    if direction not in ("ingress", "egress"):
        raise NetworkError(f"rule {rule.rule_id!r}: direction must be ingress or egress")
    remote = "saddr" if direction == "ingress" else "daddr"
    words_side = "from" if direction == "ingress" else "to"
    proto, proto_words = protocol_match(rule.protocol, rule.port_min, rule.port_max)
    if (rule.cidr is None) == (rule.source_group is None):
        raise NetworkError(f"rule {rule.rule_id!r} needs exactly one of cidr and source_group")
    if rule.source_group is not None:
        other = number(rule.source_group, "source_group", 1)
        if other not in groups_known:
            raise NetworkError(f"rule {rule.rule_id!r} of group sg{group.number} names group sg{other}, "
                               "which is not in this VPC's state")
        where, where_words = f"ip {remote} @sg{other}", f"group {groups_known[other]} (sg{other})"
    else:
        block = network(rule.cidr)
        where, where_words = cidr_match(remote, rule.cidr) or "meta nfproto ipv4", str(block)
    words = (f"sg {clean_name(group.name)} (sg{group.number}) rule {number(rule.number, 'rule number')}: "
             f"{proto_words} {words_side} {where_words}")
    verdict = "counter accept" if direction == "ingress" else "counter goto ingress"  # egress: then the receiver
    return Rendered(_join(where, proto, verdict), comment(words))


def _group_model(group: SecurityGroup, groups_known: dict[int, str], members: list[str]) -> dict:
    rules = sorted(group.rules, key=lambda r: (r.number, r.rule_id))
    return {
        "number": group.number,
        "title": f"sg {clean_name(group.name)} (sg{group.number})",
        "members": members,
        "ingress": [_rule_line(group, r, groups_known) for r in rules if r.direction == "ingress"],
        "egress": [_rule_line(group, r, groups_known) for r in rules if r.direction == "egress"],
    }


def host_model(state: HostState, sg_table: str = SG_TABLE, spoof_table: str = SPOOF_TABLE) -> HostModel:
    """What the host templates show, validated and in a stable order (VPCs, subnets, groups by number;
    NICs by port)."""
    model = HostModel(table_name(sg_table), table_name(spoof_table))
    seen_ports: dict[str, str] = {}
    seen_groups: set[int] = set()
    for vpc in sorted(state.vpcs, key=lambda v: v.number):
        zone = number(vpc.number, "VPC number (the conntrack zone)", 1, MAX_ZONE)
        groups_known = {number(g.number, "group number", 1): clean_name(g.name) for g in vpc.groups}
        twice = sorted(seen_groups & set(groups_known))
        if twice or len(groups_known) != len(vpc.groups):
            raise NetworkError("group numbers used twice: " + ", ".join(f"sg{g}" for g in twice or groups_known))
        seen_groups |= set(groups_known)
        members: dict[int, list[str]] = {g: [] for g in groups_known}
        for subnet in sorted(vpc.subnets, key=lambda s: s.number):
            bridge = ifname(subnet.bridge)
            if bridge in model.bridges:
                raise NetworkError(f"subnet number {subnet.number} (bridge {subnet.bridge}) is used twice")
            block = network(subnet.cidr)
            model.bridges.append(bridge)
            model.zones.append((bridge, zone, f"vpc {clean_name(vpc.name)} (vpc{vpc.number})"))
            router, dns = block.network_address + 1, block.network_address + 2
            model.infra.append((bridge, str(router), f"subnet {clean_name(subnet.name)}: router"))
            model.infra.append((bridge, str(dns), f"subnet {clean_name(subnet.name)}: DNS"))
            for nic in sorted(subnet.nics, key=lambda n: n.port):
                part = chain_part(nic.port)
                if part in seen_ports and seen_ports[part] != nic.port:
                    raise NetworkError(f"ports {nic.port!r} and {seen_ports[part]!r} would share chain names")
                if part in seen_ports:
                    raise NetworkError(f"port {nic.port} appears twice")
                seen_ports[part] = nic.port
                ip = address(nic.ip)
                if ipaddress.IPv4Address(ip) not in block:
                    raise NetworkError(f"NIC {nic.port} address {ip} is outside subnet {block}")
                groups = []
                for g in nic.groups:
                    if g not in groups_known:
                        raise NetworkError(f"NIC {nic.port} is in group sg{g}, which is not in VPC {vpc.number}")
                    if g not in groups:
                        groups.append(g)
                        members[g].append(ip)
                model.nics.append({
                    "port": ifname(nic.port), "chain": f"nic_{part}", "bridge": bridge, "ip": ip,
                    "mac": mac(nic.mac), "groups": groups,
                    "title": comment(f"{nic.hostname and clean_name(nic.hostname) + ' '}port {nic.port} {ip} "
                                     f"on {subnet.bridge}: groups " + ", ".join(f"sg{g}" for g in groups)),
                })
        for group in sorted(vpc.groups, key=lambda g: g.number):
            model.groups.append(_group_model(group, groups_known,
                                             sorted(set(members[group.number]), key=ipaddress.IPv4Address)))
    return model


@lru_cache(maxsize=4)
def _environment(templates_dir: str) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(templates_dir), autoescape=False,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def _render(template: str, templates_dir: Path | str | None, **values) -> str:
    env = _environment(str(templates_dir or TEMPLATES_DIR))
    return env.get_template(template).render(comment=comment, **values)


def render_host(state: HostState, *, sg_table: str = SG_TABLE, spoof_table: str = SPOOF_TABLE,
                templates_dir: Path | str | None = None) -> dict[str, str]:
    """The host's two tables for ``state``: ``{sg_table: "table inet …", spoof_table: "table bridge …"}``.

    Each text replaces its whole table when loaded (``nft.apply``; both joined with a newline load
    in one transaction). Raises NetworkError for a value that cannot be rendered safely (a bad
    address, MAC, interface name, a rule naming a group outside its VPC). Pure: nothing is run."""
    model = host_model(state, sg_table, spoof_table)
    return {
        model.sg_table: _render("security_groups.nft.j2", templates_dir, m=model),
        model.spoof_table: _render("antispoof.nft.j2", templates_dir, m=model),
    }


# ---- the VPC router -------------------------------------------------------------------------------

def _acl_line(acl_name: str, entry: AclEntry) -> Rendered:
    if entry.direction not in ("ingress", "egress"):
        raise NetworkError(f"ACL entry {entry.number}: direction must be ingress or egress")
    if entry.action not in ("allow", "deny"):
        raise NetworkError(f"ACL entry {entry.number}: action must be allow or deny")
    remote = "saddr" if entry.direction == "ingress" else "daddr"
    proto, proto_words = protocol_match(entry.protocol, entry.port_min, entry.port_max)
    block = network(entry.cidr)
    where = cidr_match(remote, entry.cidr)
    side = "from" if entry.direction == "ingress" else "to"
    verdict = "counter return" if entry.action == "allow" else "counter drop"
    words = (f"acl {clean_name(acl_name)} entry {number(entry.number, 'ACL entry number', 1, 32766)}: "
             f"{entry.action} {proto_words} {side} {block}")
    return Rendered(_join(where or "meta nfproto ipv4", proto, verdict), comment(words))


def router_model(vpc: Vpc, public: PublicNetwork) -> dict:
    subnets = []
    for subnet in sorted(vpc.subnets, key=lambda s: s.number):
        leg, _ = leg_names(number(subnet.number, "subnet number", 1))
        entries = sorted(subnet.acl, key=lambda e: e.number)
        acl = clean_name(subnet.acl_name)
        subnets.append({
            "number": subnet.number, "leg": ifname(leg),
            "title": f"subnet {clean_name(subnet.name)} ({network(subnet.cidr)}), acl {acl}",
            "ingress": [_acl_line(subnet.acl_name, e) for e in entries if e.direction == "ingress"],
            "egress": [_acl_line(subnet.acl_name, e) for e in entries if e.direction == "egress"],
            "deny_in": comment(f"acl {acl} entry *: deny (ingress)"),
            "deny_out": comment(f"acl {acl} entry *: deny (egress)"),
        })
    uplink, _ = uplink_names(vpc.number)
    gateway = address(vpc.gateway_address) if vpc.gateway_address else None
    public_ips = [{"public": address(p.address), "private": address(p.private_ip)}
                  for p in sorted(vpc.public_ips, key=lambda p: ipaddress.IPv4Address(p.address))]
    return {
        "title": f"vpc {clean_name(vpc.name)} (vpc{number(vpc.number, 'VPC number', 1)}) {network(vpc.cidr)}",
        "cidr": str(network(vpc.cidr)), "subnets": subnets, "uplink": ifname(uplink), "gateway": gateway,
        "public_ips": public_ips if gateway else [], "public_cidr": str(network(public.cidr)),
    }


def render_router(vpc: Vpc, public: PublicNetwork, *, table: str = ROUTER_TABLE,
                  templates_dir: Path | str | None = None) -> str:
    """The ``inet minicloud_router`` table loaded inside ``vpc``'s router namespace: its subnets' NACLs
    and, when it has an internet gateway, the NAT (the VPC's addresses leave ``uplink`` as the gateway
    address; each public IP is 1:1 NAT to its instance).

    Raises NetworkError for a value that cannot be rendered safely. Pure: nothing is run."""
    return _render("router.nft.j2", templates_dir, table=table_name(table), r=router_model(vpc, public))
