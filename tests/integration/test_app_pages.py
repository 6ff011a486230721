"""The apps console pages (UC-03): list with the summary, the deploy form and its errors, the detail page
with status message, logs, events, actions and the manifests underneath, viewers, and no cluster at all.

The apps service is replaced by an in-memory stand-in that keeps the service CONTRACT
(``minicloud.services.apps``), speaking in catalog keys as the service does: the pages are what is
tested here (and that they put the keys in the reader's language), not Kubernetes.
"""
import re
import uuid
from datetime import datetime, timezone

import pytest
from test_pages import html, page_login, post_form

from minicloud.errors import Forbidden, NotFoundError, ServiceUnavailable, ValidationFailed
from minicloud.services import Services

IMAGE_NOT_FOUND = {"ko": "컨테이너 이미지를 찾을 수 없습니다. 이미지 주소를 확인해주세요.",
                   "en": "The container image could not be found. Check the image address."}
NAME_REQUIRED = {"ko": "앱 이름을 입력해주세요.", "en": "Give the app a name."}
QUOTA = {"ko": "이 프로젝트는 이미 최대 0개의 앱을 가지고 있습니다.",
         "en": "The project already has its maximum of 0 apps."}
NO_CLUSTER = "KUBECONFIG 환경 변수에 kubeconfig 파일을 지정하거나"


class AppsStandIn:
    """Keeps apps in a dict, answers as the CONTRACT says, and records the calls the pages made."""

    def __init__(self, configured=True, limit=5, answering=True):
        self.configured, self.limit, self.answering = configured, limit, answering
        self.apps: dict[uuid.UUID, dict] = {}
        self.calls: list[tuple] = []

    def _check(self):
        if not self.configured:
            raise ServiceUnavailable("error.service_unavailable", code="no_cluster")
        if not self.answering:
            raise ServiceUnavailable("error.service_unavailable", code="cluster_unavailable")

    def cluster(self):
        if self.configured:
            return {"configured": True, "server": "https://10.0.0.1:6443", "message": None}
        return {"configured": False, "server": None, "message": ("apps.no_cluster", {"cause": ""})}

    def sizes(self):
        return {"small": {"cpu": "250m", "memory": "256Mi"}, "medium": {"cpu": "500m", "memory": "512Mi"}}

    def create(self, project_id, body):
        self._check()
        self.calls.append(("create", body))
        if not body.get("name"):
            raise ValidationFailed({"name": "apps.name_required"})
        if len(self.apps) >= self.limit:
            raise Forbidden("apps.quota_exceeded", code="quota_exceeded", limit=self.limit)
        app_id = uuid.uuid4()
        host = f"{body['name']}.apps.minicloud.test"
        manifests = [{"apiVersion": "apps/v1", "kind": "Deployment",
                      "metadata": {"name": f"{body['name']}-abc12", "namespace": f"mc-{project_id.hex[:8]}"},
                      "spec": {"replicas": body.get("replicas", 1)}},
                     {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                      "metadata": {"name": f"{body['name']}-abc12"},
                      "spec": {"ingressClassName": "traefik", "rules": [{"host": host}]}}]
        now = datetime(2026, 11, 22, 3, 0, tzinfo=timezone.utc)
        app = {"id": app_id, "name": body["name"], "k8s_name": f"{body['name']}-abc12", "host": host,
               "url": f"https://{host}", "image": body["image"], "port": body["port"],
               "replicas": body.get("replicas", 1), "ready_replicas": 0, "size": body.get("size", "small"),
               "env": body.get("env", {}), "status": "PENDING", "message": ("apps.status.pending", {"cause": ""}),
               "created_at": now, "updated_at": now, "manifests": manifests,
               "events": [{"type": "Normal", "reason": "Scheduled", "message": "Successfully assigned pod",
                           "at": "2026-11-22T03:00:05Z"}]}
        self.apps[app_id] = app
        return dict(app)

    def list(self, project_id):
        self._check()
        items = [dict(a) for a in self.apps.values()]
        return {"summary": {"total": len(items), "running": sum(a["status"] == "RUNNING" for a in items)},
                "items": items}

    def get(self, project_id, app_id):
        self._check()
        if app_id not in self.apps:
            raise NotFoundError("error.not_found")
        return dict(self.apps[app_id])

    def redeploy(self, project_id, app_id, image=None):
        self.calls.append(("redeploy", app_id, image))
        app = self.apps[app_id]
        app.update(image=image or app["image"], status="DEPLOYING")
        return dict(app)

    def scale(self, project_id, app_id, replicas):
        self.calls.append(("scale", app_id, replicas))
        if replicas > 10:
            raise ValidationFailed({"replicas": ("apps.replicas_invalid", {"max": 10})})
        self.apps[app_id].update(replicas=replicas, status="DEPLOYING")
        return dict(self.apps[app_id])

    def logs(self, project_id, app_id, tail=100):
        self._check()
        return {"lines": ["listening on :8080", "GET / 200"]}

    def delete(self, project_id, app_id):
        self.calls.append(("delete", app_id))
        return dict(self.apps.pop(app_id), status="DELETING")


