"""The compute driver contract (drivers/compute/base.py), held against every implementation.

The same clauses run against the libvirt driver on libvirt's own test hypervisor (``test:///default``:
fast, no guests), against the libvirt driver on ``qemu:///system`` booting the tiny image (marked
``system``; one guest, all clauses of a lifecycle on it) and against the stand-in the integration
tests use (tests/compute_standin.py), so the stand-in cannot disagree with the driver.

Which implementation exercises which part, and why not the others, is the ``IMPLEMENTATIONS`` list
below: a part an implementation cannot exercise names the reason and where it is covered instead.
"""
from __future__ import annotations

import dataclasses
import os

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import libvirt
import pytest

from compute_standin import StandinCloud
from conftest import free_port
from libvirt_fixtures import remove_pool
from minicloud.drivers.compute.base import (
    DOMAIN_PREFIX,
    ComputeDriver,
    ComputeError,
    DomainNotFound,
    ForeignDomain,
    HostUnavailable,
    ImageSpec,
    InstanceSpec,
    NicSpec,
    WrongState,
)
from minicloud.drivers.compute.libvirt import LibvirtDriver
from waiting import wait_for

BOOT_TIMEOUT = 120  # a tiny guest boots in ~5 s, far slower on a loaded 2-CPU machine


@dataclass(frozen=True)
class Implementation:
    """One implementation of the contract and the parts it does not exercise (part -> reason)."""

    name: str
    gaps: dict[str, str] = field(default_factory=dict)
    marks: tuple = ()


PER_METHOD_ON_TEST_DRIVER = ("libvirt-test runs the same driver code against libvirt's test hypervisor in "
                             "milliseconds; on qemu:///system each clause would boot a guest under TCG")
IMPLEMENTATIONS = [
    Implementation("standin"),
    Implementation("libvirt-test", gaps={
        "create": "test:///default has no virStorageVolUpload, so no image reaches its pool; "
                  "covered by libvirt-qemu (and domains are placed with defineXML here)",
        "console_send": "test:///default has no virDomainOpenConsole; covered by libvirt-qemu",
    }),
    Implementation("libvirt-qemu", marks=(pytest.mark.system,), gaps={
        part: PER_METHOD_ON_TEST_DRIVER
        for part in ("host_info", "start", "stop", "reboot", "resize", "delete", "reads", "foreign", "missing",
                     "console_state", "console_read")
    }),
]
PARTS = ("host_info", "create", "start", "stop", "reboot", "resize", "delete", "reads", "foreign", "missing",
         "unreachable", "console_state", "console_send", "lifecycle", "console_read")


def covering(part: str) -> list:
    """The implementations that exercise ``part`` (see IMPLEMENTATIONS for the others' reasons)."""
    assert part in PARTS
    return [pytest.param(impl.name, marks=impl.marks, id=impl.name)
            for impl in IMPLEMENTATIONS if part not in impl.gaps]


# ---- the hosts ---------------------------------------------------------------------------------

