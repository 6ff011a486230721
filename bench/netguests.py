"""Network namespaces standing in for guests, for bench/network.py: plain ``ip`` commands, unique names,
everything removed by ``close()``; and the small traffic programs run inside them (iperf3 or a Python
sender/receiver for throughput, a Python TCP ping-pong for latency, a connect loop for rule changes).

Nothing here gets a route outside the namespaces it makes; processes are stopped by their PID.
"""
from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

TIMEOUT = 30.0


def run(*args: str, check: bool = True, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return done


@dataclass(frozen=True)
class Guest:
    ns: str
    port: str      # the host end of its veth (on a bridge): plays the guest's tap
    mac: str
    ip: str


class Lab:
    """Namespaces, veths and processes of one run (names ``mcb<kind><tag><n>``), removed by ``close()``."""

    def __init__(self) -> None:
        self.tag = secrets.token_hex(3)[:5]
        self._count = 0
        self.namespaces: list[str] = []
        self.links: list[str] = []
        self.processes: list[subprocess.Popen] = []

    def name(self, kind: str) -> str:
        self._count += 1
        return f"mcb{kind}{self.tag}{self._count}"  # at most 15 characters

    def namespace(self) -> str:
        ns = self.name("n")
        run("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        run("ip", "-n", ns, "link", "set", "lo", "up")
        return ns

    def switch(self) -> tuple[str, str]:
        """A namespace of its own holding a bare bridge ``br0`` (no rules can see it: nftables tables are per
        namespace, and so is bridge-nf-call-iptables): (namespace, bridge)."""
        ns = self.namespace()
        run("ip", "-n", ns, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", ns, "link", "set", "br0", "up")
        return ns, "br0"

    def guest(self, address: str, bridge: str, *, mac: str | None = None, switch_ns: str | None = None) -> Guest:
        """A namespace with ``eth0`` (``address`` "ip/len") whose veth peer is on ``bridge`` (on the host, or in
        ``switch_ns``)."""
        mac = mac or "52:54:00:%02x:%02x:%02x" % tuple(secrets.token_bytes(3))
        ns = self.namespace()
        port = self.name("p")
        run("ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
        self.links.append(port)
        if switch_ns:
            run("ip", "link", "set", port, "netns", switch_ns)
            self.links.remove(port)  # goes with the switch namespace
        where = ["-n", switch_ns] if switch_ns else []
        run("ip", *where, "link", "set", port, "master", bridge, "up")
        run("ip", "-n", ns, "link", "set", "eth0", "address", mac)
        run("ip", "-n", ns, "addr", "add", address, "dev", "eth0")
        run("ip", "-n", ns, "link", "set", "eth0", "up")
        return Guest(ns=ns, port=port, mac=mac, ip=address.split("/")[0])

    def start(self, ns: str, *argv: str) -> subprocess.Popen:
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True)
        self.processes.append(proc)
        return proc

    def exec(self, ns: str, *argv: str, timeout: float = TIMEOUT) -> str:
        return run("ip", "netns", "exec", ns, *argv, timeout=timeout).stdout

    def close(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        for ns in reversed(self.namespaces):
            run("ip", "netns", "del", ns, check=False)
        for link in self.links:
            if Path(f"/sys/class/net/{link}").exists():
                run("ip", "link", "del", link, check=False)
        self.processes, self.namespaces, self.links = [], [], []


# ---- traffic ---------------------------------------------------------------------------------------

IPERF = shutil.which("iperf3")
THROUGHPUT_PORT = 5201
PINGPONG_PORT = 7000
PIN = ("taskset", "-c", "0") if shutil.which("taskset") else ()  # ping-pong client and server on one CPU


class Traffic:
    """Servers in ``server``'s namespace (throughput and ping-pong), measured from ``client``'s."""

    def __init__(self, lab: Lab, client: Guest, server: Guest):
        self.lab, self.client, self.server = lab, client, server
        if IPERF:
            lab.start(server.ns, IPERF, "-s", "-B", server.ip, "-p", str(THROUGHPUT_PORT), "--idle-timeout", "10")
        else:
            lab.start(server.ns, sys.executable, "-c", _SINK, server.ip, str(THROUGHPUT_PORT))
        echo = lab.start(server.ns, *PIN, sys.executable, "-c", _ECHO, server.ip, str(PINGPONG_PORT))
        if echo.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the echo server in {server.ns} did not start: {echo.stderr.read()}")

    def throughput(self, seconds: float) -> float:
        """Gbit/s from client to server over one TCP connection for ``seconds``."""
        if IPERF:
            said = ""
            for attempt in range(10):  # the server may still be starting, or stuck on a lost test: again
                try:
                    done = run("ip", "netns", "exec", self.client.ns, IPERF, "-c", self.server.ip, "-p",
                               str(THROUGHPUT_PORT), "-t", str(seconds), "-J", "--connect-timeout", "3000",
                               check=False, timeout=seconds + 15)
                except subprocess.TimeoutExpired:
                    said = "timed out"
                    continue
                try:
                    said = json.loads(done.stdout)
                    return said["end"]["sum_received"]["bits_per_second"] / 1e9
                except (ValueError, KeyError):
                    said = said.get("error") if isinstance(said, dict) else done.stdout[-300:] + done.stderr[-300:]
                time.sleep(0.3)
            raise RuntimeError(f"iperf3 from {self.client.ns} to {self.server.ip} failed: {said}")
        out = self.lab.exec(self.client.ns, sys.executable, "-c", _SENDER, self.server.ip, str(THROUGHPUT_PORT),
                            str(seconds), timeout=seconds + 30)
        return float(out.strip())

    def latency(self, count: int) -> tuple[float, float]:
        """(p50, p99) in microseconds of ``count`` 64-byte request/response round trips on one connection."""
        out = self.lab.exec(self.client.ns, *PIN, sys.executable, "-c", _PINGPONG, self.server.ip, str(PINGPONG_PORT),
                            str(count), timeout=60 + count / 100)
        p50, p99 = json.loads(out)
        return p50, p99

    def connects(self, count: int) -> float:
        """p50 in microseconds of ``count`` new connections (connect, one 64-byte round trip, close): the packets
        that walk the security-group rules, where an established flow is accepted by its first rule."""
        out = self.lab.exec(self.client.ns, *PIN, sys.executable, "-c", _CONNECTS, self.server.ip,
                            str(PINGPONG_PORT), str(count), timeout=60 + count / 20)
        return float(out)

    def connect_loop(self, port: int) -> subprocess.Popen:
        """A client trying to connect to the server's ``port`` every few ms; prints time.monotonic() of the first
        success and exits (CLOCK_MONOTONIC is the same in every namespace)."""
        proc = self.lab.start(self.client.ns, sys.executable, "-c", _CONNECT_LOOP, self.server.ip, str(port))
        if proc.stdout.readline().strip() != "trying":
            raise RuntimeError(f"the connect loop in {self.client.ns} did not start: {proc.stderr.read()}")
        return proc

    def listener(self, port: int) -> None:
        proc = self.lab.start(self.server.ns, sys.executable, "-c", _ECHO, self.server.ip, str(port))
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the server on {port} did not start: {proc.stderr.read()}")


_ECHO = r"""
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(64)
print("ready", flush=True)
def serve(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with c:
        while data := c.recv(65536):
            c.sendall(data)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""

_PINGPONG = r"""
import json, socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
count, message, samples = int(sys.argv[3]), b"x" * 64, []
for i in range(count + count // 10):          # the first tenth warms up and is not kept
    started = time.perf_counter()
    c.sendall(message)
    got = 0
    while got < len(message):
        got += len(c.recv(4096))
    if i >= count // 10:
        samples.append((time.perf_counter() - started) * 1e6)
samples.sort()
print(json.dumps([samples[len(samples) // 2], samples[min(len(samples) - 1, int(len(samples) * 0.99))]]))
"""

_CONNECTS = r"""
import socket, sys, time
samples = []
for i in range(int(sys.argv[3])):
    started = time.perf_counter()
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as c:
        c.sendall(b"x" * 64)
        got = 0
        while got < 64:
            got += len(c.recv(4096))
    samples.append((time.perf_counter() - started) * 1e6)
samples.sort()
print(samples[len(samples) // 2])
"""

_SINK = r"""
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16)
def drain(c):
    with c:
        while c.recv_into(buf := bytearray(1 << 20)):
            pass
while True:
    c, _ = s.accept()
    threading.Thread(target=drain, args=(c,), daemon=True).start()
"""

_SENDER = r"""
import socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
block, sent, seconds = b"\0" * (1 << 20), 0, float(sys.argv[3])
started = time.monotonic()
while time.monotonic() - started < seconds:
    c.sendall(block); sent += len(block)
elapsed = time.monotonic() - started
c.close()
print(sent * 8 / elapsed / 1e9)
"""

_CONNECT_LOOP = r"""
import socket, sys, time
print("trying", flush=True)
while True:
    s = socket.socket(); s.settimeout(0.02)
    try:
        s.connect((sys.argv[1], int(sys.argv[2])))
        print(time.monotonic(), flush=True)
        break
    except OSError:
        time.sleep(0.005)
    finally:
        s.close()
"""
