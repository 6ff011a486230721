"""Rendering of configs/libvirt/domain.xml.j2 and the host facts the driver reads (no libvirtd needed)."""
from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from minicloud.drivers.compute.base import ComputeError, GpuDevice, ImageSpec, InstanceSpec, NicSpec
from minicloud.drivers.compute.libvirt import (
    domain_type_from_capabilities,
    gpu_from_nodedev_xml,
    bridges_of,
    isolated_network_xml,
    parse_pci_address,
    render_domain_xml,
)
from minicloud.drivers.compute.seed import default_mac

QEMU_NS = "{http://libvirt.org/schemas/domain/qemu/1.0}"
MC_NS = "{https://minicloud.dev/xmlns/instance/1.0}"

KERNEL_IMAGE = ImageSpec(name="tiny", disk_path="/images/tiny/disk.qcow2", kernel_path="/images/tiny/vmlinuz",
                         initrd_path="/images/tiny/initrd.img", cmdline="console=ttyS0 panic=-1")
DISK_IMAGE = ImageSpec(name="ubuntu", disk_path="/images/ubuntu/disk.qcow2", default_user="ubuntu")


def make_spec(**over) -> InstanceSpec:
    values = dict(domain_name="mc-0b6f3c1e-5a8e-4d1b-9d57-2f7b1c0e9a11", instance_id="0b6f3c1e-5a8e-4d1b-9d57-2f7b1c0e9a11",
                  hostname="web-1", vcpus=2, ram_mib=1536, disk_gib=10, image=KERNEL_IMAGE,
                  nic=NicSpec(mode="user", ssh_port=22022))
    values.update(over)
    return InstanceSpec(**values)


def render(spec: InstanceSpec, domain_type: str = "qemu", kernel: bool = True) -> str:
    return render_domain_xml(
        spec, domain_type=domain_type, disk_path="/pool/x-disk.qcow2", seed_path="/pool/x-seed.iso",
        log_dir="/var/log/minicloud/console",
        kernel_path="/pool/mc-base-tiny-vmlinuz" if kernel else None,
        initrd_path="/pool/mc-base-tiny-initrd" if kernel else None)


