"""Shared fixtures: a throwaway PostgreSQL for the session, the app, clients and signed-in users.

Set MINICLOUD_TEST_DATABASE_URL to use an existing (disposable!) database instead.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest
from conformance import ConformingClient
from werkzeug.test import Client

from minicloud import config as config_module
from minicloud.app import make_app
from minicloud.db import migrate
from minicloud.services import Services
from minicloud.services.backends import Backends
from network_standin import StandinNetwork

pytest_plugins = ["libvirt_fixtures", "compute_fixtures", "swift_fixtures", "kube_standin"]

ROOT = Path(__file__).resolve().parents[1]
TABLES = ["audit_log", "job_runs", "jobs", "quotas", "memberships", "api_keys", "revoked_tokens",
          "login_failures", "projects", "users",
          "gpu_assignments", "instances", "keypairs", "images", "templates", "host_reports", "hosts",
          "storage_activity", "storage_uploads", "buckets", "apps", "login_known_addresses", "user_quotas"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server for the whole session: (base URL without db name, admin connect URL)."""
    given = os.environ.get("MINICLOUD_TEST_DATABASE_URL")
    if given:
        yield given
        return
    datadir = Path(tempfile.mkdtemp(prefix="minicloud-pg-")) / "data"
    datadir.parent.chmod(0o755)  # the server runs as "postgres" when we are root
    port = free_port()
    env = dict(os.environ, PG_EXTRA_OPTS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
    _adopt_orphans()
    started = subprocess.run([str(ROOT / "scripts/pg.sh"), "start", str(datadir), str(port)],
                             capture_output=True, text=True, env=env)
    if started.returncode != 0:
        pytest.exit(f"could not start PostgreSQL: {started.stderr}", returncode=3)
    url = started.stdout.strip()
    try:
        yield url
    finally:
        subprocess.run([str(ROOT / "scripts/pg.sh"), "stop", str(datadir)], check=False)
        shutil.rmtree(datadir.parent, ignore_errors=True)
        _reap_orphans()


def _adopt_orphans() -> None:
    """pg_ctl leaves the server without a parent and PID 1 here reaps nobody: adopt it (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _reap_orphans() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


@pytest.fixture(scope="session")
def database_url(pg_server):
    """The suite's migrated database."""
    migrate.upgrade(pg_server)
    return pg_server


@pytest.fixture
def fresh_database(pg_server):
    """A new empty database (for migration tests); dropped afterwards."""
    name = "mc_" + uuid.uuid4().hex[:12]
    base = pg_server.rsplit("/", 1)[0]
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{base}/{name}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def config(database_url, tmp_path):
    base = config_module.load(environ={})
    return base.with_overrides({
        "database.url": database_url,
        "auth.bcrypt_cost": 4,
        "auth.jwt_secret": "test-secret-" + "x" * 40,
        "server.default_language": "en",
        "jobs.poll_seconds": 0.1,
        "network.state_dir": str(tmp_path / "network"),
    })


@pytest.fixture
def clean_db(database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE " + ", ".join(TABLES) + " CASCADE")
    return database_url


@pytest.fixture
def backends(config, request):
    """The real drivers, but the compute stand-in of tests/compute_fixtures.py when the test uses ``cloud``,
    and the network stand-in (tests/network_standin.py) unless the test brings ``network_driver``: API tests
    must not change the machine's network; the system tests apply to the real kernel."""
    compute = request.getfixturevalue("cloud").factory if "cloud" in request.fixturenames else None
    network = (request.getfixturevalue("network_driver") if "network_driver" in request.fixturenames
               else StandinNetwork())
    return Backends.from_config(config, compute=compute, network=network)


@pytest.fixture
def services(config, clean_db, backends):
    services = Services.from_config(config, backends)
    yield services
    services.close()


@pytest.fixture
def app(config, services):
    return make_app(config, services)


@pytest.fixture
def client(app):
    """A test client that also checks every API answer against the OpenAPI document (tests/conformance.py)."""
    return ConformingClient(app)


class Auth:
    """Sign-up / login helpers, like flaskr's AuthActions."""

    def __init__(self, client: Client):
        self.client = client

    def signup(self, username="alice", password="correct-horse", display_name=None, **extra):
        body = {"username": username, "password": password, "display_name": display_name or username.title()}
        body.update(extra)
        return self.client.post("/api/v1/auth/signup", json=body)

    def login(self, username="alice", password="correct-horse"):
        return self.client.post("/api/v1/auth/login", json={"username": username, "password": password})

    def user(self, username="alice", password="correct-horse") -> "User":
        """A signed-up, logged-in user with a bearer token."""
        assert self.signup(username, password).status_code == 201
        response = self.login(username, password)
        assert response.status_code == 200, response.json
        return User(self.client, username, response.json["access_token"])


class User:
    def __init__(self, client: Client, username: str, token: str):
        self.client, self.username, self.token = client, username, token

    def headers(self, project_id=None, **extra):
        headers = {"Authorization": f"Bearer {self.token}"}
        if project_id:
            headers["X-Project-Id"] = str(project_id)
        headers.update(extra)
        return headers

    def request(self, method, path, project_id=None, headers=None, **kwargs):
        return self.client.open(path, method=method, headers=self.headers(project_id, **(headers or {})),
                                **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    @property
    def me(self) -> dict:
        return self.get("/api/v1/auth/me").json

    @property
    def personal_project(self) -> str:
        return next(p["id"] for p in self.me["projects"] if p["personal"])


@pytest.fixture
def auth(client):
    return Auth(client)
