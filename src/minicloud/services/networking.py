"""NIC and address handling for mini PCs — the one place that decides how a guest is reached.

Each instance gets one NIC on its host: an isolated libvirt network with DHCP
("network"), or QEMU user networking with the guest's SSH forwarded to a
loopback port of the host ("user"). ``[compute] network_mode = "auto"`` takes
the isolated network on ``qemu:///system`` and remote hosts (where libvirt can
run a bridge and dnsmasq) and user networking elsewhere (``qemu:///session``,
``test://``). VPCs and subnets plug in here later.
"""
from __future__ import annotations

import hashlib
import uuid

import psycopg

from minicloud.config import Config
from minicloud.drivers.compute.base import NicSpec
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

    def plan_nic(self, conn: psycopg.Connection, instance: dict, host: dict) -> NicSpec:
        """Inside the placement transaction: the instance's NIC on ``host`` (a free SSH port in "user" mode)."""
        mac = mac_for(instance["id"])
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
                                  "ssh_port": nic.ssh_port}.items() if v is not None}

    @staticmethod
    def from_json(nic: dict) -> NicSpec:
        return NicSpec(mode=nic["mode"], network=nic.get("network"), mac=nic.get("mac"), ssh_port=nic.get("ssh_port"))

    def connection_info(self, instance: dict, default_user: str = "student") -> dict:
        """``{"addresses": [...], "ssh": "ssh -p 22001 student@127.0.0.1" | "ssh student@10.…" | None}``."""
        nic = instance.get("nic") or {}
        addresses = list(instance.get("addresses") or [])
        if nic.get("mode") == "user" and nic.get("ssh_port"):
            return {"addresses": addresses or ["127.0.0.1"],
                    "ssh": f"ssh -p {nic['ssh_port']} {default_user}@127.0.0.1"}
        if addresses:
            return {"addresses": addresses, "ssh": f"ssh {default_user}@{addresses[0]}"}
        return {"addresses": [], "ssh": None}