@pytest.fixture
def standin():
    return AppsStandIn()


@pytest.fixture
def services(config, clean_db, standin, request, monkeypatch, tmp_path):
    """Services with the stand-in as ``apps``; or, for ``standin`` "kube" / "no-cluster", the real apps service
    over the HTTP-level Kubernetes stand-in / with no kubeconfig anywhere."""
    if standin == "kube":
        request.getfixturevalue("kube")
        services = Services.from_config(config)
    elif standin == "no-cluster":
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.delenv("KUBECONFIG", raising=False)
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        services = Services.from_config(config)
    else:
        services = Services.from_config(config)
        services.apps = standin
        services.dashboard.add_card("apps", lambda principal, project: services.apps.list(project.id)["summary"])
    yield services
    services.close()


@pytest.fixture
def alice(client, auth):
    user = auth.user("alice")
    page_login(client, password="correct-horse")
    return user


def deploy(client, name="web", headers=None, **fields):
    data = {"name": name, "image": "nginx:1.27", "port": "80", "size": "small", "replicas": "2", "env": ""}
    data.update(fields)
    return post_form(client, "/apps", data, headers=headers)


def test_empty_list_offers_to_deploy(client, alice):
    page = html(client.get("/apps", headers={"Accept-Language": "ko"}))
    assert "<h1>앱</h1>" in page and "앱 배포하기" in page and "아직 앱이 없습니다" in page


def test_list_shows_the_summary_and_each_app(client, alice, standin):
    deploy(client, "web")
    deploy(client, "api")
    next(a for a in standin.apps.values() if a["name"] == "web").update(status="RUNNING", ready_replicas=2)
    response = client.get("/apps", headers={"Accept-Language": "en"})
    page = html(response)
    assert response.status_code == 200
    assert re.search(r'id="apps-total">2<', page) and re.search(r'id="apps-running">1<', page)
    assert 'href="https://web.apps.minicloud.test"' in page and "nginx:1.27" in page
    assert "2 / 2" in page and "0 / 2" in page and "Running" in page and "Pending" in page
    assert "2026-11-22 03:00 UTC" in page
    assert '<meta http-equiv="refresh"' in page  # "api" is still pending


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_deploy_form_shows_sizes_and_server_field_errors(client, alice, lang):
    form = html(client.get("/apps/new", headers={"Accept-Language": lang}))
    assert '<option value="small"' in form and "250m" in form and "512Mi" in form
    response = deploy(client, "", headers={"Accept-Language": lang})
    assert response.status_code == 422
    page = html(response)
    assert re.search(r'class="field-error" id="name-error">%s<' % re.escape(NAME_REQUIRED[lang]), page)
    assert 'value="nginx:1.27"' in page  # what was typed stays


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_quota_refusal_is_shown_on_the_form(client, alice, standin, lang):
    standin.limit = 0
    response = deploy(client, "web", headers={"Accept-Language": lang})
    assert response.status_code == 403
    assert QUOTA[lang] in html(response) and 'id="form-message"' in html(response)


def test_the_page_itself_catches_a_bad_port_and_env_lines(client, alice, standin):
    response = deploy(client, "web", port="eighty", env="GOOD=1\nnot a pair", headers={"Accept-Language": "en"})
    page = html(response)
    assert response.status_code == 422 and not standin.calls
    assert "Enter a whole number." in page and "This line is not KEY=value: not a pair" in page


