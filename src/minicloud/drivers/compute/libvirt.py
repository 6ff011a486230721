"""The libvirt compute driver: mini PCs as libvirt domains (see base.py for the contract).

What it builds on a host, for a domain ``mc-<uuid>``, all inside one directory storage pool
(created if missing, default ``minicloud`` at ``/var/lib/minicloud/pool``):

* ``mc-base-<image>.qcow2`` (plus ``mc-base-<image>-vmlinuz`` / ``-initrd`` for direct kernel
  boot): the image, uploaded once per host through the storage API (``storageVolCreateXML``
  and a ``virStream`` upload), so a remote host works exactly like the local one;
* ``mc-<uuid>-disk.qcow2``: the mini PC's disk, a qcow2 overlay backed by the base volume;
* ``mc-<uuid>-seed.iso``: the cloud-init NoCloud seed (see seed.py), attached as a read-only
  virtio disk ``vdb``;
* the domain itself, from ``configs/libvirt/domain.xml.j2``;
* for a NIC in "network" mode whose libvirt network is missing or stopped: that network, defined
  as an isolated one (bridge + DHCP, never a ``<forward>``) and started;
* for a NIC in "bridge" mode nothing: the subnet's Linux bridge is the network driver's
  (drivers/network/); ``create`` and ``start`` refuse with ComputeError while it is missing, and
  libvirt makes the tap (``<target dev>``, e.g. ``mct0123456789ab``) when the guest starts.

Concurrency: one ``virConnect`` per driver object, shared by all threads (libvirt connections
are thread-safe). A lock guards opening it; it is reopened when ``isAlive()`` says it dropped,
and a call that fails because the connection broke forgets it (the next call reconnects) and
raises ``HostUnavailable``; the job that got it is retried by the job queue. In-process, per-name locks serialise work on the same domain and the
upload of the same base volume, so concurrent creates from one image upload it once.

Every public method records the libvirt calls it made; ``create`` returns them in
``Artefacts.calls`` and any method's list is available afterwards, per thread, as ``last_calls``.

The serial console is logged by libvirt (virtlogd) to ``<log_dir>/<domain>.log`` on the host:
``console_log`` and the log clean-up in ``delete`` only work when the host is this machine
(a local URI such as ``qemu:///system``); for remote hosts ``console_log`` returns "".
"""
from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlparse
from xml.sax.saxutils import escape

import jinja2
import libvirt

from minicloud.drivers.calls import public as _public

from .base import (
    BASE_IMAGE_PREFIX,
    DOMAIN_PREFIX,
    Artefacts,
    ComputeError,
    DomainNotFound,
    ForeignDomain,
    GpuDevice,
    HostInfo,
    HostUnavailable,
    NIC_MODES,
    ImageSpec,
    InstanceSpec,
    NicSpec,
    WrongState,
)
from .seed import build_iso, default_mac, render_seed

LIBVIRT_TEMPLATES_DIR = Path(__file__).resolve().parents[4] / "configs" / "libvirt"
METADATA_NS = "https://minicloud.dev/xmlns/instance/1.0"
DEFAULT_CMDLINE = "root=/dev/vda rw console=ttyS0 no_timer_check"

STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: "nostate",
    libvirt.VIR_DOMAIN_RUNNING: "running",
    libvirt.VIR_DOMAIN_BLOCKED: "running",  # running but idle (waiting for I/O)
    libvirt.VIR_DOMAIN_PAUSED: "paused",
    libvirt.VIR_DOMAIN_SHUTDOWN: "shutdown",  # being shut down
    libvirt.VIR_DOMAIN_SHUTOFF: "shutoff",
    libvirt.VIR_DOMAIN_CRASHED: "crashed",
    libvirt.VIR_DOMAIN_PMSUSPENDED: "pmsuspended",
}

# A host interface name (IFNAMSIZ - 1 = 15 characters), as libvirt passes it to the kernel.
_IFNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}")
# Tap names libvirt (or the hypervisor) keeps for generated ones; a <target dev> with them is ignored.
RESERVED_TAP_PREFIXES = ("vnet", "vif", "macvtap", "macvlan")

# How long a console stream waits for the guest's echo after typing (see _console_exchange).
CONSOLE_ECHO_SECONDS = 3.0

# Errors that mean "the host is not reachable", not "the request was wrong".
_CONNECTION_CODES = {
    libvirt.VIR_ERR_NO_CONNECT,
    libvirt.VIR_ERR_INVALID_CONN,
    libvirt.VIR_ERR_RPC,
    libvirt.VIR_ERR_AUTH_FAILED,
    getattr(libvirt, "VIR_ERR_AUTH_UNAVAILABLE", -1),
    getattr(libvirt, "VIR_ERR_AUTH_CANCELLED", -1),
}
_CONNECTION_DOMAINS = {libvirt.VIR_FROM_RPC, libvirt.VIR_FROM_REMOTE}


def _ignore_libvirt_errors(_ctx, _err) -> None:
    """libvirt prints every error to stderr by default; we raise them as exceptions instead."""


libvirt.registerErrorHandler(_ignore_libvirt_errors, None)


# --------------------------------------------------------------------------- rendering

