"""Does minicloud's cost grow with the platform? (``make bench``)

In a PostgreSQL of its own, one database per size (copies of one seeded database, so the same bench
user and token work in all) is filled with 100 and with 10,000 mini PCs, apps and buckets spread over
500 projects (with their jobs and ten audit entries each), and libvirt's test hypervisor
(``test:///default``, in this process) with 1,000 domains; see bench/scale_data.py for what the
rows are and for the probe — the bench user's project and the reconciled host, which hold the same
things at every size. Each size has minicloud's services and app of its own; the sizes are measured
in alternating requests, so that other load on the machine falls on all of them alike. For each
size it prints the median time of

- ``GET /api/v1/instances?limit=50``, the dashboard page, ``GET /api/v1/audit`` (the project's
  admin) and ``GET /api/v1/audit?all_projects=true`` (a global admin), each served in-process by
  minicloud's WSGI application with a bearer token;
- one reconciler pass (``jobs/reconciler.py``) and the libvirt calls it made, counted by the driver;

then the ratio of the largest size's figures to the smallest's (the target: at most 1.5; the
libvirt calls: the same). The dashboard's cards ask a real Swift (scripts/swift.sh, started here)
and, as the tests do, the Kubernetes stand-in (tests/kube_standin.py).

    .venv/bin/python bench/scale.py [--sizes 100,10000] [--projects 500] [--domains 1000] [--requests 30]

A report, not a test: it exits 0 whatever the ratios (non-zero only when it could not measure).
"""
from __future__ import annotations

import argparse
import functools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import BENCH_USER, ROOT, make_token, start_postgres, stop_postgres

sys.path.insert(0, str(ROOT / "tests"))

import psycopg  # noqa: E402 - after the path set-up above
import scale_data  # noqa: E402
from kube_standin import KubeStandin  # noqa: E402
from psycopg import sql  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402
from storage_stream import start_swift  # noqa: E402

from minicloud.drivers.compute.libvirt import LibvirtDriver  # noqa: E402

JWT_SECRET = "bench-secret-" + "x" * 40
TARGET = 1.5
PASS = "reconciler pass"
CALLS = "libvirt calls per pass"
HOST_URI = "test:///default"
REQUESTS = {
    "GET /api/v1/instances?limit=50": "/api/v1/instances?limit=50",
    "GET /dashboard": "/dashboard",
    "GET /api/v1/audit": "/api/v1/audit",
    "GET /api/v1/audit?all_projects=true": "/api/v1/audit?all_projects=true",
}


