"""Network namespaces standing in for guests, for tests that need real kernel networking.

A ``NetLab`` makes bridges, namespaces and veth pairs with unique names (``mc`` + a per-run tag, at
most 15 characters), and removes everything it made in ``close()`` — nothing else on the host is
touched, and nothing gets a route outside the namespaces it made.

    with NetLab() as lab:
        br = lab.bridge()
        a = lab.guest(br, "10.9.0.10/24")        # a namespace with eth0 on br; a.port is the host end
        b = lab.guest(br, "10.9.0.11/24")
        with lab.tcp_server(b, 8080):
            assert lab.tcp_connects(a, b.ip, 8080)

``Guest.port`` is the host end of the veth, on the bridge: it plays a guest's tap (``Nic.port``).
``br_netfilter_on()`` loads ``br_netfilter`` and sets ``net.bridge.bridge-nf-call-iptables=1``;
``close()`` puts the old value back.
"""
from __future__ import annotations

import contextlib
import ipaddress
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

TIMEOUT = 10.0
BRIDGE_NF = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")


def run(*args: str, check: bool = True, timeout: float = TIMEOUT, input: str | None = None
        ) -> subprocess.CompletedProcess:
    """Run a command (a list of words, never a shell), with a timeout; raise with its output on failure."""
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, input=input)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return done


def tag() -> str:
    """A short random tag that makes this run's names unique (5 hex digits)."""
    return secrets.token_hex(3)[:5]


@dataclass(frozen=True)
class Guest:
    """A namespace standing in for a guest: ``port`` is the host end of its veth (on ``bridge``)."""

    ns: str
    port: str
    bridge: str
    mac: str
    ip: str            # without the prefix length
    prefix: int