def _xml_env(templates_dir: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        autoescape=jinja2.select_autoescape(["xml", "xml.j2"], default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


def parse_pci_address(address: str) -> dict[str, str]:
    """"0000:01:00.0" -> {"domain": "0x0000", "bus": "0x01", "slot": "0x00", "function": "0x0"}."""
    try:
        dom, bus, rest = address.split(":")
        slot, func = rest.split(".")
        return {"domain": "0x%04x" % int(dom, 16), "bus": "0x%02x" % int(bus, 16),
                "slot": "0x%02x" % int(slot, 16), "function": "0x%x" % int(func, 16)}
    except ValueError:
        raise ComputeError(f"Not a PCI address: {address!r} (expected DDDD:BB:SS.F).") from None


def check_nic(nic: NicSpec) -> None:
    """ComputeError unless ``nic`` is complete for its mode (see NicSpec): nothing is rendered otherwise."""
    if nic.mode not in NIC_MODES:
        raise ComputeError(f"Unknown NIC mode {nic.mode!r} (expected one of {', '.join(NIC_MODES)}).")
    if nic.mode == "network" and not nic.network:
        raise ComputeError("A NIC in 'network' mode needs the name of a libvirt network.")
    if nic.mode != "bridge":
        return
    for what, value in (("bridge", nic.bridge), ("tap (target)", nic.target)):
        if not value or not _IFNAME.fullmatch(value):
            raise ComputeError(f"A NIC in 'bridge' mode needs a {what} name of 1 to 15 letters, digits, '-', '_' "
                               f"or '.' (got {value!r}).")
    if nic.ip is not None:
        try:
            ipaddress.IPv4Address(nic.ip)
        except ValueError:
            raise ComputeError(f"A NIC's private address must be an IPv4 address (got {nic.ip!r}).") from None
    if nic.target.startswith(RESERVED_TAP_PREFIXES):
        # libvirt silently replaces such a name with one of its own (vnet0, vnet1, ...), and the host's
        # rules, which match the tap by name, would then miss it.
        raise ComputeError(f"The tap name {nic.target!r} starts with a prefix libvirt reserves "
                           f"({', '.join(RESERVED_TAP_PREFIXES)}).")


def bridges_of(domain_xml: str) -> list[str]:
    """The Linux bridges the ``<interface type='bridge'>`` NICs of a domain definition attach to."""
    root = ET.fromstring(domain_xml)
    return [src.get("bridge") for src in root.findall("./devices/interface[@type='bridge']/source")
            if src.get("bridge")]


def render_domain_xml(spec: InstanceSpec, *, domain_type: str, disk_path: str, seed_path: str,
                      log_dir: str, kernel_path: str | None = None, initrd_path: str | None = None,
                      templates_dir: Path | str | None = None) -> str:
    """The domain XML for ``spec`` from configs/libvirt/domain.xml.j2 (paths are on the host)."""
    nic = spec.nic
    check_nic(nic)
    env = _xml_env(Path(templates_dir) if templates_dir else LIBVIRT_TEMPLATES_DIR)
    gpus = [dict(parse_pci_address(g.address), name=g.name) for g in spec.gpus]
    return env.get_template("domain.xml.j2").render(
        domain_type=domain_type,
        name=spec.domain_name,
        hostname=spec.hostname,
        instance_id=spec.instance_id,
        vcpus=int(spec.vcpus),
        memory_kib=int(spec.ram_mib) * 1024,
        disk_path=disk_path,
        seed_path=seed_path,
        kernel_path=kernel_path,
        initrd_path=initrd_path,
        cmdline=spec.image.cmdline or DEFAULT_CMDLINE,
        nic={"mode": nic.mode, "network": nic.network, "ssh_port": nic.ssh_port,
             "bridge": nic.bridge, "target": nic.target,
             "mac": (nic.mac or default_mac(spec.domain_name)).lower()},
        gpus=gpus,
        log_file=os.path.join(log_dir, f"{spec.domain_name}.log"),
    )


def domain_type_from_capabilities(caps_xml: str) -> str:
    """"kvm" when the capabilities offer a kvm domain AND the host CPU has vmx/svm, else "qemu"."""
    root = ET.fromstring(caps_xml)
    offers_kvm = any(d.get("type") == "kvm" for d in root.iter("domain"))
    features = {f.get("name") for f in root.findall("./host/cpu/feature")}
    return "kvm" if offers_kvm and features & {"vmx", "svm"} else "qemu"


def gpu_from_nodedev_xml(xml: str) -> GpuDevice | None:
    """A GpuDevice when the node device is a PCI display controller (class 0x03xxxx), else None."""
    root = ET.fromstring(xml)
    cap = root.find("./capability[@type='pci']")
    if cap is None:
        return None
    klass = (cap.findtext("class") or "").strip()
    try:
        if (int(klass, 16) >> 16) != 0x03:
            return None
    except ValueError:
        return None
    address = "%04x:%02x:%02x.%x" % tuple(int(cap.findtext(tag) or "0", 0)
                                          for tag in ("domain", "bus", "slot", "function"))
    product = cap.find("product")
    vendor = cap.find("vendor")
    return GpuDevice(address=address, name=root.findtext("name") or "",
                     product=(product.text or product.get("id", "")) if product is not None else "",
                     vendor=(vendor.text or vendor.get("id", "")) if vendor is not None else "")


# --------------------------------------------------------------------------- the driver

class LibvirtDriver:
    """A ComputeDriver for one libvirt host (``qemu:///system``, ``qemu+ssh://host/system``, ``test:///...``)."""

    def __init__(self, uri: str, pool_name: str = "minicloud", pool_path: str = "/var/lib/minicloud/pool",
                 log_dir: str = "/var/log/minicloud/console", *, templates_dir: str | Path | None = None,
                 seed_templates_dir: str | Path | None = None, network_bridge: str = "mcbr0",
                 network_cidr: str = "10.213.0.0/24") -> None:
        self.uri = uri
        self.network_bridge = network_bridge  # used when create() has to define a missing isolated network
        self.network_cidr = network_cidr
        self.pool_name = pool_name
        self.pool_path = pool_path
        self.log_dir = log_dir
        self.templates_dir = templates_dir
        self.seed_templates_dir = seed_templates_dir
        self._conn: libvirt.virConnect | None = None
        self._conn_lock = threading.Lock()
        self._names_lock = threading.Lock()
        self._name_locks: dict[str, threading.Lock] = {}
        self._domain_type: str | None = None
        self._local = threading.local()

    # ---- connection, locking, call recording

    @property
    def is_local(self) -> bool:
        """True when the host is this machine (no hostname in the URI)."""
        return not urlparse(self.uri).hostname

    @property
    def last_calls(self) -> list[str]:
        """The libvirt calls made by the last public method this thread called."""
        return list(getattr(self._local, "calls", []))

    def _begin(self) -> list[str]:
        self._local.calls = []
        return self._local.calls

    def _record(self, call: str) -> None:
        calls = getattr(self._local, "calls", None)
        if calls is not None:
            calls.append(call)

    def connection(self) -> libvirt.virConnect:
        """The shared connection, (re)opened when missing or dropped. Raises HostUnavailable."""
        with self._conn_lock:
            conn = self._conn
            if conn is not None:
                try:
                    if conn.isAlive():
                        return conn
                except libvirt.libvirtError:
                    pass
                # Dropped, not closed: another thread may still be using it; Python closes it
                # (virConnectClose in __del__) once the last reference is gone.
                self._conn = None
            try:
                self._record(f"open({self.uri})")
                self._conn = libvirt.open(self.uri)
            except libvirt.libvirtError as exc:
                raise HostUnavailable(f"The host {self.uri} cannot be reached: {exc.get_error_message()}") from None
            return self._conn

    def close(self) -> None:
        """Close the connection (at shutdown; not while other threads use the driver)."""
        with self._conn_lock:
            if self._conn is not None:
                with contextlib.suppress(libvirt.libvirtError):
                    self._conn.close()
                self._conn = None

    def _is_connection_error(self, exc: libvirt.libvirtError) -> bool:
        code, domain = exc.get_error_code(), exc.get_error_domain()
        if code in _CONNECTION_CODES:
            return True
        return domain in _CONNECTION_DOMAINS and code in (libvirt.VIR_ERR_SYSTEM_ERROR,
                                                           libvirt.VIR_ERR_INTERNAL_ERROR)

    @contextlib.contextmanager
    def _errors(self, what: str):
        """Turn libvirt errors into HostUnavailable / ComputeError with ``what`` as context."""
        try:
            yield
        except libvirt.libvirtError as exc:
            if self._is_connection_error(exc):
                self._drop()
                raise HostUnavailable(f"The host {self.uri} cannot be reached: {exc.get_error_message()}") from None
            raise ComputeError(f"{what}: {exc.get_error_message()}") from None

    def _drop(self) -> None:
        """Forget a broken connection; the next call opens a new one (see connection())."""
        with self._conn_lock:
            self._conn = None

    def _name_lock(self, name: str) -> threading.Lock:
        with self._names_lock:
            return self._name_locks.setdefault(name, threading.Lock())

    def _lookup_domain(self, name: str) -> libvirt.virDomain | None:
        """Our domain ``name``, or None when it is missing or not ours (a foreign name is never looked up)."""
        conn = self.connection()
        if not name.startswith(DOMAIN_PREFIX):
            return None
        try:
            self._record(f"lookupByName({name})")
            return conn.lookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            with self._errors(f"Could not look up {name}"):
                raise

    # ---- host

    @_public
    def host_info(self) -> HostInfo:
        self._begin()
        conn = self.connection()
        with self._errors("Could not read the host's capacity"):
            self._record("getInfo()")
            info = conn.getInfo()
            self._record("getFreeMemory()")
            free_bytes = conn.getFreeMemory()
            self._record("getCapabilities()")
            domain_type = domain_type_from_capabilities(conn.getCapabilities())
            self._domain_type = domain_type
            self._record("getHostname()")
            hostname = conn.getHostname()
            ram_mib = int(info[1])
            if free_bytes:
                free_mib = int(free_bytes // (1024 * 1024))
            else:
                # Some hypervisors (libvirt's test driver with a node XML) report no free-memory
                # figure: estimate it as total minus what the running guests were given.
                self._record("listAllDomains(ACTIVE)")
                used_kib = sum(d.maxMemory() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE))
                free_mib = max(0, ram_mib - used_kib // 1024)
            self._record("listAllDevices(CAP_PCI_DEV)")
            gpus = []
            for dev in conn.listAllDevices(libvirt.VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV):
                gpu = gpu_from_nodedev_xml(dev.XMLDesc(0))
                if gpu is not None:
                    gpus.append(gpu)
        return HostInfo(vcpus=int(info[2]), ram_mib=ram_mib, free_ram_mib=free_mib, domain_type=domain_type,
                        gpus=tuple(sorted(gpus, key=lambda g: g.address)), hostname=hostname)

    def domain_type(self) -> str:
        """"kvm" or "qemu" for this host (read from the capabilities once, then cached)."""
        if self._domain_type is None:
            conn = self.connection()
            with self._errors("Could not read the host's capabilities"):
                self._record("getCapabilities()")
                self._domain_type = domain_type_from_capabilities(conn.getCapabilities())
        return self._domain_type

    # ---- storage

    def _pool(self) -> libvirt.virStoragePool:
        """The directory pool, defined, built, started and set to autostart when missing."""
        conn = self.connection()
        try:
            self._record(f"storagePoolLookupByName({self.pool_name})")
            pool = conn.storagePoolLookupByName(self.pool_name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_POOL:
                with self._errors("Could not look up the storage pool"):
                    raise
            pool = None
        with self._errors(f"Could not set up the storage pool {self.pool_name} at {self.pool_path}"):
            if pool is None:
                xml = (f"<pool type='dir'><name>{escape(self.pool_name)}</name>"
                       f"<target><path>{escape(self.pool_path)}</path></target></pool>")
                self._record(f"storagePoolDefineXML({self.pool_name})")
                try:
                    pool = conn.storagePoolDefineXML(xml, 0)
                except libvirt.libvirtError:
                    try:  # defined meanwhile by another worker?
                        pool = conn.storagePoolLookupByName(self.pool_name)
                    except libvirt.libvirtError:
                        pool = None
                    if pool is None:
                        raise
                self._record(f"pool.build({self.pool_name})")
                with contextlib.suppress(libvirt.libvirtError):
                    pool.build(0)
                self._record(f"pool.setAutostart({self.pool_name})")
                pool.setAutostart(1)
            if not pool.isActive():
                # Its directory may not be there yet when another worker defined the pool a moment
                # ago and has not built it: building is idempotent, so build before starting it.
                with contextlib.suppress(libvirt.libvirtError):
                    pool.build(0)
                self._record(f"pool.create({self.pool_name})")
                try:
                    pool.create(0)
                except libvirt.libvirtError:
                    if not pool.isActive():  # started meanwhile by another worker is fine
                        raise
        return pool

    def _lookup_volume(self, pool: libvirt.virStoragePool, name: str) -> libvirt.virStorageVol | None:
        try:
            self._record(f"storageVolLookupByName({name})")
            return pool.storageVolLookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
                return None
            with self._errors(f"Could not look up the volume {name}"):
                raise

    @staticmethod
    def _physical_size(vol: libvirt.virStorageVol) -> int:
        flag = getattr(libvirt, "VIR_STORAGE_VOL_GET_PHYSICAL", 1)
        try:
            return int(vol.infoFlags(flag)[2])
        except (libvirt.libvirtError, AttributeError):
            return int(vol.info()[2])

    def _upload(self, vol: libvirt.virStorageVol, name: str, reader, size: int) -> None:
        conn = self.connection()
        stream = conn.newStream(0)
        self._record(f"storageVolUpload({name}, {size} bytes)")
        try:
            vol.upload(stream, 0, size, 0)
            stream.sendAll(lambda _st, nbytes, fh: fh.read(min(nbytes, 1 << 20)), reader)
            stream.finish()
        except BaseException:
            with contextlib.suppress(libvirt.libvirtError):
                stream.abort()
            raise

    def _ensure_uploaded(self, pool: libvirt.virStoragePool, name: str, open_data, size: int,
                         shared: bool = False) -> libvirt.virStorageVol:
        """A volume ``name`` holding the given ``size`` bytes, created and uploaded when missing.

        The volume is created empty (capacity 0) and grows as the upload writes it, so a volume
        left behind by a crash mid-upload is shorter than ``size``: it is deleted and uploaded
        again. A ``shared`` volume (a base image, backing other guests' disks) that is *longer*
        than expected is never replaced: the image changed under the same name, which is refused."""
        with self._name_lock(name):
            vol = self._lookup_volume(pool, name)
            with self._errors(f"Could not upload the volume {name}"):
                if vol is not None:
                    have = self._physical_size(vol)
                    if have == size:
                        return vol
                    if shared and have > size:
                        raise ComputeError(
                            f"The volume {name} on {self.uri} holds {have} bytes but the image has {size}: "
                            "an image's files must not change under the same name (register it under a new name).")
                    self._record(f"storageVolDelete({name})")  # half-written (or a stale seed): start over
                    vol.delete(0)
                xml = (f"<volume><name>{escape(name)}</name><capacity unit='bytes'>0</capacity>"
                       "<allocation unit='bytes'>0</allocation><target><format type='raw'/></target></volume>")
                self._record(f"storageVolCreateXML({name})")
                vol = pool.createXML(xml, 0)
                with open_data() as reader:
                    self._upload(vol, name, reader, size)
            return vol

    def _ensure_base(self, pool: libvirt.virStoragePool, image: ImageSpec) -> dict[str, str | None]:
        """Upload the image's disk (and kernel/initrd) once per host; returns their paths on the host."""
        out: dict[str, str | None] = {"kernel": None, "initrd": None}
        files = [("disk", f"{BASE_IMAGE_PREFIX}{image.name}.qcow2", image.disk_path)]
        if image.kernel_path:
            files.append(("kernel", f"{BASE_IMAGE_PREFIX}{image.name}-vmlinuz", image.kernel_path))
        if image.initrd_path:
            files.append(("initrd", f"{BASE_IMAGE_PREFIX}{image.name}-initrd", image.initrd_path))
        for role, vol_name, local in files:
            try:
                size = os.path.getsize(local)
            except OSError as exc:
                raise ComputeError(f"The image {image.name} is missing its {role} file {local}: {exc.strerror}") \
                    from None
            vol = self._ensure_uploaded(pool, vol_name, lambda local=local: open(local, "rb"), size, shared=True)
            with self._errors(f"Could not read the volume {vol_name}"):
                out[role] = vol.path()
        out["format"] = _disk_format(image.disk_path)
        return out

    def _ensure_overlay(self, pool: libvirt.virStoragePool, spec: InstanceSpec, base_path: str,
                        base_format: str) -> str:
        name = f"{spec.domain_name}-disk.qcow2"
        with self._name_lock(name):
            vol = self._lookup_volume(pool, name)
            with self._errors(f"Could not create the disk {name}"):
                if vol is None:
                    capacity = max(int(spec.disk_gib) * 1024 ** 3, _virtual_size(spec.image.disk_path))
                    xml = (f"<volume><name>{escape(name)}</name><capacity unit='bytes'>{capacity}</capacity>"
                           "<target><format type='qcow2'/></target>"
                           f"<backingStore><path>{escape(base_path)}</path><format type='{base_format}'/>"
                           "</backingStore></volume>")
                    self._record(f"storageVolCreateXML({name}, backingStore={os.path.basename(base_path)})")
                    vol = pool.createXML(xml, 0)
                return vol.path()

    # ---- lifecycle

    @_public
    def create(self, spec: InstanceSpec) -> Artefacts:
        calls = self._begin()
        _require_ours(spec.domain_name, "create")
        check_nic(spec.nic)
        with self._name_lock(spec.domain_name):
            if spec.nic.mode == "bridge":
                self._require_bridge(spec.nic.bridge)  # before anything is uploaded or defined
            domain_type = self.domain_type()
            pool = self._pool()
            base = self._ensure_base(pool, spec.image)
            disk_path = self._ensure_overlay(pool, spec, base["disk"], base["format"])

            mac = (spec.nic.mac or default_mac(spec.domain_name)).lower()
            seed = render_seed(spec, mac=mac, templates_dir=self.seed_templates_dir)
            iso = build_iso(seed)
            seed_name = f"{spec.domain_name}-seed.iso"
            seed_vol = self._ensure_uploaded(pool, seed_name, lambda: _BytesReader(iso), len(iso))
            with self._errors(f"Could not read the volume {seed_name}"):
                seed_path = seed_vol.path()

            if spec.nic.mode == "network" and spec.nic.network:
                with self._name_lock(f"network:{spec.nic.network}"):
                    _ensure_isolated(self.connection(), spec.nic.network, self.network_bridge, self.network_cidr,
                                     self._record)
            if self.is_local:
                with contextlib.suppress(OSError):
                    os.makedirs(self.log_dir, exist_ok=True)
            xml = render_domain_xml(spec, domain_type=domain_type, disk_path=disk_path, seed_path=seed_path,
                                    log_dir=self.log_dir, kernel_path=base["kernel"], initrd_path=base["initrd"],
                                    templates_dir=self.templates_dir)
            dom = self._lookup_domain(spec.domain_name)
            conn = self.connection()
            with self._errors(f"Could not define the mini PC {spec.domain_name}"):
                if dom is None:
                    self._record(f"defineXML({spec.domain_name})")
                    dom = conn.defineXML(xml)
            self._start(dom, spec.domain_name)
        return Artefacts(domain_xml=xml, meta_data=seed.meta_data, user_data=seed.user_data,
                         network_config=seed.network_config, calls=list(calls))

    def _start(self, dom: libvirt.virDomain, name: str) -> None:
        with self._errors(f"Could not start the mini PC {name}"):
            if dom.isActive():
                state = dom.state()[0]
                if state == libvirt.VIR_DOMAIN_PAUSED:
                    self._record(f"resume({name})")
                    dom.resume()
                return
            self._record(f"create({name})")
            try:
                dom.create()
            except libvirt.libvirtError as exc:
                # Started meanwhile (a retried job racing the first one) is success.
                if exc.get_error_code() == libvirt.VIR_ERR_OPERATION_INVALID and dom.isActive():
                    return
                raise

    def _require_bridge(self, bridge: str) -> None:
        """ComputeError unless the Linux bridge ``bridge`` exists on the host.

        Asked through libvirt's interface driver (``interfaceLookupByName``: works on a remote host
        too); where that driver is missing, a local host's ``/sys/class/net/<bridge>/bridge`` decides."""
        conn = self.connection()
        missing = ComputeError(
            f"The bridge {bridge} does not exist on {self.uri}: a subnet's bridge is made by minicloud's network "
            "driver when the network state is applied; apply it (or wait for the network reconciler) and retry.")
        try:
            self._record(f"interfaceLookupByName({bridge})")
            xml = conn.interfaceLookupByName(bridge).XMLDesc(0)
        except libvirt.libvirtError as exc:
            code = exc.get_error_code()
            if code == libvirt.VIR_ERR_NO_INTERFACE:
                raise missing from None
            if self._is_connection_error(exc):
                with self._errors(f"Could not look up the bridge {bridge}"):
                    raise
            if not self.is_local:  # no interface driver there: let defining/starting the domain tell
                return
            if not os.path.isdir(f"/sys/class/net/{bridge}/bridge"):
                raise missing from None
            return
        if ET.fromstring(xml).get("type") != "bridge":
            raise ComputeError(f"The interface {bridge} on {self.uri} is not a bridge: a mini PC's NIC cannot "
                               "attach to it.")

    def _require_bridges_of(self, dom: libvirt.virDomain, name: str) -> None:
        """ComputeError when a bridge the (inactive) definition of ``dom`` attaches to is missing."""
        with self._errors(f"Could not read the definition of {name}"):
            self._record(f"XMLDesc({name}, INACTIVE)")
            xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        for bridge in bridges_of(xml):
            self._require_bridge(bridge)

    def _require(self, name: str, action: str) -> libvirt.virDomain:
        _require_ours(name, action)
        dom = self._lookup_domain(name)
        if dom is None:
            raise DomainNotFound(f"The mini PC {name} does not exist on {self.uri}.")
        return dom

    @_public
    def start(self, domain_name: str) -> None:
        self._begin()
        dom = self._require(domain_name, "start")
        with self._errors(f"Could not start the mini PC {domain_name}"):
            running = dom.isActive()
        if not running:
            self._require_bridges_of(dom, domain_name)
        self._start(dom, domain_name)

    @_public
    def stop(self, domain_name: str, timeout: float) -> None:
        self._begin()
        dom = self._require(domain_name, "stop")
        with self._errors(f"Could not stop the mini PC {domain_name}"):
            if not dom.isActive():
                return
            self._record(f"shutdown({domain_name})")
            try:
                dom.shutdown()
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_OPERATION_INVALID:  # "not running": it just stopped
                    raise
            deadline = time.monotonic() + max(0.0, timeout)
            while time.monotonic() < deadline:
                if not dom.isActive():
                    return
                time.sleep(0.25)
            if dom.isActive():
                self._record(f"destroy({domain_name})")
                try:
                    dom.destroy()
                except libvirt.libvirtError as exc:
                    if exc.get_error_code() != libvirt.VIR_ERR_OPERATION_INVALID or dom.isActive():
                        raise

    @_public
    def reboot(self, domain_name: str) -> None:
        self._begin()
        dom = self._require(domain_name, "reboot")
        with self._errors(f"Could not reboot the mini PC {domain_name}"):
            if not dom.isActive():  # nothing to reboot: converge on "running"
                self._start(dom, domain_name)
                return
            self._record(f"reboot({domain_name}, ACPI_POWER_BTN)")
            dom.reboot(libvirt.VIR_DOMAIN_REBOOT_ACPI_POWER_BTN)

    @_public
    def resize(self, domain_name: str, vcpus: int, ram_mib: int) -> str:
        self._begin()
        dom = self._require(domain_name, "resize")
        config = libvirt.VIR_DOMAIN_AFFECT_CONFIG
        with self._errors(f"Could not resize the mini PC {domain_name}"):
            if dom.isActive():
                raise WrongState(f"Stop the mini PC {domain_name} before resizing it.")
            self._record(f"setVcpusFlags({domain_name}, {vcpus}, MAXIMUM|CONFIG)")
            dom.setVcpusFlags(int(vcpus), libvirt.VIR_DOMAIN_VCPU_MAXIMUM | config)
            self._record(f"setVcpusFlags({domain_name}, {vcpus}, CONFIG)")
            dom.setVcpusFlags(int(vcpus), config)
            kib = int(ram_mib) * 1024
            self._record(f"setMemoryFlags({domain_name}, {kib} KiB, MAXIMUM|CONFIG)")
            dom.setMemoryFlags(kib, libvirt.VIR_DOMAIN_MEM_MAXIMUM | config)
            self._record(f"setMemoryFlags({domain_name}, {kib} KiB, CONFIG)")
            dom.setMemoryFlags(kib, config)
            self._record(f"XMLDesc({domain_name}, INACTIVE)")
            return dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)

    @_public
    def delete(self, domain_name: str) -> None:
        self._begin()
        _require_ours(domain_name, "delete")
        with self._name_lock(domain_name):
            dom = self._lookup_domain(domain_name)
            if dom is not None:
                with self._errors(f"Could not delete the mini PC {domain_name}"):
                    if dom.isActive():
                        self._record(f"destroy({domain_name})")
                        with contextlib.suppress(libvirt.libvirtError):
                            dom.destroy()
                    flags = (libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                             | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                             | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
                             | getattr(libvirt, "VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA", 0))
                    self._record(f"undefineFlags({domain_name}, MANAGED_SAVE|SNAPSHOTS_METADATA|NVRAM)")
                    try:
                        dom.undefineFlags(flags)
                    except libvirt.libvirtError as exc:
                        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                            pass
                        elif exc.get_error_code() in (libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_INVALID_ARG):
                            self._record(f"undefine({domain_name})")
                            dom.undefine()
                        else:
                            raise
            pool = self._pool()
            for vol_name in (f"{domain_name}-disk.qcow2", f"{domain_name}-seed.iso"):
                vol = self._lookup_volume(pool, vol_name)
                if vol is None:
                    continue
                self._record(f"storageVolDelete({vol_name})")
                try:
                    vol.delete(0)
                except libvirt.libvirtError as exc:
                    if exc.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_VOL:
                        with self._errors(f"Could not delete the volume {vol_name}"):
                            raise
            if self.is_local:
                log = os.path.join(self.log_dir, f"{domain_name}.log")
                for path in [log] + [f"{log}.{i}" for i in range(10)]:
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(path)

    # ---- reading

    @_public
    def state(self, domain_name: str) -> str | None:
        self._begin()
        dom = self._lookup_domain(domain_name)
        if dom is None:
            return None
        try:
            self._record(f"state({domain_name})")
            return STATES.get(dom.state()[0], "unknown")
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            with self._errors(f"Could not read the state of {domain_name}"):
                raise

    @_public
    def list_domains(self) -> dict[str, str]:
        """One listing call: ``getAllDomainStats(STATE)`` returns every domain with its state in a
        single round trip (``listAllDomains`` would need one more call per domain for the state)."""
        self._begin()
        conn = self.connection()
        with self._errors("Could not list the domains"):
            try:
                self._record("getAllDomainStats(STATE)")
                stats = conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE)
                return {d.name(): STATES.get(s.get("state.state"), "unknown")
                        for d, s in stats if d.name().startswith(DOMAIN_PREFIX)}
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
                    raise
            self._record("listAllDomains()")
            return {d.name(): STATES.get(d.state()[0], "unknown")
                    for d in conn.listAllDomains(0) if d.name().startswith(DOMAIN_PREFIX)}

    @_public
    def list_volumes(self) -> list[str]:
        """Our volumes in the pool, base images (``mc-base-*``) included."""
        self._begin()
        pool = self._pool()
        with self._errors("Could not list the volumes"):
            self._record(f"pool.refresh({self.pool_name})")
            with contextlib.suppress(libvirt.libvirtError):  # refresh races with volume creation at times
                pool.refresh(0)
            self._record(f"pool.listAllVolumes({self.pool_name})")
            return sorted(v.name() for v in pool.listAllVolumes(0) if v.name().startswith(DOMAIN_PREFIX))

    @_public
    def domain_xml(self, domain_name: str) -> str | None:
        self._begin()
        dom = self._lookup_domain(domain_name)
        if dom is None:
            return None
        try:
            self._record(f"XMLDesc({domain_name})")
            return dom.XMLDesc(0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            with self._errors(f"Could not read the definition of {domain_name}"):
                raise

    @_public
    def console_log(self, domain_name: str, max_bytes: int = 65536) -> str:
        """The tail of ``<log_dir>/<domain>.log``; local hosts only ("" for remote ones)."""
        self._begin()
        if not self.is_local:
            return ""
        path = os.path.join(self.log_dir, f"{domain_name}.log")
        try:
            with open(path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - max_bytes))
                data = fh.read(max_bytes)
        except FileNotFoundError:
            return ""
        except OSError as exc:
            raise ComputeError(f"Could not read the console log of {domain_name}: {exc.strerror}") from None
        if size > max_bytes:  # cut at the first full line
            newline = data.find(b"\n")
            if 0 <= newline < len(data) - 1:
                data = data[newline + 1:]
        return data.decode("utf-8", errors="replace")

    @_public
    def console_read(self, domain_name: str, offset: int | None = None,
                     max_bytes: int = 65536) -> tuple[bytes, int]:
        """Bytes of ``<log_dir>/<domain>.log`` from ``offset``; local hosts only."""
        self._begin()
        if not self.is_local:
            return b"", offset or 0
        path = os.path.join(self.log_dir, f"{domain_name}.log")
        try:
            with open(path, "rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                start = max(0, size - max_bytes) if offset is None else (0 if offset > size else offset)
                fh.seek(start)
                data = fh.read(max_bytes)
        except FileNotFoundError:
            return b"", 0 if offset is None else offset
        except OSError as exc:
            raise ComputeError(f"Could not read the console log of {domain_name}: {exc.strerror}") from None
        return data, start + len(data)

    @_public
    def console_send(self, domain_name: str, text: str) -> None:
        self._begin()
        dom = self._require(domain_name, "type on the console of")
        conn = self.connection()
        with self._errors(f"Could not type on the console of {domain_name}"):
            # isActive() is true for a paused guest too, which reads (and echoes) nothing until resumed
            self._record(f"state({domain_name})")
            if STATES.get(dom.state()[0]) != "running":
                raise WrongState(f"The mini PC {domain_name} is not running: start it to use its console.")
            stream = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
            self._record(f"openConsole({domain_name}, FORCE)")
            dom.openConsole(None, stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
            try:
                _console_exchange(stream, text.encode())
                stream.finish()
            except libvirt.libvirtError:
                stream.abort()
                raise

    @_public
    def addresses(self, domain_name: str) -> list[str]:
        self._begin()
        dom = self._lookup_domain(domain_name)
        if dom is None:
            return []
        try:
            if not dom.isActive():
                return []
            self._record(f"interfaceAddresses({domain_name}, LEASE)")
            ifaces = dom.interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, 0)
        except libvirt.libvirtError as exc:
            if self._is_connection_error(exc):
                self._drop()
                raise HostUnavailable(f"The host {self.uri} cannot be reached: {exc.get_error_message()}") from None
            return []  # no lease source (user networking, test driver): nothing known
        out = []
        for iface in (ifaces or {}).values():
            for addr in iface.get("addrs") or []:
                if addr.get("type") == libvirt.VIR_IP_ADDR_TYPE_IPV4 and addr.get("addr"):
                    out.append(addr["addr"])
        return out


# --------------------------------------------------------------------------- networks

def isolated_network_possible() -> bool:
    """Whether this machine can run an isolated libvirt network: root, with dnsmasq installed."""
    import shutil
    return os.geteuid() == 0 and any(shutil.which("dnsmasq", path=p) for p in
                                     (os.environ.get("PATH", ""), "/usr/sbin:/sbin"))


def isolated_network_xml(name: str, bridge: str, cidr: str) -> str:
    """An isolated network: a bridge with DHCP from libvirt's dnsmasq and NO <forward> (no way out)."""
    net = ipaddress.ip_network(cidr, strict=True)
    if net.version != 4 or net.num_addresses < 8:
        raise ComputeError(f"{cidr} must be an IPv4 network of at least 8 addresses.")
    hosts = list(net.hosts())
    gateway, first, last = hosts[0], hosts[min(9, len(hosts) - 2)], hosts[-1]
    return (f"<network>\n  <name>{escape(name)}</name>\n"
            f"  <bridge name='{escape(bridge)}' stp='on' delay='0'/>\n"
            "  <!-- no <forward>: guests reach each other and the host, never the outside -->\n"
            f"  <ip address='{gateway}' netmask='{net.netmask}'>\n"
            f"    <dhcp>\n      <range start='{first}' end='{last}'/>\n    </dhcp>\n"
            "  </ip>\n</network>\n")


def ensure_isolated_network(conn_uri: str, name: str = "minicloud-isolated", bridge: str = "mcbr0",
                            cidr: str = "10.213.0.0/24") -> str:
    """Define (if missing), start and autostart an isolated libvirt network; returns its name.

    Refuses a network of that name that has a <forward> (it would route guests to the outside).
    ``LibvirtDriver.create`` does the same for a NIC whose network is missing on the host."""
    try:
        conn = libvirt.open(conn_uri)
    except libvirt.libvirtError as exc:
        raise HostUnavailable(f"The host {conn_uri} cannot be reached: {exc.get_error_message()}") from None
    try:
        _ensure_isolated(conn, name, bridge, cidr, lambda _call: None)
        return name
    finally:
        with contextlib.suppress(libvirt.libvirtError):
            conn.close()


def _ensure_isolated(conn: libvirt.virConnect, name: str, bridge: str, cidr: str, record) -> None:
    try:
        try:
            record(f"networkLookupByName({name})")
            net = conn.networkLookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_NETWORK:
                raise
            record(f"networkDefineXML({name}, isolated {cidr})")
            net = conn.networkDefineXML(isolated_network_xml(name, bridge, cidr))
        if ET.fromstring(net.XMLDesc(0)).find("forward") is not None:
            raise ComputeError(f"The libvirt network {name} has a <forward>; minicloud only uses isolated networks.")
        if not net.isActive():
            record(f"network.create({name})")
            try:
                net.create()
            except libvirt.libvirtError:
                if not net.isActive():  # started meanwhile by another worker is fine
                    raise
        if not net.autostart():
            record(f"network.setAutostart({name})")
            net.setAutostart(1)
    except libvirt.libvirtError as exc:
        raise ComputeError(f"Could not set up the isolated network {name}: {exc.get_error_message()}") from None


# --------------------------------------------------------------------------- helpers

def _require_ours(name: str, action: str) -> None:
    """ForeignDomain unless ``name`` is a minicloud domain's: the driver changes nothing else."""
    if not name.startswith(DOMAIN_PREFIX):
        raise ForeignDomain(f"Refusing to {action} {name!r}: not a minicloud domain "
                            f"(its name does not start with {DOMAIN_PREFIX!r}).")


def _console_exchange(stream: libvirt.virStream, data: bytes) -> None:
    """Send ``data`` on a non-blocking console stream, then wait (up to CONSOLE_ECHO_SECONDS) for
    the guest's terminal to answer. libvirtd relays bytes to the pty asynchronously, and closing
    the stream at once can drop them (seen here under load); the echo proves they arrived."""
    deadline = time.monotonic() + CONSOLE_ECHO_SECONDS
    while data and time.monotonic() < deadline:
        sent = stream.send(data)
        if sent == -2:  # would block
            time.sleep(0.02)
            continue
        data = data[sent:]
    while time.monotonic() < deadline:
        if stream.recv(4096) != -2:  # -2: nothing yet
            return  # the echo arrived (the input reached the guest), or the console closed
        time.sleep(0.05)


class _BytesReader:
    """A tiny context-managed reader over bytes (for the seed upload)."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0

    def read(self, n: int) -> bytes:
        chunk = bytes(self._data[self._pos:self._pos + n])
        self._pos += len(chunk)
        return chunk

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


def _disk_format(path: str) -> str:
    """"qcow2" when the file starts with the qcow2 magic, else "raw"."""
    try:
        with open(path, "rb") as fh:
            return "qcow2" if fh.read(4) == b"QFI\xfb" else "raw"
    except OSError:
        return "raw"


def _virtual_size(path: str) -> int:
    """The disk size the guest sees: qcow2 header field, or the file size of a raw image."""
    try:
        with open(path, "rb") as fh:
            header = fh.read(32)
        if header[:4] == b"QFI\xfb":
            return int.from_bytes(header[24:32], "big")
        return os.path.getsize(path)
    except OSError:
        return 0
