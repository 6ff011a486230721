"""Commands on the host for the Linux network driver: one runner (timeouts, recording) and readers of
``ip -j`` output, plus dnsmasq per subnet (pid, hosts and lease files under the driver's state dir).

Nothing here decides what the host should look like; ``linux.py`` does, and calls these.
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from minicloud.drivers.network import nft
from minicloud.drivers.network.base import NetworkError, Subnet, leg_names

TIMEOUT = 15.0  # seconds for one command; a hung `ip` or `nft` becomes a NetworkError


class Runner:
    """Runs host commands with a timeout and hands each command line to ``record``."""

    def __init__(self, record: Callable[[str], None], timeout: float = TIMEOUT):
        self.record = record
        self.timeout = timeout

    def run(self, argv: list[str], *, input: str | None = None, check: bool = True,
            netns: str | None = None) -> subprocess.CompletedProcess:
        """Run ``argv`` (inside ``netns`` when given). Raises NetworkUnavailable when the program is missing,
        NetworkError when it fails (``check``) or times out."""
        line = shlex.join(["ip", "netns", "exec", netns, *argv] if netns is not None else argv)
        self.record(line + (" <<EOF\n" + input.rstrip("\n") + "\nEOF" if input else ""))
        done = nft.run(argv, netns=netns, input=input, timeout=self.timeout)
        if check and done.returncode != 0:
            said = (done.stderr or done.stdout).strip()
            raise NetworkError(f"`{line}` failed (exit {done.returncode}): {said}")
        return done

    def json(self, argv: list[str], netns: str | None = None) -> list[dict]:
        """``ip -j …`` output as a list (empty output, as `ip -j netns list` gives with none, is [])."""
        out = self.run(argv, netns=netns).stdout.strip()
        return json.loads(out) if out else []

    def batch(self, lines: list[str], netns: str | None = None) -> None:
        """Several ``ip`` commands in one process (``ip -batch -``); stops at the first failing line."""
        if lines:
            argv = ["ip", *(["-n", netns] if netns else []), "-batch", "-"]
            self.run(argv, input="\n".join(lines) + "\n")


# ---- what the host has -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Link:
    name: str
    kind: str          # "bridge", "veth", … ("" for a plain device)
    master: str        # the bridge it is enslaved to ("" when none)
    up: bool
    addresses: frozenset[str]  # "10.0.1.1/24"


def links(runner: Runner, netns: str | None = None) -> dict[str, Link]:
    """Every interface of the host (or of ``netns``) with its kind, master, state and IPv4 addresses."""
    prefix = ["-n", netns] if netns else []
    details = runner.json(["ip", *prefix, "-j", "-d", "link", "show"])
    addresses = {entry["ifname"]: entry.get("addr_info", [])
                 for entry in runner.json(["ip", *prefix, "-j", "-4", "addr", "show"])}
    found = {}
    for entry in details:
        name = entry["ifname"]
        found[name] = Link(
            name=name,
            kind=entry.get("linkinfo", {}).get("info_kind", ""),
            master=entry.get("master", ""),
            up="UP" in entry.get("flags", []),
            addresses=frozenset(f"{a['local']}/{a['prefixlen']}" for a in addresses.get(name, [])
                                if a.get("family") == "inet"),
        )
    return found


def namespaces(runner: Runner) -> set[str]:
    return {entry["name"] for entry in runner.json(["ip", "-j", "netns", "list"])}


def with_prefix(address: str, cidr: str) -> str:
    """``address`` written with ``cidr``'s prefix length: ("10.0.1.1", "10.0.1.0/24") -> "10.0.1.1/24"."""
    return f"{address}/{ipaddress.ip_network(cidr).prefixlen}"


def router_addresses(cidr: str) -> tuple[str, str]:
    """The subnet's router (``.1``) and DNS (``.2``) addresses."""
    network = ipaddress.ip_network(cidr)
    return str(network.network_address + 1), str(network.network_address + 2)


# ---- dnsmasq, one per subnet -----------------------------------------------------------------------

_HOSTNAME = re.compile(r"[^A-Za-z0-9-]")