class Host:
    """A driver plus what a test needs to arrange and inspect around it."""

    name: str     # the Implementation's
    driver: ComputeDriver
    foreign: str  # a running domain on the host that is not minicloud's

    def __init__(self) -> None:
        self.placed: list[str] = []

    def spec(self, name: str) -> InstanceSpec:
        """A spec for ``name`` (its image files exist only where a guest really boots)."""
        return _spec(name, ImageSpec(name="tiny", disk_path="/nonexistent/tiny.qcow2"))

    def place(self, state: str = "running") -> str:
        """A domain of ours in ``state`` ("running", "shutoff" or "paused"); its name."""
        name = f"{DOMAIN_PREFIX}{uuid.uuid4()}"
        self.placed.append(name)
        self._define_and_start(name)
        if state == "shutoff":
            self.driver.stop(name, timeout=0)
        elif state == "paused":
            self.pause(name)
        assert self.driver.state(name) == state
        return name

    def _define_and_start(self, name: str) -> None:
        self.driver.create(self.spec(name))

    @property
    def gaps(self) -> dict[str, str]:
        return next(impl.gaps for impl in IMPLEMENTATIONS if impl.name == self.name)

    def booted(self, name: str, boots: int) -> None:
        """Wait until the guest finished its ``boots``-th boot (only a real guest takes time)."""

    def pause(self, name: str) -> None:
        """Pause the running domain ``name`` behind the driver's back (the contract has no pause)."""
        raise NotImplementedError

    def print_on_console(self, name: str, text: str) -> None:
        """The guest ``name`` printed ``text`` on its serial console (where no real guest runs, as if)."""
        raise NotImplementedError

    def foreign_state(self) -> str:
        raise NotImplementedError

    def unreachable(self) -> ComputeDriver:
        """A driver for this same host when its hypervisor does not answer (libvirtd down)."""
        raise NotImplementedError

    def close(self) -> None:
        for name in self.placed:
            self.driver.delete(name)


def _spec(name: str, image: ImageSpec) -> InstanceSpec:
    return InstanceSpec(domain_name=name, instance_id=name[len(DOMAIN_PREFIX):], hostname=f"c-{name[3:11]}",
                        vcpus=1, ram_mib=256, disk_gib=1, image=image,
                        nic=NicSpec(mode="user", ssh_port=free_port()))


class StandinHost(Host):
    name = "standin"

    def __init__(self) -> None:
        super().__init__()
        self.cloud = StandinCloud()
        self.cloud.add_host("test:///contract")
        self.driver = self.cloud.factory("test:///contract")
        self.foreign = "someone-elses-vm"
        self.cloud.domains["test:///contract"] = {self.foreign: {"state": "running"}}

    def pause(self, name: str) -> None:
        self.cloud.domains["test:///contract"][name]["state"] = "paused"

    def print_on_console(self, name: str, text: str) -> None:
        self.cloud.typed.setdefault(name, []).append(text)  # the stand-in's console echoes what is typed

    def foreign_state(self) -> str:
        return self.cloud.domains["test:///contract"][self.foreign]["state"]

    def unreachable(self) -> ComputeDriver:
        self.cloud.domains["test:///nowhere"] = self.cloud.domains["test:///contract"]  # the same machine's
        return self.cloud.factory("test:///nowhere")


class LibvirtHost(Host):
    def __init__(self, uri: str, base: Path) -> None:
        super().__init__()
        tag = uuid.uuid4().hex[:8]
        self.driver = LibvirtDriver(uri, pool_name=f"minicloud-contract-{tag}", pool_path=str(base / "pool"),
                                    log_dir=str(base / "console"))
        self.conn = libvirt.open(uri)

    def pause(self, name: str) -> None:
        self.conn.lookupByName(name).suspend()

    def print_on_console(self, name: str, text: str) -> None:
        """What libvirt does with a guest's serial output: append it to ``<log_dir>/<domain>.log``."""
        os.makedirs(self.driver.log_dir, exist_ok=True)
        with open(os.path.join(self.driver.log_dir, f"{name}.log"), "ab") as log:
            log.write(text.encode())

    def unreachable(self) -> ComputeDriver:
        return LibvirtDriver(f"qemu+unix:///system?socket={self.driver.pool_path}/no-such.sock",
                             log_dir=self.driver.log_dir)

    def close(self) -> None:
        try:
            super().close()
            remove_pool(self.conn, self.driver.pool_name)
        finally:
            self.conn.close()
            self.driver.close()


