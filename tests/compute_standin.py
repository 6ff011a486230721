"""A stand-in compute driver for the integration tests (never used by product code).

It keeps domains in memory per host URI and records every call, so a test can
see what the jobs asked of "libvirt". Hosts are described by ``StandinCloud.hosts``
(uri -> HostInfo); failures are injected per method with ``fail_next``.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from minicloud.drivers.compute.base import (
    DOMAIN_PREFIX,
    Artefacts,
    ComputeError,
    DomainNotFound,
    ForeignDomain,
    GpuDevice,
    HostInfo,
    HostUnavailable,
    InstanceSpec,
    WrongState,
)


def gpu(n: int) -> GpuDevice:
    return GpuDevice(address=f"0000:0{n}:00.0", name=f"pci_0000_0{n}_00_0", product="Test GPU", vendor="NVIDIA")


@dataclass
class StandinCloud:
    """Every stand-in host at once: their infos, domains, calls and injected failures."""

    hosts: dict[str, HostInfo] = field(default_factory=dict)
    domains: dict[str, dict[str, dict]] = field(default_factory=dict)   # uri -> name -> {state, spec}
    calls: list[tuple[str, str, str]] = field(default_factory=list)      # (uri, method, domain)
    failures: dict[str, list[Exception]] = field(default_factory=dict)  # method -> exceptions to raise next
    leases: dict[str, list[str]] = field(default_factory=dict)          # domain -> DHCP addresses
    typed: dict[str, list[str]] = field(default_factory=dict)           # domain -> console input
    bridges: set[str] = field(default_factory=set)                      # Linux bridges on the hosts
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_host(self, uri: str, vcpus: int = 8, ram_mib: int = 16384, gpus: int = 0, domain_type: str = "qemu"):
        self.hosts[uri] = HostInfo(vcpus=vcpus, ram_mib=ram_mib, free_ram_mib=ram_mib, domain_type=domain_type,
                                   gpus=tuple(gpu(n) for n in range(1, gpus + 1)), hostname=uri)

    def fail_next(self, method: str, *errors) -> None:
        """The next calls of ``method`` raise these exceptions (or call these functions) in turn."""
        self.failures.setdefault(method, []).extend(errors)

    def factory(self, uri: str) -> "StandinDriver":
        return StandinDriver(self, uri)

    def calls_of(self, method: str) -> list[tuple[str, str, str]]:
        return [c for c in self.calls if c[1] == method]


class StandinDriver:
    """The compute contract (drivers/compute/base.py) in memory; tests/contract/ holds it to the same
    clauses as the libvirt driver."""

    def __init__(self, cloud: StandinCloud, uri: str):
        self.cloud, self.uri = cloud, uri

    def _record(self, method: str, domain: str = "", *, ours: bool = False) -> None:
        """Note the call (the lock held); for a change (``ours``) refuse a name that is not minicloud's
        before anything else, as the real driver does without reaching the host; then an injected failure."""
        self.cloud.calls.append((self.uri, method, domain))
        if ours and not domain.startswith(DOMAIN_PREFIX):
            raise ForeignDomain(f"Refusing to {method} {domain!r}: not a minicloud domain.")
        pending = self.cloud.failures.get(method)
        if pending:
            failure = pending.pop(0)
            if not isinstance(failure, Exception):
                failure()  # a hook: do something meanwhile (and perhaps raise)
            else:
                raise failure

    def _enter(self, method: str, domain: str = "", *, ours: bool = False) -> dict:
        """The host's domains after ``_record``; HostUnavailable when the host is not up."""
        with self.cloud.lock:
            self._record(method, domain, ours=ours)
            if self.uri not in self.cloud.hosts:
                raise HostUnavailable(f"cannot connect to {self.uri}")
            return self.cloud.domains.setdefault(self.uri, {})

    def _ours(self, method: str, name: str) -> dict:
        """The host's domains, after refusing a name that is not minicloud's (ForeignDomain comes first)."""
        return self._enter(method, name, ours=True)

    def _domain(self, method: str, name: str) -> dict:
        domains = self._ours(method, name)
        if name not in domains:
            raise DomainNotFound(f"domain {name} does not exist")
        return domains[name]

    def _read(self, method: str, name: str) -> dict | None:
        """Our domain ``name`` for a read, None when absent or foreign."""
        domains = self._enter(method, name)
        return domains.get(name) if name.startswith(DOMAIN_PREFIX) else None

    def host_info(self) -> HostInfo:
        self._enter("host_info")
        return self.cloud.hosts[self.uri]

    def create(self, spec: InstanceSpec) -> Artefacts:
        domains = self._ours("create", spec.domain_name)
        if spec.nic.mode == "bridge" and spec.nic.bridge not in self.cloud.bridges:  # as libvirt.py: nothing defined
            raise ComputeError(f"The bridge {spec.nic.bridge} does not exist on this host.")
        domain = domains.get(spec.domain_name)
        if domain is None:  # an existing definition is reused, as libvirt's is
            domain = domains[spec.domain_name] = {"spec": spec, "vcpus": spec.vcpus, "ram_mib": spec.ram_mib,
                                                  "gpus": spec.gpus}
        domain["state"] = "running"
        user_data = "#cloud-config\nusers:\n  - name: " + spec.image.default_user + "\n"
        if spec.password_hash:
            user_data += f"    passwd: {spec.password_hash}\n"
        return Artefacts(domain_xml=_xml(spec.domain_name, domain), user_data=user_data,
                         meta_data=f"instance-id: {spec.instance_id}\nlocal-hostname: {spec.hostname}\n",
                         calls=[f"defineXML({spec.domain_name})", "create()"])

    def start(self, domain_name: str) -> None:
        self._domain("start", domain_name)["state"] = "running"

    def stop(self, domain_name: str, timeout: float) -> None:
        self._domain("stop", domain_name)["state"] = "shutoff"

    def reboot(self, domain_name: str) -> None:
        self._domain("reboot", domain_name)["state"] = "running"  # a shut-off domain is started

    def resize(self, domain_name: str, vcpus: int, ram_mib: int) -> str:
        domain = self._domain("resize", domain_name)
        if domain["state"] != "shutoff":
            raise WrongState(f"Stop the mini PC {domain_name} before resizing it.")
        domain.update(vcpus=vcpus, ram_mib=ram_mib)
        return _xml(domain_name, domain)

    def delete(self, domain_name: str) -> None:
        self._ours("delete", domain_name).pop(domain_name, None)
        self.cloud.typed.pop(domain_name, None)

    def state(self, domain_name: str) -> str | None:
        domain = self._read("state", domain_name)
        return domain["state"] if domain else None

    def list_domains(self) -> dict[str, str]:
        return {name: d["state"] for name, d in self._enter("list_domains").items() if name.startswith(DOMAIN_PREFIX)}

    def list_volumes(self) -> list[str]:
        """As the real driver names them: an overlay and a seed per domain."""
        return sorted(f"{name}{suffix}" for name in self._enter("list_volumes") if name.startswith(DOMAIN_PREFIX)
                      for suffix in ("-disk.qcow2", "-seed.iso"))

    def domain_xml(self, domain_name: str) -> str | None:
        domain = self._read("domain_xml", domain_name)
        return _xml(domain_name, domain) if domain else None

    def console_log(self, domain_name: str, max_bytes: int = 65536) -> str:
        """Read without the hypervisor, as the real driver reads libvirt's log file: the domains of a
        host that does not answer still have their log."""
        with self.cloud.lock:
            self._record("console_log", domain_name)
            domain = self.cloud.domains.get(self.uri, {}).get(domain_name)
        if domain is None or not domain_name.startswith(DOMAIN_PREFIX):
            return ""
        typed = "".join(self.cloud.typed.get(domain_name, []))
        return (f"{domain_name} login: " + typed)[-max_bytes:]

    def console_read(self, domain_name: str, offset: int | None = None,
                     max_bytes: int = 65536) -> tuple[bytes, int]:
        """The same text as ``console_log``, as the bytes of a log file read from ``offset``."""
        with self.cloud.lock:
            self._record("console_read", domain_name)
            domain = self.cloud.domains.get(self.uri, {}).get(domain_name)
        if domain is None or not domain_name.startswith(DOMAIN_PREFIX):
            return b"", offset or 0
        log = (f"{domain_name} login: " + "".join(self.cloud.typed.get(domain_name, []))).encode()
        start = max(0, len(log) - max_bytes) if offset is None else (0 if offset > len(log) else offset)
        data = log[start:start + max_bytes]
        return data, start + len(data)

    def console_send(self, domain_name: str, text: str) -> None:
        if self._domain("console_send", domain_name)["state"] != "running":
            raise WrongState(f"The mini PC {domain_name} is not running: start it to use its console.")
        self.cloud.typed.setdefault(domain_name, []).append(text)

    def addresses(self, domain_name: str) -> list[str]:
        domain = self._read("addresses", domain_name)
        if not domain or domain["state"] != "running":
            return []
        return list(self.cloud.leases.get(domain_name, []))


def _xml(name: str, domain: dict) -> str:
    """A domain definition shaped like libvirt's (memory in KiB)."""
    return (f"<domain type='qemu'><name>{name}</name><vcpu>{domain.get('vcpus', 1)}</vcpu>"
            f"<memory unit='KiB'>{domain.get('ram_mib', 0) * 1024}</memory>"
            f"<currentMemory unit='KiB'>{domain.get('ram_mib', 0) * 1024}</currentMemory>"
            + "".join(f"<hostdev address='{g.address}'/>" for g in domain.get("gpus", ())) + "</domain>")
