"""The test images boot under real libvirt: the tiny image reads its NoCloud seed, reports it and
the virtual hardware on the serial console, reboots, and powers off on an ACPI shutdown.

Uses its own minimal domain XML and seed (tests/libvirt_fixtures.py), not the compute driver, so that
a failure here points at the image or the host, not at minicloud's code.
"""
from __future__ import annotations

import json
import time
import uuid

import libvirt
import pytest

from libvirt_fixtures import make_overlay, make_seed_iso, minimal_domain_xml, wait_for_console

pytestmark = pytest.mark.system


def test_tiny_manifest_is_complete(tiny_image):
    manifest = json.loads((tiny_image.dir / "manifest.json").read_text())
    assert manifest["name"] == "tiny"
    for key in ("disk", "kernel", "initrd"):
        assert not manifest[key].startswith("/"), "manifest paths are relative to the image folder"
        assert (tiny_image.dir / manifest[key]).is_file()
    assert "console=ttyS0" in manifest["cmdline"]
    assert manifest["seed"] == {"device": "disk", "bus": "virtio", "format": "raw", "label": "cidata"}
    assert tiny_image.spec().disk_path == str(tiny_image.disk)


def test_tiny_boots_reads_seed_reboots_and_powers_off(libvirt_uri, tiny_image, tmp_path):
    name = f"mctest-tiny-{uuid.uuid4().hex[:8]}"   # not "mc-": the reconciler must not adopt it
    instance_id = f"i-{uuid.uuid4().hex[:12]}"
    log = tmp_path / "console.log"
    seed = make_seed_iso(tmp_path / "seed.iso",
                         meta_data=f"instance-id: {instance_id}\nlocal-hostname: tiny-one\n",
                         user_data="#cloud-config\nruncmd:\n  - echo hello-from-user-data\n")
    overlay = make_overlay(tiny_image.disk, tmp_path / "disk.qcow2", size_gib=1)
    xml = minimal_domain_xml(name, tiny_image, overlay, seed, log, vcpus=2, ram_mib=256)

    conn = libvirt.open(libvirt_uri)
    dom = conn.defineXML(xml)
    try:
        started = time.monotonic()
        dom.create()
        wait_for_console(log, r"MINICLOUD-READY", timeout=90)
        boot_seconds = time.monotonic() - started
        text = log.read_text(errors="replace")
        assert f"MINICLOUD-SEED instance-id={instance_id} hostname=tiny-one" in text
        assert "hello-from-user-data" in text.split("MINICLOUD-USER-DATA-BEGIN")[1].split("MINICLOUD-USER-DATA-END")[0]
        hw = wait_for_console(log, r"MINICLOUD-HW cpus=(\d+) mem_kib=(\d+) disk_bytes=(\d+)", timeout=5)
        assert int(hw.group(1)) == 2
        assert 150 * 1024 < int(hw.group(2)) <= 256 * 1024
        assert int(hw.group(3)) == 1024 ** 3

        dom.reboot(0)  # ACPI power button; libvirt resets the guest when it powers off
        wait_for_console(log, r"MINICLOUD-READY", timeout=90, count=2)
        assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING

        dom.shutdown()
        deadline = time.monotonic() + 30
        while dom.state()[0] != libvirt.VIR_DOMAIN_SHUTOFF and time.monotonic() < deadline:
            time.sleep(0.2)
        assert dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF, "the guest ignored the ACPI shutdown"
        print(f"\ntiny image: booted to MINICLOUD-READY in {boot_seconds:.1f} s")
    finally:
        if dom.isActive():
            dom.destroy()
        dom.undefine()
        conn.close()
