"""What do minicloud's security groups cost on the wire, and how fast does a rule change reach it? (``make bench``)

Network namespaces stand in for guests (veth ports on bridges, as the tests do); all traffic stays
inside the namespaces this run makes, whose names are unique to the run, and everything (namespaces,
veths, bridges, dnsmasq, nftables tables) is removed at the end.

1. **Enforced versus bare.** Two guests on one subnet bridge through the full enforcement —
   ``LinuxNetworkDriver.apply`` of a HostState holding both NICs (the subnet's bridge, the VPC router,
   dnsmasq, the security-group and anti-spoofing tables; a group allowing the measured ports) — against
   two guests on a bare bridge in a namespace of its own (no nftables table can see it), measured
   there with bridge-nf-call-iptables 0 (bridged frames skip the inet hooks) and 1 (they pass empty
   hooks, as the enforced path needs br_netfilter). TCP throughput (iperf3 if installed, else a Python
   sender) and request latency (a Python TCP ping-pong, p50/p99 of N round trips of 64 bytes). Rounds
   alternate (bare 0, bare 1, enforced, then reversed…); the headline is the median of the rounds' own
   ratios enforced/bare (target >= 0.9).
2. **Rule change to enforcement.** A client keeps connecting to a server port its group does not allow;
   the bench applies the state with the allow rule (``driver.apply``) and measures until the client's
   first successful connect (its own CLOCK_MONOTONIC stamp); the rule is removed between repeats. p50
   and p95 (target < 1 s), with 2 NICs on the subnet and with the largest NIC count. The client tries
   every ~25 ms (a 20 ms connect timeout, then 5 ms), which bounds the resolution. This is the
   driver's part only: through the API (``POST …/rules``) the job queue's pickup of the
   ``network.apply`` job (PostgreSQL NOTIFY, a worker) and the service's reading of the desired state
   come on top; that path is not measured here.
3. **Scale.** Apply time for 1, 100 and 1,000 rules in the NICs' group × 10, 100 and 1,000 NICs on the
   subnet (two real guests carry traffic; the rest are entries in the state with made-up ports and
   addresses): each apply starts from the small state, so it re-renders and reloads the tables and
   dnsmasq's leases. Then the throughput with 1,000 rules ÷ with 1 rule, both at the largest NIC count,
   in alternating rounds (target >= 0.9). An established flow is accepted by the first rule of the chain,
   so the rules are walked by a flow's first packets only: the rate of new connections (connect, one
   round trip, close) with 1,000 rules ÷ with 1 is printed beside it.

The ping-pong's two ends are pinned to one CPU (taskset): on a shared 2-CPU machine, whether they
land on one CPU or two otherwise swings the round trip between ~8 and ~70 µs, drowning the filter's
cost.

    .venv/bin/python bench/network.py [--rounds 5] [--seconds 3] [--pings 5000] [--connects 500]
                                      [--changes 20] [--rules 1,100,1000] [--nics 10,100,1000]

Needs root, iproute2, nftables, dnsmasq and br_netfilter. The host's bridge-nf-call-iptables is set to 1
by the driver (as in production) and put back as it was at the end. A report, not a test: it exits 0
whatever the figures (non-zero only when it could not measure).
"""
from __future__ import annotations

import argparse
import ipaddress
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common  # noqa: F401  (puts src/ on sys.path)
from netguests import IPERF, PINGPONG_PORT, THROUGHPUT_PORT, Lab, Traffic, run

from minicloud.drivers.network.base import (AclEntry, HostState, NetworkError, Nic, PublicNetwork, Route,
                                            SecurityGroup, SecurityGroupRule, Subnet, Vpc, bridge_name)
from minicloud.drivers.network.linux import LinuxNetworkDriver

TARGET_RATIO = 0.9
TARGET_CHANGE = 1.0
CHANGE_PORT = 7100
BR_NF = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
ALLOW_ALL = (AclEntry(100, "ingress", "allow", "all", "0.0.0.0/0"), AclEntry(100, "egress", "allow", "all", "0.0.0.0/0"))