class CountingDriver(LibvirtDriver):
    """The real libvirt driver, also counting every libvirt call it records."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = 0

    def _record(self, call: str) -> None:
        super()._record(call)
        self.calls += 1


class Platform:
    """One size: its database (a copy of the seeded one), filled; minicloud's services and app on it;
    what each measured action took."""

    def __init__(self, size: int, url: str, workdir: Path, swift: dict, token: str, projects: int):
        from werkzeug.test import Client

        from minicloud import config as config_module
        from minicloud.app import make_app
        from minicloud.jobs.reconciler import reconcile
        from minicloud.jobs.worker import JobContext
        from minicloud.services import Services
        from minicloud.services.backends import Backends, libvirt_options

        self.size, self.url = size, url
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as fill:
            template = fill.execute("SELECT id FROM templates ORDER BY vcpus, ram_mib LIMIT 1").fetchone()["id"]
            image = fill.execute("SELECT id FROM images WHERE name = 'tiny'").fetchone()["id"]
            rows = scale_data.Rows(projects, template, image)
            scale_data.setup(fill, rows, size)
            scale_data.grow(fill, rows, size)
            fill.execute("ANALYZE")
        self.config = configured(config_module.load(environ={}), url, workdir, swift)
        options = libvirt_options(self.config)
        backends = Backends.from_config(self.config, compute=lambda uri: CountingDriver(uri, **options))
        self.services = Services.from_config(self.config, backends)
        client, context = Client(make_app(self.config, self.services)), JobContext(self.config, "bench", self.services)

        def get(path: str) -> None:
            answer = client.get(path, headers={"Authorization": f"Bearer {token}"})
            if answer.status_code != 200:
                raise RuntimeError(f"{path} answered {answer.status_code}: {answer.get_data(as_text=True)[:300]}")

        self.actions = {label: functools.partial(get, path) for label, path in REQUESTS.items()}
        self.actions[PASS] = functools.partial(reconcile, context)
        self.times: dict[str, list[float]] = {label: [] for label in self.actions}

    def run(self, label: str) -> None:
        started = time.perf_counter()
        self.actions[label]()
        self.times[label].append((time.perf_counter() - started) * 1000)

    def libvirt_calls_per_pass(self) -> int:
        driver = self.services.hosts.driver_for(self.services.db.fetchone(
            "SELECT id, uri FROM hosts WHERE name = 'local'"))
        before = driver.calls
        self.actions[PASS]()
        return driver.calls - before

    def figures(self) -> dict[str, float]:
        return {**{label: statistics.median(times) for label, times in self.times.items()},
                CALLS: self.libvirt_calls_per_pass()}


def configured(config, url: str, workdir: Path, swift: dict):
    return config.with_overrides({
        "database.url": url, "auth.jwt_secret": JWT_SECRET, "compute.default_host_uri": HOST_URI,
        "compute.network_mode": "user", "compute.pool_path": str(workdir / "pool"),
        "storage.auth_url": swift["auth_url"], "storage.user": swift["user"], "storage.key": swift["key"]})


def seed(url: str, workdir: Path, swift: dict) -> None:
    """Templates, the image, the local host, and the bench user a global admin too (``make_token`` made them)."""
    from minicloud import config as config_module
    from minicloud.services import Services

    services = Services.from_config(configured(config_module.load(environ={}), url, workdir, swift))
    try:
        services.templates.seed()
        services.hosts.ensure_default()
        (workdir / "tiny.qcow2").write_bytes(b"QFI\xfb")
        services.images.create({"name": "tiny", "disk_path": str(workdir / "tiny.qcow2")})
        services.db.execute("UPDATE users SET is_admin = true WHERE username = %s", (BENCH_USER,))
    finally:
        services.close()


def copies(url: str, sizes: list[int]) -> dict[int, str]:
    """A database per size, each a copy of the seeded one at ``url`` (same user, so the same token works)."""
    base, _, name = url.rpartition("/")
    urls = {}
    with psycopg.connect(url.rpartition("/")[0] + "/postgres", autocommit=True) as admin:
        for size in sizes:
            copy = f"{name}_{size}"
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(copy), sql.Identifier(name)))
            urls[size] = f"{base}/{copy}"
    return urls


def measure(platforms: list[Platform], requests: int) -> None:
    """Every action of every size, a request at a time, alternating the sizes (after a warm-up), so
    that other load on the machine falls on all sizes alike; reconciler passes one round in five."""
    for platform in platforms:
        for action in platform.actions.values():
            for _ in range(5):
                action()
    for round_no in range(requests):
        for platform in (platforms if round_no % 2 == 0 else reversed(platforms)):
            for label in platform.actions:
                if label != PASS or round_no % 5 == 0:
                    platform.run(label)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,10000", help="mini PCs, apps and buckets each, comma-separated")
    parser.add_argument("--projects", type=int, default=500, help="projects besides the bench user's")
    parser.add_argument("--domains", type=int, default=1000, help="domains on the reconciled test host")
    parser.add_argument("--requests", type=int, default=30, help="measured requests per figure and size")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if sizes[0] < scale_data.LOCAL_INSTANCES:
        parser.error(f"the smallest size must fill the reconciled host ({scale_data.LOCAL_INSTANCES} mini PCs)")

    workdir = Path(tempfile.mkdtemp(prefix="minicloud-bench-scale-"))
    platforms: list[Platform] = []
    kube = host = None
    try:
        url = start_postgres(workdir)
        token = make_token(url, JWT_SECRET)
        swift = start_swift(workdir / "swift")
        kube = KubeStandin(workdir)
        os.environ["KUBECONFIG"] = str(kube.kubeconfig_path)
        seed(url, workdir, swift)
        for size, copy in copies(url, sizes).items():
            started = time.monotonic()
            platforms.append(Platform(size, copy, workdir, swift, token, args.projects))
            print(f"size {size}: filled in {time.monotonic() - started:.1f} s", file=sys.stderr)
        host = scale_data.define_domains(HOST_URI, platforms[0].services.db, args.domains,
                                         platforms[0].config.get("compute.pool_name"),
                                         platforms[0].config.get("compute.pool_path"))
        measure(platforms, args.requests)
        report({platform.size: platform.figures() for platform in platforms}, args)
        return 0
    except (RuntimeError, OSError, psycopg.Error) as exc:
        print(f"bench: could not measure: {exc}", file=sys.stderr)
        return 1
    finally:
        for platform in platforms:
            platform.services.close()
        if host is not None:
            host.close()
        if kube is not None:
            kube.stop()
        if (workdir / "swift").exists():
            subprocess.run(["bash", str(ROOT / "scripts/swift.sh"), "stop", str(workdir / "swift")], check=False,
                           capture_output=True)
        stop_postgres(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


def report(results: dict[int, dict[str, float]], args) -> None:
    sizes = sorted(results)
    small, large = results[sizes[0]], results[sizes[-1]]
    print(f"minicloud at {' and '.join(f'{s:,}' for s in sizes)} mini PCs, apps and buckets each over {args.projects}"
          f" projects · median of {args.requests} in-process requests · test host with {args.domains} domains"
          f" · {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"{'':36s}" + "".join(f"{s:>12,}" for s in sizes) + f"{'ratio':>8s}")
    for label in small:
        counted = label == CALLS
        ratio = large[label] / small[label] if small[label] else float("inf")
        verdict = "met" if ratio <= (1.0 if counted else TARGET) else "NOT met"
        cells = "".join(f"{results[s][label]:>12.0f}" if counted else f"{results[s][label]:>9.2f} ms" for s in sizes)
        print(f"{label:36s}{cells}{ratio:8.2f}  {verdict}")
    print(f"target: the {sizes[-1]:,} figures at most {TARGET}× the {sizes[0]:,} ones; the libvirt calls the same")


if __name__ == "__main__":
    sys.exit(main())
