"""Mini PCs end to end on real libvirt (issue 3): the HTTP API, a real worker, qemu:///system, real guests.

Everything a user touches goes through the API (the app's werkzeug test client); the jobs run in
real workers — ``Worker`` loops in background threads, or ``minicloud worker`` subprocesses for the
kill test — against PostgreSQL and libvirt's ``qemu:///system`` with the REAL ``LibvirtDriver``.

Each test session gets its own storage pool, pool directory, console-log directory and block of
loopback SSH ports (``mc-minipcs-<tag>``), so runs on the same machine never collide; every domain
and volume created is removed at teardown (through the API, then a safety net through libvirt).

- tiny image (busybox initramfs printing MINICLOUD-SEED/HW/READY on the serial console, ~5 s boots):
  10 concurrent creates, a domain destroyed behind the platform's back, a worker killed mid-create;
- libvirt's test driver (``test:///<node.xml>``) as extra hosts: placement decisions;
- Debian image with cloud-init: the full lifecycle, checked over SSH on the forwarded loopback port.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt
import psycopg
import pytest
from psycopg.rows import dict_row
from werkzeug.test import Client

from conftest import User
from libvirt_fixtures import remove_pool
from waiting import wait_for
from minicloud.jobs.reconciler import reconcile
from minicloud.jobs.worker import JobContext, Worker
from minicloud.services.hosts import NoRoom

pytestmark = pytest.mark.system
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # errors are raised; don't also print them

ROOT = Path(__file__).resolve().parents[2]
ADMIN = ("root", "root-password-1")
CREATE_TIMEOUT = 180   # 10 TCG guests on 2 cores, maybe with other test runs on the machine
DEBIAN_SSH_TIMEOUT = 300


# --------------------------------------------------------------------------- helpers

def free_port_block(size: int) -> int:
    """The first port of ``size`` consecutive loopback ports that are all free now."""
    import random

    rng = random.Random()
    for _ in range(200):
        start = rng.randrange(30000, 40000 - size)
        socks = []
        try:
            for port in range(start, start + size):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return start
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free block of loopback ports")


def lv_open(uri: str) -> libvirt.virConnect:
    return libvirt.open(uri)


def lv_domain_state(uri: str, name: str) -> int | None:
    conn = lv_open(uri)
    try:
        return conn.lookupByName(name).state()[0]
    except libvirt.libvirtError:
        return None
    finally:
        conn.close()


def lv_domain_xml(uri: str, name: str, flags: int = 0) -> str:
    conn = lv_open(uri)
    try:
        return conn.lookupByName(name).XMLDesc(flags)
    finally:
        conn.close()


def lv_volumes(uri: str, pool_name: str) -> list[str]:
    conn = lv_open(uri)
    try:
        pool = conn.storagePoolLookupByName(pool_name)
        pool.refresh(0)
        return sorted(v.name() for v in pool.listAllVolumes(0))
    finally:
        conn.close()


def destroy_domain(conn: libvirt.virConnect, name: str) -> None:
    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError:
        return
    try:
        if dom.isActive():
            dom.destroy()
    except libvirt.libvirtError:
        pass
    try:
        dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                          | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
    except libvirt.libvirtError:
        pass


def node_xml(path: Path, cpus: int, ram_mib: int, gpus: int = 0) -> Path:
    """A pretend host for libvirt's test driver: ``cpus`` CPUs, ``ram_mib`` of memory, ``gpus`` display
    controllers (PCI class 0x0300xx) and always one network card (which is not a GPU)."""
    devices = []
    for i in range(gpus):
        devices.append(f"""  <device>
    <name>pci_0000_{i + 1:02x}_00_0</name><parent>computer</parent>
    <capability type='pci'>
      <class>0x030000</class><domain>0</domain><bus>{i + 1}</bus><slot>0</slot><function>0</function>
      <product id='0x2204'>GA102 [GeForce RTX 3090]</product><vendor id='0x10de'>NVIDIA Corporation</vendor>
    </capability>
  </device>""")
    devices.append("""  <device>
    <name>pci_0000_20_00_0</name><parent>computer</parent>
    <capability type='pci'>
      <class>0x020000</class><domain>0</domain><bus>32</bus><slot>0</slot><function>0</function>
      <product id='0x1533'>I210 Gigabit Network Connection</product><vendor id='0x8086'>Intel Corporation</vendor>
    </capability>
  </device>""")
    path.write_text(f"""<node>
  <cpu>
    <nodes>1</nodes><sockets>1</sockets><cores>{cpus}</cores><threads>1</threads>
    <active>{cpus}</active><mhz>3000</mhz><model>x86_64</model>
  </cpu>
  <memory>{ram_mib * 1024}</memory>
{chr(10).join(devices)}
</node>
""")
    return path


# --------------------------------------------------------------------------- session environment

@pytest.fixture(scope="session")
def mini_env(libvirt_uri, tmp_path_factory):
    """A storage pool, pool dir, console dir and SSH port block of this session's own; removed afterwards."""
    tag = uuid.uuid4().hex[:8]
    base = tmp_path_factory.mktemp(f"mini-pcs-{tag}")
    base.chmod(0o755)
    env = {
        "uri": libvirt_uri, "tag": tag, "base": base,
        "pool_name": f"mc-minipcs-{tag}", "pool_path": str(base / "pool"), "log_dir": str(base / "console"),
        "port_start": free_port_block(40),
    }
    env["port_end"] = env["port_start"] + 39
    env["domains"] = set()  # every domain name a test may have made: the safety net's list
    yield env
    conn = lv_open(libvirt_uri)
    try:
        for dom in conn.listAllDomains(0):  # ours by name, or anything using our pool
            try:
                ours = dom.name() in env["domains"] or env["pool_path"] in dom.XMLDesc(0)
            except libvirt.libvirtError:
                continue
            if ours:
                destroy_domain(conn, dom.name())
        remove_pool(conn, env["pool_name"])
    finally:
        conn.close()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def slow_tiny_disk(mini_env, tiny_image) -> Path:
    """The tiny image's disk as a fully allocated 400 MiB qcow2: uploading it into the pool takes
    seconds, which gives the kill test a create that is certainly still in progress."""
    path = mini_env["base"] / "tiny-slow.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "preallocation=full", str(path), "400M"],
                   check=True)
    return path