def test_deploy_redirects_to_the_detail_page_with_everything(client, alice, standin):
    created = deploy(client, "web", env="GREETING=hello\n# comment\nMODE=prod")
    assert created.status_code == 303
    app_id, app = next(iter(standin.apps.items()))
    assert created.headers["Location"] == f"/apps/{app_id}"
    assert standin.calls[0] == ("create", {"name": "web", "image": "nginx:1.27", "port": 80, "replicas": 2,
                                           "size": "small", "env": {"GREETING": "hello", "MODE": "prod"}})
    app.update(status="IMAGE_NOT_FOUND", message=("apps.status.image_not_found", {"cause": ""}))
    page = html(client.get(created.headers["Location"], headers={"Accept-Language": "ko"}))
    assert "이미지 없음" in page and IMAGE_NOT_FOUND["ko"] in page
    assert IMAGE_NOT_FOUND["en"] in html(client.get(created.headers["Location"], headers={"Accept-Language": "en"}))
    assert 'href="https://web.apps.minicloud.test"' in page
    assert "listening on :8080\nGET / 200" in page  # logs
    assert "Scheduled" in page and "Successfully assigned pod" in page and '<time datetime="2026-11-22T03:00:00Z"' in page
    assert "kind: Deployment" in page and "ingressClassName: traefik" in page and "---\n" in page  # underneath
    assert page.index("apiVersion: apps/v1") < page.index("kind: Deployment")  # keys in the order applied


def test_actions_post_with_csrf_and_land_back(client, alice, standin):
    detail = deploy(client, "web").headers["Location"]
    app_id = next(iter(standin.apps))
    assert client.post(f"{detail}/action", data={"action": "scale", "replicas": "3"}).status_code == 403  # no CSRF
    assert standin.calls[-1][0] == "create"
    redeployed = post_form(client, f"{detail}/action", {"action": "redeploy", "image": "nginx:1.28"})
    assert redeployed.status_code == 303 and redeployed.headers["Location"] == detail
    assert standin.calls[-1] == ("redeploy", app_id, "nginx:1.28")
    page = html(client.get(detail, headers={"Accept-Language": "en"}))
    assert "Deploying" in page and '<meta http-equiv="refresh"' in page
    assert post_form(client, f"{detail}/action", {"action": "scale", "replicas": "3"}).status_code == 303
    assert standin.calls[-1] == ("scale", app_id, 3)
    too_many = post_form(client, f"{detail}/action", {"action": "scale", "replicas": "40"},
                         headers={"Accept-Language": "en"})
    assert too_many.status_code == 422 and "Replicas must be a whole number from 0 to 10." in html(too_many)
    unconfirmed = post_form(client, f"{detail}/action", {"action": "delete"}, headers={"Accept-Language": "en"})
    assert unconfirmed.status_code == 200 and "Delete app web?" in html(unconfirmed)  # the question page
    assert app_id in standin.apps
    gone = post_form(client, f"{detail}/action", {"action": "delete", "confirmed": "1"})
    assert gone.status_code == 303 and gone.headers["Location"] == "/apps"
    assert standin.calls[-1] == ("delete", app_id)
    assert post_form(client, f"{detail}/action", {"action": "explode"}).status_code == 400


def test_viewer_sees_apps_but_no_forms(client, auth, standin):
    alice = auth.user("alice")
    project = alice.personal_project
    page_login(client, password="correct-horse")
    detail = deploy(client, "web").headers["Location"]
    auth.signup("bob")
    assert alice.post(f"/api/v1/projects/{project}/members", json={"username": "bob", "role": "viewer"}).status_code \
        == 201
    client.delete_cookie("mc_session")
    page_login(client, "bob", password="correct-horse")
    post_form(client, "/project", {"project_id": project})
    listing = html(client.get("/apps", headers={"Accept-Language": "en"}))
    assert "web" in listing and 'href="/apps/new"' not in listing
    page = html(client.get(detail))
    assert "web.apps.minicloud.test" in page and f'action="{detail}/action"' not in page
    assert client.get("/apps/new").status_code == 403
    assert post_form(client, f"{detail}/action", {"action": "scale", "replicas": "1"}).status_code == 403
    assert deploy(client, "other").status_code == 403


def test_dashboard_card_counts_apps(client, alice, standin):
    deploy(client, "web")
    next(iter(standin.apps.values())).update(status="RUNNING")
    deploy(client, "api")
    page = html(client.get("/dashboard", headers={"Accept-Language": "en"}))
    assert re.search(r'id="card-apps-total">2<', page) and re.search(r'id="card-apps-running">1<', page)
    assert 'href="/apps"' in page