class LibvirtTestDriverHost(LibvirtHost):
    """libvirt's test hypervisor: domains are defined directly (its storage driver has no upload);
    its built-in domain "test" is the foreign one."""

    name = "libvirt-test"

    def __init__(self, base: Path) -> None:
        super().__init__("test:///default", base)
        self.foreign = "test"

    def _define_and_start(self, name: str) -> None:
        self.driver.list_volumes()  # the driver defines its pool
        pool = self.conn.storagePoolLookupByName(self.driver.pool_name)
        for volume in (f"{name}-disk.qcow2", f"{name}-seed.iso"):
            pool.createXML(f"<volume><name>{volume}</name><capacity unit='MiB'>1</capacity></volume>", 0)
        self.conn.defineXML(f"<domain type='test'><name>{name}</name><memory unit='MiB'>256</memory>"
                            "<currentMemory unit='MiB'>256</currentMemory><vcpu>1</vcpu>"
                            "<os><type>hvm</type></os></domain>").create()

    def foreign_state(self) -> str:
        return {libvirt.VIR_DOMAIN_RUNNING: "running"}.get(self.conn.lookupByName("test").state()[0], "other")


class QemuHost(LibvirtHost):
    """qemu:///system booting the tiny image (about 5 s per boot under TCG)."""

    name = "libvirt-qemu"

    def __init__(self, uri: str, base: Path, image) -> None:
        super().__init__(uri, base)
        self.image = image
        self.foreign = ""

    def spec(self, name: str) -> InstanceSpec:
        return _spec(name, self.image.spec())

    def booted(self, name: str, boots: int) -> None:
        """The tiny image prints MINICLOUD-HW once per boot, when it handles ACPI requests."""
        wait_for(lambda: self.driver.console_log(name, max_bytes=1 << 20).count("MINICLOUD-HW") >= boots,
                 BOOT_TIMEOUT, f"boot {boots} of {name}")


@pytest.fixture
def host(request, tmp_path_factory):
    base = tmp_path_factory.mktemp("compute-contract")
    base.chmod(0o755)
    if request.param == "standin":
        made: Host = StandinHost()
    elif request.param == "libvirt-test":
        made = LibvirtTestDriverHost(base)
    else:
        made = QemuHost(request.getfixturevalue("libvirt_uri"), base, request.getfixturevalue("tiny_image"))
    yield made
    made.close()


def size_of(xml: str) -> tuple[int, int]:
    """(vCPUs, memory in KiB) of a domain definition."""
    root = ET.fromstring(xml)
    memory = root.find("memory")
    assert memory.get("unit", "KiB") == "KiB"
    return int(root.findtext("vcpu")), int(memory.text)


def our_volumes(host: Host, name: str) -> list[str]:
    return [v for v in host.driver.list_volumes() if v.startswith(name)]


# ---- the coverage list itself ------------------------------------------------------------------

def test_every_part_is_exercised_against_a_real_driver_and_every_gap_says_why():
    real = [impl for impl in IMPLEMENTATIONS if impl.name.startswith("libvirt")]
    for part in PARTS:
        assert any(part not in impl.gaps for impl in real), f"{part} is never run against libvirt"
    assert next(impl for impl in IMPLEMENTATIONS if impl.name == "standin").gaps == {}
    for impl in IMPLEMENTATIONS:
        assert set(impl.gaps) <= set(PARTS) and all(len(reason) > 20 for reason in impl.gaps.values())
    methods = {name for name in vars(ComputeDriver) if not name.startswith("_")}
    assert methods == {"host_info", "create", "start", "stop", "reboot", "resize", "delete", "state",
                       "list_domains", "list_volumes", "domain_xml", "console_log", "console_read", "console_send",
                       "addresses"}


# ---- per method ----------------------------------------------------------------------------------

@pytest.mark.parametrize("host", covering("host_info"), indirect=True)
def test_host_info_describes_the_host(host):
    info = host.driver.host_info()
    assert info.vcpus >= 1
    assert 0 <= info.free_ram_mib <= info.ram_mib
    assert info.domain_type in ("kvm", "qemu")


