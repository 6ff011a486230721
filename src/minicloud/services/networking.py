"""NIC and address handling for mini PCs — the one place that decides how a guest is reached.

Each instance gets one NIC on its host:

- "bridge": a tap on its subnet's Linux bridge (``mcbr-<subnet number>``, built with the subnet's
  router, dnsmasq and rules by the network driver), with its static private address handed out by
  the subnet's DHCP. Chosen when ``[network] enforcement`` is not "off", ``[compute] network_mode =
  "auto"``, the host is this machine's ``qemu:///system`` (where this host's network driver builds
  the bridges) and the instance has a subnet and a private address;
- otherwise as before: an isolated libvirt network with DHCP ("network"), or QEMU user networking
  with the guest's SSH forwarded to a loopback port of the host ("user"). ``network_mode = "auto"``
  takes the isolated network on ``qemu:///system`` and remote hosts (where libvirt can run a bridge
  and dnsmasq) and user networking elsewhere (``qemu:///session``, ``test://``).
"""
from __future__ import annotations

import hashlib
import uuid
from urllib.parse import urlparse

import psycopg

from minicloud.config import Config
from minicloud.drivers.compute.base import NicSpec
from minicloud.drivers.network.base import bridge_name, tap_name
from minicloud.errors import ApiError


class NoFreePort(ApiError):
    status, code = 409, "no_free_port"


def mac_for(instance_id: uuid.UUID | str) -> str:
    """A stable locally administered MAC in QEMU's 52:54:00 range, derived from the instance id."""
    digest = hashlib.sha256(str(instance_id).encode()).digest()
    return "52:54:00:" + ":".join(f"{b:02x}" for b in digest[:3])


class Networking:
    def __init__(self, config: Config):
        self.config = config

    def mode_for(self, host: dict) -> str:
        mode = self.config.get("compute.network_mode")
        if mode in ("user", "network"):
            return mode
        uri = host["uri"]
        return "network" if uri.endswith("/system") or "+" in uri.split(":", 1)[0] else "user"

    def bridges_on(self, host: dict) -> bool:
        """Whether guests on ``host`` attach to their subnet's bridge (see the module docstring)."""
        if self.config.get("network.enforcement") == "off" or self.config.get("compute.network_mode") != "auto":
            return False
        uri = urlparse(host["uri"])
        return uri.scheme == "qemu" and not uri.netloc and uri.path == "/system"

    def plan_nic(self, conn: psycopg.Connection, instance: dict, host: dict) -> NicSpec:
        """Inside the placement transaction: the instance's NIC on ``host`` (its subnet's bridge, or a free
        SSH port in "user" mode)."""
        mac = mac_for(instance["id"])
        if instance.get("subnet_id") and instance.get("private_ip") and self.bridges_on(host):
            row = conn.execute("SELECT number FROM subnets WHERE id = %s", (instance["subnet_id"],)).fetchone()
            if row is not None:
                number = row["number"] if isinstance(row, dict) else row[0]
                return NicSpec(mode="bridge", bridge=bridge_name(number), target=tap_name(str(instance["id"])),
                               mac=mac, ip=str(instance["private_ip"]).split("/")[0])
        if self.mode_for(host) == "network":
            return NicSpec(mode="network", network=self.config.get("compute.isolated_network"), mac=mac)
        first = int(self.config.get("compute.ssh_port_range_start"))
        last = int(self.config.get("compute.ssh_port_range_end"))
        current = (instance.get("nic") or {}).get("ssh_port")
        used = {r["port"] for r in conn.execute(
            "SELECT (nic->>'ssh_port')::int AS port FROM instances"
            " WHERE host_id = %s AND state <> 'deleted' AND id <> %s AND nic ? 'ssh_port'",
            (host["id"], instance["id"])).fetchall()}
        if current and first <= current <= last and current not in used:
            return NicSpec(mode="user", mac=mac, ssh_port=current)
        for port in range(first, last + 1):
            if port not in used:
                return NicSpec(mode="user", mac=mac, ssh_port=port)
        raise NoFreePort("instance.no_free_port")

    @staticmethod
    def as_json(nic: NicSpec) -> dict:
        return {k: v for k, v in {"mode": nic.mode, "network": nic.network, "mac": nic.mac,
                                  "ssh_port": nic.ssh_port, "bridge": nic.bridge, "target": nic.target,
                                  "ip": nic.ip}.items() if v is not None}

    @staticmethod
    def from_json(nic: dict) -> NicSpec:
        return NicSpec(mode=nic["mode"], network=nic.get("network"), mac=nic.get("mac"), ssh_port=nic.get("ssh_port"),
                       bridge=nic.get("bridge"), target=nic.get("target"), ip=nic.get("ip"))

    def connection_info(self, instance: dict, default_user: str = "student") -> dict:
        """``{"addresses": [...], "ssh": "ssh -p 22001 student@127.0.0.1" | "ssh student@10.…" | None}``."""
        nic = instance.get("nic") or {}
        addresses = list(instance.get("addresses") or [])
        if nic.get("mode") == "bridge" and nic.get("ip") and nic["ip"] not in addresses:
            addresses.insert(0, nic["ip"])  # static: known before the guest asks for its lease
        if nic.get("mode") == "user" and nic.get("ssh_port"):
            return {"addresses": addresses or ["127.0.0.1"],
                    "ssh": f"ssh -p {nic['ssh_port']} {default_user}@127.0.0.1"}
        if addresses:
            return {"addresses": addresses, "ssh": f"ssh {default_user}@{addresses[0]}"}
        return {"addresses": [], "ssh": None}
