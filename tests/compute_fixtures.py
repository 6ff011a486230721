"""Fixtures for mini PC tests: the compute stand-in cloud, seeded templates and an image, a worker.

A test module using them overrides ``config`` with ``compute_overrides`` (see test_instances.py).
"""
from __future__ import annotations

import psycopg
import pytest
from compute_standin import StandinCloud
from psycopg.rows import dict_row

from minicloud.jobs.worker import Worker


def compute_overrides(config):
    """User networking on a stand-in local host, no retry delays, room for concurrent requests."""
    return config.with_overrides({"compute.network_mode": "user", "compute.default_host_uri": "test:///local",
                                  "jobs.backoff_base_seconds": 0.0, "jobs.backoff_max_seconds": 0.0,
                                  "database.pool_max": 12})


@pytest.fixture
def cloud():
    """The compute stand-in with one local host; the ``backends`` fixture (conftest.py) builds services on it."""
    cloud = StandinCloud()
    cloud.add_host("test:///local", vcpus=4, ram_mib=8192)
    return cloud


@pytest.fixture
def compute(services, cloud, tmp_path):
    """Seeded templates (by name) and one registered image."""
    services.templates.seed()
    disk = tmp_path / "tiny.qcow2"
    disk.write_bytes(b"QFI\xfb")
    image = services.images.create({"name": "tiny", "disk_path": str(disk), "default_user": "student"})
    templates = {t["name"]: t for t in services.db.fetchall("SELECT * FROM templates")}
    return {"templates": templates, "image": image, "tid": lambda name: str(templates[name]["id"])}


@pytest.fixture
def admin(auth, services):
    services.accounts.ensure_admin("root", "root-password-1")
    token = auth.login("root", "root-password-1").json["access_token"]
    from conftest import User
    return User(auth.client, "root", token)


@pytest.fixture
def work(config, services, clean_db):
    """Run queued jobs until none is ready; returns how many ran."""
    worker = Worker(config, services, name="test-worker")
    return lambda: run_ready_jobs(worker, clean_db)


def run_ready_jobs(worker: Worker, database_url: str) -> int:
    """Let ``worker`` run queued jobs until none is ready; returns how many ran."""
    ran = 0
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        while worker.run_once(conn):
            ran += 1
    return ran


