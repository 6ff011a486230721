"""The real network driver: Linux bridges, veths, network namespaces, policy routing, dnsmasq and nftables.

``apply`` observes the host (``ip -j``), compares it with the desired ``HostState`` and issues only the
commands that close the gap, so a repeat changes nothing and a host restart is repaired by the same
call. Layout (see drivers/network/base.py for the names):

- the public bridge (``PublicNetwork.bridge``) holding the pool's first address, present while some
  VPC has an internet gateway;
- per subnet a bridge ``mcbr-<n>`` (up, no host address), a veth ``mcl-<n>`` on it whose peer
  ``leg-<n>`` in the router namespace holds ``.1`` and ``.2``, and dnsmasq bound to ``leg-<n>``;
- per VPC a namespace ``mcvpc-<n>`` with forwarding on, an ``uplink`` (gateway address and the public
  IPs as /32, so the router answers ARP for them) whose peer ``mcu-<n>`` sits on the public bridge,
  one routing table per route table (``ROUTE_TABLE_BASE + number``: the subnets' connected routes, the
  internet gateway's route ``via <public gateway> dev uplink``, ``unreachable default`` otherwise) and
  ``ip rule iif leg-<n> lookup <table>`` per subnet;
- the nftables tables from ``rulesets.render_host`` on the host and ``rulesets.render_router`` per router.

Leftovers are removed by kind and name only: namespaces ``mcvpc-<digits>``, bridges ``mcbr-<digits>``,
veths ``mcl-<digits>``/``mcu-<digits>``, dnsmasq whose files are in ``state_dir``, the public bridge this
driver made. Taps (``mct…``) belong to libvirt and are never touched. ``scope`` narrows that further to
the names it accepts (tests pass one matching only their own numbers, so concurrent runs never remove
each other's objects).
"""
from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import json
import os
import re
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from minicloud.drivers.calls import public as _public
from minicloud.drivers.network import nft, rulesets
from minicloud.drivers.network.base import (Applied, Capabilities, HostState, NetworkError, NetworkUnavailable,
                                            PublicNetwork, Underneath, Vpc, bridge_name, leg_names,
                                            uplink_names)
from minicloud.drivers.network.host import Dnsmasq, Runner, links, namespaces, router_addresses, with_prefix

