"""/api/v1/apps: deploy, list, show, redeploy, scale, logs, delete; validation, quotas, roles, statuses.

Most tests run the service against an in-memory cluster (tests/container_standin.py); the last
ones go through the real KubernetesDriver against the HTTP-level stand-in (tests/kube_standin.py).
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from container_standin import StandinCluster

from minicloud.jobs.registry import load_modules, periodic_tasks
from minicloud.services import Services
from minicloud.services.backends import Backends

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "k8s"
APP = {"name": "My Blog", "image": "nginx:1.27", "port": 80}


def fixture_items(name: str) -> list[dict]:
    return json.loads((FIXTURES / name).read_text())["items"]


@pytest.fixture
def config(config):
    return config.with_overrides({"jobs.backoff_base_seconds": 0.0, "jobs.backoff_max_seconds": 0.0})


@pytest.fixture
def cluster():
    return StandinCluster()


@pytest.fixture
def services(config, clean_db, cluster):
    services = Services.from_config(config, Backends.from_config(config, containers=cluster))
    yield services
    services.close()


def refresh_pass(services) -> int:
    load_modules("")
    return periodic_tasks()["apps.refresh"][0](SimpleNamespace(services=services))


def deploy(user, work, **body):
    created = user.post("/api/v1/apps", json={**APP, **body})
    assert created.status_code == 202, created.json
    work()
    return created.json


def test_deploy_answers_pending_with_the_url_then_runs(auth, work, cluster):
    alice = auth.user("alice")
    created = alice.post("/api/v1/apps", json={**APP, "replicas": 2, "env": {"GREETING": "안녕"}})
    assert created.status_code == 202
    app = created.json
    assert app["status"] == "PENDING" and app["url"] == "http://my-blog.apps.minicloud.test"
    assert app["k8s_name"].startswith("my-blog-") and created.headers["Location"].endswith(str(app["id"]))
    assert cluster.calls == []  # nothing reached the cluster before the job
    work()
    assert [c[0] for c in cluster.calls[:2]] == ["ensure_project", "deploy"]
    shown = alice.get(f"/api/v1/apps/{app['id']}").json
    assert shown["status"] == "RUNNING" and shown["ready_replicas"] == 2 and shown["message"] == "The app is running."
    assert [m["kind"] for m in shown["manifests"]] == ["Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy",
                                                          "Deployment", "Service", "Ingress"]
    assert shown["env"] == {"GREETING": "안녕"} and isinstance(shown["events"], list)
    listing = alice.get("/api/v1/apps").json
    assert listing["summary"] == {"total": 1, "running": 1} and listing["items"][0]["id"] == app["id"]


def test_invalid_fields_are_422_with_every_field_named_before_the_cluster(auth, cluster):
    alice = auth.user("alice")
    bad = alice.post("/api/v1/apps", json={"name": "x", "image": "Nginx:latest", "port": 70000, "replicas": 11,
                                          "env": {"1BAD": "x"}, "size": "huge"}, headers={"Accept-Language": "en"})
    assert bad.status_code == 422
    assert set(bad.json["error"]["details"]["fields"]) == {"image", "port", "replicas", "env", "size"}
    assert bad.json["error"]["details"]["fields"]["replicas"] == "Replicas must be a whole number from 0 to 10."
    missing = alice.post("/api/v1/apps", json={"image": "nginx", "port": 80}, headers={"Accept-Language": "ko"})
    assert missing.status_code == 422
    assert missing.json["error"]["details"]["fields"]["name"] == "앱 이름을 입력해주세요."
    for image in ("nginx", "nginx:1.27", "ghcr.io/user/app:v1", "localhost:5000/a/b", "busybox@sha256:" + "a" * 64):
        assert alice.post("/api/v1/apps", json={**APP, "image": image, "port": 0}).json["error"]["details"][
            "fields"].keys() == {"port"}, image
    for image in ("", "UPPER/case", "a b", "nginx:", "-x", "a:b:c"):
        fields = alice.post("/api/v1/apps", json={**APP, "image": image}).json["error"]["details"]["fields"]
        assert "image" in fields, image
    assert cluster.calls == []


def test_the_app_count_quota_is_403(auth, admin, work):
    alice = auth.user("alice")
    admin.patch("/api/v1/quotas", json={"project_id": alice.personal_project, "limits": {"apps": 1}})
    deploy(alice, work)
    over = alice.post("/api/v1/apps", json={**APP, "name": "second"})
    assert over.status_code == 403 and over.json["error"]["code"] == "quota_exceeded"


def test_replicas_beyond_the_projects_cpu_quota_are_422(auth, admin, work):
    alice = auth.user("alice")
    admin.patch("/api/v1/quotas", json={"project_id": alice.personal_project, "limits": {"vcpus": 1}})
    too_many = alice.post("/api/v1/apps", json={**APP, "size": "large", "replicas": 2},
                          headers={"Accept-Language": "ko"})
    assert too_many.status_code == 422 and list(too_many.json["error"]["details"]["fields"]) == ["replicas"]
    assert "vCPU 1개" in too_many.json["error"]["details"]["fields"]["replicas"]
    app = deploy(alice, work, size="small", replicas=2)  # 2 × 250m fits in 1 vCPU
    assert alice.post(f"/api/v1/apps/{app['id']}/scale", json={"replicas": 5}).status_code == 422
    assert alice.post(f"/api/v1/apps/{app['id']}/scale", json={"replicas": 4}).status_code == 202


def test_hosts_are_unique_across_the_platform(auth, work):
    alice, bob = auth.user("alice"), auth.user("bob")
    first = alice.post("/api/v1/apps", json={**APP, "name": "web"}).json
    second = bob.post("/api/v1/apps", json={**APP, "name": "Web!"}).json
    third = alice.post("/api/v1/apps", json={**APP, "name": "web"}).json
    assert first["host"] == "web.apps.minicloud.test"
    assert second["host"] == "web-2.apps.minicloud.test" and third["host"] == "web-3.apps.minicloud.test"
    assert first["k8s_name"] != third["k8s_name"]


def test_other_projects_get_404_viewers_403_and_a_busy_app_409(auth, work):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    team = alice.post("/api/v1/projects", json={"name": "team"}).json["id"]
    alice.post(f"/api/v1/projects/{team}/members", json={"username": "carol", "role": "viewer"})
    app = alice.post("/api/v1/apps", json=APP, project_id=team).json
    url = f"/api/v1/apps/{app['id']}"
    busy = alice.post(f"{url}/redeploy", project_id=team)
    assert busy.status_code == 409
    work()
    assert bob.get(url).status_code == 404 and bob.delete(url).status_code == 404
    assert alice.get(url).status_code == 404  # not in her personal project
    assert carol.get(url, project_id=team).json["status"] == "RUNNING"
    assert carol.post(f"{url}/scale", json={"replicas": 2}, project_id=team).status_code == 403
    assert carol.post("/api/v1/apps", json=APP, project_id=team).status_code == 403


def test_image_not_found_is_shown_in_korean(auth, work, cluster):
    alice = auth.user("alice")
    app = alice.post("/api/v1/apps", json={**APP, "image": "ngnix-does-not-exist:9.9"}).json
    cluster.ready[app["k8s_name"]] = 0
    cluster.pods[app["k8s_name"]] = fixture_items("pods_errimagepull.json")
    work()
    shown = alice.get(f"/api/v1/apps/{app['id']}", headers={"Accept-Language": "ko"}).json
    assert shown["status"] == "IMAGE_NOT_FOUND"
    assert shown["message"] == "컨테이너 이미지를 찾을 수 없습니다. 이미지 주소를 확인해주세요."


def test_crashing_shows_the_last_log_lines(auth, work, cluster):
    alice = auth.user("alice")
    app = alice.post("/api/v1/apps", json=APP).json
    cluster.ready[app["k8s_name"]] = 0
    cluster.pods[app["k8s_name"]] = fixture_items("pods_crashloop.json")
    cluster.log_lines[app["k8s_name"]] = ["starting", "Error: DATABASE_URL is not set"]
    work()
    shown = alice.get(f"/api/v1/apps/{app['id']}").json
    assert shown["status"] == "CRASHING" and "keeps crashing" in shown["message"]
    assert shown["details"]["log"][-1] == "Error: DATABASE_URL is not set"


def test_removed_behind_the_platforms_back_is_missing_then_redeploy_recreates(auth, work, cluster, services):
    alice = auth.user("alice")
    app = deploy(alice, work)
    cluster.remove_behind_back(app["k8s_name"])
    assert refresh_pass(services) == 1
    listed = alice.get("/api/v1/apps").json["items"][0]
    assert listed["status"] == "MISSING"
    assert alice.post(f"/api/v1/apps/{app['id']}/redeploy").status_code == 202
    work()
    assert [c[0] for c in cluster.calls[-2:]] == ["redeploy", "deploy"] or ("deploy", app["k8s_name"]) in [
        c[:2] for c in cluster.calls]
    assert alice.get(f"/api/v1/apps/{app['id']}").json["status"] == "RUNNING"


def test_redeploy_with_a_new_image_is_a_rollout(auth, work, cluster):
    alice = auth.user("alice")
    app = deploy(alice, work)
    moved = alice.post(f"/api/v1/apps/{app['id']}/redeploy", json={"image": "nginx:1.28"})
    assert moved.status_code == 202 and moved.json["image"] == "nginx:1.28"
    work()
    assert ("redeploy", app["k8s_name"], "nginx:1.28") in cluster.calls
    assert sum(1 for c in cluster.calls if c[0] == "deploy") == 1
    assert alice.post(f"/api/v1/apps/{app['id']}/redeploy", json={"image": "BAD IMAGE"}).status_code == 422


def test_scale_to_zero_is_stopped(auth, work, cluster):
    alice = auth.user("alice")
    app = deploy(alice, work)
    assert alice.post(f"/api/v1/apps/{app['id']}/scale", json={"replicas": 0}).status_code == 202
    work()
    assert ("scale", app["k8s_name"], 0) in cluster.calls
    shown = alice.get(f"/api/v1/apps/{app['id']}").json
    assert shown["status"] == "STOPPED" and shown["replicas"] == 0
    assert alice.post(f"/api/v1/apps/{app['id']}/scale", json={"replicas": 11}).status_code == 422
    assert alice.post(f"/api/v1/apps/{app['id']}/scale", json={}).status_code == 422


def test_logs_tail(auth, work, cluster):
    alice = auth.user("alice")
    app = deploy(alice, work)
    cluster.log_lines[app["k8s_name"]] = [f"line {n}" for n in range(300)]
    assert len(alice.get(f"/api/v1/apps/{app['id']}/logs").json["lines"]) == 100
    assert alice.get(f"/api/v1/apps/{app['id']}/logs?tail=5").json["lines"][-1] == "line 299"
    for bad in ("0", "1001", "x"):
        assert alice.get(f"/api/v1/apps/{app['id']}/logs?tail={bad}").status_code == 422


def test_delete_removes_every_object_then_the_app(auth, work, cluster):
    alice = auth.user("alice")
    app = deploy(alice, work)
    deleting = alice.delete(f"/api/v1/apps/{app['id']}")
    assert deleting.status_code == 202 and deleting.json["status"] == "DELETING"
    assert alice.post(f"/api/v1/apps/{app['id']}/scale", json={"replicas": 2}).status_code == 409
    work()
    assert not [k for k in cluster.objects if k[2] == app["k8s_name"]]
    assert alice.get(f"/api/v1/apps/{app['id']}").status_code == 404
    assert alice.get("/api/v1/apps").json["summary"] == {"total": 0, "running": 0}


def test_a_refused_deploy_ends_failed_with_the_cause(auth, work, cluster):
    from minicloud.drivers.containers.base import KubernetesError
    alice = auth.user("alice")
    cluster.fail_deploy = KubernetesError("admission webhook denied the request", status=403, reason="Forbidden")
    app = deploy(alice, work)
    shown = alice.get(f"/api/v1/apps/{app['id']}").json
    assert shown["status"] == "FAILED" and "admission webhook denied" in shown["message"]


class TestWithoutACluster:
    @pytest.fixture
    def cluster(self):
        return StandinCluster(configured=False)

    def test_every_apps_call_is_503_saying_how_to_connect(self, auth, client, services):
        alice = auth.user("alice")
        some_id = "00000000-0000-4000-8000-000000000000"
        for method, path, body in [("GET", "/api/v1/apps", None), ("POST", "/api/v1/apps", APP),
                                   ("GET", f"/api/v1/apps/{some_id}", None),
                                   ("POST", f"/api/v1/apps/{some_id}/scale", {"replicas": 1}),
                                   ("GET", f"/api/v1/apps/{some_id}/logs", None),
                                   ("DELETE", f"/api/v1/apps/{some_id}", None)]:
            answer = alice.request(method, path, json=body)
            assert answer.status_code == 503 and answer.json["error"]["code"] == "no_cluster", path
            assert "KUBECONFIG" in answer.json["error"]["message"] and "~/.kube/config" in answer.json["error"]["message"]
        korean = alice.get("/api/v1/apps", headers={"Accept-Language": "ko"}).json["error"]["message"]
        assert "KUBECONFIG" in korean and "클러스터" in korean
        assert alice.get("/api/v1/buckets").status_code in (200, 503)  # storage is its own business
        assert alice.get("/api/v1/instances").status_code == 200
        assert alice.get("/api/v1/quotas").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json["backends"]["kubernetes"]["status"] == "unavailable"
        assert refresh_pass(services) == 0


class TestThroughTheRealDriver:
    """End to end: the API, the job, the real KubernetesDriver and the HTTP-level stand-in."""

    @pytest.fixture
    def cluster(self, kube, config):
        from minicloud.drivers.containers.kubernetes import KubernetesDriver
        return KubernetesDriver.from_config(config)  # after ``kube``: it reads the stand-in's KUBECONFIG

    def test_deploy_creates_the_objects_in_order_and_get_shows_them(self, auth, work, kube):
        alice = auth.user("alice")
        app = alice.post("/api/v1/apps", json={**APP, "replicas": 2}).json
        assert app["status"] == "PENDING"
        assert not [r for r in kube.requests if r.method != "GET"]  # nothing written before the job
        work()
        created = [r.path.rsplit("/", 1)[-1] for r in kube.requests if r.method == "POST"]
        assert created == ["namespaces", "resourcequotas", "limitranges", "networkpolicies", "deployments",
                           "services", "ingresses"]
        ns, name = app["namespace"], app["k8s_name"]
        deployment = kube.object("Deployment", name, ns)
        assert deployment["spec"]["replicas"] == 2
        assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
        assert kube.object("Ingress", name, ns)["spec"]["rules"][0]["host"] == "my-blog.apps.minicloud.test"
        deployment["status"] = {"replicas": 2, "readyReplicas": 2}
        shown = alice.get(f"/api/v1/apps/{app['id']}").json
        assert shown["status"] == "RUNNING" and shown["ready_replicas"] == 2
        assert [m["kind"] for m in shown["manifests"]] == ["Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy",
                                                           "Deployment", "Service", "Ingress"]

    def test_scale_redeploy_and_delete_reach_the_cluster(self, auth, work, kube):
        alice = auth.user("alice")
        app = alice.post("/api/v1/apps", json=APP).json
        work()
        ns, name = app["namespace"], app["k8s_name"]
        assert alice.post(f"/api/v1/apps/{app['id']}/scale", json={"replicas": 3}).status_code == 202
        work()
        assert kube.object("Deployment", name, ns)["spec"]["replicas"] == 3
        kube.clear_requests()
        assert alice.post(f"/api/v1/apps/{app['id']}/redeploy", json={"image": "nginx:1.28"}).status_code == 202
        work()
        assert not [r for r in kube.requests if r.method in ("POST", "DELETE")]  # a patch, not delete and create
        assert kube.object("Deployment", name, ns)["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
        assert alice.delete(f"/api/v1/apps/{app['id']}").status_code == 202
        work()
        assert kube.object("Deployment", name, ns) is None and kube.object("Ingress", name, ns) is None
        assert alice.get(f"/api/v1/apps/{app['id']}").status_code == 404