class NetLab:
    """Bridges, namespaces and veths made for one test, all removed by ``close()``."""

    def __init__(self) -> None:
        self.tag = tag()
        self._count = 0
        self.bridges: list[str] = []
        self.namespaces: list[str] = []
        self.links: list[str] = []
        self.processes: list[subprocess.Popen] = []
        self._bridge_nf_old: str | None = None

    # ---- lifecycle ----
    def __enter__(self) -> "NetLab":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
        for ns in reversed(self.namespaces):
            run("ip", "netns", "del", ns, check=False)
        for link in reversed(self.links + self.bridges):
            if Path(f"/sys/class/net/{link}").exists():
                run("ip", "link", "del", link, check=False)
        if self._bridge_nf_old is not None and BRIDGE_NF.exists():
            BRIDGE_NF.write_text(self._bridge_nf_old)
        self.processes, self.namespaces, self.links, self.bridges = [], [], [], []

    # ---- names ----
    def name(self, kind: str) -> str:
        """``mc<kind><tag><n>``: unique in this run, at most 15 characters (an interface name's limit)."""
        self._count += 1
        name = f"mc{kind}{self.tag}{self._count}"
        assert len(name) <= 15, name
        return name

    # ---- the host ----
    def br_netfilter_on(self) -> None:
        """Bridged IPv4 goes through the inet family's hooks (restored by close())."""
        if not BRIDGE_NF.exists() and shutil.which("modprobe"):
            run("modprobe", "br_netfilter", check=False)
        if not BRIDGE_NF.exists():
            raise RuntimeError("br_netfilter is not available: /proc/sys/net/bridge is missing")
        if self._bridge_nf_old is None:
            self._bridge_nf_old = BRIDGE_NF.read_text().strip()
        BRIDGE_NF.write_text("1")

    def bridge(self, name: str | None = None) -> str:
        """A new Linux bridge, up, without an address on the host."""
        name = name or self.name("b")
        run("ip", "link", "add", name, "type", "bridge")
        self.bridges.append(name)
        run("ip", "link", "set", name, "up")
        return name

    def namespace(self, name: str | None = None) -> str:
        name = name or self.name("n")
        run("ip", "netns", "add", name)
        self.namespaces.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def guest(self, bridge: str, address: str, *, mac: str | None = None, gateway: str | None = None,
              ns: str | None = None) -> Guest:
        """A namespace with ``eth0`` (``address`` = "ip/len", ``mac`` or a random 52:54:00 one) whose peer is on
        ``bridge``; ``gateway`` adds a default route inside the namespace (to an address the test made)."""
        iface = ipaddress.ip_interface(address)
        mac = mac or "52:54:00:%02x:%02x:%02x" % tuple(secrets.token_bytes(3))
        ns = self.namespace(ns)
        port = self.name("p")
        run("ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
        self.links.append(port)
        run("ip", "link", "set", port, "master", bridge)
        run("ip", "link", "set", port, "up")
        run("ip", "-n", ns, "link", "set", "eth0", "address", mac)
        run("ip", "-n", ns, "addr", "add", str(iface), "dev", "eth0")
        run("ip", "-n", ns, "link", "set", "eth0", "up")
        if gateway:
            run("ip", "-n", ns, "route", "add", "default", "via", gateway)
        return Guest(ns=ns, port=port, bridge=bridge, mac=mac, ip=str(iface.ip), prefix=iface.network.prefixlen)

    def veth_into(self, ns: str, inside: str, address: str | None, bridge: str | None = None,
                  host_end: str | None = None) -> str:
        """A veth pair: ``inside`` in namespace ``ns`` (with ``address`` if given), the host end on ``bridge`` if
        given. Returns the host end's name."""
        host_end = host_end or self.name("v")
        run("ip", "link", "add", host_end, "type", "veth", "peer", "name", inside, "netns", ns)
        self.links.append(host_end)
        if bridge:
            run("ip", "link", "set", host_end, "master", bridge)
        run("ip", "link", "set", host_end, "up")
        if address:
            run("ip", "-n", ns, "addr", "add", address, "dev", inside)
        run("ip", "-n", ns, "link", "set", inside, "up")
        return host_end

    # ---- traffic ----
    def exec(self, guest: Guest | str, *args: str, check: bool = True, timeout: float = TIMEOUT
             ) -> subprocess.CompletedProcess:
        ns = guest.ns if isinstance(guest, Guest) else guest
        return run("ip", "netns", "exec", ns, *args, check=check, timeout=timeout)

    def ping(self, guest: Guest | str, ip: str, *, count: int = 1, wait: float = 1.0) -> bool:
        """One ICMP echo from the namespace to ``ip`` answered within ``wait`` seconds."""
        done = self.exec(guest, "busybox", "ping", "-q", "-c", str(count), "-W", str(max(1, round(wait))), ip,
                         check=False, timeout=wait * count + 5)
        return done.returncode == 0

    @contextlib.contextmanager
    def tcp_server(self, guest: Guest | str, port: int, *, udp: bool = False) -> Iterator[subprocess.Popen]:
        """A Python echo server listening on ``port`` (TCP, or UDP) in the namespace while the block runs."""
        ns = guest.ns if isinstance(guest, Guest) else guest
        proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", _SERVER, str(port),
                                 "udp" if udp else "tcp"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.processes.append(proc)
        line = proc.stdout.readline()  # "ready" once bound
        if line.strip() != "ready":
            proc.kill()
            raise RuntimeError(f"server in {ns} did not start: {proc.stderr.read()}")
        try:
            yield proc
        finally:
            proc.kill()
            proc.wait(timeout=5)

    def tcp_connects(self, guest: Guest | str, ip: str, port: int, *, timeout: float = 1.0,
                     source: str | None = None, sport: int = 0) -> bool:
        """Whether a TCP connection from the namespace to ip:port completes and echoes within ``timeout``
        (from address ``source`` and port ``sport`` when given)."""
        return self._client(guest, ip, port, "tcp", timeout, source, sport)

    def udp_answers(self, guest: Guest | str, ip: str, port: int, *, timeout: float = 1.0,
                    source: str | None = None, sport: int = 0) -> bool:
        """Whether a UDP datagram from the namespace to ip:port is echoed back within ``timeout``."""
        return self._client(guest, ip, port, "udp", timeout, source, sport)

    def _client(self, guest: Guest | str, ip: str, port: int, proto: str, timeout: float, source: str | None,
                sport: int = 0) -> bool:
        done = self.exec(guest, sys.executable, "-c", _CLIENT, ip, str(port), proto, str(timeout), source or "",
                         str(sport), check=False, timeout=timeout + 10)
        return done.returncode == 0 and done.stdout.strip() == "ok"


def wait_until(predicate, timeout: float = 3.0, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


_SERVER = r"""
import socket, sys, threading
port, proto = int(sys.argv[1]), sys.argv[2]
if proto == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    print("ready", flush=True)
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(data, peer)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
s.listen(16)
print("ready", flush=True)
def serve(c):
    with c:
        while True:
            data = c.recv(2048)
            if not data:
                return
            c.sendall(data)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""

_CLIENT = r"""
import socket, sys
ip, port, proto, timeout, source = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5]
sport = int(sys.argv[6])
kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, kind)
s.settimeout(timeout)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if source:
    s.setsockopt(socket.SOL_IP, 15, 1)  # IP_FREEBIND: send from an address the namespace may not have
if source or sport:
    s.bind((source or "0.0.0.0", sport))
try:
    if proto == "udp":
        s.sendto(b"ping", (ip, port))
        data, _ = s.recvfrom(2048)
    else:
        s.connect((ip, port))
        s.sendall(b"ping")
        data = s.recv(2048)
    print("ok" if data == b"ping" else "wrong")
except OSError as e:
    print("failed", e)
"""

__all__ = ["Guest", "NetLab", "run", "tag", "wait_until"]