@pytest.mark.parametrize("host", covering("create"), indirect=True)
def test_create_builds_a_running_domain_and_again_reuses_it(host):
    name = f"{DOMAIN_PREFIX}{uuid.uuid4()}"
    host.placed.append(name)
    spec = host.spec(name)
    artefacts = host.driver.create(spec)
    assert ET.fromstring(artefacts.domain_xml).findtext("name") == name
    assert host.driver.state(name) == "running" and host.driver.list_domains()[name] == "running"
    assert our_volumes(host, name) == [f"{name}-disk.qcow2", f"{name}-seed.iso"]
    host.driver.create(spec)
    assert host.driver.state(name) == "running"
    assert our_volumes(host, name) == [f"{name}-disk.qcow2", f"{name}-seed.iso"]
    with pytest.raises(ForeignDomain):
        host.driver.create(host.spec("vm-without-prefix"))
    assert host.driver.state("vm-without-prefix") is None


@pytest.mark.parametrize("host", covering("create"), indirect=True)
def test_create_on_a_missing_bridge_is_refused_and_defines_nothing(host):
    name = f"{DOMAIN_PREFIX}{uuid.uuid4()}"
    host.placed.append(name)
    spec = dataclasses.replace(host.spec(name), nic=NicSpec(mode="bridge", bridge=f"mcbr-{uuid.uuid4().int % 10**9}",
                                                           target="mct" + uuid.uuid4().hex[:12],
                                                           mac="52:54:00:12:34:56", ip="10.0.0.4"))
    with pytest.raises(ComputeError):
        host.driver.create(spec)
    assert host.driver.state(name) is None and our_volumes(host, name) == []


@pytest.mark.parametrize("host", covering("start"), indirect=True)
def test_start_brings_a_stopped_domain_up_and_a_running_one_stays_up(host):
    name = host.place("shutoff")
    host.driver.start(name)
    assert host.driver.state(name) == "running"
    host.driver.start(name)  # already running: a no-op
    assert host.driver.state(name) == "running"


@pytest.mark.parametrize("host", covering("stop"), indirect=True)
def test_stop_shuts_off_and_keeps_the_definition_and_volumes(host):
    name = host.place("running")
    host.driver.stop(name, timeout=0)
    assert host.driver.state(name) == "shutoff" and host.driver.list_domains()[name] == "shutoff"
    assert host.driver.domain_xml(name) is not None
    assert our_volumes(host, name) == [f"{name}-disk.qcow2", f"{name}-seed.iso"]
    host.driver.stop(name, timeout=0)  # already stopped: a no-op
    assert host.driver.state(name) == "shutoff"


@pytest.mark.parametrize("host", covering("reboot"), indirect=True)
def test_reboot_leaves_a_running_domain_running_and_starts_a_stopped_one(host):
    running = host.place("running")
    host.driver.reboot(running)
    assert host.driver.state(running) == "running"
    stopped = host.place("shutoff")
    host.driver.reboot(stopped)
    assert host.driver.state(stopped) == "running"


@pytest.mark.parametrize("host", covering("resize"), indirect=True)
def test_resize_changes_a_stopped_domains_definition(host):
    name = host.place("shutoff")
    xml = host.driver.resize(name, vcpus=2, ram_mib=384)
    assert size_of(xml) == (2, 384 * 1024)
    assert size_of(host.driver.domain_xml(name)) == (2, 384 * 1024)
    assert host.driver.state(name) == "shutoff"
    assert size_of(host.driver.resize(name, vcpus=2, ram_mib=384)) == (2, 384 * 1024)  # again: the same


@pytest.mark.parametrize("host", covering("resize"), indirect=True)
def test_resize_of_a_running_domain_is_wrong_state_and_changes_nothing(host):
    name = host.place("running")
    before = size_of(host.driver.domain_xml(name))
    with pytest.raises(WrongState, match="Stop"):
        host.driver.resize(name, vcpus=2, ram_mib=384)
    assert size_of(host.driver.domain_xml(name)) == before
    assert host.driver.state(name) == "running"


