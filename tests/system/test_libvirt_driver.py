"""LibvirtDriver against real libvirt: qemu:///system booting the tiny image, and the test driver.

The tiny image (scripts/build-test-image.sh tiny) reads the NoCloud seed and prints
"MINICLOUD-SEED instance-id=..." on the serial console, then "MINICLOUD-HW cpus=..", and powers
off on the ACPI power button; under TCG it is up in about 5 s.
"""
from __future__ import annotations

import ipaddress
import os
import re
import socket
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import libvirt
import pytest

from minicloud.drivers.compute.base import (
    DOMAIN_PREFIX,
    ComputeError,
    DomainNotFound,
    ForeignDomain,
    GpuDevice,
    HostUnavailable,
    InstanceSpec,
    NicSpec,
    WrongState,
)
from minicloud.drivers.compute.libvirt import LibvirtDriver, ensure_isolated_network, isolated_network_possible
from conftest import free_port
from libvirt_fixtures import remove_pool
from waiting import wait_for

pytestmark = pytest.mark.system

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "libvirt"
BOOT_TIMEOUT = 60


def wait_console(driver: LibvirtDriver, name: str, pattern: str, count: int = 1,
                 timeout: float = BOOT_TIMEOUT) -> re.Match:
    def found():
        matches = list(re.finditer(pattern, driver.console_log(name, max_bytes=1 << 20)))
        return matches[count - 1] if len(matches) >= count else None
    try:
        return wait_for(found, timeout, f"{pattern!r} x{count} on the console of {name}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; console:\n{driver.console_log(name)[-3000:]}") from None


@pytest.fixture(scope="module")
def driver(libvirt_uri, tmp_path_factory):
    """A driver with its own pool and console directory, removed again afterwards."""
    tag = uuid.uuid4().hex[:8]
    base = tmp_path_factory.mktemp("libvirt-driver")
    base.chmod(0o755)
    drv = LibvirtDriver(libvirt_uri, pool_name=f"minicloud-test-{tag}", pool_path=str(base / "pool"),
                        log_dir=str(base / "console"))
    drv.created = []  # domain names to clean up
    yield drv
    for name in drv.created:
        try:
            drv.delete(name)
        except ComputeError:
            pass
    conn = libvirt.open(libvirt_uri)
    try:
        remove_pool(conn, drv.pool_name)
    finally:
        conn.close()
        drv.close()


def make_spec(driver: LibvirtDriver, test_image, **over) -> InstanceSpec:
    iid = str(uuid.uuid4())
    values = dict(domain_name=f"{DOMAIN_PREFIX}{iid}", instance_id=iid, hostname=f"t-{iid[:8]}", vcpus=1,
                  ram_mib=256, disk_gib=1, image=test_image.spec(), nic=NicSpec(mode="user", ssh_port=free_port()),
                  ssh_keys=("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKey test@minicloud",))
    values.update(over)
    spec = InstanceSpec(**values)
    driver.created.append(spec.domain_name)
    return spec


def our_volumes(driver: LibvirtDriver, name: str) -> list[str]:
    return [v for v in driver.list_volumes() if v.startswith(name)]


