"""A stand-in compute driver for the integration tests (never used by product code).

It keeps domains in memory per host URI and records every call, so a test can
see what the jobs asked of "libvirt". Hosts are described by ``StandinCloud.hosts``
(uri -> HostInfo); failures are injected per method with ``fail_next``.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from minicloud.drivers.compute.base import Artefacts, ComputeError, GpuDevice, HostInfo, HostUnavailable, InstanceSpec


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
    def __init__(self, cloud: StandinCloud, uri: str):
        self.cloud, self.uri = cloud, uri

    def _enter(self, method: str, domain: str = "") -> dict:
        with self.cloud.lock:
            self.cloud.calls.append((self.uri, method, domain))
            pending = self.cloud.failures.get(method)
            if pending:
                failure = pending.pop(0)
                if not isinstance(failure, Exception):
                    failure()  # a hook: do something meanwhile (and perhaps raise)
                else:
                    raise failure
            if self.uri not in self.cloud.hosts:
                raise HostUnavailable(f"cannot connect to {self.uri}")
            return self.cloud.domains.setdefault(self.uri, {})

    def host_info(self) -> HostInfo:
        self._enter("host_info")
        return self.cloud.hosts[self.uri]

    def create(self, spec: InstanceSpec) -> Artefacts:
        domains = self._enter("create", spec.domain_name)
        domains[spec.domain_name] = {"state": "running", "spec": spec, "vcpus": spec.vcpus, "ram_mib": spec.ram_mib}
        xml = (f"<domain type='qemu'><name>{spec.domain_name}</name><vcpu>{spec.vcpus}</vcpu>"
               f"<memory unit='MiB'>{spec.ram_mib}</memory>"
               + "".join(f"<hostdev address='{g.address}'/>" for g in spec.gpus) + "</domain>")
        user_data = "#cloud-config\nusers:\n  - name: " + spec.image.default_user + "\n"
        if spec.password_hash:
            user_data += f"    passwd: {spec.password_hash}\n"
        return Artefacts(domain_xml=xml, meta_data=f"instance-id: {spec.instance_id}\nlocal-hostname: {spec.hostname}\n",
                         user_data=user_data, calls=[f"defineXML({spec.domain_name})", "create()"])

    def _domain(self, method: str, name: str) -> dict:
        domains = self._enter(method, name)
        if name not in domains:
            raise ComputeError(f"domain {name} does not exist")
        return domains[name]

    def start(self, domain_name: str) -> None:
        self._domain("start", domain_name)["state"] = "running"

    def stop(self, domain_name: str, timeout: float) -> None:
        self._domain("stop", domain_name)["state"] = "shutoff"

    def reboot(self, domain_name: str) -> None:
        self._domain("reboot", domain_name)

    def resize(self, domain_name: str, vcpus: int, ram_mib: int) -> str:
        domain = self._domain("resize", domain_name)
        domain.update(vcpus=vcpus, ram_mib=ram_mib)
        return f"<domain><name>{domain_name}</name><vcpu>{vcpus}</vcpu><memory unit='MiB'>{ram_mib}</memory></domain>"

    def delete(self, domain_name: str) -> None:
        self._enter("delete", domain_name).pop(domain_name, None)

    def state(self, domain_name: str) -> str | None:
        domain = self._enter("state", domain_name).get(domain_name)
        return domain["state"] if domain else None

    def list_domains(self) -> dict[str, str]:
        return {name: d["state"] for name, d in self._enter("list_domains").items()}

    def list_volumes(self) -> list[str]:
        return [f"{name}-disk.qcow2" for name in self._enter("list_volumes")]  # as the real driver names overlays

    def domain_xml(self, domain_name: str) -> str | None:
        return None

    def console_log(self, domain_name: str, max_bytes: int = 65536) -> str:
        self._enter("console_log", domain_name)
        typed = "".join(self.cloud.typed.get(domain_name, []))
        return (f"{domain_name} login: " + typed)[-max_bytes:]

    def console_send(self, domain_name: str, text: str) -> None:
        self._domain("console_send", domain_name)
        self.cloud.typed.setdefault(domain_name, []).append(text)

    def addresses(self, domain_name: str) -> list[str]:
        self._enter("addresses", domain_name)
        return list(self.cloud.leases.get(domain_name, []))