class Dnsmasq:
    """The DHCP (static leases only) and DNS server of one subnet, running in its VPC's router namespace.

    Files: ``dnsmasq-<n>.hosts`` (mac,ip,hostname: the static leases), ``dnsmasq-<n>.names`` (ip name:
    the DNS answers), ``dnsmasq-<n>.leases``, ``dnsmasq-<n>.pid``, under ``state_dir``."""

    def __init__(self, runner: Runner, state_dir: Path, number: int):
        self.runner = runner
        self.number = number
        base = state_dir / f"dnsmasq-{number}"
        self.hosts, self.names = base.with_suffix(".hosts"), base.with_suffix(".names")
        self.leases, self.pid_file = base.with_suffix(".leases"), base.with_suffix(".pid")

    @staticmethod
    def numbers(state_dir: Path) -> set[int]:
        """The subnet numbers that have dnsmasq files under ``state_dir``."""
        found = set()
        for path in state_dir.glob("dnsmasq-*.*"):
            middle = path.stem.removeprefix("dnsmasq-")
            if middle.isdigit():
                found.add(int(middle))
        return found

    def argv(self, subnet: Subnet) -> list[str]:
        network = ipaddress.ip_network(subnet.cidr)
        router, dns = router_addresses(subnet.cidr)
        return ["dnsmasq", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--dhcp-authoritative",
                f"--interface={leg_names(subnet.number)[0]}", "--except-interface=lo", "--bind-interfaces",
                f"--dhcp-range={network.network_address},static,{network.netmask},12h",
                f"--dhcp-hostsfile={self.hosts}", f"--addn-hosts={self.names}",
                f"--dhcp-option=3,{router}", f"--dhcp-option=6,{dns}",
                f"--dhcp-leasefile={self.leases}", f"--pid-file={self.pid_file}",
                # dnsmasq reads its hosts files as "nobody"; when nobody cannot reach state_dir it stays root
                *([] if _others_can_read(self.hosts) else ["--user=root"])]

    @staticmethod
    def files_for(subnet: Subnet) -> tuple[str, str]:
        hosts, names = [], []
        for nic in sorted(subnet.nics, key=lambda n: ipaddress.ip_address(n.ip)):
            name = _HOSTNAME.sub("", nic.hostname)[:63]
            hosts.append(f"{nic.mac},{nic.ip}" + (f",{name}" if name else ""))
            if name:
                names.append(f"{nic.ip} {name}")
        return "".join(line + "\n" for line in hosts), "".join(line + "\n" for line in names)

    def pid(self) -> int | None:
        """The PID of our dnsmasq when it runs (its pid file names a live dnsmasq using our pid file)."""
        try:
            pid = int(self.pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        if not _alive(pid) or not cmdline[0].endswith(b"dnsmasq") or f"--pid-file={self.pid_file}".encode() not in cmdline:
            return None
        return pid

    def running_as(self, pid: int, argv: list[str], netns: str) -> bool:
        """True when ``pid`` runs exactly ``argv`` inside the namespace now named ``netns``."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
            theirs, ours = os.stat(f"/proc/{pid}/ns/net"), os.stat(f"/run/netns/{netns}")
        except OSError:
            return False
        return cmdline == argv and (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino)

    def converge(self, subnet: Subnet, netns: str) -> list[str]:
        """Files written, dnsmasq running with them (started, restarted or sent HUP); the changes made."""
        changes = []
        self.hosts.parent.mkdir(parents=True, exist_ok=True)
        hosts, names = self.files_for(subnet)
        changed = False
        for path, text in ((self.hosts, hosts), (self.names, names)):
            if not path.exists() or path.read_text() != text:
                path.write_text(text)
                path.chmod(0o644)  # dnsmasq re-reads them after dropping to nobody
                changed = True
        argv = self.argv(subnet)
        pid = self.pid()
        if pid is not None and not self.running_as(pid, argv, netns):
            self.stop()
            changes.append(f"dnsmasq of subnet {subnet.number}: restarted (its options or namespace changed)")
            pid = None
        if pid is None:
            self.runner.run(argv, netns=netns)
            if not changes:
                changes.append(f"dnsmasq of subnet {subnet.number}: started in {netns}")
        elif changed:
            self.runner.record(f"kill -HUP {pid}")
            os.kill(pid, signal.SIGHUP)
            changes.append(f"dnsmasq of subnet {subnet.number}: static leases reloaded (HUP)")
        return changes

    def stop(self) -> bool:
        """Our dnsmasq stopped (SIGTERM, then SIGKILL after 3 s). True when one was running."""
        pid = self.pid()
        if pid is None:
            return False
        self.runner.record(f"kill {pid}")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.02)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        return True

    def remove(self) -> bool:
        """Stopped and its files deleted; True when it was running."""
        was_running = self.stop()
        for path in (self.hosts, self.names, self.leases, self.pid_file):
            path.unlink(missing_ok=True)
        return was_running

    def describe(self) -> str:
        """The static leases and the lease file, for the "underneath" panel."""
        parts = []
        for title, path in (("static leases", self.hosts), ("leases", self.leases)):
            text = path.read_text() if path.exists() else ""
            parts.append(f"# {title}: {path}\n{text}")
        return "".join(parts)


def _alive(pid: int) -> bool:
    """The process runs (a zombie waiting for init to reap it has stopped)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    state = next((line.split()[1] for line in status.splitlines() if line.startswith("State:")), "Z")
    return state not in ("Z", "X")


def _others_can_read(path: Path) -> bool:
    """Whether a process without our user or group (dnsmasq's "nobody") can read ``path``."""
    for directory in path.resolve().parents:
        try:
            if not os.stat(directory).st_mode & 0o001:
                return False
        except OSError:
            return False
    return True