def test_lifecycle_create_stop_resize_start_delete(driver, tiny_image):
    spec = make_spec(driver, tiny_image)
    name = spec.domain_name

    started = time.monotonic()
    artefacts = driver.create(spec)
    created = time.monotonic() - started
    assert driver.state(name) == "running"
    seed_line = wait_console(driver, name, r"MINICLOUD-SEED instance-id=(\S+) hostname=(\S+)")
    booted = time.monotonic() - started
    print(f"\ncreate() {created:.2f} s, seed read on the console {booted:.1f} s after create() began")
    assert seed_line.group(1) == spec.instance_id and seed_line.group(2) == spec.hostname

    # what create reports: the XML it defined, the seed files, the libvirt calls
    assert ET.fromstring(artefacts.domain_xml).findtext("name") == name
    assert f"instance-id: \"{spec.instance_id}\"" in artefacts.meta_data
    assert artefacts.user_data.startswith("#cloud-config")
    assert f"defineXML({name})" in artefacts.calls and f"create({name})" in artefacts.calls
    assert f"storageVolCreateXML({name}-seed.iso)" in artefacts.calls
    assert any(c.startswith(f"storageVolCreateXML({name}-disk.qcow2, backingStore=") for c in artefacts.calls)
    assert our_volumes(driver, name) == [f"{name}-disk.qcow2", f"{name}-seed.iso"]
    base = f"{DOMAIN_PREFIX}base-{tiny_image.name}"
    assert {f"{base}.qcow2", f"{base}-vmlinuz", f"{base}-initrd"} <= set(driver.list_volumes())
    assert driver.list_domains()[name] == "running"

    # the live XML: direct kernel boot from the pool, the overlay backed by the base volume
    live = ET.fromstring(driver.domain_xml(name))
    assert live.findtext("os/kernel").endswith(f"{base}-vmlinuz")
    backing = live.find("devices/disk/backingStore/source")
    assert backing is not None and backing.get("file").endswith(f"{base}.qcow2")

    # SSH is forwarded from a loopback port by QEMU's user networking
    with socket.create_connection(("127.0.0.1", spec.nic.ssh_port), timeout=5):
        pass

    # create again: everything is reused, nothing defined or uploaded twice
    again = driver.create(spec)
    assert not [c for c in again.calls if c.startswith(("defineXML", "storageVolCreateXML", "storageVolUpload",
                                                         "create("))]
    assert driver.state(name) == "running"
    assert our_volumes(driver, name) == [f"{name}-disk.qcow2", f"{name}-seed.iso"]

    first_hw = wait_console(driver, name, r"MINICLOUD-HW cpus=(\d+)")  # the boot is complete
    assert first_hw.group(1) == "1"

    # stop: ACPI power button, the tiny guest powers off by itself (no forced destroy)
    started = time.monotonic()
    driver.stop(name, timeout=30)
    print(f"stop() {time.monotonic() - started:.1f} s")
    calls = driver.last_calls
    assert f"shutdown({name})" in calls and f"destroy({name})" not in calls
    assert driver.state(name) == "shutoff"
    assert "MINICLOUD-POWEROFF" in driver.console_log(name)
    driver.stop(name, timeout=30)  # already off: fine
    assert driver.state(name) == "shutoff"

    # resize while stopped
    xml = ET.fromstring(driver.resize(name, vcpus=2, ram_mib=384))
    assert any(c.startswith(f"setVcpusFlags({name}, 2, MAXIMUM|CONFIG)") for c in driver.last_calls)
    assert xml.findtext("vcpu") == "2"
    assert xml.findtext("memory") == str(384 * 1024) and xml.findtext("currentMemory") == str(384 * 1024)

    # start: the guest sees the new size
    driver.start(name)
    assert driver.state(name) == "running"
    hw = wait_console(driver, name, r"MINICLOUD-HW cpus=(\d+) mem_kib=(\d+) disk_bytes=(\d+)", count=2)
    assert hw.group(1) == "2"
    assert 300 * 1024 < int(hw.group(2)) <= 384 * 1024
    assert int(hw.group(3)) == 1024 ** 3  # the overlay has disk_gib
    driver.start(name)  # already running: fine

    # delete: no domain, no volumes, no console log
    driver.delete(name)
    assert driver.state(name) is None
    assert driver.domain_xml(name) is None
    assert name not in driver.list_domains()
    assert our_volumes(driver, name) == []
    assert driver.console_log(name) == ""
    driver.delete(name)  # absent is fine