def validate(xml: str, tmp_path, kind: str = "domain") -> None:
    """virt-xml-validate (libvirt-clients; it runs xmllint from libxml2-utils) checks the XML against
    libvirt's RelaxNG schema; scripts/install-deps.sh installs both."""
    missing = [tool for tool in ("virt-xml-validate", "xmllint") if shutil.which(tool) is None]
    assert not missing, f"{missing} not installed: run scripts/install-deps.sh"
    path = tmp_path / f"{kind}.xml"
    path.write_text(xml)
    result = subprocess.run(["virt-xml-validate", str(path), kind], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_qemu_direct_kernel_boot_user_networking(tmp_path):
    spec = make_spec()
    xml = render(spec)
    root = ET.fromstring(xml)
    assert root.get("type") == "qemu"
    assert root.findtext("name") == spec.domain_name
    # memory in KiB, current = maximum, no <maxMemory>
    assert root.find("memory").get("unit") == "KiB" and root.findtext("memory") == str(1536 * 1024)
    assert root.findtext("currentMemory") == str(1536 * 1024)
    assert root.find("maxMemory") is None
    assert root.findtext("vcpu") == "2"
    assert root.find("features/acpi") is not None and root.find("features/apic") is not None
    assert root.find("cpu") is None  # TCG: the default emulated CPU
    os_ = root.find("os")
    assert os_.findtext("kernel") == "/pool/mc-base-tiny-vmlinuz"
    assert os_.findtext("initrd") == "/pool/mc-base-tiny-initrd"
    assert os_.findtext("cmdline") == "console=ttyS0 panic=-1"
    assert os_.find("boot") is None
    # the overlay is vda (qcow2), the seed vdb (raw, read-only, kept out of snapshots)
    disks = {d.find("target").get("dev"): d for d in root.findall("devices/disk")}
    assert disks["vda"].find("source").get("file") == "/pool/x-disk.qcow2"
    assert disks["vda"].find("driver").get("type") == "qcow2"
    assert disks["vda"].find("target").get("bus") == "virtio"
    assert disks["vdb"].find("source").get("file") == "/pool/x-seed.iso"
    assert disks["vdb"].find("driver").get("type") == "raw"
    assert disks["vdb"].find("readonly") is not None and disks["vdb"].get("snapshot") == "no"
    # serial console logged to a file, interactive console still a pty
    serial = root.find("devices/serial")
    assert serial.get("type") == "pty"
    assert serial.find("log").get("file") == f"/var/log/minicloud/console/{spec.domain_name}.log"
    assert serial.find("log").get("append") == "on"
    assert root.find("devices/console").get("type") == "pty"
    # user networking through the qemu namespace, SSH forwarded from loopback, fixed PCI slot
    assert root.find("devices/interface") is None
    args = [a.get("value") for a in root.findall(f"{QEMU_NS}commandline/{QEMU_NS}arg")]
    assert args[0] == "-netdev" and "hostfwd=tcp:127.0.0.1:22022-:22" in args[1]
    assert args[2] == "-device" and "addr=0x1e" in args[3] and f"mac={default_mac(spec.domain_name)}" in args[3]
    # our metadata carries the instance id
    assert root.find(f"metadata/{MC_NS}instance").get("id") == spec.instance_id
    assert root.find("devices/hostdev") is None
    validate(xml, tmp_path)


def test_kvm_boot_from_disk_on_a_network(tmp_path):
    spec = make_spec(image=DISK_IMAGE, nic=NicSpec(mode="network", network="minicloud-isolated",
                                                    mac="52:54:00:AA:BB:CC"), ram_mib=512, vcpus=1)
    xml = render(spec, domain_type="kvm", kernel=False)
    root = ET.fromstring(xml)
    assert root.get("type") == "kvm"
    assert root.find("cpu").get("mode") == "host-passthrough"
    assert root.find("os/kernel") is None and root.find("os/boot").get("dev") == "hd"
    assert root.findtext("memory") == "524288" and root.findtext("vcpu") == "1"
    iface = root.find("devices/interface")
    assert iface.get("type") == "network"
    assert iface.find("source").get("network") == "minicloud-isolated"
    assert iface.find("mac").get("address") == "52:54:00:aa:bb:cc"
    assert iface.find("model").get("type") == "virtio"
    assert root.find(f"{QEMU_NS}commandline") is None
    assert "xmlns:qemu" not in xml
    validate(xml, tmp_path)


def test_user_networking_without_ssh_port_has_no_forward(tmp_path):
    xml = render(make_spec(nic=NicSpec(mode="user")))
    assert "hostfwd" not in xml
    validate(xml, tmp_path)


def test_gpus_become_hostdev_entries(tmp_path):
    gpus = (GpuDevice(address="0000:01:00.0", name="pci_0000_01_00_0", product="RTX", vendor="NVIDIA"),
            GpuDevice(address="0000:af:1f.3", name="pci_0000_af_1f_3"))
    root = ET.fromstring(xml := render(make_spec(gpus=gpus)))
    hostdevs = root.findall("devices/hostdev")
    assert len(hostdevs) == 2
    assert all(h.get("mode") == "subsystem" and h.get("type") == "pci" and h.get("managed") == "yes"
               for h in hostdevs)
    addresses = [h.find("source/address").attrib for h in hostdevs]
    assert addresses[0] == {"domain": "0x0000", "bus": "0x01", "slot": "0x00", "function": "0x0"}
    assert addresses[1] == {"domain": "0x0000", "bus": "0xaf", "slot": "0x1f", "function": "0x3"}
    validate(xml, tmp_path)


def test_values_are_xml_escaped(tmp_path):
    xml = render(make_spec(hostname="a<b>&'c\""))
    root = ET.fromstring(xml)
    assert root.findtext("title") == "a<b>&'c\""
    assert root.find(f"metadata/{MC_NS}instance").get("hostname") == "a<b>&'c\""
    validate(xml, tmp_path)


def test_default_cmdline_when_the_image_has_none():
    image = ImageSpec(name="deb", disk_path="/d.qcow2", kernel_path="/k", initrd_path="/i")
    root = ET.fromstring(render(make_spec(image=image)))
    assert root.findtext("os/cmdline") == "root=/dev/vda rw console=ttyS0 no_timer_check"


BRIDGE_NIC = NicSpec(mode="bridge", bridge="mcbr-7", target="mct0b6f3c1e5a8e", mac="52:54:00:12:34:AB",
                     ip="10.0.1.4")


def test_a_bridge_nic_is_a_tap_of_its_own_name_on_the_subnets_bridge(tmp_path):
    spec = make_spec(nic=BRIDGE_NIC)
    xml = render(spec)
    root = ET.fromstring(xml)
    interfaces = root.findall("devices/interface")
    assert len(interfaces) == 1
    iface = interfaces[0]
    assert iface.get("type") == "bridge"
    assert iface.find("source").attrib == {"bridge": "mcbr-7"}
    assert iface.find("target").attrib == {"dev": "mct0b6f3c1e5a8e"}
    assert iface.find("mac").get("address") == "52:54:00:12:34:ab"
    assert iface.find("model").get("type") == "virtio"
    assert root.find(f"{QEMU_NS}commandline") is None and "xmlns:qemu" not in xml  # no user networking too
    assert "<source network=" not in xml  # not on the shared isolated network
    assert bridges_of(xml) == ["mcbr-7"]
    validate(xml, tmp_path)


@pytest.mark.parametrize("nic, says", [
    (NicSpec(mode="bridge", target="mct0b6f3c1e5a8e"), "bridge"),                     # no bridge
    (NicSpec(mode="bridge", bridge="mcbr-7"), "tap"),                                 # no tap name
    (NicSpec(mode="bridge", bridge="mcbr-7", target="mct0b6f3c1e5a8e0"), "tap"),      # 16 characters
    (NicSpec(mode="bridge", bridge="mcbr 7", target="mct0b6f3c1e5a8e"), "bridge"),    # a space
    (NicSpec(mode="bridge", bridge="mcbr-7", target="vnet12"), "vnet"),              # libvirt's own prefix
    (NicSpec(mode="bridge", bridge="mcbr-7", target="mct1", ip="10.0.1.300"), "IPv4"),
    (NicSpec(mode="macvtap"), "Unknown NIC mode"),
])
def test_an_incomplete_or_unusable_bridge_nic_is_refused_before_rendering(nic, says):
    with pytest.raises(ComputeError, match=says):
        render(make_spec(nic=nic))


def test_bridges_of_a_definition_without_bridge_nics_is_empty():
    assert bridges_of(render(make_spec())) == []
    assert bridges_of(render(make_spec(nic=NicSpec(mode="network", network="minicloud-isolated")))) == []


def test_bad_nic_and_pci_address_are_compute_errors():
    with pytest.raises(ComputeError):
        render(make_spec(nic=NicSpec(mode="bridge")))
    with pytest.raises(ComputeError):
        render(make_spec(nic=NicSpec(mode="network")))  # no network name
    with pytest.raises(ComputeError):
        parse_pci_address("01:00")


CAPS = """<capabilities><host><cpu><arch>x86_64</arch>{features}</cpu></host>
<guest><os_type>hvm</os_type><arch name='x86_64'><domain type='qemu'/>{kvm}</arch></guest></capabilities>"""


@pytest.mark.parametrize("features,kvm,expected", [
    ("<feature name='vmx'/>", "<domain type='kvm'/>", "kvm"),
    ("<feature name='svm'/>", "<domain type='kvm'/>", "kvm"),
    ("<feature name='pae'/>", "<domain type='kvm'/>", "qemu"),   # /dev/kvm without vmx/svm (nested PVM)
    ("<feature name='vmx'/>", "", "qemu"),                          # no kvm domain offered
])
def test_domain_type_detection(features, kvm, expected):
    assert domain_type_from_capabilities(CAPS.format(features=features, kvm=kvm)) == expected


def test_gpu_from_node_device_xml():
    display = """<device><name>pci_0000_01_00_0</name><capability type='pci'><class>0x030200</class>
      <domain>0</domain><bus>1</bus><slot>0</slot><function>0</function>
      <product id='0x20b0'>GA100 [A100 SXM4 40GB]</product><vendor id='0x10de'>NVIDIA Corporation</vendor>
      </capability></device>"""
    nic = display.replace("0x030200", "0x020000")
    gpu = gpu_from_nodedev_xml(display)
    assert gpu == GpuDevice(address="0000:01:00.0", name="pci_0000_01_00_0",
                            product="GA100 [A100 SXM4 40GB]", vendor="NVIDIA Corporation")
    assert gpu_from_nodedev_xml(nic) is None


def test_isolated_network_has_no_forward(tmp_path):
    xml = isolated_network_xml("minicloud-isolated", "mcbr0", "10.213.0.0/24")
    validate(xml, tmp_path, "network")
    root = ET.fromstring(xml)
    assert root.find("forward") is None
    assert root.find("bridge").get("name") == "mcbr0"
    assert root.find("ip").get("address") == "10.213.0.1"
    rng = root.find("ip/dhcp/range")
    assert rng.get("start") == "10.213.0.10" and rng.get("end") == "10.213.0.254"
    with pytest.raises(ComputeError):
        isolated_network_xml("n", "b", "10.0.0.0/30")