@pytest.mark.parametrize("host", covering("delete"), indirect=True)
def test_delete_removes_domain_and_volumes_and_again_is_a_no_op(host):
    name = host.place("running")
    host.driver.delete(name)
    assert host.driver.state(name) is None and host.driver.domain_xml(name) is None
    assert name not in host.driver.list_domains()
    assert our_volumes(host, name) == []
    assert host.driver.console_log(name) == ""
    host.driver.delete(name)  # absent: a no-op
    host.driver.delete(f"{DOMAIN_PREFIX}{uuid.uuid4()}")  # never existed: a no-op


@pytest.mark.parametrize("host", covering("reads"), indirect=True)
def test_reads_list_only_our_domains_with_their_state(host):
    running, stopped = host.place("running"), host.place("shutoff")
    listed = host.driver.list_domains()
    assert listed[running] == "running" and listed[stopped] == "shutoff"
    assert host.foreign not in listed
    assert all(name.startswith(DOMAIN_PREFIX) for name in listed)
    volumes = host.driver.list_volumes()
    assert volumes == sorted(volumes) and all(v.startswith(DOMAIN_PREFIX) for v in volumes)
    assert ET.fromstring(host.driver.domain_xml(running)).findtext("name") == running
    assert host.driver.addresses(stopped) == []
    assert isinstance(host.driver.addresses(running), list)
    assert isinstance(host.driver.console_log(running), str)


@pytest.mark.parametrize("host", covering("foreign"), indirect=True)
def test_a_foreign_domain_is_never_changed_and_reads_as_absent(host):
    driver, foreign = host.driver, host.foreign
    for change in (lambda: driver.delete(foreign), lambda: driver.stop(foreign, 0), lambda: driver.start(foreign),
                   lambda: driver.reboot(foreign), lambda: driver.resize(foreign, 2, 512),
                   lambda: driver.console_send(foreign, "halt\r")):
        with pytest.raises(ForeignDomain, match="not a minicloud domain"):
            change()
    assert host.foreign_state() == "running"
    assert driver.state(foreign) is None and driver.domain_xml(foreign) is None
    assert driver.addresses(foreign) == []


@pytest.mark.parametrize("host", covering("missing"), indirect=True)
def test_a_missing_domain_is_not_found_for_changes_and_absent_for_reads(host):
    driver, name = host.driver, f"{DOMAIN_PREFIX}{uuid.uuid4()}"
    for change in (lambda: driver.start(name), lambda: driver.stop(name, 0), lambda: driver.reboot(name),
                   lambda: driver.resize(name, 2, 512), lambda: driver.console_send(name, "x")):
        with pytest.raises(DomainNotFound, match="does not exist"):
            change()
    assert driver.state(name) is None and driver.domain_xml(name) is None
    assert driver.addresses(name) == [] and driver.console_log(name) == ""
    assert name not in driver.list_domains()


@pytest.mark.parametrize("host", covering("console_read"), indirect=True)
def test_console_read_follows_the_log_from_an_offset(host):
    name = host.place("running")
    _, offset = host.driver.console_read(name)  # the tail, and where it ends
    host.print_on_console(name, "hello\r\n")
    data, after = host.driver.console_read(name, offset)
    assert data == b"hello\r\n" and after == offset + len(data)
    assert host.driver.console_read(name, after) == (b"", after)  # nothing new
    again, _ = host.driver.console_read(name, after + 1000)  # beyond the log's end: a new log, from its start
    assert again.endswith(b"hello\r\n") and host.driver.console_read(name)[0].endswith(b"hello\r\n")
    assert host.driver.console_read(name, 0, max_bytes=3) == (again[:3], 3)  # at most max_bytes at a time
    missing = f"{DOMAIN_PREFIX}{uuid.uuid4()}"
    assert host.driver.console_read(missing, 5) == (b"", 5)