ROUTE_TABLE_BASE = 1000   # route table n is kernel table 1000 + n (so never 253-255: default, main, local)
RULE_PRIORITY = 1000      # every `iif leg-<n> lookup <table>` rule; before main (32766)
BR_NF_CALL = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
_OURS = re.compile(r"^(mcvpc|mcbr|mcl|mcu)-\d+$")
_COUNTERS = re.compile(r"counter packets \d+ bytes \d+")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class LinuxNetworkDriver:
    """A NetworkDriver for this Linux host (root, iproute2, nftables, dnsmasq)."""

    def __init__(self, state_dir: str | Path, *, scope: Callable[[str], bool] | None = None,
                 timeout: float = 15.0, public: PublicNetwork | None = None,
                 sg_table: str = rulesets.SG_TABLE, spoof_table: str = rulesets.SPOOF_TABLE):
        self.state_dir = Path(state_dir)
        self.host_tables = {"sg_table": sg_table, "spoof_table": spoof_table}  # tests give unique names
        self.scope = scope or (lambda name: True)
        self.public = public or PublicNetwork()  # the configured public network (teardown's bridge)
        self._local = threading.local()
        self._lock = threading.Lock()
        self.run = Runner(self._record, timeout)

    @classmethod
    def from_config(cls, config) -> "LinuxNetworkDriver":
        """From ``[network]``: state_dir ("" = <project root>/.data/network), public_pool, public_bridge."""
        state_dir = config.get("network.state_dir") or Path(config.root) / ".data" / "network"
        pool = ipaddress.ip_network(config.get("network.public_pool"))
        public = PublicNetwork(bridge=config.get("network.public_bridge"), cidr=str(pool),
                               gateway=str(pool.network_address + 1))
        return cls(state_dir, public=public)

    # ---- call recording

    @property
    def last_calls(self) -> list[str]:
        """The commands the last public method this thread called ran."""
        return list(getattr(self._local, "calls", []))

    def _record(self, line: str) -> None:
        calls = getattr(self._local, "calls", None)
        if calls is not None:
            calls.append(line)

    # ---- capabilities

    @_public
    def capabilities(self) -> Capabilities:
        """What the host offers, probed now (``nft -c`` on throwaway tables; nothing applied).

        Afterwards: nothing changed (loading br_netfilter aside). Raises nothing. Repeat: safe."""
        missing = [tool for tool in ("ip", "bridge", "nft", "dnsmasq") if shutil.which(tool) is None]
        reasons = []
        if os.geteuid() != 0:
            reasons.append("minicloud does not run as root")
        if missing:
            reasons.append("missing: " + ", ".join(missing))
        probe: dict = {}
        if "nft" not in missing:
            try:
                probe = nft.probe()
            except NetworkError as exc:
                reasons.append(str(exc))
        br_netfilter = self._br_netfilter()
        return Capabilities(can_apply=not reasons, bridge_conntrack=bool(probe.get("bridge_conntrack")),
                            br_netfilter=br_netfilter, reason="; ".join(reasons))

    def _br_netfilter(self) -> bool:
        if not BR_NF_CALL.exists() and shutil.which("modprobe"):
            try:
                self.run.run(["modprobe", "br_netfilter"], check=False)
            except NetworkError:
                pass
        return BR_NF_CALL.exists()

    # ---- apply

    @_public
    def apply(self, state: HostState) -> Applied:
        """Make the host's network exactly ``state`` (see the contract and this module's docstring).

        Afterwards: everything of ``state`` exists; our leftovers (within ``scope``) are gone;
        bridge-nf-call-iptables is 1. Raises NetworkUnavailable (not root, a tool missing),
        NetworkError (a command failed; a ruleset failing ``nft -c`` is not applied). Repeat: safe;
        the same state gives ``changes == ()``."""
        self._require()
        with self._exclusive():
            record = self._load()
            changes: list[str] = []
            changes += self._bridge_netfilter()
            host = links(self.run)
            have_ns = namespaces(self.run)
            changes += self._public_bridge(state, host, record)
            for vpc in state.vpcs:
                changes += self._vpc(vpc, state.public, host, have_ns)
            changes += self._dnsmasq(state)
            rendered = dict(rulesets.render_host(state, **self.host_tables))
            changes += self._tables(rendered, None, record)
            for vpc in state.vpcs:
                router = rulesets.render_router(vpc, state.public)
                rendered[f"{vpc.namespace}:{_table_name(router)}"] = router
                changes += self._tables({_table_name(router): router}, vpc.namespace, record, key=vpc.namespace)
            changes += self._leftovers(state, record)
            changes += self._flush_conntrack(state, record)
            record["tables"] = {k: v for k, v in record.get("tables", {}).items()
                                if k.partition(":")[0] in {"", *[v.namespace for v in state.vpcs]}}
            self._save(record)
            return Applied(digest=state.digest(), rulesets=rendered, changes=tuple(changes),
                           calls=tuple(self.last_calls))

    def _require(self) -> None:
        if os.geteuid() != 0:
            raise NetworkUnavailable("the network driver needs root (it makes bridges, namespaces and rules)")
        for tool in ("ip", "bridge", "nft", "dnsmasq"):
            if shutil.which(tool) is None:
                raise NetworkUnavailable(f"{tool} is not installed on this host")

    def _bridge_netfilter(self) -> list[str]:
        if not self._br_netfilter():
            raise NetworkUnavailable("br_netfilter is not available: security groups cannot see bridged traffic")
        if BR_NF_CALL.read_text().strip() == "1":
            return []
        self._record(f"echo 1 > {BR_NF_CALL}")
        BR_NF_CALL.write_text("1\n")
        return ["net.bridge.bridge-nf-call-iptables set to 1 (bridged IPv4 now passes the host's inet tables)"]

    def _public_bridge(self, state: HostState, host: dict, record: dict) -> list[str]:
        wanted = any(vpc.gateway_address for vpc in state.vpcs)
        public = state.public
        changes = []
        old = record.get("public_bridge")
        if old and (old != public.bridge or not wanted) and old in host and self.scope(old):
            self.run.run(["ip", "link", "del", old])
            host.pop(old)
            changes.append(f"public bridge {old}: removed")
        record["public_bridge"] = public.bridge if wanted else None
        if wanted:
            changes += self._bridge(public.bridge, host, with_prefix(public.gateway, public.cidr))
        return changes

    def _bridge(self, name: str, host: dict, address: str | None = None) -> list[str]:
        link = host.get(name)
        if link is not None and link.kind != "bridge":
            raise NetworkError(f"{name} exists on this host but is a {link.kind or 'plain'} device, not a bridge")
        changes = []
        if link is None:
            self.run.run(["ip", "link", "add", name, "type", "bridge"])
            changes.append(f"bridge {name}: created")
        if address and (link is None or address not in link.addresses):
            self.run.run(["ip", "addr", "replace", address, "dev", name])
            if link is not None:
                changes.append(f"bridge {name}: address {address} restored")
        if link is None or not link.up:
            self.run.run(["ip", "link", "set", name, "up"])
            if link is not None:
                changes.append(f"bridge {name}: set up")
        return changes

    def _vpc(self, vpc: Vpc, public: PublicNetwork, host: dict, have_ns: set[str]) -> list[str]:
        ns = vpc.namespace
        changes = []
        if ns not in have_ns:
            self.run.run(["ip", "netns", "add", ns])
            have_ns.add(ns)
            changes.append(f"router namespace {ns}: created")
        if self.run.run(["sysctl", "-n", "net.ipv4.ip_forward"], netns=ns).stdout.strip() != "1":
            self.run.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"], netns=ns)
            changes.append(f"router {ns}: forwarding on")
        inside = links(self.run, ns)
        if not inside.get("lo") or not inside["lo"].up:
            self.run.run(["ip", "-n", ns, "link", "set", "lo", "up"])
        for subnet in vpc.subnets:
            changes += self._bridge(subnet.bridge, host)
            router, dns = router_addresses(subnet.cidr)
            changes += self._veth(leg_names(subnet.number), subnet.bridge, ns, host, inside,
                                  {with_prefix(router, subnet.cidr), with_prefix(dns, subnet.cidr)},
                                  stable_mac(0x6C, subnet.number))
            for nic in subnet.nics:  # a guest's port left off a re-made bridge is put back on it
                port = host.get(nic.port)
                if port is not None and port.master != subnet.bridge:
                    self.run.run(["ip", "link", "set", nic.port, "master", subnet.bridge])
                    changes.append(f"port {nic.port}: back on bridge {subnet.bridge}")
        inner_uplink, outer_uplink = uplink_names(vpc.number)
        if vpc.gateway_address:
            addresses = {with_prefix(vpc.gateway_address, public.cidr), *(f"{p.address}/32" for p in vpc.public_ips)}
            changes += self._veth((inner_uplink, outer_uplink), public.bridge, ns, host, inside, addresses,
                                  stable_mac(0x75, vpc.number))
        elif outer_uplink in host or inner_uplink in inside:
            self.run.run(["ip", "-n", ns, "link", "del", inner_uplink], check=False)
            self.run.run(["ip", "link", "del", outer_uplink], check=False)
            changes.append(f"uplink of {ns}: removed (no internet gateway)")
        changes += self._routing(vpc, public, ns)
        return changes

    def _veth(self, names: tuple[str, str], bridge: str, ns: str, host: dict, inside: dict,
              addresses: set[str], mac: str) -> list[str]:
        inner, outer = names
        changes = []
        outer_link, inner_link = host.get(outer), inside.get(inner)
        if outer_link is None or inner_link is None or outer_link.kind != "veth":
            if outer_link is not None:
                self.run.run(["ip", "link", "del", outer])
            if inner_link is not None:
                self.run.run(["ip", "-n", ns, "link", "del", inner])
            self.run.run(["ip", "link", "add", outer, "type", "veth", "peer", "name", inner, "address", mac,
                          "netns", ns])
            changes.append(f"veth {outer} (bridge {bridge}) <-> {inner} (in {ns}): created")
            outer_link = inner_link = None
        if outer_link is None or outer_link.master != bridge or not outer_link.up:
            self.run.run(["ip", "link", "set", outer, "master", bridge, "up"])
            if outer_link is not None:
                changes.append(f"veth {outer}: on bridge {bridge}, up")
        have = inner_link.addresses if inner_link else frozenset()
        lines = [f"addr del {a} dev {inner}" for a in sorted(have - addresses)]
        lines += [f"addr add {a} dev {inner}" for a in sorted(addresses - have,
                                                              key=lambda a: ipaddress.ip_interface(a))]
        if inner_link is None or not inner_link.up:
            lines.append(f"link set {inner} up")
        self.run.batch(lines, netns=ns)
        if inner_link is not None:
            changes += [f"{inner} in {ns}: {line.split(' dev ')[0]}" for line in lines if line.startswith("addr")]
        return changes

    def _routing(self, vpc: Vpc, public: PublicNetwork, ns: str) -> list[str]:
        changes = []
        wanted_tables: dict[int, set[tuple]] = {}
        wanted_rules = set()
        for subnet in vpc.subnets:
            table = ROUTE_TABLE_BASE + subnet.route_table
            wanted_rules.add((leg_names(subnet.number)[0], table))
            routes = wanted_tables.setdefault(table, set())
            routes |= {("unicast", other.cidr, "", leg_names(other.number)[0]) for other in vpc.subnets}
            has_default = False
            for route in subnet.routes:
                if route.target == "internet_gateway" and vpc.gateway_address:
                    routes.add(("unicast", _dst(route.destination), public.gateway, "uplink"))
                    routes.add(("unicast", str(ipaddress.ip_network(public.cidr)), "", "uplink"))  # on the link
                    has_default = has_default or _dst(route.destination) == "default"
            if not has_default:
                routes.add(("unreachable", "default", "", ""))
        listed = self.run.json(["ip", "-j", "route", "show", "table", "all"], netns=ns)
        have_tables: dict[int, set[tuple]] = {}
        for entry in listed:
            table = entry.get("table")
            if isinstance(table, str) and table.isdigit() and int(table) >= ROUTE_TABLE_BASE:
                have_tables.setdefault(int(table), set()).add(
                    (entry.get("type", "unicast"), entry["dst"], entry.get("gateway", ""), entry.get("dev", "")))
        for table in sorted(set(have_tables) | set(wanted_tables)):
            want, have = wanted_tables.get(table, set()), have_tables.get(table, set())
            if want == have:
                continue
            lines = [f"route flush table {table}"] if have else []
            for kind, dst, gateway, dev in sorted(want, key=lambda r: (r[0] != "unicast", r[3] == "uplink", r)):
                if kind == "unreachable":
                    lines.append(f"route add unreachable {dst} table {table}")
                else:
                    lines.append(f"route add {dst} " + (f"via {gateway} " if gateway else "")
                                 + f"dev {dev} table {table}")
            self.run.batch(lines, netns=ns)
            changes.append(f"router {ns}: table {table} " + ("removed" if not want else "set"))
        have_rules = {(r.get("iif", ""), int(r["table"])) for r in self.run.json(["ip", "-j", "rule", "show"], netns=ns)
                      if r.get("priority") == RULE_PRIORITY and str(r.get("table", "")).isdigit()}
        lines = [f"rule del iif {iif} lookup {table} priority {RULE_PRIORITY}"
                 for iif, table in sorted(have_rules - wanted_rules)]
        lines += [f"rule add iif {iif} lookup {table} priority {RULE_PRIORITY}"
                  for iif, table in sorted(wanted_rules - have_rules)]
        self.run.batch(lines, netns=ns)
        changes += [f"router {ns}: {line.rsplit(' priority', 1)[0]}" for line in lines]
        return changes

    def _dnsmasq(self, state: HostState) -> list[str]:
        changes = []
        for vpc in state.vpcs:
            for subnet in vpc.subnets:
                changes += Dnsmasq(self.run, self.state_dir, subnet.number).converge(subnet, vpc.namespace)
        return changes

    def _tables(self, texts: dict[str, str], netns: str | None, record: dict, key: str = "") -> list[str]:
        """Each table applied unless the host still holds exactly what we last applied from the same text."""
        changes = []
        known = record.setdefault("tables", {})
        for name, text in texts.items():
            family, _, table = _family_and_name(text, name)
            slot = f"{key}:{family} {table}"
            listed = _COUNTERS.sub("counter", self._list(family, table, netns))
            last = known.get(slot)
            if last and last["text"] == _digest(text) and last["listed"] == _digest(listed) and listed.strip():
                continue
            self._record(f"nft -f - {'(in ' + netns + ') ' if netns else ''}# table {family} {table}")
            nft.apply(text, netns=netns)
            after = _COUNTERS.sub("counter", self._list(family, table, netns))
            known[slot] = {"text": _digest(text), "listed": _digest(after)}
            where = f" in {netns}" if netns else ""
            changes.append(f"nftables table {family} {table}{where}: " + ("replaced" if listed.strip() else "created"))
        return changes

    def _list(self, family: str, table: str, netns: str | None) -> str:
        self._record(f"nft list table {family} {table}" + (f" (in {netns})" if netns else ""))
        try:
            return nft.list_table(family, table, netns=netns) or ""
        except NetworkError:  # no such table (yet): nothing listed
            return ""

    def _leftovers(self, state: HostState, record: dict) -> list[str]:
        changes = []
        wanted_subnets = {s.number for v in state.vpcs for s in v.subnets}
        for number in sorted(Dnsmasq.numbers(self.state_dir) - wanted_subnets):
            if self.scope(bridge_name(number)):
                Dnsmasq(self.run, self.state_dir, number).remove()
                changes.append(f"dnsmasq of subnet {number}: stopped (subnet gone)")
        wanted_ns = {v.namespace for v in state.vpcs}
        for ns in sorted(namespaces(self.run)):
            if _OURS.match(ns) and ns.startswith("mcvpc-") and ns not in wanted_ns and self.scope(ns):
                self.run.run(["ip", "netns", "del", ns])
                changes.append(f"router namespace {ns}: removed")
        wanted_links = {bridge_name(n) for n in wanted_subnets} | {leg_names(n)[1] for n in wanted_subnets}
        wanted_links |= {uplink_names(v.number)[1] for v in state.vpcs if v.gateway_address}
        for name, link in sorted(links(self.run).items()):
            if _OURS.match(name) and not name.startswith("mcvpc-") and name not in wanted_links and self.scope(name):
                self.run.run(["ip", "link", "del", name], check=False)
                changes.append(f"{link.kind or 'link'} {name}: removed")
        return changes

    def _flush_conntrack(self, state: HostState, record: dict) -> list[str]:
        """Cut the flows of every NIC whose allowed peers may have shrunk (or that is gone)."""
        before = record.get("nics", {})
        now = _nic_fingerprints(state)
        changes = []
        for key, fingerprint in sorted(before.items()):
            if now.get(key) not in (None, fingerprint) or key not in now:
                ip = key.split("/", 1)[1]
                nft.flush_conntrack(ip, zone=int(key.split("/", 1)[0]))
                self._record(f"conntrack -D --orig-src/--orig-dst {ip} --zone {key.split('/', 1)[0]}")
                changes.append(f"conntrack: flows of {ip} flushed (its allowed peers changed)")
        before_public = record.get("public_ips", {})
        now_public = {f"{v.namespace}/{p.address}": p.private_ip for v in state.vpcs for p in v.public_ips}
        for key, private in sorted(before_public.items()):
            ns, address = key.split("/", 1)
            if now_public.get(key) != private and ns in {v.namespace for v in state.vpcs}:
                nft.flush_conntrack(address, netns=ns)
                changes.append(f"conntrack in {ns}: NAT flows of {address} flushed")
        record["nics"], record["public_ips"] = now, now_public
        return changes

    # ---- the host's view, and teardown

    @_public
    def underneath(self, vpc: Vpc) -> Underneath:
        """The router's table and the host's security-group table with counters, the router's rules and
        routes, and each subnet's static leases and leases. Afterwards: nothing changed. Raises
        NetworkUnavailable. A VPC not on the host gives empty texts. Repeat: safe."""
        self._require()
        ns = vpc.namespace
        if ns not in namespaces(self.run):
            return Underneath("", "", "", calls=tuple(self.last_calls))
        record = self._load()
        parts = []
        for slot in sorted(record.get("tables", {})):
            where, _, ident = slot.partition(":")
            if where in ("", ns):
                family, _, table = ident.partition(" ")
                text = self._list(family, table, ns if where else None)
                parts.append(text)
        rules = self.run.run(["ip", "rule", "show"], netns=ns).stdout
        routes = self.run.run(["ip", "route", "show", "table", "all"], netns=ns).stdout
        leases = "".join(f"## subnet {s.name} ({s.cidr})\n" + Dnsmasq(self.run, self.state_dir, s.number).describe()
                         for s in vpc.subnets)
        return Underneath(ruleset="\n".join(parts), routes=f"# ip rule\n{rules}\n# ip route show table all\n{routes}",
                          leases=leases, calls=tuple(self.last_calls))

    @_public
    def teardown(self) -> tuple[str, ...]:
        """Remove what this driver made (within ``scope``): dnsmasq, namespaces, bridges, veths, the
        public bridge, the nftables tables it applied. Afterwards: none of them is left. Raises
        NetworkUnavailable. Repeat: safe (returns ())."""
        self._require()
        with self._exclusive():
            record = self._load()
            removed = [line.split(":")[0] for line in self._leftovers(HostState(), record)]
            public = record.get("public_bridge") or self.public.bridge
            if public in links(self.run) and self.scope(public):
                self.run.run(["ip", "link", "del", public])
                removed.append(f"bridge {public}")
            for slot in sorted(record.get("tables", {})):
                where, _, ident = slot.partition(":")
                if not where:
                    family, _, table = ident.partition(" ")
                    if self._list(family, table, None).strip():
                        nft.delete_table(family, table)
                        removed.append(f"nftables table {family} {table}")
            self._save({})
            return tuple(removed)

    # ---- the driver's own record (state_dir/applied.json), one apply at a time

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.state_dir / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _load(self) -> dict:
        try:
            return json.loads((self.state_dir / "applied.json").read_text())
        except (OSError, ValueError):
            return {}

    def _save(self, record: dict) -> None:
        path = self.state_dir / "applied.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(record, sort_keys=True, indent=1))
        temporary.replace(path)