class Enforced:
    """This run's VPC (number unique to the run) with one subnet, applied by the real driver."""

    def __init__(self, workdir: Path):
        self.base = 36000 + random.randrange(4000)   # the VPC number, a conntrack zone
        self.subnet_number = self.base * 10 + 1
        self.bridge = bridge_name(self.subnet_number)
        x = self.base % 200 + 20
        self.vpc_cidr, self.cidr = f"10.{x}.0.0/16", f"10.{x}.0.0/22"
        self.network = ipaddress.ip_network(self.cidr)
        names = {self.bridge, f"mcl-{self.subnet_number}", f"mcvpc-{self.base}", f"mcu-{self.base}"}
        block = (self.base % 16) * 16
        self.public = PublicNetwork(bridge=f"mcpub{self.base}", cidr=f"203.0.113.{block}/28",
                                    gateway=f"203.0.113.{block + 1}")
        self.driver = LinuxNetworkDriver(workdir / "network", scope=lambda name: name in names | {self.public.bridge},
                                         public=self.public, sg_table=f"mc_sgb{self.base}",
                                         spoof_table=f"mc_spoofb{self.base}")
        self.real: list[Nic] = []

    def address(self, index: int) -> str:
        return str(self.network.network_address + 10 + index)

    def state(self, *, rules: int = 1, nics: int = 2, change_rule: bool = False) -> HostState:
        """The NICs' one group holds ``rules`` ingress rules, the one the measured ports need last (so a linear
        match would walk them all); ``nics`` NICs on the subnet, the first two real."""
        padding = [SecurityGroupRule(i, f"pad{i}", "ingress", "tcp", 20000 + i, 20000 + i, cidr="192.0.2.0/24")
                   for i in range(1, rules)]
        wanted = [SecurityGroupRule(rules, "bench", "ingress", "tcp", THROUGHPUT_PORT, PINGPONG_PORT,
                                    cidr=self.cidr),
                  SecurityGroupRule(rules + 1, "egress", "egress", "all", cidr="0.0.0.0/0")]
        if change_rule:
            wanted.append(SecurityGroupRule(rules + 2, "change", "ingress", "tcp", CHANGE_PORT, CHANGE_PORT,
                                            cidr=self.cidr))
        group = SecurityGroup(1, f"sg-{self.base}", "bench", tuple(padding + wanted))
        synthetic = [Nic(port=f"mcbx{self.base % 1000}{i}", mac="52:54:01:%02x:%02x:%02x" % (i >> 16, (i >> 8) & 255,
                                                                                              i & 255),
                         ip=self.address(2 + i), hostname=f"x{i}", groups=(1,)) for i in range(nics - len(self.real))]
        subnet = Subnet(self.subnet_number, f"subnet-{self.base}", "bench", self.cidr, "acl", ALLOW_ALL, 1,
                        (Route(self.vpc_cidr, "local"),), tuple(self.real + synthetic))
        vpc = Vpc(self.base, f"vpc-{self.base}", "bench", self.vpc_cidr, subnets=(subnet,), groups=(group,))
        return HostState((vpc,), public=self.public)

    def apply(self, state: HostState) -> float:
        started = time.monotonic()
        self.driver.apply(state)
        return time.monotonic() - started


def median_ratio(top: list[float], bottom: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(top, bottom))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def measure_paths(paths: dict[str, Traffic], switch_ns: str, args) -> dict[str, dict[str, list[float]]]:
    """Alternating rounds over the paths; the bare bridge's namespace gets bridge-nf-call-iptables per side."""
    figures = {name: {"gbps": [], "p50": [], "p99": []} for name in paths}
    sysctl = "/proc/sys/net/bridge/bridge-nf-call-iptables"
    for round_no in range(args.rounds):
        order = list(paths) if round_no % 2 == 0 else list(reversed(paths))
        for name in order:
            if name.startswith("bare"):
                run("ip", "netns", "exec", switch_ns, "sh", "-c", f"echo {name[-1]} > {sysctl}")
            side = paths[name]
            figures[name]["gbps"].append(side.throughput(args.seconds))
            p50, p99 = side.latency(args.pings)
            figures[name]["p50"].append(p50)
            figures[name]["p99"].append(p99)
    return figures


