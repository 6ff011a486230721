"""How long does minicloud's control plane take to deploy an app? (``make bench``)

A deploy renders the manifests from ``configs/k8s/`` and applies them with the official
``kubernetes`` client: the project's Namespace, ResourceQuota, LimitRange and NetworkPolicy (created
for a project's first app, read back and left alone afterwards), then the app's Deployment, Service
and Ingress. No API server can run on the development machines, so the cluster is the HTTP-level
stand-in of ``tests/kube_standin.py`` on loopback: what is measured is minicloud's own time, not
Kubernetes'.

Method. Round after round, ``--apps`` apps (default 50) are deployed in a row, ``--per-project`` to a
project (the quota's 5 by default), each timed from the start of the deploy to its return. The
stand-in records every request the client sent; the same requests (method, path, query, body,
headers) are then replayed in the same order with plain ``http.client`` on one keep-alive
connection to a fresh stand-in, timed per deploy the same way, so both sides get the same answers
(their status codes are compared). The difference is what minicloud adds around the HTTP calls:
rendering, building and checking requests, the client's serialization and error mapping. The
driver's own per-request timing (``last_calls``) is printed too. The best round of each counts
(least disturbed by other load on the machine).

What is deployed: through the service and its deploy job when ``services/apps.py`` provides them
(``--path service``, with a PostgreSQL of its own), else through the driver's ``ensure_project`` +
``deploy`` — the output says which.

    .venv/bin/python bench/app_deploy.py [--apps 50] [--per-project 5] [--rounds 3] [--path auto|driver]

A report, not a test: it exits 0 whatever the figures (non-zero only when it could not measure).
"""
from __future__ import annotations

import argparse
import functools
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from common import ROOT

sys.path.insert(0, str(ROOT / "tests"))

from kube_standin import KubeStandin, Request  # noqa: E402 - after the path set-up above

from minicloud.drivers.containers.base import AppSpec, ProjectSpec  # noqa: E402
from minicloud.drivers.containers.kubernetes import KubernetesDriver  # noqa: E402


@dataclass
class Deploy:
    """One measured deploy: its wall time, the driver's own per-request times, the requests sent."""

    seconds: float
    client_http_seconds: float
    requests: list[Request]
    statuses: list[int | None]


class TimedDriver(KubernetesDriver):
    """The real driver, also keeping every request it makes across public calls (its own timing)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list = []

    def _record(self, method: str, path: str, status: int | None, started: float) -> None:
        super()._record(method, path, status, started)
        self.calls.append(self.last_calls[-1])

    def take_calls(self) -> list:
        calls, self.calls = self.calls, []
        return calls


def measured(kube: KubeStandin, driver: TimedDriver, deploy) -> Deploy:
    """Run ``deploy()`` and time it; the requests the stand-in received and the driver's timing of them."""
    kube.clear_requests()
    driver.take_calls()
    started = time.perf_counter()
    deploy()
    seconds = time.perf_counter() - started
    calls = driver.take_calls()
    return Deploy(seconds, sum(c.ms for c in calls) / 1000, list(kube.requests), [c.status for c in calls])


def project_spec(number: int) -> ProjectSpec:
    project_id = str(uuid.uuid4())
    return ProjectSpec(namespace=f"mc-{project_id.replace('-', '')[:12]}", project_id=project_id,
                       project_name=f"bench-{number}", cpu_limit="4", memory_limit="8Gi", max_pods=20)


def app_spec(project: ProjectSpec, number: int) -> AppSpec:
    app_id = str(uuid.uuid4())
    name = f"web-{number}-{app_id[:6]}"
    return AppSpec(app_id=app_id, namespace=project.namespace, k8s_name=name, host=f"{name}.apps.minicloud.test",
                   image="ghcr.io/example/web:1.2.3", port=8080, replicas=1, cpu="250m", memory="256Mi",
                   env={"GREETING": "hello", "MODE": "production"})