@pytest.mark.parametrize("host", covering("console_state"), indirect=True)
def test_typing_on_the_console_of_a_stopped_or_paused_domain_is_wrong_state(host):
    for name in (host.place("shutoff"), host.place("paused")):
        with pytest.raises(WrongState, match="not running"):
            host.driver.console_send(name, "echo hi\r")
    host.driver.start(name)  # a paused one is resumed
    assert host.driver.state(name) == "running"


@pytest.mark.parametrize("host", covering("unreachable"), indirect=True)
def test_every_call_to_an_unreachable_host_is_host_unavailable(host):
    """console_log is the exception: on a local host it reads libvirt's log file, not the hypervisor."""
    driver, name = host.unreachable(), f"{DOMAIN_PREFIX}{uuid.uuid4()}"
    assert driver.console_log(name) == ""
    for call in (driver.host_info, lambda: driver.create(host.spec(name)), lambda: driver.start(name),
                 lambda: driver.stop(name, 0), lambda: driver.reboot(name), lambda: driver.resize(name, 1, 256),
                 lambda: driver.delete(name), lambda: driver.state(name), driver.list_domains,
                 driver.list_volumes, lambda: driver.domain_xml(name), lambda: driver.console_send(name, "x"),
                 lambda: driver.addresses(name)):
        with pytest.raises(HostUnavailable):
            call()


@pytest.mark.parametrize("host", covering("unreachable"), indirect=True)
def test_a_foreign_name_is_refused_before_the_host_is_reached(host):
    driver, foreign = host.unreachable(), "someone-elses-vm"
    for change in (lambda: driver.create(host.spec(foreign)), lambda: driver.start(foreign),
                   lambda: driver.stop(foreign, 0), lambda: driver.reboot(foreign),
                   lambda: driver.resize(foreign, 2, 512), lambda: driver.delete(foreign),
                   lambda: driver.console_send(foreign, "halt\r")):
        with pytest.raises(ForeignDomain, match="not a minicloud domain"):
            change()
    with pytest.raises(HostUnavailable):  # a read still asks the host
        driver.state(foreign)


# ---- a whole lifecycle on one domain (the one test that boots a real guest) ---------------------

@pytest.mark.parametrize("host", covering("lifecycle"), indirect=True)
def test_lifecycle_of_one_domain(host):
    """Every state change in turn on one domain; on qemu:///system one booted tiny guest (2 boots)."""
    driver = host.driver
    name = host.place("running")
    host.booted(name, 1)
    log = driver.console_log(name, max_bytes=1 << 20)
    assert host.unreachable().console_log(name, max_bytes=1 << 20).startswith(log)  # read without the host
    driver.start(name)                                   # start of a running one: a no-op
    with pytest.raises(WrongState):                      # resize of a running one: refused, nothing changed
        driver.resize(name, 2, 384)
    if "console_send" not in host.gaps:
        driver.console_send(name, "\r")                  # typing on a running one works
    host.pause(name)
    assert driver.state(name) == "paused"
    with pytest.raises(WrongState, match="not running"):  # a paused guest would read nothing
        driver.console_send(name, "\r")
    with pytest.raises(WrongState, match="Stop"):
        driver.resize(name, 2, 384)
    driver.start(name)                                   # start of a paused one: resumed
    assert driver.state(name) == "running"
    driver.reboot(name)                                  # reboot of a running one: stays running
    assert driver.state(name) == "running"
    host.booted(name, 2)
    driver.stop(name, timeout=30)
    assert driver.state(name) == "shutoff"
    driver.stop(name, timeout=30)                        # stop of a stopped one: a no-op
    assert size_of(driver.resize(name, 2, 384)) == (2, 384 * 1024)
    with pytest.raises(WrongState):
        driver.console_send(name, "\r")
    driver.reboot(name)                                  # reboot of a stopped one: started
    assert driver.state(name) == "running"
    assert size_of(driver.domain_xml(name)) == (2, 384 * 1024)
    driver.delete(name)                                  # delete of a running one: forced off, removed
    assert driver.state(name) is None and our_volumes(host, name) == []
    driver.delete(name)