def test_another_projects_app_is_not_found(client, alice):
    assert client.get(f"/apps/{uuid.uuid4()}").status_code == 404


@pytest.mark.parametrize("standin", [AppsStandIn(configured=False)], ids=["no-cluster"])
def test_without_a_cluster_the_apps_pages_say_how_to_connect_one(client, alice, standin):
    response = client.get("/apps", headers={"Accept-Language": "ko"})
    page = html(response)
    assert response.status_code == 503
    assert "<h1>앱</h1>" in page and "연결된 쿠버네티스 클러스터가 없습니다." in page
    assert "연결되지 않음 — 관리자에게 문의하세요." in page and 'class="notice not-connected' in page
    assert "KUBECONFIG" not in page and NO_CLUSTER not in page  # the operator's steps are on /admin and /readyz
    assert 'href="/storage"' in page  # inside the normal layout
    english = html(client.get("/apps/new", headers={"Accept-Language": "en"}))
    assert "No Kubernetes cluster is connected." in english and "Not connected — ask your administrator." in english
    assert re.search(r'id="apps-deploy-disabled"[^>]*>\s*<fieldset disabled>', english)  # the form, disabled
    assert deploy(client, "web").status_code == 503
    assert client.get(f"/apps/{uuid.uuid4()}").status_code == 503
    assert client.get("/mini-pcs").status_code == 200 and client.get("/storage").status_code in (200, 503)
    assert client.get("/dashboard").status_code == 200


@pytest.mark.parametrize("standin", [AppsStandIn(answering=False)], ids=["cluster-down"])
def test_a_cluster_that_stops_answering_is_told_apart_from_none(client, alice, standin):
    response = client.get("/apps", headers={"Accept-Language": "en"})
    page = html(response)
    assert response.status_code == 503 and "The Kubernetes cluster is not answering." in page
    assert "A backend service is unavailable" in page and "How to connect one" not in page
    assert 'id="apps-deploy-disabled"' not in page


# -- the real apps service: over the Kubernetes stand-in, and with no cluster at all ---------------------
@pytest.mark.parametrize("standin", ["kube"])
def test_deploy_through_the_real_service_shows_the_manifests_applied(client, alice, standin, kube, work):
    created = deploy(client, "hello-web", headers={"Accept-Language": "en"})
    assert created.status_code == 303, html(created)
    detail = created.headers["Location"]
    page = html(client.get(detail, headers={"Accept-Language": "en"}))
    assert "hello-web" in page and "hello-web" in re.search(r'id="app-url">([^<]*)<', page).group(1)
    work()
    page = html(client.get(detail, headers={"Accept-Language": "en"}))
    assert "kind: Deployment" in page and "kind: Ingress" in page and "kind: Namespace" in page
    assert "image: nginx:1.27" in page
    listing = html(client.get("/apps", headers={"Accept-Language": "ko"}))
    assert re.search(r'id="apps-total">1<', listing) and "hello-web" in listing
    assert post_form(client, f"{detail}/action", {"action": "scale", "replicas": "3"}).status_code == 303
    work()
    deployment = next(o for path, o in kube.objects.items() if "/deployments/" in path)
    assert deployment["spec"]["replicas"] == 3
    assert re.search(r'id="replicas">\d+ / 3<', html(client.get(detail)))
    gone = post_form(client, f"{detail}/action", {"action": "delete", "confirmed": "1"})
    assert gone.status_code == 303
    work()
    assert not [p for p in kube.objects if "/deployments/" in p]


@pytest.mark.parametrize("standin", ["no-cluster"])
def test_the_real_service_without_a_cluster_says_how_to_connect_one(client, alice, standin):
    response = client.get("/apps", headers={"Accept-Language": "ko"})
    page = html(response)
    assert response.status_code == 503 and "연결된 쿠버네티스 클러스터가 없습니다." in page
    assert "관리자에게 문의하세요" in page and "KUBECONFIG" not in page
    ready = client.get("/readyz").get_json()["backends"]["kubernetes"]
    assert ready["status"] == "unavailable" and "KUBECONFIG" in ready["how"]
    assert client.get("/mini-pcs").status_code == 200 and client.get("/dashboard").status_code == 200