def compute_settings(env: dict) -> dict:
    return {
        "compute.default_host_uri": env["uri"],
        "compute.network_mode": "user",
        "network.enforcement": "off",  # SSH on forwarded loopback ports; VPC guests: test_vpc_guests.py
        "compute.pool_name": env["pool_name"],
        "compute.pool_path": env["pool_path"],
        "compute.console_log_dir": env["log_dir"],
        "compute.ssh_port_range_start": env["port_start"],
        "compute.ssh_port_range_end": env["port_end"],
        "compute.cpu_allocation_ratio": 8.0,
        "compute.stop_timeout_seconds": 45,
    }


@pytest.fixture
def config(config, mini_env):
    return config.with_overrides({
        **compute_settings(mini_env),
        "database.pool_max": 20,
        "jobs.backoff_base_seconds": 0.5,
        "jobs.backoff_max_seconds": 2.0,
        "quotas.instances": 20, "quotas.vcpus": 64, "quotas.ram_mib": 262144, "quotas.disk_gib": 2000,
    })


# --------------------------------------------------------------------------- the cloud, driven like a user

class MiniCloud:
    """Admin and user API sessions, registered images/templates, workers, and the instances to clean up."""

    def __init__(self, app, services, config, env, database_url):
        self.app, self.services, self.config, self.env, self.database_url = app, services, config, env, database_url
        self.uri = env["uri"]
        self.workers: list[tuple[Worker, threading.Thread]] = []
        self.processes: list[subprocess.Popen] = []
        self.instances: list[str] = []
        services.accounts.ensure_admin(*ADMIN)
        self.admin = self.login(*ADMIN)
        client = Client(app)
        assert client.post("/api/v1/auth/signup", json={"username": "alice", "password": "correct-horse",
                                                        "display_name": "Alice"}).status_code == 201
        self.user = self.login("alice", "correct-horse")
        services.templates.seed()
        self.templates = {t["name"]: t for t in self.admin.get("/api/v1/templates").json["items"]}

    def login(self, username: str, password: str, client: Client | None = None) -> User:
        client = client or Client(self.app)
        response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.json
        return User(client, username, response.json["access_token"])

    def user_clone(self) -> User:
        """The same user on a client of its own (werkzeug's Client is not meant to be shared across threads)."""
        return User(Client(self.app), self.user.username, self.user.token)

    # -- catalogue
    def register_image(self, image, name: str | None = None, disk: Path | None = None) -> dict:
        response = self.admin.post("/api/v1/images", json={
            "name": name or image.name, "disk_path": str(disk or image.disk), "kernel_path": str(image.kernel),
            "initrd_path": str(image.initrd), "cmdline": image.cmdline, "default_user": image.default_user,
            "min_disk_gib": 1})
        assert response.status_code == 201, response.json
        return response.json

    def template(self, name: str, vcpus: int = 1, ram_mib: int = 256, disk_gib: int = 1, gpus: int = 0) -> str:
        if name not in self.templates:
            response = self.admin.post("/api/v1/templates", json={"name": name, "vcpus": vcpus, "ram_mib": ram_mib,
                                                                   "disk_gib": disk_gib, "gpus": gpus})
            assert response.status_code == 201, response.json
            self.templates[name] = response.json
        return str(self.templates[name]["id"])

    # -- instances
    def create(self, name: str, template: str, image: dict, user: User | None = None, **extra) -> dict:
        response = (user or self.user).post("/api/v1/instances", json={
            "name": name, "template_id": self.template(template), "image_id": str(image["id"]), **extra})
        assert response.status_code == 202, response.json
        body = response.json
        assert body["state"] == "pending"
        self.track(body["id"])
        return body

    def track(self, instance_id) -> None:
        self.instances.append(str(instance_id))
        self.env["domains"].add(f"mc-{instance_id}")

    def get(self, instance_id, user: User | None = None):
        return (user or self.user).get(f"/api/v1/instances/{instance_id}")

    def wait_state(self, instance_id, state: str, timeout: float = CREATE_TIMEOUT, user: User | None = None) -> dict:
        seen = {}

        def reached():
            response = self.get(instance_id, user)
            assert response.status_code == 200, response.json
            seen["body"] = response.json
            if response.json["state"] == "error" and state != "error":
                raise AssertionError(f"instance {instance_id} ended in error: {response.json['status_reason']}")
            return response.json if response.json["state"] == state else None
        try:
            return wait_for(reached, timeout, f"instance {instance_id} to be {state}", interval=0.25)
        except AssertionError as exc:
            body = seen.get("body") or {}
            raise AssertionError(f"{exc}; it is {body.get('state')} ({body.get('status_reason')})") from None

    def console(self, instance_id, user: User | None = None) -> str:
        response = (user or self.user).get(f"/api/v1/instances/{instance_id}/console?max_bytes=1048576")
        assert response.status_code == 200, response.json
        return response.json["output"]

    def wait_console(self, instance_id, pattern: str, timeout: float, count: int = 1) -> re.Match:
        def found():
            matches = list(re.finditer(pattern, self.console(instance_id)))
            return matches[count - 1] if len(matches) >= count else None
        try:
            return wait_for(found, timeout, f"{pattern!r} x{count} on the console of {instance_id}", interval=1)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; console:\n{self.console(instance_id)[-3000:]}") from None

    def delete(self, instance_id) -> None:
        response = self.user.delete(f"/api/v1/instances/{instance_id}")
        assert response.status_code == 202, response.json
        assert response.json["state"] == "deleting"

    def wait_gone(self, ids, timeout: float = 120) -> None:
        wait_for(lambda: all(self.get(i).status_code == 404 for i in ids), timeout,
                 f"instances {list(ids)} to be deleted", interval=0.5)

    # -- workers
    def start_workers(self, count: int = 2) -> None:
        for _ in range(count):
            worker = Worker(self.config, self.services, name=f"minipcs-{len(self.workers)}")
            thread = threading.Thread(target=worker.run_forever, name=worker.name, daemon=True)
            thread.start()
            self.workers.append((worker, thread))

    def stop_workers(self) -> None:
        for worker, _ in self.workers:
            worker.stop.set()
            worker.wake.set()
        for _, thread in self.workers:
            thread.join(timeout=120)
        self.workers = []

    def worker_process(self, name: str, log: Path, lease: int = 3) -> subprocess.Popen:
        env = dict(os.environ, DATABASE_URL=self.database_url,
                   MINICLOUD_AUTH_JWT_SECRET=self.config.get("auth.jwt_secret"),
                   MINICLOUD_JOBS_LEASE_SECONDS=str(lease), MINICLOUD_JOBS_POLL_SECONDS="0.1",
                   MINICLOUD_JOBS_BACKOFF_BASE_SECONDS="0.5", MINICLOUD_JOBS_BACKOFF_MAX_SECONDS="2")
        for key, value in compute_settings(self.env).items():
            env["MINICLOUD_" + key.replace(".", "_").upper()] = str(value)
        with open(log, "ab") as out:
            process = subprocess.Popen([sys.executable, "-m", "minicloud.cli", "worker", "--name", name],
                                       env=env, cwd=str(ROOT), stdout=out, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def db(self) -> psycopg.Connection:
        return psycopg.connect(self.database_url, autocommit=True, row_factory=dict_row)

    # -- teardown
    def cleanup(self) -> None:
        try:
            for process in self.processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        process.wait(timeout=60)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
            live = []
            for instance_id in self.instances:
                response = self.get(instance_id)
                if response.status_code != 200:
                    continue
                live.append(instance_id)
                if response.json["state"] != "deleting":
                    wait_for(lambda: self.user.delete(f"/api/v1/instances/{instance_id}").status_code == 202,
                             120, f"delete of {instance_id} to be accepted", interval=1)
            if live:
                if not self.workers:
                    self.start_workers(2)
                try:
                    self.wait_gone(live, timeout=180)
                except AssertionError as exc:
                    print(f"cleanup through the API incomplete: {exc}")
        finally:
            self.stop_workers()
            conn = lv_open(self.uri)  # the safety net: by our unique names
            try:
                for instance_id in self.instances:
                    destroy_domain(conn, f"mc-{instance_id}")
                try:
                    pool = conn.storagePoolLookupByName(self.env["pool_name"])
                    pool.refresh(0)
                    for vol in pool.listAllVolumes(0):
                        if any(vol.name().startswith(f"mc-{i}") for i in self.instances):
                            vol.delete(0)
                except libvirt.libvirtError:
                    pass
            finally:
                conn.close()


@pytest.fixture
def cloud_api(app, services, config, mini_env, database_url):
    mc = MiniCloud(app, services, config, mini_env, database_url)
    try:
        yield mc
    finally:
        mc.cleanup()


def our_leftovers(mc: MiniCloud, ids) -> tuple[list[str], list[str]]:
    """Domains and volumes of the given instances that still exist in libvirt."""
    conn = lv_open(mc.uri)
    try:
        domains = [d.name() for d in conn.listAllDomains(0) if d.name() in {f"mc-{i}" for i in ids}]
    finally:
        conn.close()
    volumes = [v for v in lv_volumes(mc.uri, mc.env["pool_name"]) if any(v.startswith(f"mc-{i}") for i in ids)]
    return domains, volumes


# --------------------------------------------------------------------------- tiny image

def test_ten_concurrent_creates_all_run_and_each_console_shows_its_own_seed(cloud_api, tiny_image):
    mc = cloud_api
    image = mc.register_image(tiny_image)
    mc.template("pico", vcpus=1, ram_mib=256, disk_gib=1)
    mc.start_workers(3)

    results: dict[int, object] = {}
    barrier = threading.Barrier(10)

    def post(i: int) -> None:
        user = mc.user_clone()
        barrier.wait()
        try:
            results[i] = user.post("/api/v1/instances", json={
                "name": f"tiny-{i}", "template_id": mc.template("pico"), "image_id": str(image["id"])})
        except Exception as exc:  # noqa: BLE001 - reported below
            results[i] = exc

    started = time.monotonic()
    threads = [threading.Thread(target=post, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, response in sorted(results.items()):
        assert not isinstance(response, Exception), response
        if response.status_code == 202:
            mc.track(response.json["id"])
    assert [r.status_code for _, r in sorted(results.items())] == [202] * 10, \
        [r.json for r in results.values() if r.status_code != 202]
    ids = [results[i].json["id"] for i in range(10)]
    assert all(results[i].json["state"] == "pending" for i in range(10))

    for instance_id in ids:
        mc.wait_state(instance_id, "running", timeout=CREATE_TIMEOUT)
    all_running = time.monotonic() - started
    shown = [mc.get(i).json for i in ids]
    ports = sorted(s["nic"]["ssh_port"] for s in shown)
    assert len(set(ports)) == 10 and all(mc.env["port_start"] <= p <= mc.env["port_end"] for p in ports)
    assert {s["host"]["name"] for s in shown} == {"local"}
    for s in shown:
        assert f"<name>mc-{s['id']}</name>" in s["artefacts"]["domain_xml"]
        assert lv_domain_state(mc.uri, f"mc-{s['id']}") == libvirt.VIR_DOMAIN_RUNNING

    # each guest read its own seed: its instance id and its hostname
    for i, instance_id in enumerate(ids):
        line = mc.wait_console(instance_id, r"MINICLOUD-SEED instance-id=(\S+) hostname=(\S+)",
                               timeout=max(30.0, CREATE_TIMEOUT - (time.monotonic() - started)))
        assert line.group(1) == instance_id and line.group(2) == f"tiny-{i}"
        other_ids = set(ids) - {instance_id}
        assert not any(o in mc.console(instance_id) for o in other_ids)
    consoles_ok = time.monotonic() - started
    print(f"\n10 concurrent creates: all running after {all_running:.1f} s, all seeds on the consoles "
          f"after {consoles_ok:.1f} s")

    for instance_id in ids:
        mc.delete(instance_id)
    mc.wait_gone(ids, timeout=180)
    domains, volumes = our_leftovers(mc, ids)
    assert domains == [] and volumes == []
    assert not any(Path(mc.env["log_dir"], f"mc-{i}.log").exists() for i in ids)


def test_a_domain_destroyed_behind_the_platforms_back_is_noticed(cloud_api, tiny_image, config, services):
    mc = cloud_api
    image = mc.register_image(tiny_image)
    mc.start_workers(1)
    pc = mc.create("victim", "pico", image)
    mc.wait_state(pc["id"], "running")
    mc.stop_workers()  # so that the pass below is the one that notices (a worker runs passes too)
    name = f"mc-{pc['id']}"

    conn = lv_open(mc.uri)  # behind the platform's back
    try:
        dom = conn.lookupByName(name)
        dom.destroy()
        dom.undefine()
    finally:
        conn.close()

    passes = reconcile(JobContext(config, "test", services))
    local = next(p for p in passes if p["host"] == "local")
    assert local["reachable"] and (pc["id"], "running", "error") in local["changed"]
    shown = mc.get(pc["id"]).json
    assert shown["state"] == "error"
    assert "disappeared" in shown["status_reason"]
    assert shown["allowed_actions"] == ["start", "delete"]
    ko = mc.user.get(f"/api/v1/instances/{pc['id']}", headers={"Accept-Language": "ko"}).json
    assert ko["status_reason"] and ko["status_reason"] != shown["status_reason"]
    # its volumes are still there (nothing is deleted automatically); deleting the instance removes them
    assert f"{name}-disk.qcow2" in lv_volumes(mc.uri, mc.env["pool_name"])
    mc.start_workers(1)
    mc.delete(pc["id"])
    mc.wait_gone([pc["id"]])
    assert our_leftovers(mc, [pc["id"]]) == ([], [])


def test_a_worker_killed_mid_create_converges_after_restart(cloud_api, tiny_image, slow_tiny_disk, mini_env):
    mc = cloud_api
    # the tiny guest with a 400 MiB fully allocated base disk: its upload keeps the create busy for seconds
    image = mc.register_image(tiny_image, name="tiny-slow", disk=slow_tiny_disk)
    logs = mini_env["base"]
    first = mc.worker_process("doomed", logs / "worker-doomed.log")
    pc = mc.create("phoenix", "pico", image)
    name = f"mc-{pc['id']}"

    with mc.db() as db:
        def job():
            return db.execute("SELECT * FROM jobs WHERE id = %s", (pc["operation_id"],)).fetchone()

        try:
            wait_for(lambda: first.poll() is not None or mc.get(pc["id"]).json["state"] == "building", 60,
                     "the instance to be building on the first worker", interval=0.02)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; it is {mc.get(pc['id']).json}; job {job()}; worker log:\n"
                                 f"{(logs / 'worker-doomed.log').read_text()[-3000:]}") from None
        assert first.poll() is None, (logs / "worker-doomed.log").read_text()[-3000:]
        time.sleep(0.3)  # inside the base image upload
        assert job()["state"] == "running" and job()["locked_by"] == "doomed"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=20)
        partial = mc.get(pc["id"]).json
        assert partial["state"] == "building", partial  # it really was killed mid-create
        base_vol = "mc-base-tiny-slow.qcow2"
        print(f"\nkilled mid-create; volumes then: {[v for v in lv_volumes(mc.uri, mc.env['pool_name'])]}")

        second = mc.worker_process("rescuer", logs / "worker-rescuer.log")
        started = time.monotonic()
        running = mc.wait_state(pc["id"], "running", timeout=120)
        print(f"converged {time.monotonic() - started:.1f} s after the second worker started")
        assert second.poll() is None
        # the instance turns running inside the job; the job itself is marked done a moment later
        final = wait_for(lambda: (row := job())["state"] != "running" and row, 30, "the job to finish", interval=0.1)
        assert final["state"] == "succeeded" and final["attempts"] == 2, final
        runs = db.execute("SELECT worker, attempt, outcome FROM job_runs WHERE job_id = %s ORDER BY attempt",
                          (pc["operation_id"],)).fetchall()
        assert [(r["worker"], r["attempt"]) for r in runs] == [("doomed", 1), ("rescuer", 2)]
        assert runs[1]["outcome"] == "succeeded"

    conn = lv_open(mc.uri)
    try:
        mine = [d.name() for d in conn.listAllDomains(0) if pc["id"] in d.name()]
        assert mine == [name] and conn.lookupByName(name).state()[0] == libvirt.VIR_DOMAIN_RUNNING
        pool = conn.storagePoolLookupByName(mc.env["pool_name"])
        pool.refresh(0)
        base = pool.storageVolLookupByName(base_vol)
        assert base.infoFlags(1)[2] == slow_tiny_disk.stat().st_size  # the half-uploaded base was redone
    finally:
        conn.close()
    assert sorted(v for v in lv_volumes(mc.uri, mc.env["pool_name"]) if v.startswith(name)) == \
        [f"{name}-disk.qcow2", f"{name}-seed.iso"]
    assert running["host"]["name"] == "local"
    mc.wait_console(pc["id"], rf"MINICLOUD-SEED instance-id={pc['id']} hostname=phoenix", timeout=90)

    mc.delete(pc["id"])
    mc.wait_gone([pc["id"]])
    assert our_leftovers(mc, [pc["id"]]) == ([], [])


# --------------------------------------------------------------------------- placement (test driver hosts)

def test_placement_over_several_test_driver_hosts(cloud_api, services, tiny_image, tmp_path):
    mc = cloud_api
    specs = {  # name: (CPUs, MiB, GPUs)
        "wide-mem": (1, 131072, 0),   # the most memory, but 1 CPU (8 vCPUs at ratio 8)
        "roomy": (8, 65536, 0),
        "gpu-node": (4, 16384, 1),
        "little": (2, 1024, 0),
    }
    hosts = {}
    for name, (cpus, ram, gpus) in specs.items():
        path = node_xml(tmp_path / f"{name}.xml", cpus, ram, gpus)
        response = mc.admin.post("/api/v1/hosts", json={"name": name, "uri": f"test://{path}"})
        assert response.status_code == 201, response.json
        hosts[name] = response.json
    listed = {h["name"]: h for h in mc.admin.get("/api/v1/hosts").json["items"]}
    assert set(listed) == set(specs) | {"local"}
    # the local qemu host takes no part here: an administrator disables it
    response = mc.admin.patch(f"/api/v1/hosts/{listed['local']['id']}", json={"enabled": False})
    assert response.status_code == 200 and response.json["enabled"] is False

    # what the REAL LibvirtDriver reads from the test driver's node XML
    infos = services.hosts.infos()
    by_name = {h["name"]: infos[uuid.UUID(h["id"])] for h in hosts.values()}
    assert set(infos) == {uuid.UUID(h["id"]) for h in hosts.values()}
    for name, (cpus, ram, gpus) in specs.items():
        info = by_name[name]
        assert (info.vcpus, info.ram_mib, len(info.gpus)) == (cpus, ram, gpus), (name, info)
    assert by_name["gpu-node"].gpus[0].address == "0000:01:00.0"

    image = mc.register_image(tiny_image)
    mc.template("cpu-heavy", vcpus=12, ram_mib=1024, disk_gib=1)

    def place(name: str, template: str) -> tuple[str, tuple, dict]:
        pc = mc.create(name, template, image)
        placement = services.instances.place(services.instances.row(pc["id"]))
        assert services.instances.row(pc["id"])["host_id"] == placement.host["id"]
        return placement.host["name"], placement.gpus, pc

    # most free memory first
    host, gpus, _ = place("p1", "nano")
    assert host == "wide-mem" and gpus == ()
    # a host without room is skipped: wide-mem has the most free memory but not 12 vCPUs
    host, _, _ = place("p2", "cpu-heavy")
    assert host == "roomy"
    # a GPU template goes only where a GPU is free, even though two hosts have more free memory
    host, gpus, gpu_pc = place("p3", "gpu-small")
    assert host == "gpu-node" and [g.address for g in gpus] == ["0000:01:00.0"]
    assert services.instances.gpus_of(gpu_pc["id"]) == ["0000:01:00.0"]
    assert {h["name"]: h["gpus_used"] for h in mc.admin.get("/api/v1/hosts").json["items"]}["gpu-node"] == 1
    # ... and nowhere once that GPU is taken (the network card is no GPU)
    pc = mc.create("p4", "gpu-small", image)
    with pytest.raises(NoRoom):
        services.instances.place(services.instances.row(pc["id"]))
    assert services.instances.row(pc["id"])["host_id"] is None
    # a disabled host is never chosen (wide-mem would still have the most free memory for this one)
    assert mc.admin.patch(f"/api/v1/hosts/{hosts['wide-mem']['id']}", json={"enabled": False}).status_code == 200
    host, _, _ = place("p5", "medium")
    assert host == "roomy"
    # a template bigger than any host's free memory: no room anywhere
    mc.template("mem-70g", vcpus=1, ram_mib=70 * 1024, disk_gib=1)
    pc = mc.create("p6", "mem-70g", image)
    with pytest.raises(NoRoom):
        services.instances.place(services.instances.row(pc["id"]))
    # nothing of these was built: they are not the teardown's business
    mc.instances.clear()


# --------------------------------------------------------------------------- Debian, full lifecycle

def ssh(key: Path, port: int, command: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-i", str(key), "-p", str(port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", "debian@127.0.0.1", command],
        capture_output=True, text=True, timeout=timeout)


