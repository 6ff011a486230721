"""Apps on a real cluster (k3s in the lab): deploy, the URL through the ingress, redeploy, scale, delete,
and the message a person reads for an image that does not exist.

Everything is real: the API (the ``app`` fixture), the services, PostgreSQL, the worker's job functions
and periodic status refresh, the ``kubernetes`` client and the cluster of ``KUBECONFIG``. Without a
usable KUBECONFIG these tests are deselected (tests/lab/conftest.py).

Settings from the environment (all optional):
    MINICLOUD_LAB_IMAGE          a small web image (default traefik/whoami, which answers with its pod name)
    MINICLOUD_LAB_PORT           the port it serves HTTP on (default 80)
    MINICLOUD_LAB_BAD_IMAGE      an image reference that cannot be pulled
    MINICLOUD_LAB_INGRESS_IP     where the ingress controller listens ("ip" or "ip:port"); default: the
                                 address in the Ingress status, port MINICLOUD_LAB_INGRESS_PORT (80)
    MINICLOUD_LAB_BASE_DOMAIN, _INGRESS_CLASS, _INGRESS_NAMESPACE, _TLS_SECRET, _IMAGE_PULL_POLICY
                                 the matching ``[kubernetes]`` settings
    MINICLOUD_LAB_TIMEOUT        seconds to wait for the cluster at each step (default 180)
"""
from __future__ import annotations

import http.client
import os
import uuid
from urllib.parse import urlsplit

import kubernetes
import psycopg
import pytest
from psycopg.rows import dict_row

from minicloud.jobs.registry import periodic_tasks
from minicloud.jobs.worker import JobContext, Worker
from waiting import wait_for

pytestmark = pytest.mark.lab

IMAGE = os.environ.get("MINICLOUD_LAB_IMAGE", "traefik/whoami:v1.10.1")
PORT = int(os.environ.get("MINICLOUD_LAB_PORT", "80"))
BAD_IMAGE = os.environ.get("MINICLOUD_LAB_BAD_IMAGE", "ghcr.io/minicloud-lab/no-such-image:0.0.0")
TIMEOUT = float(os.environ.get("MINICLOUD_LAB_TIMEOUT", "180"))
WHOAMI = IMAGE.startswith(("traefik/whoami", "docker.io/traefik/whoami"))
IMAGE_NOT_FOUND_KO = "컨테이너 이미지를 찾을 수 없습니다. 이미지 주소를 확인해주세요."
IMAGE_NOT_FOUND_EN = "The container image could not be found. Check the image address."
SETTINGS_FROM_ENV = {
    "kubernetes.base_domain": "MINICLOUD_LAB_BASE_DOMAIN",
    "kubernetes.ingress_class": "MINICLOUD_LAB_INGRESS_CLASS",
    "kubernetes.ingress_namespace": "MINICLOUD_LAB_INGRESS_NAMESPACE",
    "kubernetes.tls_secret": "MINICLOUD_LAB_TLS_SECRET",
    "kubernetes.image_pull_policy": "MINICLOUD_LAB_IMAGE_PULL_POLICY",
}


@pytest.fixture
def config(config):
    """The suite's config with the lab's ``[kubernetes]`` settings; status refreshed every second."""
    overrides = {"kubernetes.refresh_seconds": 1, "jobs.backoff_base_seconds": 0.5,
                 "jobs.backoff_max_seconds": 2.0}
    overrides.update({key: os.environ[name] for key, name in SETTINGS_FROM_ENV.items() if os.environ.get(name)})
    return config.with_overrides(overrides)


@pytest.fixture(scope="module")
def kube():
    """The official client on KUBECONFIG, for looking at the cluster the way an operator would."""
    api_client = kubernetes.config.new_client_from_config()
    yield {"core": kubernetes.client.CoreV1Api(api_client), "apps": kubernetes.client.AppsV1Api(api_client),
           "net": kubernetes.client.NetworkingV1Api(api_client)}
    api_client.close()


