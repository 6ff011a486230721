"""The compute driver contract (in the manner of Nova's virt/driver.py).

A driver talks to one hypervisor host. Each method's docstring below says what holds
afterwards, what it raises and whether a repeat is safe; ``tests/contract/test_compute_contract.py``
holds every implementation (the libvirt driver on ``test:///default`` and on ``qemu:///system``,
and the stand-in under ``tests/``) to it.

Repeats: every method converges. Called again after a crash or a retried job, it ends in the
state its docstring promises instead of failing because part of the work was already done
(start of a running domain, stop of a stopped one, delete of a deleted one are no-ops).

Errors, all ``ComputeError`` (a message for people) so a caller may catch that one class:
- ``HostUnavailable``: the host cannot be reached (libvirtd down, URI wrong, connection broke).
  Nothing is known to have changed; a retry later is the remedy.
- ``DomainNotFound``: an operation on one domain found no such domain.
- ``WrongState``: the domain is not in a state that allows the operation (resize of a running
  one, typing on the console of a stopped or paused one). Nothing changed.
- ``ForeignDomain``: the name does not start with ``DOMAIN_PREFIX``. The driver never changes
  a domain that is not minicloud's: a change is refused before the host is reached, so a foreign
  name is ForeignDomain even when the host is unreachable. Reads treat such a name as absent (they
  still reach the host, so an unreachable one is HostUnavailable).
- plain ``ComputeError``: anything else a person can act on (a bad image, no room, a refusal).

Names: minicloud's domains and volumes all start with ``DOMAIN_PREFIX`` so that
the reconciler can tell ours from anything else on the host.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

DOMAIN_PREFIX = "mc-"
BASE_IMAGE_PREFIX = DOMAIN_PREFIX + "base-"  # the pool's shared base images, owned by no one domain


class ComputeError(Exception):
    """The operation failed for a reason a person can act on (the message says which)."""


class HostUnavailable(ComputeError):
    """The hypervisor host could not be reached (libvirtd down, URI wrong)."""


class DomainNotFound(ComputeError):
    """There is no domain of that name on the host."""


class WrongState(ComputeError):
    """The domain's state does not allow the operation (the message says which state is needed)."""


class ForeignDomain(ComputeError):
    """The name is not a minicloud domain's (no ``DOMAIN_PREFIX``): the driver leaves it alone."""


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


NIC_MODES = ("network", "user", "bridge")


