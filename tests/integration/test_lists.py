"""Every list honours ``limit`` and ``cursor`` the same way: default 50, at most 500, 422 outside;
pages follow ``next`` without skipping or repeating anything (issue 8, point 5)."""
from __future__ import annotations

from dataclasses import replace

import pytest
from container_standin import StandinCluster
from storage_standin import StandinSwift

from minicloud.services import Services

pytest_plugins = ["compute_fixtures"]


@pytest.fixture
def services(config, clean_db, backends):
    services = Services.from_config(config, replace(backends, storage=StandinSwift(), containers=StandinCluster()))
    yield services
    services.close()


def walk(user, path, limit, key="id", **kw):
    """Every item of a list, page by page; asserts each page holds at most ``limit`` items."""
    seen, cursor = [], None
    for _ in range(100):
        query = f"limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = user.get(f"{path}{'&' if '?' in path else '?'}{query}", **kw)
        assert response.status_code == 200, response.json
        page = response.json
        assert len(page["items"]) <= limit
        seen += [item[key] for item in page["items"]]
        cursor = page["next"]
        if cursor is None:
            return seen
    raise AssertionError("the pages never ended")


def whole(user, path, key="id", **kw):
    response = user.get(path, **kw)
    assert response.status_code == 200 and response.json["next"] is None
    return [item[key] for item in response.json["items"]]


@pytest.fixture
def alice(auth):
    return auth.user("alice")


def test_projects_members_and_api_keys_page(alice, auth):
    for name in ("p1", "p2"):
        assert alice.post("/api/v1/projects", json={"name": name}).status_code == 201
    for i in range(5):
        assert alice.post("/api/v1/api-keys", json={"name": f"key{i}"}).status_code == 201
    assert walk(alice, "/api/v1/projects", 1) == whole(alice, "/api/v1/projects")
    assert len(whole(alice, "/api/v1/projects")) == 3
    assert whole(alice, "/api/v1/projects", key="name")[0] == "alice"  # the personal project first
    keys = whole(alice, "/api/v1/api-keys", key="name")
    assert keys == [f"key{i}" for i in range(5)]
    assert walk(alice, "/api/v1/api-keys", 2, key="name") == keys
    first = alice.get("/api/v1/api-keys?limit=1").json
    assert len(first["items"]) == 1 and first["next"]

    project = whole(alice, "/api/v1/projects")[1]
    for name in ("bob", "carol", "dave"):
        auth.signup(name)
        assert alice.post(f"/api/v1/projects/{project}/members", json={"username": name, "role": "user"}).status_code == 201
    members = whole(alice, f"/api/v1/projects/{project}/members", key="username")
    assert members == ["alice", "bob", "carol", "dave"]
    assert walk(alice, f"/api/v1/projects/{project}/members", 3, key="username") == members


def test_keypairs_buckets_and_apps_page(alice):
    for i in range(3):
        assert alice.post("/api/v1/keypairs", json={"name": f"kp{i}"}).status_code == 201
        assert alice.post("/api/v1/buckets", json={"name": f"bucket-{i}"}).status_code == 201
        assert alice.post("/api/v1/apps", json={"name": f"app{i}", "image": "nginx:1.27", "port": 80}).status_code == 202
    assert walk(alice, "/api/v1/keypairs", 2, key="name") == ["kp0", "kp1", "kp2"]
    assert walk(alice, "/api/v1/buckets", 2, key="name") == ["bucket-2", "bucket-1", "bucket-0"]  # newest first
    assert walk(alice, "/api/v1/apps", 2, key="name") == ["app2", "app1", "app0"]
    page = alice.get("/api/v1/apps?limit=1").json
    assert page["summary"]["total"] == 3 and len(page["items"]) == 1  # the summary counts every app


def test_templates_images_and_hosts_page(admin, alice, compute):
    names = whole(alice, "/api/v1/templates", key="name")
    assert len(names) >= 3
    assert walk(alice, "/api/v1/templates", 2, key="name") == names
    assert walk(alice, "/api/v1/images", 1, key="name") == ["tiny"]
    for i in range(2):
        assert admin.post("/api/v1/hosts", json={"name": f"node{i}", "uri": f"test:///node{i}"}).status_code == 201
    hosts = whole(admin, "/api/v1/hosts", key="name")
    assert len(hosts) == 3 and walk(admin, "/api/v1/hosts", 2, key="name") == hosts


LISTS = ["/api/v1/projects", "/api/v1/api-keys", "/api/v1/keypairs", "/api/v1/buckets", "/api/v1/templates",
         "/api/v1/images", "/api/v1/instances", "/api/v1/audit", "/api/v1/apps"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("limit", ["0", "-5", "501", "ten"])
def test_a_limit_outside_1_to_500_is_422(alice, path, limit):
    response = alice.get(f"{path}?limit={limit}")
    assert response.status_code == 422, response.json
    assert "limit" in response.json["error"]["details"]["fields"]


@pytest.mark.parametrize("path", LISTS)
def test_limit_500_is_accepted(alice, path):
    assert alice.get(f"{path}?limit=500").status_code == 200


def test_the_default_page_is_50(alice):
    for i in range(51):
        assert alice.post("/api/v1/api-keys", json={"name": f"k{i:02}"}).status_code == 201
    page = alice.get("/api/v1/api-keys").json
    assert len(page["items"]) == 50 and page["next"]
    rest = alice.get(f"/api/v1/api-keys?cursor={page['next']}").json
    assert [k["name"] for k in rest["items"]] == ["k50"] and rest["next"] is None