def driver_round(driver: TimedDriver, kube: KubeStandin, apps: int, per_project: int) -> list[Deploy]:
    """``apps`` deploys in a row through the driver (ensure_project + deploy, as the deploy job does)."""
    deploys: list[Deploy] = []
    project = None
    for number in range(apps):
        if number % per_project == 0:
            project = project_spec(number // per_project)
        app = app_spec(project, number)
        deploys.append(measured(kube, driver, lambda: (driver.ensure_project(project), driver.deploy(project, app))))
    return deploys


class ServicePath:
    """Deploys through minicloud's service and its deploy job, on a PostgreSQL of its own: each deploy is
    ``services.apps.create`` (validation, quota, the row, the job) then the ``app.deploy`` job function
    (namespace, app, a first observation, the rows updated)."""

    def __init__(self, workdir: Path, driver: TimedDriver):
        from common import start_postgres
        from minicloud import config as config_module
        from minicloud.db import migrate
        from minicloud.jobs import apps  # noqa: F401 - registers the app job types
        from minicloud.jobs.registry import lookup
        from minicloud.jobs.worker import JobContext
        from minicloud.services import Services
        from minicloud.services.backends import Backends

        self.workdir = workdir
        self.url = start_postgres(workdir)
        migrate.upgrade(self.url)
        self.config = config_module.load(environ={}).with_overrides(
            {"database.url": self.url, "auth.bcrypt_cost": 4, "auth.jwt_secret": "bench-" + "x" * 40})
        self.services = Services.from_config(self.config, Backends.from_config(self.config, containers=driver))
        self.job = lookup("app.deploy").run
        self.context = JobContext(self.config, "bench", self.services)
        self.users = 0

    def new_project(self) -> str:
        self.users += 1
        user = self.services.accounts.signup(f"bench{self.users}", "bench-password-1", "Bench", None, None)
        return next(p["id"] for p in self.services.db.fetchall(
            "SELECT p.id FROM projects p JOIN memberships m ON m.project_id = p.id WHERE m.user_id = %s",
            (user["id"],)))

    def deploy(self, project_id: str, number: int) -> None:
        app = self.services.apps.create(project_id, {"name": f"web-{number}", "image": "ghcr.io/example/web:1.2.3",
                                                     "port": 8080, "env": {"GREETING": "hello"}})
        job = self.services.db.fetchone("SELECT * FROM jobs WHERE target = %s AND kind = 'app.deploy'",
                                        (str(app["id"]),))
        self.job(job, self.context)

    def close(self) -> None:
        from common import stop_postgres
        self.services.close()
        stop_postgres(self.workdir)


def service_round(path: ServicePath, driver: TimedDriver, kube: KubeStandin, apps: int,
                  per_project: int) -> list[Deploy]:
    """``apps`` deploys in a row through the service and the deploy job."""
    deploys: list[Deploy] = []
    project_id = None
    for number in range(apps):
        if number % per_project == 0:
            project_id = path.new_project()  # not timed: a sign-up
        deploys.append(measured(kube, driver, lambda: path.deploy(project_id, number)))
    return deploys


def driver_path(driver: TimedDriver, kube: KubeStandin):
    """The driver alone, warmed up (imports, the client's connection pool): (round function, note)."""
    driver_round(driver, kube, 1, 1)
    note = "driver: KubernetesDriver.ensure_project + deploy, as the deploy job calls them (no service, no database)"
    return functools.partial(driver_round, driver, kube), note


def replay(deploys: list[Deploy], directory: Path) -> tuple[list[float], int]:
    """The same requests, in the same order, with plain http.client to a fresh stand-in: seconds per
    deploy, and how many answers had another status code than the client got."""
    kube = KubeStandin(directory)
    connection = http.client.HTTPConnection("127.0.0.1", kube.port)
    headers = {"Authorization": "Bearer standin-token", "Accept": "application/json",
               "User-Agent": "replay/1.0"}
    times, mismatches = [], 0
    try:
        for deploy in deploys:
            started = time.perf_counter()
            statuses = []
            for request in deploy.requests:
                path = request.path + ("?" + urlencode(request.query) if request.query else "")
                body = json.dumps(request.body).encode() if request.body is not None else None
                sent = dict(headers, **({"Content-Type": request.content_type} if body is not None else {}))
                connection.request(request.method, path, body=body, headers=sent)
                answer = connection.getresponse()
                answer.read()
                statuses.append(answer.status)
            times.append(time.perf_counter() - started)
            mismatches += sum(1 for got, want in zip(statuses, deploy.statuses) if want and got != want)
    finally:
        connection.close()
        kube.stop()
    return times, mismatches


def render_seconds(driver: KubernetesDriver, apps: int, per_project: int) -> list[float]:
    """Rendering alone (the templates, no request), per deploy."""
    times = []
    project = None
    for number in range(apps):
        if number % per_project == 0:
            project = project_spec(number)
        started = time.perf_counter()
        driver.render_project(project)
        driver.render_app(app_spec(project, number))
        times.append(time.perf_counter() - started)
    return times


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", type=int, default=50, help="deploys in a row per round")
    parser.add_argument("--per-project", type=int, default=5, help="apps per project (namespace)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best of each side counts")
    parser.add_argument("--path", choices=("auto", "driver"), default="auto",
                        help="auto: through the service and its deploy job (falls back to the driver), or driver")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="minicloud-bench-k8s-") as tmp:
        workdir = Path(tmp)
        for sub in ("a", "b"):
            (workdir / sub).mkdir()
        kube = KubeStandin(workdir / "a")
        os.environ["KUBECONFIG"] = str(kube.kubeconfig_path)
        service = None
        try:
            driver = TimedDriver()
            one_round, path_note = driver_path(driver, kube)
            if args.path == "auto":
                try:
                    service = ServicePath(workdir, driver)  # its PostgreSQL in workdir/pg
                    service_round(service, driver, kube, 1, 1)  # warm-up, and proof that the path works
                    one_round = functools.partial(service_round, service, driver, kube)
                    path_note = ("service: services.apps.create (validation, quota, row, job) + the app.deploy "
                                 "job function (ensure_project, deploy, first observation) on PostgreSQL")
                except Exception as exc:  # noqa: BLE001 - fall back to the driver, and say why
                    reason = " ".join(str(exc).split())[:300]
                    path_note += f" (the service path failed: {type(exc).__name__}: {reason})"
            best_total, best_replay = None, None
            for _ in range(args.rounds):
                deploys = one_round(args.apps, args.per_project)
                replayed, mismatches = replay(deploys, workdir / "b")
                if best_total is None or sum(d.seconds for d in deploys) < sum(d.seconds for d in best_total):
                    best_total = deploys
                if best_replay is None or sum(replayed) < sum(best_replay[0]):
                    best_replay = (replayed, mismatches)
            rendering = render_seconds(driver, args.apps, args.per_project)
        except Exception as exc:  # noqa: BLE001 - report why nothing could be measured
            print(f"app_deploy: could not measure: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        finally:
            kube.stop()
            if service is not None:
                service.close()

    deploys = best_total
    replayed, mismatches = best_replay
    per_app = [d.seconds for d in deploys]
    client_http = [d.client_http_seconds for d in deploys]
    requests = [len(d.requests) for d in deploys]
    total, http_total = sum(per_app), sum(replayed)
    print(f"app deploy, control plane against the Kubernetes stand-in ({args.apps} apps in a row, "
          f"{args.per_project} per project, best of {args.rounds} rounds)")
    print(f"  measured through: {path_note}")
    later = statistics.median(requests[1:] or requests)
    print(f"  requests per deploy: first of a project {requests[0]}, later ones {later:.0f} ({sum(requests)} in all)")
    print(f"                         {'median/app':>12} {'p90/app':>12} {'all ' + str(args.apps):>12}")
    rows = [("control plane (deploy)", per_app), ("HTTP only (replayed)", replayed),
            ("client's request timing", client_http), ("rendering only", rendering)]
    for label, values in rows:
        ordered = sorted(values)
        p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
        print(f"  {label:<23} {ms(statistics.median(values))} {ms(p90)} {ms(sum(values))}")
    print(f"  ratio control plane / HTTP only: {total / http_total:.2f} "
          f"(per app median {statistics.median(per_app) / statistics.median(replayed):.2f});"
          f" minicloud adds {ms((total - http_total) / len(per_app)).strip()} per deploy")
    if mismatches:
        print(f"  note: {mismatches} replayed answers had another status code than the client's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