@dataclass(frozen=True)
class NicSpec:
    """One network interface. ``mode`` is one of ``NIC_MODES``:

    - "network": on the libvirt network ``network`` (isolated, DHCP from libvirt's dnsmasq);
    - "user": QEMU user networking with SSH forwarded from 127.0.0.1:``ssh_port``;
    - "bridge": a tap named ``target`` (``drivers.network.base.tap_name``, at most 15 characters,
      never starting with libvirt's reserved "vnet") enslaved to the Linux bridge ``bridge`` (the
      subnet's ``mcbr-<n>``, made by the network driver, not by the compute driver); ``ip`` is
      the NIC's static private address, which the subnet's DHCP server hands to ``mac``.
    """

    mode: str
    network: str | None = None
    mac: str | None = None
    ssh_port: int | None = None
    bridge: str | None = None
    target: str | None = None
    ip: str | None = None


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
    """One hypervisor host. Every method may raise ``HostUnavailable`` except ``console_log``, which
    needs no connection (it reads the log file libvirt writes on a local host; "" for a remote one)."""

    def host_info(self) -> HostInfo:
        """Capacity, domain type and GPUs of the host, read from the hypervisor now.

        Afterwards: nothing changed. ``vcpus >= 1``, ``0 <= free_ram_mib <= ram_mib``,
        ``domain_type`` is "kvm" or "qemu". Raises HostUnavailable. Repeat: safe (reads only)."""

    def create(self, spec: InstanceSpec) -> Artefacts:
        """Afterwards the base volume, the qcow2 overlay, the NoCloud seed volume and the domain
        exist and the domain is running (``state`` says "running", ``list_domains`` and
        ``list_volumes`` show it and its ``-disk.qcow2`` / ``-seed.iso`` volumes).

        A "bridge" NIC's tap ``target`` is enslaved to ``bridge`` while the domain runs.

        Raises ForeignDomain (name without the prefix; nothing is touched), ComputeError (a
        missing image file, an image changed under the same name, no room, a "bridge" NIC whose
        bridge does not exist on the host: nothing is defined then), HostUnavailable.
        Repeat: safe. Parts already present are reused, not duplicated; a domain already defined
        is not redefined (its current definition stays) and is started when it is stopped."""

    def start(self, domain_name: str) -> None:
        """Afterwards the domain is running (a paused one is resumed).

        Raises ComputeError when a bridge its NIC attaches to is missing on the host, DomainNotFound, ForeignDomain, HostUnavailable. Repeat: safe (running is a no-op)."""

    def stop(self, domain_name: str, timeout: float) -> None:
        """Afterwards the domain is shut off: ACPI shutdown first, forced off after ``timeout`` seconds
        (``timeout`` 0: forced off at once). The definition and the volumes stay.

        Raises DomainNotFound, ForeignDomain, HostUnavailable. Repeat: safe (shut off is a no-op)."""

    def reboot(self, domain_name: str) -> None:
        """Afterwards the domain is running: a running guest was asked to reboot (ACPI) and stays
        defined and running; a shut-off one is started (reboot converges on "running").

        Raises DomainNotFound, ForeignDomain, HostUnavailable. Repeat: safe (each call asks the
        guest for one more reboot; the state stays "running")."""

    def resize(self, domain_name: str, vcpus: int, ram_mib: int) -> str:
        """Afterwards the shut-off domain's definition has ``vcpus`` vCPUs and ``ram_mib`` MiB
        (``<memory>`` and ``<currentMemory>``, in KiB); it stays shut off. Returns the new domain
        XML (``<vcpu>`` = vcpus, ``<memory unit='KiB'>`` = ram_mib * 1024).

        Raises WrongState when the domain is not shut off (running or paused: stop it first;
        nothing changed), DomainNotFound, ForeignDomain, HostUnavailable. Repeat: safe (same size)."""

    def delete(self, domain_name: str) -> None:
        """Afterwards neither the domain (forced off first when running) nor its overlay nor its seed
        volume nor its console log exists; the shared base volume stays.

        Raises ForeignDomain for a name without the prefix (the domain is left alone),
        HostUnavailable. Repeat: safe (absent is fine: a name that does not exist is a no-op)."""

    def state(self, domain_name: str) -> str | None:
        """"running", "shutoff", "paused", "crashed", ... or None when there is no such domain of ours
        (a foreign name is None too). Raises HostUnavailable. Repeat: safe (reads only)."""

    def list_domains(self) -> dict[str, str]:
        """Every domain of ours on the host (name -> state, as ``state`` says), in one listing;
        foreign domains are left out. Raises HostUnavailable. Repeat: safe (reads only)."""

    def list_volumes(self) -> list[str]:
        """Every volume of ours in the host's pool, sorted: ``<domain>-disk.qcow2`` and
        ``<domain>-seed.iso`` per domain, and the shared ``mc-base-*`` images.
        Raises HostUnavailable. Repeat: safe (reads only)."""

    def domain_xml(self, domain_name: str) -> str | None:
        """The domain's current definition (``<name>`` is the domain's, ``<vcpu>`` and ``<memory>``
        its size), or None when there is no such domain of ours.
        Raises HostUnavailable. Repeat: safe (reads only)."""

    def console_log(self, domain_name: str, max_bytes: int = 65536) -> str:
        """The tail (at most ``max_bytes``) of the guest's serial console output; "" when there is
        none (not booted yet, deleted, never existed, a foreign name, or a remote host).

        Never raises HostUnavailable: the log is read without the hypervisor, so an unreachable local
        host's guests still show what they printed. Raises ComputeError when the log cannot be read.
        Repeat: safe (reads only)."""

    def console_read(self, domain_name: str, offset: int | None = None,
                     max_bytes: int = 65536) -> tuple[bytes, int]:
        """What the guest printed on its serial console from byte ``offset`` of its log on (None: the
        last ``max_bytes``), at most ``max_bytes`` of it, raw (terminal control sequences kept), with the
        offset to read from next. A log that is shorter than ``offset`` was started afresh (the domain was
        re-created): it is read from its beginning. (b"", offset) when there is nothing new, or no log
        (as for ``console_log``).

        Never raises HostUnavailable (the log is read without the hypervisor). Raises ComputeError when
        the log cannot be read. Repeat: safe (reads only)."""

    def console_send(self, domain_name: str, text: str) -> None:
        """``text`` was typed on the guest's serial console (over the hypervisor's console stream);
        what the guest answers appears in ``console_log``.

        Raises ForeignDomain (first, without reaching the host), HostUnavailable, DomainNotFound,
        WrongState unless ``state`` says "running" (shut off, or paused, whose guest would read nothing
        until resumed: ``start`` resumes it), ComputeError (the console cannot be opened).
        Repeat: types the text again."""

    def addresses(self, domain_name: str) -> list[str]:
        """The running guest's IPv4 addresses as the hypervisor knows them (DHCP leases), possibly
        empty; [] for a shut-off or absent domain (or a foreign name).
        Raises HostUnavailable. Repeat: safe (reads only)."""