def test_create_starts_a_defined_but_stopped_domain_and_stop_forces_off(driver, tiny_image):
    spec = make_spec(driver, tiny_image, nic=NicSpec(mode="user"))
    name = spec.domain_name
    driver.create(spec)
    wait_console(driver, name, r"MINICLOUD-SEED instance-id=")
    # forced off straight away (timeout 0): destroy, no waiting
    driver.stop(name, timeout=0)
    assert f"destroy({name})" in driver.last_calls
    assert driver.state(name) == "shutoff"
    # a retried create job finds the domain defined but stopped: it is started, not redefined
    again = driver.create(spec)
    assert f"defineXML({name})" not in again.calls and f"create({name})" in again.calls
    assert driver.state(name) == "running"
    wait_console(driver, name, r"MINICLOUD-SEED instance-id=", count=2)
    # reboot goes through ACPI and the domain stays running
    driver.reboot(name)
    assert f"reboot({name}, ACPI_POWER_BTN)" in driver.last_calls
    wait_console(driver, name, r"MINICLOUD-SEED instance-id=", count=3)
    assert driver.state(name) == "running"
    with pytest.raises(WrongState, match="Stop"):
        driver.resize(name, 1, 256)
    driver.delete(name)
    assert driver.state(name) is None and our_volumes(driver, name) == []


def test_concurrent_creates_share_one_upload(driver, tiny_image):
    """Three creates at once from one driver (one shared connection): the new base image is
    uploaded once, and all three guests boot."""
    image = replace(tiny_image.spec(), name=f"tiny-conc-{uuid.uuid4().hex[:6]}")
    specs = [make_spec(driver, tiny_image, image=image, nic=NicSpec(mode="user")) for _ in range(3)]
    results, errors = {}, []

    def run(spec):
        try:
            results[spec.domain_name] = driver.create(spec)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in specs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    uploads = [c for a in results.values() for c in a.calls if c.startswith(f"storageVolUpload({DOMAIN_PREFIX}base-")]
    assert len(uploads) == 3, uploads  # disk, kernel and initrd, once each
    for spec in specs:
        assert driver.state(spec.domain_name) == "running"
    for spec in specs:
        wait_console(driver, spec.domain_name, rf"MINICLOUD-SEED instance-id={spec.instance_id}")
    for spec in specs:
        driver.delete(spec.domain_name)
        assert driver.state(spec.domain_name) is None


def test_isolated_network_gives_a_dhcp_address(driver, tiny_image, libvirt_uri, monkeypatch):
    """A NIC on a missing network: create() defines it as an isolated network (no <forward>), the
    guest gets a DHCP lease from libvirt's dnsmasq and addresses() reports it."""
    assert isolated_network_possible(), "an isolated network needs root and dnsmasq (scripts/install-deps.sh)"
    tag = uuid.uuid4().hex[:6]
    net_name, bridge = f"minicloud-test-{tag}", f"mctb{tag}"
    cidr = f"10.{200 + int(tag[:2], 16) % 50}.{int(tag[2:4], 16)}.0/24"
    monkeypatch.setattr(driver, "network_bridge", bridge)
    monkeypatch.setattr(driver, "network_cidr", cidr)
    conn = libvirt.open(libvirt_uri)
    try:
        spec = make_spec(driver, tiny_image, nic=NicSpec(mode="network", network=net_name))
        artefacts = driver.create(spec)
        assert f"networkDefineXML({net_name}, isolated {cidr})" in artefacts.calls
        net = conn.networkLookupByName(net_name)
        assert net.isActive() and net.autostart()
        assert ET.fromstring(net.XMLDesc(0)).find("forward") is None
        assert ensure_isolated_network(libvirt_uri, net_name, bridge, cidr) == net_name  # exists: fine
        iface = ET.fromstring(driver.domain_xml(spec.domain_name)).find("devices/interface")
        assert iface.get("type") == "network" and iface.find("source").get("network") == net_name
        addresses = wait_for(lambda: driver.addresses(spec.domain_name), BOOT_TIMEOUT, "a DHCP lease")
        assert all(ipaddress.ip_address(a) in ipaddress.ip_network(cidr) for a in addresses), addresses
        wait_console(driver, spec.domain_name, rf"MINICLOUD-NET \S+ ip={re.escape(addresses[0])}")
        driver.delete(spec.domain_name)
    finally:
        try:
            net = conn.networkLookupByName(net_name)
            if net.isActive():
                net.destroy()
            net.undefine()
        except libvirt.libvirtError:
            pass
        conn.close()


