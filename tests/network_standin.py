"""An in-memory stand-in for the network driver (tests only): it records the last applied HostState.

It keeps the contract of drivers/network/base.py (tests/contract/test_network_contract.py runs the
same tests on it and on the real LinuxNetworkDriver): ``apply`` returns the digest, the rulesets as
the real templates render them (drivers/network/rulesets.py; nothing is applied), and one change line
per object created, changed or removed (none when the state is the same); ``underneath`` describes
the last applied state; ``teardown`` forgets it.

For the API tests: ``last_state`` (the HostState last applied, or None), ``applied`` (every state
applied, in order), ``unavailable = "why"`` makes every method but ``capabilities`` raise
NetworkUnavailable, ``failing = "why"`` makes ``apply`` raise NetworkError (a step failed).
"""
from __future__ import annotations

import threading

from minicloud.drivers.network import rulesets
from minicloud.drivers.network.base import (Applied, Capabilities, HostState, NetworkError, NetworkUnavailable,
                                            Underneath, Vpc, leg_names, uplink_names)


def _objects(state: HostState) -> dict[str, object]:
    """Every host object the state implies, by its host name, with what it holds."""
    objects: dict[str, object] = {}
    if any(vpc.gateway_address for vpc in state.vpcs):
        objects[f"bridge {state.public.bridge}"] = (state.public.cidr, state.public.gateway)
    for vpc in state.vpcs:
        objects[f"router namespace {vpc.namespace}"] = vpc.cidr
        if vpc.gateway_address:
            objects[f"veth {uplink_names(vpc.number)[1]}"] = (vpc.gateway_address, vpc.public_ips)
        for subnet in vpc.subnets:
            objects[f"bridge {subnet.bridge}"] = subnet.cidr
            objects[f"veth {leg_names(subnet.number)[1]}"] = subnet.cidr
            objects[f"router {vpc.namespace}: table of subnet {subnet.number}"] = (subnet.route_table, subnet.routes,
                                                                                  vpc.gateway_address)
            objects[f"dnsmasq of subnet {subnet.number}"] = subnet.nics
    return objects


def _rulesets(state: HostState) -> dict[str, str]:
    texts = dict(rulesets.render_host(state))
    for vpc in state.vpcs:
        router = rulesets.render_router(vpc, state.public)
        texts[f"{vpc.namespace}:inet minicloud_router"] = router
    return texts


class StandinNetwork:
    def __init__(self) -> None:
        self._local = threading.local()
        self.last_state: HostState | None = None
        self.applied: list[HostState] = []
        self.unavailable: str | None = None
        self.failing: str | None = None
        self._objects: dict[str, object] = {}
        self._rulesets: dict[str, str] = {}

    @property
    def last_calls(self) -> list[str]:
        return list(getattr(self._local, "calls", []))

    def _begin(self) -> None:
        self._local.calls = []
        if self.unavailable:
            raise NetworkUnavailable(self.unavailable)

    def capabilities(self) -> Capabilities:
        self._local.calls = []
        if self.unavailable:
            return Capabilities(can_apply=False, bridge_conntrack=False, br_netfilter=False, reason=self.unavailable)
        return Capabilities(can_apply=True, bridge_conntrack=False, br_netfilter=True)

    def apply(self, state: HostState) -> Applied:
        self._begin()
        if self.failing:
            raise NetworkError(self.failing)
        texts = _rulesets(state)
        objects = _objects(state)
        changes = [f"{name}: created" for name in objects if name not in self._objects]
        changes += [f"{name}: changed" for name in objects if name in self._objects and objects[name] != self._objects[name]]
        changes += [f"{name}: removed" for name in self._objects if name not in objects]
        changes += [f"nftables table {name}: " + ("replaced" if name in self._rulesets else "created")
                    for name, text in texts.items() if self._rulesets.get(name) != text]
        self._local.calls = [f"apply {state.digest()}"] if changes else []
        self._objects, self._rulesets = objects, texts
        self.last_state = state
        self.applied.append(state)
        return Applied(digest=state.digest(), rulesets=texts, changes=tuple(changes), calls=tuple(self.last_calls))

    def underneath(self, vpc: Vpc) -> Underneath:
        self._begin()
        known = self.last_state and next((v for v in self.last_state.vpcs if v.number == vpc.number), None)
        if not known:
            return Underneath("", "", "")
        ruleset = "\n".join(text for name, text in self._rulesets.items()
                            if ":" not in name or name.startswith(vpc.namespace + ":"))
        routes = "# ip rule\n" + "".join(f"1000:\tfrom all iif {leg_names(s.number)[0]} lookup {1000 + s.route_table}\n"
                                         for s in known.subnets)
        routes += "# ip route show table all\n" + "".join(
            f"{s.cidr} dev {leg_names(s.number)[0]} table {1000 + t.route_table} scope link\n"
            for t in known.subnets for s in known.subnets)
        leases = "".join(f"## subnet {s.name} ({s.cidr})\n# static leases\n"
                         + "".join(f"{n.mac},{n.ip}" + (f",{n.hostname}" if n.hostname else "") + "\n" for n in s.nics)
                         for s in known.subnets)
        return Underneath(ruleset=ruleset, routes=routes, leases=leases)

    def teardown(self) -> tuple[str, ...]:
        self._begin()
        removed = tuple(self._objects) + tuple(f"nftables table {name}" for name in self._rulesets if ":" not in name)
        self._objects, self._rulesets, self.last_state = {}, {}, None
        return removed