def ssh_until(key: Path, port: int, command: str, timeout: float, accept=lambda r: True) -> str:
    last = {}

    def attempt():
        try:
            result = ssh(key, port, command)
        except subprocess.TimeoutExpired:
            last["r"] = "timeout"
            return None
        last["r"] = (result.returncode, result.stderr.strip()[-300:])
        return result.stdout if result.returncode == 0 and accept(result.stdout) else None
    try:
        return wait_for(attempt, timeout, f"ssh -p {port} {command!r}", interval=3)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last attempt: {last.get('r')}") from None


def probe(output: str) -> dict:
    lines = output.strip().splitlines()
    mem_kib = int(re.search(r"MemTotal:\s+(\d+) kB", output).group(1))
    return {"hostname": lines[0].strip(), "nproc": int(lines[1]), "mem_kib": mem_kib, "boot_id": lines[3].strip()}


PROBE = "hostname; nproc; grep MemTotal /proc/meminfo; cat /proc/sys/kernel/random/boot_id"


def test_debian_full_lifecycle_over_ssh(cloud_api, debian_image, mini_env):
    mc = cloud_api
    timings = {}
    t0 = time.monotonic()
    image = mc.register_image(debian_image)
    keypair = mc.user.post("/api/v1/keypairs", json={"name": "laptop"})
    assert keypair.status_code == 201, keypair.json
    key = mini_env["base"] / f"id_{uuid.uuid4().hex[:6]}"
    key.write_text(keypair.json["private_key"])
    key.chmod(0o600)
    marker = uuid.uuid4().hex[:10]
    user_data = ("#cloud-config\nruncmd:\n"
                 f"  - 'echo \"MARKER-$((6*7))-{marker}\" > /dev/ttyS0'\n")
    mc.start_workers(2)

    pc = mc.create("Deb-Box1", "small", image, keypair_id=str(keypair.json["id"]), user_data=user_data)
    url = f"/api/v1/instances/{pc['id']}"
    name = f"mc-{pc['id']}"
    shown = mc.wait_state(pc["id"], "running", timeout=240)
    timings["running"] = time.monotonic() - t0
    port = shown["nic"]["ssh_port"]
    assert shown["connect"]["ssh"] == f"ssh -p {port} debian@127.0.0.1"
    assert "MARKER-$((6*7))" in shown["artefacts"]["user_data"]

    first = probe(ssh_until(key, port, PROBE, DEBIAN_SSH_TIMEOUT))
    timings["ssh"] = time.monotonic() - t0
    assert first["hostname"] == "deb-box1"  # cloud-init set the name (lowercased), and the key let us in
    assert first["nproc"] == 1 and first["mem_kib"] < 1024 * 1024
    mc.wait_console(pc["id"], rf"MARKER-42-{marker}", timeout=120)  # runcmd ran (the shell did the sum)

    # stop -> libvirt says shut off
    assert mc.user.post(f"{url}/stop").json["state"] == "stopping"
    mc.wait_state(pc["id"], "stopped", timeout=120)
    assert lv_domain_state(mc.uri, name) == libvirt.VIR_DOMAIN_SHUTOFF
    timings["stopped"] = time.monotonic() - t0

    # resize -> the definition has the new vCPUs and memory
    resized = mc.user.post(f"{url}/resize", json={"template_id": mc.template("medium")})
    assert resized.status_code == 202 and resized.json["state"] == "resizing", resized.json
    shown = mc.wait_state(pc["id"], "stopped", timeout=60)
    assert (shown["vcpus"], shown["ram_mib"], shown["template"]["name"]) == (2, 2048, "medium")
    for xml in (shown["artefacts"]["domain_xml"], lv_domain_xml(mc.uri, name, libvirt.VIR_DOMAIN_XML_INACTIVE)):
        root = ET.fromstring(xml)
        assert root.findtext("vcpu").strip() == "2"
        memory = root.find("memory")
        assert int(memory.text) * {"KiB": 1, "MiB": 1024}[memory.get("unit", "KiB")] == 2048 * 1024

    # start -> the guest sees them
    assert mc.user.post(f"{url}/start").json["state"] == "starting"
    mc.wait_state(pc["id"], "running", timeout=120)
    after = probe(ssh_until(key, port, PROBE, DEBIAN_SSH_TIMEOUT, accept=lambda out: "MemTotal" in out))
    timings["restarted"] = time.monotonic() - t0
    assert after["boot_id"] != first["boot_id"] and after["hostname"] == "deb-box1"
    assert after["nproc"] == 2
    assert 1800 * 1024 < after["mem_kib"] <= 2048 * 1024

    # reboot -> running again, and SSH works again (a new boot)
    assert mc.user.post(f"{url}/reboot").json["state"] == "rebooting"
    mc.wait_state(pc["id"], "running", timeout=120)
    rebooted = probe(ssh_until(key, port, PROBE, DEBIAN_SSH_TIMEOUT,
                               accept=lambda out: after["boot_id"] not in out and "MemTotal" in out))
    timings["rebooted"] = time.monotonic() - t0
    assert rebooted["boot_id"] != after["boot_id"] and rebooted["nproc"] == 2
    assert lv_domain_state(mc.uri, name) == libvirt.VIR_DOMAIN_RUNNING

    # delete -> no domain, no overlay, no seed
    mc.delete(pc["id"])
    mc.wait_gone([pc["id"]])
    assert lv_domain_state(mc.uri, name) is None
    volumes = lv_volumes(mc.uri, mc.env["pool_name"])
    assert f"{name}-disk.qcow2" not in volumes and f"{name}-seed.iso" not in volumes
    assert not [v for v in volumes if v.startswith(name)]
    timings["deleted"] = time.monotonic() - t0
    print("\ndebian lifecycle (s since start): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