def test_a_network_with_a_forward_is_refused(libvirt_uri):
    name = f"minicloud-test-fwd-{uuid.uuid4().hex[:6]}"
    conn = libvirt.open(libvirt_uri)
    # defined only, never started: it never routes anything
    conn.networkDefineXML(f"<network><name>{name}</name><forward mode='nat'/>"
                          "<ip address='10.254.254.1' netmask='255.255.255.0'/></network>")
    try:
        with pytest.raises(ComputeError, match="forward"):
            ensure_isolated_network(libvirt_uri, name, "mctbfwd", "10.254.254.0/24")
        assert not conn.networkLookupByName(name).isActive()
    finally:
        conn.networkLookupByName(name).undefine()
        conn.close()


def _upload_raw(libvirt_uri: str, pool_name: str, name: str, data: bytes) -> None:
    conn = libvirt.open(libvirt_uri)
    try:
        pool = conn.storagePoolLookupByName(pool_name)
        vol = pool.createXML(f"<volume><name>{name}</name><capacity unit='bytes'>0</capacity>"
                             "<target><format type='raw'/></target></volume>", 0)
        stream = conn.newStream(0)
        vol.upload(stream, 0, len(data), 0)
        stream.send(data)
        stream.finish()
    finally:
        conn.close()


def test_a_half_uploaded_base_image_is_uploaded_again(driver, tiny_image, libvirt_uri):
    """A worker killed mid-upload leaves a short base volume; the retried create replaces it."""
    image = replace(tiny_image.spec(), name=f"tiny-partial-{uuid.uuid4().hex[:6]}", kernel_path=None,
                    initrd_path=None)
    base = f"{DOMAIN_PREFIX}base-{image.name}.qcow2"
    driver.list_volumes()  # makes sure the pool exists
    _upload_raw(libvirt_uri, driver.pool_name, base, tiny_image.disk.read_bytes()[:65536])
    spec = make_spec(driver, tiny_image, image=image, nic=NicSpec(mode="user"))
    artefacts = driver.create(spec)  # boots from disk: nothing bootable, but the domain runs
    assert f"storageVolDelete({base})" in artefacts.calls
    assert f"storageVolUpload({base}, {tiny_image.disk.stat().st_size} bytes)" in artefacts.calls
    driver.delete(spec.domain_name)


def test_a_changed_image_under_the_same_name_is_refused(driver, tiny_image, libvirt_uri):
    image = replace(tiny_image.spec(), name=f"tiny-changed-{uuid.uuid4().hex[:6]}", kernel_path=None,
                    initrd_path=None)
    base = f"{DOMAIN_PREFIX}base-{image.name}.qcow2"
    driver.list_volumes()
    _upload_raw(libvirt_uri, driver.pool_name, base, tiny_image.disk.read_bytes() + b"\0" * 4096)
    spec = make_spec(driver, tiny_image, image=image, nic=NicSpec(mode="user"))
    with pytest.raises(ComputeError, match="must not change"):
        driver.create(spec)
    assert base in driver.list_volumes()  # left alone: other disks may be backed by it
    assert driver.state(spec.domain_name) is None


