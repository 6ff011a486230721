"""The ``minicloud`` command as an operator runs it: a real process against a real database."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conformance import ConformingClient
from werkzeug.test import Client

from minicloud import config as config_module
from minicloud.app import make_app
from minicloud.services import Services


def run_cli(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith("MINICLOUD_") and k != "DATABASE_URL"}
    environ.update(DATABASE_URL=database_url, MINICLOUD_AUTH_BCRYPT_COST="4",
                   MINICLOUD_AUTH_JWT_SECRET="cli-test-secret-" + "x" * 40, **env)
    return subprocess.run([sys.executable, "-m", "minicloud.cli", *args], env=environ,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def migrated(fresh_database):
    assert run_cli(fresh_database, "db", "upgrade").returncode == 0
    return fresh_database


@pytest.fixture
def api(migrated, tmp_path):
    """A werkzeug client on the app, against the CLI's database."""
    config = config_module.load(environ={}).with_overrides({
        "database.url": migrated, "auth.bcrypt_cost": 4, "server.default_language": "en",
        "auth.jwt_secret": "test-secret-" + "x" * 40,
        "network.enforcement": "off", "network.state_dir": str(tmp_path / "network"),
    })
    services = Services.from_config(config)
    yield ConformingClient(make_app(config, services))
    services.close()


def login(client: Client, username: str, password: str):
    """(status, /auth/me body or None)."""
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    if response.status_code != 200:
        return response.status_code, None
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {response.json['access_token']}"})
    return response.status_code, me.json


def test_db_upgrade_applies_then_reports_up_to_date(fresh_database):
    first = run_cli(fresh_database, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("applied: ") and "0001_initial.sql" in first.stdout
    second = run_cli(fresh_database, "db", "upgrade")
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "database is up to date"


def test_create_admin_with_password_from_env_makes_a_global_admin(migrated, api):
    done = run_cli(migrated, "create-admin", MINICLOUD_ADMIN_PASSWORD="admin-secret-1")
    assert done.returncode == 0, done.stderr
    assert "administrator admin created" in done.stdout
    assert "admin-secret-1" not in done.stdout  # a given password is never echoed
    status, me = login(api, "admin", "admin-secret-1")
    assert status == 200 and me["username"] == "admin" and me["is_admin"] is True
    assert any(p["personal"] for p in me["projects"])


def test_if_missing_keeps_an_existing_admin_and_its_password(migrated, api):
    run_cli(migrated, "create-admin", MINICLOUD_ADMIN_PASSWORD="admin-secret-1")
    again = run_cli(migrated, "create-admin", "--if-missing")
    assert again.returncode == 0, again.stderr
    assert "exists" in again.stdout and "password:" not in again.stdout
    status, me = login(api, "admin", "admin-secret-1")
    assert status == 200 and me["is_admin"] is True


def test_if_missing_creates_with_a_generated_password_that_works(migrated, api):
    done = run_cli(migrated, "create-admin", "--if-missing", "--username", "root-admin")
    assert done.returncode == 0, done.stderr
    assert "administrator root-admin created" in done.stdout
    password = next(line.split(":", 1)[1].strip() for line in done.stdout.splitlines()
                    if line.strip().startswith("password:"))
    assert len(password) >= 12
    status, me = login(api, "root-admin", password)
    assert status == 200 and me["is_admin"] is True


def test_without_if_missing_a_new_password_resets_the_admin(migrated, api):
    run_cli(migrated, "create-admin", MINICLOUD_ADMIN_PASSWORD="admin-secret-1")
    reset = run_cli(migrated, "create-admin", "--password", "admin-secret-2")
    assert reset.returncode == 0 and "administrator admin updated" in reset.stdout
    assert login(api, "admin", "admin-secret-1")[0] == 401
    assert login(api, "admin", "admin-secret-2")[1]["is_admin"] is True


def test_if_missing_leaves_an_ordinary_user_of_that_name_alone(migrated, api):
    assert api.post("/api/v1/auth/signup", json={"username": "admin", "password": "user-password",
                                                  "display_name": "Not an admin"}).status_code == 201
    done = run_cli(migrated, "create-admin", "--if-missing")
    assert done.returncode == 0 and "not an administrator" in done.stderr
    status, me = login(api, "admin", "user-password")
    assert status == 200 and me["is_admin"] is False


def test_create_admin_rejects_a_bad_password(migrated):
    done = run_cli(migrated, "create-admin", "--password", "short")
    assert done.returncode == 1 and "create-admin:" in done.stderr