def rule_changes(enforced: Enforced, traffic: Traffic, count: int, nics: int = 2) -> list[float]:
    """Seconds from the start of apply (allow rule added) to the client's first successful connect."""
    closed = enforced.state(nics=nics)
    opened = enforced.state(nics=nics, change_rule=True)
    delays = []
    for _ in range(count):
        enforced.apply(closed)
        loop = traffic.connect_loop(CHANGE_PORT)
        time.sleep(0.1)  # it is refused for a while
        if loop.poll() is not None:
            raise RuntimeError("the client connected to a port its group does not allow")
        started = time.monotonic()
        enforced.driver.apply(opened)
        try:
            line, _ = loop.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            raise RuntimeError("the allow rule was applied but the client did not connect within 10 s")
        delays.append(float(line.strip()) - started)
    enforced.apply(closed)
    return delays


def scale(enforced: Enforced, rule_sizes: list[int], nic_sizes: list[int]) -> dict[tuple[int, int], float]:
    """Apply time of each (rules, NICs) state, each from the small state."""
    small = enforced.state()
    times = {}
    for nics in nic_sizes:
        for rules in rule_sizes:
            enforced.apply(small)
            times[(rules, nics)] = enforced.apply(enforced.state(rules=rules, nics=nics))
    enforced.apply(small)
    return times


def rules_throughput(enforced: Enforced, traffic: Traffic, rule_sizes: list[int], nics: int, args
                     ) -> tuple[dict[int, list[float]], dict[int, list[float]]]:
    """Per rule count (the fewest and the most): throughput and new-connection p50 of each round."""
    low, high = min(rule_sizes), max(rule_sizes)
    rates: dict[int, list[float]] = {low: [], high: []}
    setups: dict[int, list[float]] = {low: [], high: []}
    for round_no in range(args.rounds):
        for rules in ((low, high) if round_no % 2 == 0 else (high, low)):
            enforced.apply(enforced.state(rules=rules, nics=nics))
            rates[rules].append(traffic.throughput(args.seconds))
            setups[rules].append(traffic.connects(args.connects))
    return rates, setups


