"""The compute driver contract (in the spirit of Nova's virt/driver.py).

A driver talks to one hypervisor host. Every method is idempotent: called again
after a crash or a retried job, it converges on the state its docstring
promises instead of failing because part of the work was already done. A host
that cannot be reached raises ``HostUnavailable``; anything the caller could fix
(a bad image, no room) raises ``ComputeError`` with a message for people.

Names: minicloud's domains and volumes all start with ``DOMAIN_PREFIX`` so that
the reconciler can tell ours from anything else on the host.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

DOMAIN_PREFIX = "mc-"


class ComputeError(Exception):
    """The operation failed for a reason a person can act on (the message says which)."""


class HostUnavailable(ComputeError):
    """The hypervisor host could not be reached (libvirtd down, URI wrong)."""


@dataclass(frozen=True)
class GpuDevice:
    """A PCI display/3D device on the host that can be passed through."""

    address: str  # "0000:01:00.0"
    name: str     # libvirt node-device name, e.g. "pci_0000_01_00_0"
    product: str = ""
    vendor: str = ""


@dataclass(frozen=True)
class HostInfo:
    """What a host offers: capacity, the domain type it runs guests with, its GPUs."""

    vcpus: int
    ram_mib: int
    free_ram_mib: int
    domain_type: str          # "kvm" when hardware virtualization really works, else "qemu" (TCG)
    gpus: tuple[GpuDevice, ...] = ()
    hostname: str = ""


@dataclass(frozen=True)
class ImageSpec:
    """A base disk (qcow2) and, for direct kernel boot, its kernel, initrd and command line."""

    name: str                 # stable identifier; the base volume is named f"{DOMAIN_PREFIX}base-{name}.qcow2"
    disk_path: str            # local file uploaded into the host's pool when the base volume is missing
    kernel_path: str | None = None
    initrd_path: str | None = None
    cmdline: str | None = None
    default_user: str = "student"


@dataclass(frozen=True)
class NicSpec:
    """One network interface. ``mode`` is "network" (a libvirt network, DHCP) or "user"
    (QEMU user networking with SSH forwarded from 127.0.0.1:ssh_port)."""

    mode: str
    network: str | None = None
    mac: str | None = None
    ssh_port: int | None = None


@dataclass(frozen=True)
class InstanceSpec:
    """Everything needed to build one guest."""

    domain_name: str          # f"{DOMAIN_PREFIX}{instance uuid}"
    instance_id: str          # cloud-init instance-id
    hostname: str
    vcpus: int
    ram_mib: int
    disk_gib: int
    image: ImageSpec
    nic: NicSpec
    ssh_keys: tuple[str, ...] = ()
    password_hash: str | None = None   # crypt(3) hash for the default user; never the password itself
    user_data: str | None = None       # the user's own cloud-config (merged) or script
    gpus: tuple[GpuDevice, ...] = ()


@dataclass
class Artefacts:
    """What the driver rendered and did, shown on the "underneath" panel."""

    domain_xml: str = ""
    meta_data: str = ""
    user_data: str = ""
    network_config: str = ""
    calls: list[str] = field(default_factory=list)


class ComputeDriver(Protocol):
    def host_info(self) -> HostInfo:
        """Capacity, domain type and GPUs of the host, read from the hypervisor now."""

    def create(self, spec: InstanceSpec) -> Artefacts:
        """Afterwards the base volume, the qcow2 overlay, the NoCloud seed volume and the domain
        exist and the domain is running. Parts already present are reused, not duplicated."""

    def start(self, domain_name: str) -> None:
        """Afterwards the domain is running (already running is fine)."""

    def stop(self, domain_name: str, timeout: float) -> None:
        """Afterwards the domain is shut off: ACPI shutdown first, forced off after ``timeout`` seconds."""

    def reboot(self, domain_name: str) -> None:
        """The guest was asked to reboot (ACPI); it stays defined and running."""

    def resize(self, domain_name: str, vcpus: int, ram_mib: int) -> str:
        """The stopped domain's definition has ``vcpus`` and ``ram_mib``; returns the new domain XML."""

    def delete(self, domain_name: str) -> None:
        """Afterwards neither the domain nor its overlay nor its seed volume exists (absent is fine)."""

    def state(self, domain_name: str) -> str | None:
        """"running", "shutoff", "paused", "crashed", ... or None when there is no such domain."""

    def list_domains(self) -> dict[str, str]:
        """Every domain of ours on the host (name -> state), in one listing."""

    def list_volumes(self) -> list[str]:
        """Every volume of ours in the host's pool."""

    def domain_xml(self, domain_name: str) -> str | None:
        """The domain's current definition, or None when it does not exist."""

    def console_log(self, domain_name: str, max_bytes: int = 65536) -> str:
        """The tail of the guest's serial console output ("" when there is none yet)."""

    def console_send(self, domain_name: str, text: str) -> None:
        """``text`` was typed on the guest's serial console (over the hypervisor's console stream);
        what the guest answers appears in ``console_log``."""

    def addresses(self, domain_name: str) -> list[str]:
        """The guest's IPv4 addresses as the hypervisor knows them (DHCP leases), possibly empty."""