class Lab:
    """A signed-in user in their personal project, the real worker, and the cluster."""

    def __init__(self, user, config, services, kube, conn):
        self.user, self.kube, self.conn = user, kube, conn
        self.project_id = user.personal_project
        self.worker = Worker(config, services, name="lab-worker")
        self.context = JobContext(config, self.worker.name, services)
        self.addresses: dict[str, tuple[str, int]] = {}
        self.refreshers = [fn for name, (fn, setting) in periodic_tasks().items()
                           if name.startswith("apps") or setting.startswith("kubernetes.")]

    # -- the API ---------------------------------------------------------------------------------
    def call(self, method, path, lang="en", **kwargs):
        return self.user.request(method, path, project_id=self.project_id,
                                 headers={"Accept-Language": lang}, **kwargs)

    def deploy(self, name, image=IMAGE, port=PORT, **extra) -> dict:
        response = self.call("POST", "/api/v1/apps", json={"name": name, "image": image, "port": port, **extra})
        assert response.status_code == 202, response.json
        assert response.json["status"] == "PENDING"
        return response.json

    def get(self, app_id, lang="en"):
        return self.call("GET", f"/api/v1/apps/{app_id}", lang=lang)

    # -- the worker ------------------------------------------------------------------------------
    def turn(self) -> None:
        """Run every ready job, then the apps' status refresh, as the worker's loop does."""
        while self.worker.run_once(self.conn):
            pass
        for refresh in self.refreshers:
            refresh(self.context)

    def wait_app(self, app_id, what, check) -> dict:
        """Turn the worker until ``check(app)`` holds for the app the API shows."""
        def ready():
            self.turn()
            app = self.get(app_id).json
            return app if check(app) else None
        return wait_for(ready, timeout=TIMEOUT, what=what, interval=1.0)

    def wait_status(self, app_id, status) -> dict:
        return self.wait_app(app_id, f"status {status}", lambda app: app.get("status") == status)

    # -- the cluster -----------------------------------------------------------------------------
    def selector(self, app_id) -> str:
        return f"minicloud.io/app-id={app_id}"

    def pods(self, app_id) -> list:
        pods = self.kube["core"].list_pod_for_all_namespaces(label_selector=self.selector(app_id)).items
        return [p for p in pods if p.metadata.deletion_timestamp is None]

    def deployment(self, app_id):
        found = self.kube["apps"].list_deployment_for_all_namespaces(label_selector=self.selector(app_id)).items
        return found[0] if found else None

    def objects(self, app_id) -> dict:
        selector = self.selector(app_id)
        return {
            "deployments": self.kube["apps"].list_deployment_for_all_namespaces(label_selector=selector).items,
            "services": self.kube["core"].list_service_for_all_namespaces(label_selector=selector).items,
            "ingresses": self.kube["net"].list_ingress_for_all_namespaces(label_selector=selector).items,
        }

    def ingress_address(self, app_id) -> tuple[str, int]:
        """Where the ingress controller listens: the setting, else the Ingress status (kept per app)."""
        if app_id not in self.addresses:
            self.addresses[app_id] = self._find_ingress_address(app_id)
        return self.addresses[app_id]

    def _find_ingress_address(self, app_id) -> tuple[str, int]:
        given = os.environ.get("MINICLOUD_LAB_INGRESS_IP")
        default_port = int(os.environ.get("MINICLOUD_LAB_INGRESS_PORT", "80"))
        if given:
            host, _, port = given.partition(":")
            return host, int(port or default_port)

        def from_status():
            for ingress in self.objects(app_id)["ingresses"]:
                for point in (ingress.status.load_balancer.ingress or []) if ingress.status.load_balancer else []:
                    if point.ip or point.hostname:
                        return point.ip or point.hostname
            return None
        return wait_for(from_status, timeout=TIMEOUT, what="an address in the Ingress status"), default_port

    def fetch(self, app: dict, path: str = "/") -> tuple[int, str]:
        """GET ``path`` of the app's URL through the ingress controller (its host as the Host header)."""
        address, port = self.ingress_address(app["id"])
        connection = http.client.HTTPConnection(address, port, timeout=10)
        try:
            connection.request("GET", path, headers={"Host": app["host"]})
            answer = connection.getresponse()
            return answer.status, answer.read().decode(errors="replace")
        except OSError as exc:
            return 0, str(exc)
        finally:
            connection.close()

    def wait_served(self, app: dict, check=lambda body: True) -> str:
        """The body of the first 200 answer through the ingress for which ``check(body)`` holds."""
        def served():
            status, body = self.fetch(app)
            return body if status == 200 and check(body) else None
        return wait_for(served, timeout=TIMEOUT, what=f"http://{app['host']}/ answering 200", interval=1.0)

    # -- tidying up ------------------------------------------------------------------------------
    def remove_everything(self) -> None:
        """Delete what the test left (through the API), then the project's namespace itself."""
        while self.worker.run_once(self.conn):  # a job in flight would make DELETE answer 409
            pass
        listed = self.call("GET", "/api/v1/apps")
        for app in (listed.json or {}).get("items", []) if listed.status_code == 200 else []:
            if app["status"] != "DELETING":
                self.call("DELETE", f"/api/v1/apps/{app['id']}")
        while self.worker.run_once(self.conn):
            pass
        selector = f"minicloud.io/project-id={self.project_id}"
        for namespace in self.kube["core"].list_namespace(label_selector=selector).items:
            self.kube["core"].delete_namespace(namespace.metadata.name)


