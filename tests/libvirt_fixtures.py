"""Session fixtures for tests that boot real guests: a running libvirtd and the test images.

Registered in tests/conftest.py through ``pytest_plugins = ["libvirt_fixtures"]``.

- ``libvirt_uri``: starts libvirtd if needed (scripts/libvirt.sh start) and returns "qemu:///system".
  When libvirt cannot be made usable the test *fails* with the reason: these tests are not optional.
- ``tiny_image`` / ``debian_image``: build (or find cached) images/<name>/ with
  scripts/build-test-image.sh and return its manifest with absolute paths (see ``TestImage``).
  The first build takes ~10 s (tiny) and ~3 min (debian, root only); afterwards it is cached.

Helpers for tests that do not go through the driver: ``make_seed_iso`` (a NoCloud seed like the
driver's), ``minimal_domain_xml`` and ``wait_for_console``.
"""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBVIRT_SH = ROOT / "scripts" / "libvirt.sh"
BUILD_IMAGE = ROOT / "scripts" / "build-test-image.sh"
SYSTEM_URI = "qemu:///system"


@dataclass(frozen=True)
class TestImage:
    """One built image: its manifest, with every path made absolute."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    name: str
    dir: Path
    disk: Path
    kernel: Path | None
    initrd: Path | None
    cmdline: str | None
    default_user: str
    seed: dict[str, Any] = field(default_factory=dict)   # how the NoCloud seed is attached
    manifest: dict[str, Any] = field(default_factory=dict)  # the raw manifest.json

    def spec(self):
        """The driver contract's ImageSpec for this image."""
        from minicloud.drivers.compute.base import ImageSpec

        return ImageSpec(name=self.name, disk_path=str(self.disk),
                         kernel_path=str(self.kernel) if self.kernel else None,
                         initrd_path=str(self.initrd) if self.initrd else None,
                         cmdline=self.cmdline, default_user=self.default_user)


def load_image(folder: Path) -> TestImage:
    manifest = json.loads((folder / "manifest.json").read_text())

    def path(key: str) -> Path | None:
        return (folder / manifest[key]).resolve() if manifest.get(key) else None

    return TestImage(name=manifest["name"], dir=folder.resolve(), disk=path("disk"), kernel=path("kernel"),
                     initrd=path("initrd"), cmdline=manifest.get("cmdline"),
                     default_user=manifest.get("default_user", "root"), seed=manifest.get("seed", {}),
                     manifest=manifest)


def build_image(name: str, timeout: float) -> TestImage:
    images = Path(os.environ.get("MINICLOUD_IMAGES_DIR", ROOT / "images"))
    started = time.monotonic()
    try:
        result = subprocess.run([str(BUILD_IMAGE), name], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"scripts/build-test-image.sh {name} did not finish within {timeout:.0f} s", pytrace=False)
    if result.returncode != 0:
        pytest.fail(f"scripts/build-test-image.sh {name} failed (exit {result.returncode}):\n"
                    f"{result.stdout}{result.stderr}", pytrace=False)
    image = load_image(images / name)
    for part in (image.disk, image.kernel, image.initrd):
        if part is not None and not part.is_file():
            pytest.fail(f"image {name}: {part} is missing after the build", pytrace=False)
    elapsed = time.monotonic() - started
    if elapsed > 5:
        print(f"\nbuilt image {name} in {elapsed:.0f} s")
    return image


@pytest.fixture(scope="session")
def libvirt_uri() -> str:
    """qemu:///system with libvirtd running (started by scripts/libvirt.sh when it was not)."""
    try:
        result = subprocess.run([str(LIBVIRT_SH), "start"], capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        pytest.fail("scripts/libvirt.sh start hung for 180 s: libvirtd is not usable", pytrace=False)
    if result.returncode != 0:
        pytest.fail("libvirt is not usable, so the tests that boot guests cannot run.\n"
                    f"scripts/libvirt.sh start said:\n{result.stdout}{result.stderr}\n"
                    "Run scripts/install-deps.sh (as root, or with sudo) and try again.", pytrace=False)
    return SYSTEM_URI


@pytest.fixture(scope="session")
def tiny_image() -> TestImage:
    return build_image("tiny", timeout=600)


@pytest.fixture(scope="session")
def debian_image() -> TestImage:
    return build_image("debian", timeout=1800)


# ---- helpers for tests that boot guests without the driver ---------------------------------------

def make_seed_iso(path: Path, meta_data: str, user_data: str = "#cloud-config\n{}\n",
                  network_config: str | None = None) -> Path:
    """A NoCloud seed: ISO 9660, volume id "cidata", Joliet and Rock Ridge names meta-data, user-data."""
    import pycdlib

    files = {"meta-data": meta_data, "user-data": user_data}
    if network_config is not None:
        files["network-config"] = network_config
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident="cidata")
    for index, (name, text) in enumerate(files.items()):
        data = text.encode()
        iso.add_fp(io.BytesIO(data), len(data), f"/SEED{index}.;1", rr_name=name, joliet_path=f"/{name}")
    iso.write(str(path))
    iso.close()
    return path


def make_overlay(base: Path, path: Path, size_gib: int = 1) -> Path:
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(base), str(path),
                    f"{size_gib}G"], check=True)
    return path


def minimal_domain_xml(name: str, image: TestImage, overlay: Path, seed: Path, console_log: Path,
                       vcpus: int = 1, ram_mib: int = 256, domain_type: str = "qemu") -> str:
    """The smallest domain that boots our images: direct kernel boot, ACPI (so shutdown works),
    the root disk as vda and the seed as a second virtio disk (vdb), the serial console to a file."""
    boot = f"<kernel>{image.kernel}</kernel><initrd>{image.initrd}</initrd><cmdline>{image.cmdline}</cmdline>" \
        if image.kernel else "<boot dev='hd'/>"
    return f"""<domain type='{domain_type}'>
  <name>{name}</name>
  <memory unit='MiB'>{ram_mib}</memory>
  <currentMemory unit='MiB'>{ram_mib}</currentMemory>
  <vcpu>{vcpus}</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>{boot}</os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/><source file='{overlay}'/><target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk' snapshot='no'>
      <driver name='qemu' type='raw'/><source file='{seed}'/><target dev='vdb' bus='virtio'/><readonly/>
    </disk>
    <serial type='file'><source path='{console_log}'/><target port='0'/></serial>
    <console type='file'><source path='{console_log}'/><target type='serial' port='0'/></console>
  </devices>
</domain>"""


def wait_for_console(log: Path, pattern: str, timeout: float, count: int = 1) -> re.Match:
    """Wait until ``pattern`` (a regex) occurs ``count`` times in the console log; return the last match."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        matches = list(re.finditer(pattern, text))
        if len(matches) >= count:
            return matches[count - 1]
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} x{count} not on the console within {timeout:.0f} s; console:\n{text[-3000:]}")


def remove_pool(conn, name: str) -> None:
    """Delete the storage pool ``name`` with every volume in it (a missing pool or volume is fine)."""
    import libvirt

    try:
        pool = conn.storagePoolLookupByName(name)
        if pool.isActive():
            pool.refresh(0)
            for vol in pool.listAllVolumes(0):
                try:
                    vol.delete(0)
                except libvirt.libvirtError:
                    pass
            pool.destroy()
        pool.undefine()
    except libvirt.libvirtError:
        pass