def test_errors_people_can_act_on(driver, tiny_image):
    with pytest.raises(DomainNotFound, match="does not exist"):
        driver.start(f"{DOMAIN_PREFIX}{uuid.uuid4()}")
    assert driver.state(f"{DOMAIN_PREFIX}{uuid.uuid4()}") is None
    assert driver.addresses(f"{DOMAIN_PREFIX}{uuid.uuid4()}") == []
    missing = replace(tiny_image.spec(), name="missing", disk_path="/nonexistent/disk.qcow2", kernel_path=None,
                      initrd_path=None)
    with pytest.raises(ComputeError, match="missing its disk file"):
        driver.create(make_spec(driver, tiny_image, image=missing))
    with pytest.raises(ForeignDomain, match="not a minicloud domain"):
        driver.delete("someone-elses-vm")


def test_unreachable_host_is_host_unavailable(tmp_path):
    drv = LibvirtDriver(f"qemu+unix:///system?socket={tmp_path}/no-such.sock")
    started = time.monotonic()
    with pytest.raises(HostUnavailable, match="cannot be reached"):
        drv.host_info()
    with pytest.raises(HostUnavailable):
        drv.list_domains()
    assert time.monotonic() - started < 10


def test_host_info_real_host(driver):
    info = driver.host_info()
    assert info.vcpus == os.cpu_count() or info.vcpus >= 1
    assert 0 < info.free_ram_mib <= info.ram_mib
    with open("/proc/cpuinfo") as fh:
        hw_virt = bool(re.search(r"\b(vmx|svm)\b", fh.read()))
    if not hw_virt:
        assert info.domain_type == "qemu"
    assert info.domain_type in ("kvm", "qemu")


def test_host_info_test_driver_default():
    drv = LibvirtDriver("test:///default")
    info = drv.host_info()
    assert info.vcpus == 16 and info.ram_mib == 3072
    assert 0 < info.free_ram_mib <= info.ram_mib
    assert info.domain_type == "qemu"  # the test hypervisor offers no kvm
    assert info.gpus == ()
    assert drv.list_domains() == {}  # its "test" domain is not ours
    drv.close()


def test_host_info_test_driver_node_xml_with_gpus():
    drv = LibvirtDriver(f"test://{FIXTURES / 'node-gpus.xml'}")
    info = drv.host_info()
    assert info.vcpus == 16
    assert info.ram_mib == 32768 and info.free_ram_mib == 32768
    assert info.domain_type == "qemu"
    assert info.gpus == (
        GpuDevice(address="0000:01:00.0", name="pci_0000_01_00_0", product="GA102 [GeForce RTX 3090]",
                  vendor="NVIDIA Corporation"),
        GpuDevice(address="0000:41:00.0", name="pci_0000_41_00_0", product="GA100 [A100 SXM4 40GB]",
                  vendor="NVIDIA Corporation"),
    )
    assert "listAllDevices(CAP_PCI_DEV)" in drv.last_calls
    drv.close()


def test_typing_on_the_serial_console_reaches_the_guest_shell(driver, tiny_image):
    """The interactive console: input over libvirt's console stream, the answer in the console log."""
    spec = make_spec(driver, tiny_image)
    driver.create(spec)
    wait_console(driver, spec.domain_name, r"MINICLOUD-READY")
    wait_console(driver, spec.domain_name, r"/ # ")  # the root shell's prompt
    # busybox's line editor first asks the terminal for the cursor position (ESC[6n) and may take
    # a line typed meanwhile as the answer, as it would from a person typing too early: one Enter
    # first, then the command once the next prompt is there.
    driver.console_send(spec.domain_name, "\r")
    assert "openConsole(" in " ".join(driver.last_calls)
    wait_console(driver, spec.domain_name, r"/ # ", count=2, timeout=30)
    driver.console_send(spec.domain_name, "echo typed-$((6*7))\r")
    wait_console(driver, spec.domain_name, r"typed-42", timeout=30)
    driver.delete(spec.domain_name)
    with pytest.raises(DomainNotFound):
        driver.console_send(spec.domain_name, "echo gone\r")
