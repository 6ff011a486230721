"""How much time does minicloud add to booting a mini PC? (``make bench``)

For each of N mini PCs (sequentially, alternating which path goes first) it times two ways of
booting the same guest from the tiny test image (``scripts/build-test-image.sh tiny``) on
``qemu:///system``, both until the SAME readiness signal: libvirt reports the domain running AND
the guest has printed ``MINICLOUD-READY`` in its serial console log file.

* platform: ``POST /api/v1/instances`` to a real gunicorn serving minicloud, a real
  ``minicloud worker`` (woken by NOTIFY, polling every ``--poll`` seconds as a fallback) that
  places the mini PC and runs the compute driver, its own PostgreSQL (scripts/pg.sh);
* direct: the same work with plain libvirt calls, no minicloud in between: the driver's own
  rendering functions (``render_seed`` + ``build_iso`` with pycdlib, ``render_domain_xml``), then
  ``storageVolCreateXML`` of the qcow2 overlay, ``storageVolCreateXML`` + upload of the seed,
  ``defineXML`` and ``create``.

It prints both medians, the ratio platform/direct (target <= 1.1) and the control-plane time per
mini PC (platform minus direct), split into the API request, the job's wait in the queue and the
job's run in the worker.

``--concurrent N`` instead starts N mini PCs at once: N POSTs released together (through the one
worker ``make run`` starts, with its default ``jobs.concurrency``), then N direct boots started
together; it prints each mini PC's POST -> ready (or start -> ready) time, the spread (min /
median / max) of both, and each create's wait in the queue (enqueue -> claim).

Before measuring, one platform mini PC is booted and deleted unmeasured (it uploads the image's
base volumes into the pool and warms gunicorn, the worker and libvirt).

Everything runs in a storage pool, console-log folder, database and ports of its own, all removed
at the end (domains, volumes, pool, PostgreSQL, gunicorn, worker). NICs use QEMU user networking
(no libvirt network is created or touched).

    .venv/bin/python bench/vm_boot.py [--count 5] [--poll 0.2] [--warmup 1] [--timeout 120] [--concurrent 10]

A report, not a test: it exits 0 whatever the ratio (non-zero only when it could not measure).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from xml.sax.saxutils import escape

import libvirt
from common import ROOT, Proc, free_port, start_postgres, stop_postgres

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # errors are raised as exceptions; no stderr noise

JWT_SECRET = "bench-secret-" + "y" * 40
URI = "qemu:///system"
TARGET = 1.1
READY = b"MINICLOUD-READY"


def free_port_range(count: int) -> int:
    """The first of ``count`` consecutive loopback ports that are free now (for SSH forwards).

    Searched below Linux's ephemeral range (32768-60999), where closed client connections (say,
    api_overhead.py's wrk) leave none in TIME_WAIT; SO_REUSEADDR as QEMU's forwards use it."""
    for base in range(23000, 32700, 97):
        ok = True
        for port in range(base, base + count):
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free range of loopback ports for the SSH forwards")


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


# --------------------------------------------------------------------------- the platform's processes

class Api:
    def __init__(self, base: str):
        self.base = base
        self.token: str | None = None

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict | None]:
        request = urllib.request.Request(self.base + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None)
        if body is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def ok(self, method: str, path: str, body: dict | None = None, expect: int = 200) -> dict:
        status, data = self.call(method, path, body)
        if status != expect:
            raise RuntimeError(f"{method} {path} answered {status}: {data}")
        return data


# --------------------------------------------------------------------------- readiness

def wait_ready(conn: libvirt.virConnect, name: str, log: Path, timeout: float, started: float
               ) -> tuple[float, float]:
    """Seconds from ``started`` until the domain runs in libvirt and its console log shows MINICLOUD-READY,
    and until libvirt was first seen reporting it running (the guest's own boot is the difference)."""
    deadline = started + timeout
    dom = None
    running_at = None
    while True:
        now = time.monotonic()
        if now > deadline:
            text = log.read_bytes()[-2000:].decode(errors="replace") if log.exists() else "(no console log)"
            seen = "never" if running_at is None else f"after {running_at:.1f} s"
            raise RuntimeError(f"{name} was not ready within {timeout:.0f} s (libvirt reported it running {seen});"
                               f" console:\n{text}")
        try:
            if dom is None:
                dom = conn.lookupByName(name)
            running = dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
        except libvirt.libvirtError:
            dom, running = None, False
        if running:
            if running_at is None:
                running_at = time.monotonic() - started
            try:
                if READY in log.read_bytes():
                    return time.monotonic() - started, running_at
            except FileNotFoundError:
                pass
        time.sleep(0.02)


# --------------------------------------------------------------------------- the direct path

class Direct:
    """Boots a mini PC with plain libvirt calls from the driver's own rendering functions."""

    def __init__(self, conn: libvirt.virConnect, pool_name: str, log_dir: Path, image, template: dict,
                 domain_type: str):
        self.conn = conn
        self.pool_name = pool_name
        self.log_dir = log_dir
        self.image = image          # ImageSpec
        self.template = template
        self.domain_type = domain_type
        self.names: list[str] = []

    def boot(self, index: int, ssh_port: int, timeout: float) -> dict:
        from minicloud.drivers.compute.base import DOMAIN_PREFIX, InstanceSpec, NicSpec
        from minicloud.drivers.compute.libvirt import render_domain_xml
        from minicloud.drivers.compute.seed import build_iso, default_mac, render_seed

        instance_id = str(uuid.uuid4())
        name = f"{DOMAIN_PREFIX}{instance_id}"
        self.names.append(name)
        spec = InstanceSpec(domain_name=name, instance_id=instance_id, hostname=f"bench-d{index}",
                            vcpus=self.template["vcpus"], ram_mib=self.template["ram_mib"],
                            disk_gib=self.template["disk_gib"], image=self.image,
                            nic=NicSpec(mode="user", mac=default_mac(name), ssh_port=ssh_port))
        started = time.monotonic()
        pool = self.conn.storagePoolLookupByName(self.pool_name)
        base = pool.storageVolLookupByName(f"{DOMAIN_PREFIX}base-{self.image.name}.qcow2")
        kernel = pool.storageVolLookupByName(f"{DOMAIN_PREFIX}base-{self.image.name}-vmlinuz")
        initrd = pool.storageVolLookupByName(f"{DOMAIN_PREFIX}base-{self.image.name}-initrd")
        # the disk: a qcow2 overlay on the base volume
        capacity = spec.disk_gib * 1024 ** 3
        disk = pool.createXML(
            f"<volume><name>{name}-disk.qcow2</name><capacity unit='bytes'>{capacity}</capacity>"
            "<target><format type='qcow2'/></target>"
            f"<backingStore><path>{escape(base.path())}</path><format type='qcow2'/></backingStore></volume>", 0)
        # the NoCloud seed: rendered, packed with pycdlib, uploaded as a volume
        iso = build_iso(render_seed(spec, mac=spec.nic.mac))
        seed = pool.createXML(f"<volume><name>{name}-seed.iso</name><capacity unit='bytes'>0</capacity>"
                              "<allocation unit='bytes'>0</allocation><target><format type='raw'/></target>"
                              "</volume>", 0)
        stream = self.conn.newStream(0)
        seed.upload(stream, 0, len(iso), 0)
        view = memoryview(iso)
        while view:
            view = view[stream.send(bytes(view[:1 << 20])):]
        stream.finish()
        xml = render_domain_xml(spec, domain_type=self.domain_type, disk_path=disk.path(), seed_path=seed.path(),
                                log_dir=str(self.log_dir), kernel_path=kernel.path(), initrd_path=initrd.path())
        dom = self.conn.defineXML(xml)
        dom.create()
        built = time.monotonic() - started
        ready, running = wait_ready(self.conn, name, self.log_dir / f"{name}.log", timeout, started)
        return {"total": ready, "running": running, "built": built}

    def remove(self, name: str) -> None:
        remove_domain(self.conn, self.pool_name, self.log_dir, name)


def remove_domain(conn: libvirt.virConnect, pool_name: str, log_dir: Path, name: str) -> None:
    """Destroy and undefine ``name``, delete its volumes and console log (absent parts are fine)."""
    try:
        dom = conn.lookupByName(name)
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    except libvirt.libvirtError:
        pass
    try:
        pool = conn.storagePoolLookupByName(pool_name)
        for vol_name in (f"{name}-disk.qcow2", f"{name}-seed.iso"):
            try:
                pool.storageVolLookupByName(vol_name).delete(0)
            except libvirt.libvirtError:
                pass
    except libvirt.libvirtError:
        pass
    for path in log_dir.glob(f"{name}.log*"):
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- main

def build_tiny() -> dict:
    done = run([str(ROOT / "scripts/build-test-image.sh"), "tiny"], timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/build-test-image.sh tiny failed:\n{done.stdout}{done.stderr}")
    images = Path(os.environ.get("MINICLOUD_IMAGES_DIR", ROOT / "images"))
    folder = (images / "tiny").resolve()
    manifest = json.loads((folder / "manifest.json").read_text())
    return {"name": manifest["name"], "disk_path": str(folder / manifest["disk"]),
            "kernel_path": str(folder / manifest["kernel"]), "initrd_path": str(folder / manifest["initrd"]),
            "cmdline": manifest["cmdline"], "default_user": manifest["default_user"], "os": "tiny (bench)"}


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def at_once(count: int, boot) -> list[dict]:
    """``boot(i)`` for i in range(count), each in a thread, all released together; results by index."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def one(index: int) -> None:
        barrier.wait()
        try:
            results[index] = boot(index)
        except Exception as exc:  # noqa: BLE001 - reported below, with how many failed
            results[index] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [r for r in results if isinstance(r, Exception)]
    if failed:
        raise RuntimeError(f"{len(failed)} of {count} mini PCs started at once failed; the first: {failed[0]}")
    return results


def spread(values: list[float], unit: float = 1.0, fmt: str = ".2f") -> str:
    """Each value, then min / median / max (values multiplied by ``unit``)."""
    shown = [v * unit for v in values]
    return (f"{', '.join(f'{v:{fmt}}' for v in shown)}   min {min(shown):{fmt}} / median {median(shown):{fmt}}"
            f" / max {max(shown):{fmt}}")


def report_concurrent(count: int, platform: list[dict], direct: list[dict], poll: float) -> None:
    print(f"\n{count} mini PCs at once · one `minicloud worker` (its default jobs.concurrency; polls every "
          f"{poll:g} s as a fallback) · {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print("ready = libvirt says running AND 'MINICLOUD-READY' is in the serial console log")
    print(f"platform POST -> ready (s)         : {spread([r['total'] for r in platform])}")
    print(f"direct   start -> ready (s)        : {spread([r['total'] for r in direct])}")
    print(f"platform job waiting in the queue (enqueue -> claim, ms): "
          f"{spread([r['queued'] for r in platform], 1000, '.0f')}")
    print(f"platform job run (s)               : {spread([r['ran'] for r in platform])}")
    print(f"direct libvirt calls (s)           : {spread([r['built'] for r in direct])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5, help="mini PCs per path (sequential, alternating)")
    parser.add_argument("--poll", type=float, default=0.2, help="the worker's queue polling interval, seconds")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured platform mini PCs first")
    parser.add_argument("--timeout", type=float, default=120, help="seconds one mini PC may take to be ready")
    parser.add_argument("--template", default="nano", help="template (specs) of every mini PC")
    parser.add_argument("--concurrent", type=int, default=0, metavar="N",
                        help="start N mini PCs at once per path instead of --count one after another")
    args = parser.parse_args(argv)
    slots = max(args.count, args.concurrent) + args.warmup  # SSH ports per path

    started_at = time.monotonic()
    done = run([str(ROOT / "scripts/libvirt.sh"), "start"], timeout=240)
    if done.returncode != 0:
        print(f"bench: libvirt is not usable:\n{done.stdout}{done.stderr}", file=sys.stderr)
        return 2

    tag = uuid.uuid4().hex[:8]
    workdir = Path(tempfile.mkdtemp(prefix="minicloud-vmboot-"))
    workdir.chmod(0o755)  # PostgreSQL runs as "postgres" when we are root
    pool_name, pool_path, log_dir = f"mcbench-{tag}", workdir / "pool", workdir / "console"
    log_dir.mkdir()
    procs: list[Proc] = []
    conn: libvirt.virConnect | None = None
    platform_names: list[str] = []
    direct: Direct | None = None
    pg_started = False
    try:
        image_values = build_tiny()
        url = start_postgres(workdir)
        pg_started = True
        ssh_base = free_port_range(2 * slots + 2)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MINICLOUD_")}
        env.update({
            "DATABASE_URL": url, "PYTHONPATH": str(ROOT / "src"), "PYTHONDONTWRITEBYTECODE": "1",
            "MINICLOUD_AUTH_JWT_SECRET": JWT_SECRET, "MINICLOUD_AUTH_BCRYPT_COST": "4",
            "MINICLOUD_JOBS_POLL_SECONDS": str(args.poll),
            "MINICLOUD_COMPUTE_DEFAULT_HOST_URI": URI,
            "MINICLOUD_COMPUTE_POOL_NAME": pool_name, "MINICLOUD_COMPUTE_POOL_PATH": str(pool_path),
            "MINICLOUD_COMPUTE_CONSOLE_LOG_DIR": str(log_dir), "MINICLOUD_COMPUTE_NETWORK_MODE": "user",
            "MINICLOUD_NETWORK_ENFORCEMENT": "off",  # the boot alone; the network path: bench/network.py
            "MINICLOUD_COMPUTE_SSH_PORT_RANGE_START": str(ssh_base),
            "MINICLOUD_COMPUTE_SSH_PORT_RANGE_END": str(ssh_base + slots),
            "MINICLOUD_COMPUTE_DEFAULT_IMAGE": "tiny",
        })
        if args.concurrent:  # room for N mini PCs at once: in the project's quotas and on this host's CPUs
            env.update({"MINICLOUD_QUOTAS_INSTANCES": str(args.concurrent + args.warmup),
                        "MINICLOUD_QUOTAS_VCPUS": str(8 * args.concurrent),
                        "MINICLOUD_QUOTAS_RAM_MIB": str(4096 * args.concurrent),
                        "MINICLOUD_QUOTAS_DISK_GIB": str(50 * args.concurrent),
                        "MINICLOUD_COMPUTE_CPU_ALLOCATION_RATIO": str(float(8 * args.concurrent))})

        # the schema, templates, the local host, an administrator, the image (as `make run` does)
        from minicloud import config as config_module
        from minicloud.db import migrate
        from minicloud.services import Services

        migrate.upgrade(url)
        config = config_module.load(environ=env)
        services = Services.from_config(config)
        try:
            services.templates.seed()
            services.hosts.ensure_default()
            services.images.create(image_values)
        finally:
            services.close()

        venv = Path(sys.executable).parent
        procs.append(Proc("worker", [str(venv / "minicloud"), "worker", "--name", f"bench-{tag}"], env,
                          workdir / "worker.log"))
        port = free_port()
        procs.append(Proc("gunicorn", [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
                                       "--workers", "2", "--no-control-socket", "minicloud.wsgi:application"],
                          env, workdir / "gunicorn.log"))
        api = Api(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        while True:
            if not all(p.alive() for p in procs):
                raise RuntimeError("the worker or gunicorn exited during start-up")
            try:
                if api.call("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer /healthz within 60 s")
            time.sleep(0.1)
        api.ok("POST", "/api/v1/auth/signup",
               {"username": "bench", "password": "bench-password-1", "display_name": "Bench"}, expect=201)
        api.token = api.ok("POST", "/api/v1/auth/login",
                           {"username": "bench", "password": "bench-password-1"})["access_token"]
        template = next(t for t in api.ok("GET", "/api/v1/templates")["items"] if t["name"] == args.template)

        import psycopg
        from psycopg.rows import dict_row
        db = psycopg.connect(url, autocommit=True, row_factory=dict_row)
        # the direct path boots the same files, which only an administrator sees through the API
        image = db.execute("SELECT * FROM images WHERE name = 'tiny'").fetchone()

        conn = libvirt.open(URI)
        from minicloud.drivers.compute.libvirt import domain_type_from_capabilities
        from minicloud.services.images import Images
        domain_type = domain_type_from_capabilities(conn.getCapabilities())

        def platform(index: int) -> dict:
            body = {"name": f"bench-p{index}", "template_id": template["id"], "image_id": str(image["id"])}
            t0 = time.monotonic()
            status, created = api.call("POST", "/api/v1/instances", body)
            post = time.monotonic() - t0
            if status != 202:
                raise RuntimeError(f"POST /api/v1/instances answered {status}: {created}")
            name = f"mc-{created['id']}"
            platform_names.append(name)
            total, running = wait_ready(conn, name, log_dir / f"{name}.log", args.timeout, t0)
            row = db.execute("SELECT state, status_reason FROM instances WHERE id = %s", (created["id"],)).fetchone()
            deadline = time.monotonic() + 30
            while row["state"] != "running" and time.monotonic() < deadline:
                time.sleep(0.05)
                row = db.execute("SELECT state, status_reason FROM instances WHERE id = %s",
                                 (created["id"],)).fetchone()
            job = db.execute(
                "SELECT state, attempts, EXTRACT(EPOCH FROM started_at - created_at) AS queued,"
                " EXTRACT(EPOCH FROM finished_at - started_at) AS ran FROM jobs WHERE id = %s",
                (created["operation_id"],)).fetchone()
            if row["state"] != "running" or job["state"] != "succeeded" or job["attempts"] != 1:
                raise RuntimeError(f"{name}: instance {row}, job {job}")
            return {"id": created["id"], "name": name, "total": total, "running": running, "post": post,
                    "queued": float(job["queued"]), "ran": float(job["ran"])}

        def platform_delete(result: dict) -> None:
            api.ok("DELETE", f"/api/v1/instances/{result['id']}", expect=202)
            deadline = time.monotonic() + 120
            while db.execute("SELECT state FROM instances WHERE id = %s", (result["id"],)).fetchone()["state"] \
                    != "deleted":
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{result['name']} was not deleted within 120 s")
                time.sleep(0.1)

        for index in range(args.warmup):
            platform_delete(platform(100 + index))   # uploads the base volumes; warms every part

        direct = Direct(conn, pool_name, log_dir, Images.spec(image), template,
                        domain_type)
        ssh_port = ssh_base + slots + 1
        if args.concurrent:
            together = at_once(args.concurrent, platform)
            for result in together:
                platform_delete(result)
            report_concurrent(args.concurrent, together,
                              at_once(args.concurrent, lambda i: direct.boot(i, ssh_port + i, args.timeout)),
                              args.poll)
            print(f"(whole benchmark: {time.monotonic() - started_at:.0f} s)")
            return 0
        results: dict[str, list[dict]] = {"platform": [], "direct": []}
        for index in range(args.count):
            order = ("platform", "direct") if index % 2 == 0 else ("direct", "platform")
            for path in order:
                if path == "platform":
                    result = platform(index)
                    results["platform"].append(result)
                    platform_delete(result)
                else:
                    result = direct.boot(index, ssh_port, args.timeout)
                    results["direct"].append(result)
                    direct.remove(direct.names[-1])
            p, d = results["platform"][-1], results["direct"][-1]
            print(f"  mini PC {index + 1}/{args.count}: platform {p['total']:6.2f} s "
                  f"(POST {p['post'] * 1000:.0f} ms, queued {p['queued'] * 1000:.0f} ms, job {p['ran']:.2f} s)"
                  f"   direct {d['total']:6.2f} s (libvirt calls {d['built']:.2f} s)", flush=True)

        plat = [r["total"] for r in results["platform"]]
        dire = [r["total"] for r in results["direct"]]
        diffs = [p - d for p, d in zip(plat, dire)]
        m_plat, m_dir = median(plat), median(dire)
        ratio = m_plat / m_dir
        post = median([r["post"] for r in results["platform"]])
        queued = median([r["queued"] for r in results["platform"]])
        ran = median([r["ran"] for r in results["platform"]])
        built = median([r["built"] for r in results["direct"]])
        to_run = {k: median([r["running"] for r in v]) for k, v in results.items()}
        boot = {k: median([r["total"] - r["running"] for r in v]) for k, v in results.items()}
        print()
        print(f"tiny image · template {template['name']} ({template['vcpus']} vCPU, {template['ram_mib']} MiB, "
              f"{template['disk_gib']} GiB) · {URI} domain type {domain_type} · {args.count} mini PCs per path, "
              f"alternating · worker woken by NOTIFY, polls every {args.poll:g} s · {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.2f}")
        print("ready = libvirt says running AND 'MINICLOUD-READY' is in the serial console log")
        print(f"platform (POST /api/v1/instances -> ready): median {m_plat:6.2f} s  "
              f"(runs: {', '.join(f'{v:.2f}' for v in plat)})")
        print(f"direct   (libvirt calls -> ready)          : median {m_dir:6.2f} s  "
              f"(runs: {', '.join(f'{v:.2f}' for v in dire)})")
        print(f"ratio platform/direct: {ratio:.3f}   (target <= {TARGET}: {'met' if ratio <= TARGET else 'NOT met'})")
        print(f"  of which until libvirt reports the domain running: platform {to_run['platform']:.2f} s, "
              f"direct {to_run['direct']:.2f} s; the guest's own boot after that: platform "
              f"{boot['platform']:.2f} s, direct {boot['direct']:.2f} s (same guest: differences are noise)")
        print(f"control-plane time per mini PC (platform - direct, median of pairs): {median(diffs):+.2f} s "
              f"(pairs: {', '.join(f'{v:+.2f}' for v in diffs)}); until running: "
              f"{to_run['platform'] - to_run['direct']:+.2f} s")
        print(f"  API request (POST -> 202)         : {post * 1000:7.0f} ms")
        print(f"  job waiting in the queue          : {queued * 1000:7.0f} ms  "
              f"(woken by NOTIFY; polls every {args.poll:g} s)")
        print(f"  job run (placement, driver, DB)   : {ran * 1000:7.0f} ms  vs. the direct path's libvirt calls "
              f"{built * 1000:.0f} ms -> {1000 * (ran - built):+.0f} ms in the worker")
        print(f"(whole benchmark: {time.monotonic() - started_at:.0f} s)")
        return 0
    except (RuntimeError, OSError, subprocess.SubprocessError, libvirt.libvirtError) as exc:
        print(f"bench: could not measure: {exc}", file=sys.stderr)
        for proc in procs:
            print(f"--- {proc.name} log (last lines)\n{proc.tail()}", file=sys.stderr)
        return 1
    finally:
        for proc in reversed(procs):   # gunicorn, then the worker (no job runs on after this)
            proc.stop()
        cleanup(conn, pool_name, log_dir, platform_names + (direct.names if direct else []))
        if pg_started:
            stop_postgres(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


def cleanup(conn: libvirt.virConnect | None, pool_name: str, log_dir: Path, names: list[str]) -> None:
    """Every domain and volume of ours, then the pool itself (its directory goes with the workdir)."""
    try:
        conn = conn or libvirt.open(URI)
    except libvirt.libvirtError:
        return
    for name in names:
        remove_domain(conn, pool_name, log_dir, name)
    try:
        pool = conn.storagePoolLookupByName(pool_name)
    except libvirt.libvirtError:
        return
    try:
        if pool.isActive():
            for vol in pool.listAllVolumes(0):
                vol.delete(0)
            pool.destroy()
        pool.undefine()
    except libvirt.libvirtError as exc:
        print(f"bench: could not remove the storage pool {pool_name}: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