def stable_mac(kind: int, number: int) -> str:
    """A router interface's MAC, the same every time it is made (``02:<kind>:<number as 4 bytes>``), so
    guests' ARP caches stay right when a restart or repair re-creates the router."""
    return ":".join(f"{byte:02x}" for byte in (0x02, kind, *number.to_bytes(4, "big")))


def _dst(cidr: str) -> str:
    return "default" if ipaddress.ip_network(cidr).prefixlen == 0 else cidr


def _table_name(text: str) -> str:
    family, _, table = _family_and_name(text, "")
    return f"{family} {table}"


def _family_and_name(text: str, fallback: str) -> tuple[str, str, str]:
    """("inet", " ", "minicloud_sg") from the ruleset's first ``table <family> <name>`` line (else ``fallback``)."""
    match = re.search(r"^\s*table\s+(\w+)\s+(\w+)", text, re.MULTILINE)
    if match:
        return match.group(1), " ", match.group(2)
    family, _, table = fallback.partition(" ")
    return family, " ", table


def _nic_fingerprints(state: HostState) -> dict[str, str]:
    """Per NIC (``<vpc>/<ip>``) a digest of what it may exchange: its groups' rules and, for rules naming a
    group, that group's current members. A changed digest means its allowed peers may have shrunk. Each
    group's digest is computed once and shared by its members (cost grows with rules + NICs, not their
    product)."""
    fingerprints = {}
    for vpc in state.vpcs:
        members: dict[int, list[str]] = {}
        for subnet in vpc.subnets:
            for nic in subnet.nics:
                for group in nic.groups:
                    members.setdefault(group, []).append(nic.ip)
        peers_of = {number: sorted(ips) for number, ips in members.items()}
        group_digest = {}
        for group in vpc.groups:
            rules = [[rule.direction, rule.protocol, rule.port_min, rule.port_max, rule.cidr,
                      peers_of.get(rule.source_group, []) if rule.source_group else None] for rule in group.rules]
            group_digest[group.number] = _digest(json.dumps(sorted(rules, key=json.dumps)))
        for subnet in vpc.subnets:
            for nic in subnet.nics:
                fingerprints[f"{vpc.number}/{nic.ip}"] = _digest(json.dumps(
                    [nic.mac, subnet.number, [group_digest.get(number, "") for number in sorted(nic.groups)]]))
    return fingerprints