def report(figures, args) -> None:
    tool = "iperf3" if IPERF else "python sender"
    print(f"TCP between two namespaces on one bridge · {args.rounds} alternating rounds · {args.seconds} s of "
          f"{tool} and {args.pings} ping-pongs per round · {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    labels = {"bare0": "bare bridge, bridge-nf-call-iptables=0", "bare1": "bare bridge, bridge-nf-call-iptables=1",
              "enforced": "minicloud enforcement (driver.apply)"}
    for name, label in labels.items():
        f = figures[name]
        rounds = ", ".join(f"{g:.1f}" for g in f["gbps"])
        print(f"{label:40s}: {statistics.median(f['gbps']):6.2f} Gbit/s (rounds: {rounds}); latency p50 "
              f"{statistics.median(f['p50']):6.1f} µs, p99 {statistics.median(f['p99']):6.1f} µs")
    for bare in ("bare0", "bare1"):
        throughput = median_ratio(figures["enforced"]["gbps"], figures[bare]["gbps"])
        latency = median_ratio(figures[bare]["p50"], figures["enforced"]["p50"])
        print(f"ratio enforced/{bare}: throughput {throughput:.3f} (target >= {TARGET_RATIO}: "
              f"{verdict(throughput >= TARGET_RATIO)}); request rate (1/p50) {latency:.3f} "
              f"({verdict(latency >= TARGET_RATIO)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per comparison")
    parser.add_argument("--seconds", type=int, default=3, help="seconds of throughput per measurement")
    parser.add_argument("--pings", type=int, default=5000, help="request/response round trips per measurement")
    parser.add_argument("--connects", type=int, default=500, help="new connections timed per rule count and round")
    parser.add_argument("--changes", type=int, default=20, help="rule changes timed")
    parser.add_argument("--rules", default="1,100,1000", help="rule counts in the group (comma-separated)")
    parser.add_argument("--nics", default="10,100,1000", help="NIC counts on the subnet (comma-separated)")
    args = parser.parse_args(argv)
    rule_sizes = [int(n) for n in args.rules.split(",")]
    nic_sizes = [int(n) for n in args.nics.split(",")]
    if max(nic_sizes) > 1000 or min(nic_sizes) < 2 or min(rule_sizes) < 1:
        parser.error("--nics between 2 and 1000 (the subnet is a /22), --rules at least 1")

    workdir = Path(tempfile.mkdtemp(prefix="minicloud-bench-network-"))
    lab = Lab()
    enforced = None
    old_br_nf = BR_NF.read_text().strip() if BR_NF.exists() else None
    try:
        if os.geteuid() != 0:
            raise RuntimeError("needs root (it makes namespaces, bridges and nftables tables)")
        enforced = Enforced(workdir)
        capabilities = enforced.driver.capabilities()
        if not capabilities.can_apply or not capabilities.br_netfilter:
            raise RuntimeError(f"the network driver cannot enforce here: {capabilities.reason or 'no br_netfilter'}")
        switch_ns, switch = lab.switch()
        bare = [lab.guest(f"10.250.0.{10 + i}/24", switch, switch_ns=switch_ns) for i in range(2)]
        enforced.apply(enforced.state(nics=0))  # the subnet's bridge, router and tables first
        guests = [lab.guest(f"{enforced.address(i)}/{enforced.network.prefixlen}", enforced.bridge)
                  for i in range(2)]
        enforced.real = [Nic(port=g.port, mac=g.mac, ip=g.ip, hostname=f"g{i}", groups=(1,))
                         for i, g in enumerate(guests)]
        first_apply = enforced.apply(enforced.state())
        traffic = Traffic(lab, guests[0], guests[1])
        bare_traffic = Traffic(lab, bare[0], bare[1])
        paths = {"bare0": bare_traffic, "bare1": bare_traffic, "enforced": traffic}
        for side in (bare_traffic, traffic):  # warm-up: servers up, caches, ARP
            side.throughput(1)
            side.latency(200)

        report(measure_paths(paths, switch_ns, args), args)

        traffic.listener(CHANGE_PORT)
        biggest = max(nic_sizes)
        for nics, count in ((2, args.changes), (biggest, max(3, args.changes // 4))):
            delays = rule_changes(enforced, traffic, count, nics)
            p50, p95 = percentile(delays, 0.5), percentile(delays, 0.95)
            print(f"rule change -> enforced, {nics:4d} NICs ({count} times, driver.apply, without the job queue's "
                  f"pickup): p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms "
                  f"(target < {TARGET_CHANGE:.0f} s: {verdict(p95 < TARGET_CHANGE)})")

        times = scale(enforced, rule_sizes, nic_sizes)
        print(f"apply time from the small state (first apply of the 2-NIC state: {first_apply * 1000:.0f} ms):")
        print("    rules \\ NICs " + "".join(f"{n:>10d}" for n in nic_sizes))
        for rules in rule_sizes:
            print(f"    {rules:>12d} " + "".join(f"{times[(rules, n)] * 1000:>8.0f}ms" for n in nic_sizes))
        few, many = min(rule_sizes), max(rule_sizes)
        smallest = min(nic_sizes)
        if biggest > smallest:
            per_nic = (times[(few, biggest)] - times[(few, smallest)]) / (biggest - smallest)
            print(f"    each NIC more: {per_nic * 1000:.2f} ms ({few} rule)")
        if many > few:
            per_rule = (times[(many, smallest)] - times[(few, smallest)]) / (many - few)
            print(f"    each rule more: {per_rule * 1000:.3f} ms ({smallest} NICs)")

        rates, setups = rules_throughput(enforced, traffic, rule_sizes, biggest, args)
        low, high = few, many
        ratio = median_ratio(rates[high], rates[low])
        print(f"throughput with {high} rules ÷ with {low} rule ({biggest} NICs, {args.rounds} alternating rounds): "
              f"{ratio:.3f} (target >= {TARGET_RATIO}: {verdict(ratio >= TARGET_RATIO)}); "
              f"{statistics.median(rates[low]):.2f} vs {statistics.median(rates[high]):.2f} Gbit/s")
        setup = median_ratio(setups[low], setups[high])
        print(f"new connections with {high} rules ÷ with {low} rule (rate, 1/p50 of {args.connects} connects): "
              f"{setup:.3f}; p50 {statistics.median(setups[low]):.0f} vs {statistics.median(setups[high]):.0f} µs")
        return 0
    except (RuntimeError, OSError, NetworkError, subprocess.SubprocessError, ValueError) as exc:
        print(f"bench: could not measure: {exc}", file=sys.stderr)
        return 1
    finally:
        lab.close()
        if enforced is not None:
            try:
                enforced.driver.teardown()
            except NetworkError as exc:
                print(f"bench: teardown: {exc}", file=sys.stderr)
        if old_br_nf is not None and BR_NF.exists() and BR_NF.read_text().strip() != old_br_nf:
            BR_NF.write_text(old_br_nf + "\n")
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
