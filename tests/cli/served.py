"""A served minicloud for the mcloud tests: gunicorn and a ``minicloud worker`` on real PostgreSQL and Swift,
the Kubernetes stand-in for apps, and libvirt's qemu:///system for mini PCs (a pool and console folder of
this run's own). mcloud talks to it over HTTP only, as a user's laptop would.

``cli`` runs mcloud (typer's CliRunner on the real app) with a config file of the test's own, wide
columns and English unless a test says otherwise; ``signed_in`` is a new user already logged in.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from conftest import TABLES
from kube_standin import kube_standin
from serving import serve_app
from swift_fixtures import storage_environ
from typer.testing import CliRunner

from mcloud.main import app as mcloud_app

ROOT = Path(__file__).resolve().parents[2]
MINICLOUD = Path(sys.executable).parent / "minicloud"
ADMIN = ("root", "root-password-1")
PASSWORD = "correct-horse-battery"


def compute_environ(base: Path, tag: str, port_start: int) -> dict[str, str]:
    return {
        "MINICLOUD_COMPUTE_DEFAULT_HOST_URI": "qemu:///system",
        "MINICLOUD_COMPUTE_NETWORK_MODE": "user",
        "MINICLOUD_NETWORK_ENFORCEMENT": "off",
        "MINICLOUD_COMPUTE_POOL_NAME": f"mc-cli-{tag}",
        "MINICLOUD_COMPUTE_POOL_PATH": str(base / "pool"),
        "MINICLOUD_COMPUTE_CONSOLE_LOG_DIR": str(base / "console"),
        "MINICLOUD_COMPUTE_SSH_PORT_RANGE_START": str(port_start),
        "MINICLOUD_COMPUTE_SSH_PORT_RANGE_END": str(port_start + 19),
        "MINICLOUD_COMPUTE_CPU_ALLOCATION_RATIO": "8.0",
        "MINICLOUD_COMPUTE_STOP_TIMEOUT_SECONDS": "20",
        "MINICLOUD_NETWORK_STATE_DIR": str(base / "network"),
    }


def free_port_block(size: int) -> int:
    """The first of ``size`` consecutive loopback ports that are all free now (the guests' SSH forwards)."""
    import random
    import socket

    for _ in range(200):
        start = random.randrange(30000, 40000 - size)
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


@dataclass
class CliCloud:
    url: str
    env: dict
    base: Path
    pool_name: str
    kube: object

    def admin_token(self) -> str:
        answer = httpx.post(self.url + "/api/v1/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]})
        assert answer.status_code == 200, answer.text
        return answer.json()["access_token"]


@pytest.fixture(scope="package")
def cli_cloud(database_url, swift_server, tmp_path_factory):
    tag = uuid.uuid4().hex[:8]
    base = tmp_path_factory.mktemp(f"cli-{tag}")
    base.chmod(0o755)
    home = base / "home"
    home.mkdir()
    (base / "kube").mkdir()
    with kube_standin(base / "kube") as kube:
        env = dict(os.environ, DATABASE_URL=database_url, MINICLOUD_AUTH_BCRYPT_COST="4",
                   MINICLOUD_AUTH_JWT_SECRET="cli-test-secret-" + "c" * 40, MINICLOUD_SERVER_DEFAULT_LANGUAGE="en",
                   MINICLOUD_JOBS_POLL_SECONDS="0.2", MINICLOUD_JOBS_BACKOFF_BASE_SECONDS="0.2",
                   MINICLOUD_JOBS_BACKOFF_MAX_SECONDS="1.0", KUBECONFIG=str(kube.kubeconfig_path), HOME=str(home))
        env.pop("KUBERNETES_SERVICE_HOST", None)
        env.update(storage_environ(swift_server))
        env.update(compute_environ(base, tag, free_port_block(20)))
        with psycopg.connect(database_url, autocommit=True) as conn:   # what earlier tests left (hosts, images …)
            conn.execute("TRUNCATE " + ", ".join(TABLES) + " CASCADE")
        for argv in (["db", "upgrade"], ["create-admin", "--username", ADMIN[0], "--password", ADMIN[1]]):
            done = subprocess.run([str(MINICLOUD), *argv], env=env, cwd=ROOT, capture_output=True, text=True,
                                  timeout=120)
            assert done.returncode == 0, done.stdout + done.stderr
        with open(base / "worker.log", "wb") as log:
            worker = subprocess.Popen([str(MINICLOUD), "worker"], env=env, cwd=ROOT, stdout=log,
                                      stderr=subprocess.STDOUT)
        try:
            with serve_app(env, base, workers=2, threads=4) as served:
                cloud = CliCloud(served.base_url, env, base, f"mc-cli-{tag}", kube)
                yield cloud
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            _remove_libvirt_leftovers(f"mc-cli-{tag}", str(base / "pool"))
    shutil.rmtree(base, ignore_errors=True)


def _remove_libvirt_leftovers(pool_name: str, pool_path: str) -> None:
    """Domains using this run's pool (a test that failed half-way), then the pool itself."""
    try:
        import libvirt
        from libvirt_fixtures import remove_pool
    except ImportError:
        return
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    try:
        conn = libvirt.open("qemu:///system")
    except libvirt.libvirtError:
        return
    try:
        for dom in conn.listAllDomains(0):
            try:
                if pool_path in dom.XMLDesc(0):
                    if dom.isActive():
                        dom.destroy()
                    dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
            except libvirt.libvirtError:
                continue
        remove_pool(conn, pool_name)
    finally:
        conn.close()


@dataclass
class Cli:
    """mcloud with a config file of its own, run through typer's CliRunner on the real app."""

    cloud: CliCloud
    home: Path
    lang: str = "en"

    @property
    def config_path(self) -> Path:
        return self.home / "mcloud" / "config.toml"

    def environ(self, **extra) -> dict:
        return {"MCLOUD_CONFIG": str(self.config_path), "MCLOUD_LANG": self.lang, "COLUMNS": "220",
                "MCLOUD_URL": None, "MCLOUD_PROFILE": None, "MCLOUD_PROJECT": None, "MCLOUD_OUTPUT": None,
                "MCLOUD_API_KEY": None, "MCLOUD_PASSWORD": None} | extra

    def __call__(self, *args: str, input: str | None = None, **env):
        result = CliRunner().invoke(mcloud_app, list(args), input=input, env=self.environ(**env),
                                    catch_exceptions=False)
        return result

    def json(self, *args: str, **env):
        result = self("--output", "json", *args, **env)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def signup(self, username: str, display_name: str = "CLI Student") -> None:
        answer = httpx.post(self.cloud.url + "/api/v1/auth/signup", json={
            "username": username, "password": PASSWORD, "display_name": display_name})
        assert answer.status_code == 201, answer.text

    def login(self, username: str, *extra: str):
        result = self("login", "--url", self.cloud.url, "--username", username, "--password", PASSWORD, *extra)
        assert result.exit_code == 0, result.output
        return result


@pytest.fixture
def cli(cli_cloud, tmp_path) -> Cli:
    return Cli(cli_cloud, tmp_path / "config-home")


@pytest.fixture
def signed_in(cli) -> Cli:
    """A new user (its own personal project), logged in with mcloud."""
    name = "u" + uuid.uuid4().hex[:10]
    cli.signup(name)
    cli.login(name)
    cli.username = name
    return cli