@pytest.fixture
def lab(auth, config, services, kube, clean_db):
    with psycopg.connect(clean_db, autocommit=True, row_factory=dict_row) as conn:
        lab = Lab(auth.user("alice"), config, services, kube, conn)
        yield lab
        lab.remove_everything()


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def whoami_pod(body: str) -> str | None:
    """The pod that answered (traefik/whoami prints ``Hostname: <pod name>``)."""
    for line in body.splitlines():
        if line.startswith("Hostname:"):
            return line.split(":", 1)[1].strip()
    return None


@pytest.fixture
def running(lab):
    """A deployed app that answers at its URL: (the app as the API shows it, the first body served)."""
    created = lab.deploy(unique_name("lab-web"))
    app = lab.wait_status(created["id"], "RUNNING")
    return app, lab.wait_served(app)


def test_deploy_answers_at_its_url_through_the_ingress(lab, running, config):
    app, body = running
    base_domain = config.get("kubernetes.base_domain")
    assert app["host"].endswith("." + base_domain) and app["host"].startswith("lab-web-")
    assert urlsplit(app["url"]).hostname == app["host"]
    assert app["image"] == IMAGE and app["port"] == PORT
    assert app["replicas"] == 1 and app["ready_replicas"] == 1
    pods = lab.pods(app["id"])
    assert len(pods) == 1 and pods[0].status.phase == "Running"
    if WHOAMI:
        assert whoami_pod(body) == pods[0].metadata.name
    listed = lab.call("GET", "/api/v1/apps").json
    assert listed["summary"] == {"total": 1, "running": 1}
    manifests = lab.get(app["id"]).json["manifests"]
    assert [m["kind"] for m in manifests if m["kind"] in ("Deployment", "Service", "Ingress")] == \
        ["Deployment", "Service", "Ingress"]


def test_redeploy_rolls_out_new_pods_and_keeps_the_url(lab, running):
    app, _ = running
    before = lab.deployment(app["id"])
    old_pods = {p.metadata.name for p in lab.pods(app["id"])}

    response = lab.call("POST", f"/api/v1/apps/{app['id']}/redeploy", json={})
    assert response.status_code == 202, response.json

    def rolled_out(shown):
        pods = {p.metadata.name for p in lab.pods(app["id"])}
        return shown["status"] == "RUNNING" and shown["ready_replicas"] == 1 and pods and not pods & old_pods
    lab.wait_app(app["id"], "new pods replacing the old ones", rolled_out)
    after = lab.deployment(app["id"])
    assert after.metadata.uid == before.metadata.uid  # patched (a rollout), not deleted and created
    assert after.metadata.generation > before.metadata.generation
    body = lab.wait_served(app, lambda b: not WHOAMI or whoami_pod(b) not in old_pods)
    if WHOAMI:
        assert whoami_pod(body) in {p.metadata.name for p in lab.pods(app["id"])}


def test_scale_up_serves_from_every_replica_and_zero_stops_the_app(lab, running):
    app, _ = running
    response = lab.call("POST", f"/api/v1/apps/{app['id']}/scale", json={"replicas": 2})
    assert response.status_code == 202, response.json
    shown = lab.wait_app(app["id"], "2 ready replicas",
                         lambda a: a["status"] == "RUNNING" and a["ready_replicas"] == 2)
    assert shown["replicas"] == 2 and lab.deployment(app["id"]).spec.replicas == 2
    if WHOAMI:  # the ingress spreads requests over both pods
        seen: set[str] = set()
        wait_for(lambda: seen.add(whoami_pod(lab.wait_served(app))) or len(seen) >= 2, timeout=TIMEOUT,
                 what="answers from both replicas", interval=0.2)
        assert seen == {p.metadata.name for p in lab.pods(app["id"])}

    response = lab.call("POST", f"/api/v1/apps/{app['id']}/scale", json={"replicas": 0})
    assert response.status_code == 202, response.json
    shown = lab.wait_status(app["id"], "STOPPED")
    assert shown["replicas"] == 0 and shown["ready_replicas"] == 0
    wait_for(lambda: not lab.pods(app["id"]), timeout=TIMEOUT, what="the pods gone")
    wait_for(lambda: lab.fetch(app)[0] != 200, timeout=TIMEOUT, what="the URL no longer served")


def test_delete_removes_every_object_and_the_url(lab, running):
    app, _ = running
    response = lab.call("DELETE", f"/api/v1/apps/{app['id']}")
    assert response.status_code == 202, response.json
    assert response.json["status"] == "DELETING"
    lab.ingress_address(app["id"])  # read while the Ingress (and its status) still exists

    def gone():
        lab.turn()
        return lab.get(app["id"]).status_code == 404
    wait_for(gone, timeout=TIMEOUT, what="the app gone from the API (404)", interval=1.0)
    wait_for(lambda: not any(lab.objects(app["id"]).values()), timeout=TIMEOUT,
             what="no Deployment, Service or Ingress left")
    assert lab.call("GET", "/api/v1/apps").json["summary"]["total"] == 0
    wait_for(lambda: lab.fetch(app)[0] == 404, timeout=TIMEOUT, what="the ingress answering 404 for the host")


def test_an_image_that_does_not_exist_shows_the_image_not_found_message(lab):
    created = lab.deploy(unique_name("lab-bad"), image=BAD_IMAGE)
    shown = lab.wait_status(created["id"], "IMAGE_NOT_FOUND")
    assert shown["ready_replicas"] == 0
    assert shown["message"] == IMAGE_NOT_FOUND_EN
    korean = lab.get(created["id"], lang="ko").json
    assert korean["status"] == "IMAGE_NOT_FOUND" and korean["message"] == IMAGE_NOT_FOUND_KO
    reasons = {pod_state.state.waiting.reason for pod in lab.pods(created["id"])
               for pod_state in (pod.status.container_statuses or []) if pod_state.state.waiting}
    assert reasons & {"ErrImagePull", "ImagePullBackOff", "InvalidImageName"}
