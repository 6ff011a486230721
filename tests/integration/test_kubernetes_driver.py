"""KubernetesDriver against the HTTP-level stand-in, through a real kubeconfig file, so the official
client's own code path (kubeconfig loading, auth header, URL building, JSON bodies) is exercised;
the assertions are on the HTTP requests the client sent."""
from __future__ import annotations

import pytest

from kube_standin import SAMPLE_APP, SAMPLE_NS, SAMPLE_PROJECT, KubeStandin
from minicloud.drivers.containers.base import (AppSpec, ClusterNotConfigured, ClusterUnavailable,
                                               KubernetesError, ProjectSpec)
from minicloud.drivers.containers.kubernetes import KubernetesDriver
from minicloud.drivers.containers.manifests import ManifestSettings

NS, PROJECT, APP = SAMPLE_NS, SAMPLE_PROJECT, SAMPLE_APP
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"
SERVICES = f"/api/v1/namespaces/{NS}/services"
INGRESSES = f"/apis/networking.k8s.io/v1/namespaces/{NS}/ingresses"


@pytest.fixture
def driver(kube: KubeStandin) -> KubernetesDriver:
    return KubernetesDriver(ManifestSettings(tls_secret="wildcard-tls"))


def _deployed(driver: KubernetesDriver, kube: KubeStandin) -> None:
    driver.ensure_project(PROJECT)
    driver.deploy(PROJECT, APP)
    kube.clear_requests()


def test_constructing_the_driver_contacts_nothing(kube: KubeStandin) -> None:
    KubernetesDriver()
    assert kube.requests == []


def test_ensure_project_creates_namespace_then_its_policies(kube: KubeStandin, driver: KubernetesDriver) -> None:
    driver.ensure_project(PROJECT)
    assert kube.calls() == [
        ("POST", "/api/v1/namespaces"),
        ("POST", f"/api/v1/namespaces/{NS}/resourcequotas"),
        ("POST", f"/api/v1/namespaces/{NS}/limitranges"),
        ("POST", f"/apis/networking.k8s.io/v1/namespaces/{NS}/networkpolicies"),
    ]
    assert kube.requests[0].body["metadata"]["labels"]["minicloud.io/project-id"] == PROJECT.project_id
    assert kube.object("ResourceQuota", "minicloud-quota", NS)["spec"]["hard"]["pods"] == "20"


def test_ensure_project_again_only_reads_and_patches_what_differs(kube: KubeStandin,
                                                                   driver: KubernetesDriver) -> None:
    driver.ensure_project(PROJECT)
    kube.clear_requests()
    bigger = ProjectSpec(**{**PROJECT.__dict__, "max_pods": 30})
    driver.ensure_project(bigger)
    methods = [(m, p) for m, p in kube.calls() if m == "PATCH"]
    assert methods == [("PATCH", f"/api/v1/namespaces/{NS}/resourcequotas/minicloud-quota")]
    assert [r.status for r in driver.last_calls if r.method == "POST"] == [409, 409, 409, 409]
    assert kube.object("ResourceQuota", "minicloud-quota", NS)["spec"]["hard"]["pods"] == "30"


def test_deploy_creates_deployment_service_ingress_in_order(kube: KubeStandin, driver: KubernetesDriver) -> None:
    driver.ensure_project(PROJECT)
    kube.clear_requests()
    applied = driver.deploy(PROJECT, APP)
    assert kube.calls() == [("POST", DEPLOYMENTS), ("POST", SERVICES), ("POST", INGRESSES)]
    deployment, service, ingress = (r.body for r in kube.requests)
    assert [m["kind"] for m in applied] == ["Deployment", "Service", "Ingress"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.27" and container["env"] == [{"name": "GREETING", "value": "hello: world"}]
    assert deployment["spec"]["replicas"] == 2
    assert service["spec"]["ports"][0]["targetPort"] == 8080
    assert ingress["spec"]["rules"][0]["host"] == "web.apps.minicloud.test"
    assert ingress["spec"]["tls"][0]["secretName"] == "wildcard-tls"
    assert all(r.content_type == "application/json" for r in kube.requests)
    assert [(c.method, c.path, c.status) for c in driver.last_calls] == [
        ("POST", DEPLOYMENTS, 201), ("POST", SERVICES, 201), ("POST", INGRESSES, 201)]


def test_deploy_patches_objects_that_already_exist(kube: KubeStandin, driver: KubernetesDriver) -> None:
    _deployed(driver, kube)
    changed = AppSpec(**{**APP.__dict__, "image": "nginx:1.28"})
    driver.deploy(PROJECT, changed)
    assert kube.calls() == [
        ("POST", DEPLOYMENTS), ("GET", f"{DEPLOYMENTS}/{APP.k8s_name}"), ("PATCH", f"{DEPLOYMENTS}/{APP.k8s_name}"),
        ("POST", SERVICES), ("GET", f"{SERVICES}/{APP.k8s_name}"),
        ("POST", INGRESSES), ("GET", f"{INGRESSES}/{APP.k8s_name}"),
    ]
    patch = kube.requests[2]
    assert patch.content_type == "application/merge-patch+json"
    assert kube.object("Deployment", APP.k8s_name, NS)["spec"]["template"]["spec"]["containers"][0]["image"] \
        == "nginx:1.28"


@pytest.mark.parametrize("status", [500, 422])
def test_a_failing_ingress_removes_what_this_deploy_created(kube: KubeStandin, driver: KubernetesDriver,
                                                             status: int) -> None:
    driver.ensure_project(PROJECT)
    kube.clear_requests()
    kube.fail("POST", r"/ingresses$", status)
    with pytest.raises(KubernetesError) as raised:
        driver.deploy(PROJECT, APP)
    assert raised.value.status == status
    assert isinstance(raised.value, ClusterUnavailable) == (status >= 500)
    assert kube.calls() == [
        ("POST", DEPLOYMENTS), ("POST", SERVICES), ("POST", INGRESSES),
        ("DELETE", f"{SERVICES}/{APP.k8s_name}"), ("DELETE", f"{DEPLOYMENTS}/{APP.k8s_name}"),
    ]
    assert kube.object("Deployment", APP.k8s_name, NS) is None
    assert kube.object("Service", APP.k8s_name, NS) is None


def test_rollback_keeps_objects_this_deploy_did_not_create(kube: KubeStandin, driver: KubernetesDriver) -> None:
    driver.ensure_project(PROJECT)
    driver.deploy(PROJECT, APP)
    driver.delete(AppSpec(**APP.__dict__))  # start clean, then leave a Deployment from an earlier run
    kube.put_object(driver.render_app(APP)[0])
    kube.clear_requests()
    kube.fail("POST", r"/ingresses$", 500)
    with pytest.raises(ClusterUnavailable):
        driver.deploy(PROJECT, APP)
    assert ("DELETE", f"{SERVICES}/{APP.k8s_name}") in kube.calls()
    assert ("DELETE", f"{DEPLOYMENTS}/{APP.k8s_name}") not in kube.calls()
    assert kube.object("Deployment", APP.k8s_name, NS) is not None


def test_redeploy_is_one_patch_with_a_restart_stamp(kube: KubeStandin, driver: KubernetesDriver) -> None:
    _deployed(driver, kube)
    uid = kube.object("Deployment", APP.k8s_name, NS)["metadata"]["uid"]
    new = AppSpec(**{**APP.__dict__, "image": "nginx:1.28", "env": {}, "replicas": 3})
    result = driver.redeploy(new)
    assert kube.calls() == [("PATCH", f"{DEPLOYMENTS}/{APP.k8s_name}")]
    (request,) = kube.requests
    assert request.content_type == "application/merge-patch+json"
    template = request.body["spec"]["template"]
    assert template["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].endswith("Z")
    assert template["spec"]["containers"][0]["image"] == "nginx:1.28"
    assert request.body["spec"]["replicas"] == 3
    stored = kube.object("Deployment", APP.k8s_name, NS)
    assert stored["metadata"]["uid"] == uid                       # same object: rolled, not recreated
    assert "env" not in stored["spec"]["template"]["spec"]["containers"][0]   # removed variable is gone
    assert result["spec"]["replicas"] == 3


def test_redeploy_and_scale_of_a_missing_app_raise_404(kube: KubeStandin, driver: KubernetesDriver) -> None:
    with pytest.raises(KubernetesError) as raised:
        driver.redeploy(APP)
    assert raised.value.status == 404 and raised.value.reason == "NotFound"
    assert not isinstance(raised.value, ClusterUnavailable)
    with pytest.raises(KubernetesError) as raised:
        driver.scale(APP, 1)
    assert raised.value.status == 404


def test_scale_patches_the_scale_subresource(kube: KubeStandin, driver: KubernetesDriver) -> None:
    _deployed(driver, kube)
    driver.scale(APP, 0)
    assert kube.calls() == [("PATCH", f"{DEPLOYMENTS}/{APP.k8s_name}/scale")]
    assert kube.requests[0].body == {"spec": {"replicas": 0}}
    assert kube.object("Deployment", APP.k8s_name, NS)["spec"]["replicas"] == 0


def test_delete_removes_ingress_service_deployment_and_tolerates_missing(kube: KubeStandin,
                                                                          driver: KubernetesDriver) -> None:
    _deployed(driver, kube)
    uids = {path: kube.object(kind, APP.k8s_name, NS)["metadata"]["uid"]
            for kind, path in (("Ingress", INGRESSES), ("Service", SERVICES), ("Deployment", DEPLOYMENTS))}
    driver.delete(APP)
    expected = [(method, f"{path}/{APP.k8s_name}") for path in uids for method in ("GET", "DELETE")]
    assert kube.calls() == expected
    deletes = [r for r in kube.requests if r.method == "DELETE"]
    assert all(r.body["propagationPolicy"] in ("Foreground", "Background") for r in deletes)
    assert [r.body["preconditions"]["uid"] for r in deletes] == list(uids.values())  # only what it read
    assert driver.existing_apps(NS) == set()
    kube.clear_requests()
    driver.delete(APP)   # again: everything already gone (404s) is fine
    assert kube.calls() == [("GET", f"{path}/{APP.k8s_name}") for path in uids]
    assert [c.status for c in driver.last_calls] == [404, 404, 404]


def test_delete_leaves_an_object_of_the_same_name_that_is_not_the_apps(kube: KubeStandin,
                                                                       driver: KubernetesDriver) -> None:
    _deployed(driver, kube)
    kube.put_object({"kind": "Service", "apiVersion": "v1",
                     "metadata": {"name": APP.k8s_name, "namespace": NS, "labels": {"team": "hand-made"}}})
    kube.clear_requests()
    driver.delete(APP)
    assert ("DELETE", f"{SERVICES}/{APP.k8s_name}") not in kube.calls()
    assert kube.object("Service", APP.k8s_name, NS)["metadata"]["labels"] == {"team": "hand-made"}
    assert kube.object("Deployment", APP.k8s_name, NS) is None and kube.object("Ingress", APP.k8s_name, NS) is None


def test_delete_reports_a_refusal(kube: KubeStandin, driver: KubernetesDriver) -> None:
    _deployed(driver, kube)
    kube.fail("DELETE", r"/services/", 403)
    with pytest.raises(KubernetesError) as raised:
        driver.delete(APP)
    assert raised.value.status == 403


def test_observe_reads_deployment_pods_and_only_this_apps_events(kube: KubeStandin,
                                                                  driver: KubernetesDriver) -> None:
    _deployed(driver, kube)
    pod = {"kind": "Pod", "apiVersion": "v1",
           "metadata": {"name": f"{APP.k8s_name}-5d9c7b-x2k4p", "namespace": NS,
                        "labels": {"minicloud.io/app-id": APP.app_id}},
           "status": {"phase": "Pending"}}
    other_pod = {"kind": "Pod", "metadata": {"name": "other-5d9c7b-aaaaa", "namespace": NS,
                                             "labels": {"minicloud.io/app-id": "someone-else"}}}
    kube.put_object(pod)
    kube.put_object(other_pod)

    def event(name: str, kind: str, obj: str, reason: str, when: str) -> dict:
        return {"kind": "Event", "apiVersion": "v1", "metadata": {"name": name, "namespace": NS},
                "involvedObject": {"kind": kind, "name": obj, "namespace": NS}, "reason": reason,
                "lastTimestamp": when, "type": "Warning"}

    kube.put_object(event("e2", "Pod", pod["metadata"]["name"], "Failed", "2026-01-01T00:00:02Z"))
    kube.put_object(event("e1", "Deployment", APP.k8s_name, "ScalingReplicaSet", "2026-01-01T00:00:01Z"))
    kube.put_object(event("e3", "ReplicaSet", f"{APP.k8s_name}-5d9c7b", "SuccessfulCreate", "2026-01-01T00:00:03Z"))
    kube.put_object(event("e4", "Pod", "other-5d9c7b-aaaaa", "Failed", "2026-01-01T00:00:04Z"))
    kube.put_object(event("e5", "Deployment", f"{APP.k8s_name}-x", "ScalingReplicaSet", "2026-01-01T00:00:05Z"))
    kube.clear_requests()

    seen = driver.observe(APP)
    assert seen.deployment["spec"]["replicas"] == 2
    assert [p["metadata"]["name"] for p in seen.pods] == [pod["metadata"]["name"]]
    assert [e["metadata"]["name"] for e in seen.events] == ["e1", "e2", "e3"]
    assert seen.service_exists and seen.ingress_exists
    pods_request = next(r for r in kube.requests if r.path.endswith("/pods"))
    assert pods_request.query["labelSelector"] == f"minicloud.io/app-id={APP.app_id}"


def test_observe_a_removed_app(kube: KubeStandin, driver: KubernetesDriver) -> None:
    driver.ensure_project(PROJECT)
    seen = driver.observe(APP)
    assert seen.deployment is None and seen.pods == [] and not seen.service_exists and not seen.ingress_exists


def test_logs_tail_of_the_newest_pod(kube: KubeStandin, driver: KubernetesDriver) -> None:
    _deployed(driver, kube)
    assert driver.logs(APP, 5) == []
    for name, created in (("web-6f1c2a-aaa-old11", "2026-01-01T00:00:00Z"),
                          ("web-6f1c2a-bbb-new22", "2026-01-01T00:05:00Z")):
        kube.put_object({"kind": "Pod", "metadata": {"name": name, "namespace": NS, "creationTimestamp": created,
                                                     "labels": {"minicloud.io/app-id": APP.app_id}}})
    kube.set_log(NS, "web-6f1c2a-aaa-old11", "old\n")
    kube.set_log(NS, "web-6f1c2a-bbb-new22", "".join(f"line {i}\n" for i in range(10)))
    kube.clear_requests()
    assert driver.logs(APP, 3) == ["line 7", "line 8", "line 9"]
    log_request = kube.requests[-1]
    assert log_request.path == f"/api/v1/namespaces/{NS}/pods/web-6f1c2a-bbb-new22/log"
    assert log_request.query["tailLines"] == "3"
    kube.fail("GET", r"/log$", 400)   # container still waiting to start
    assert driver.logs(APP, 3) == []


def test_existing_apps_lists_managed_deployments(kube: KubeStandin, driver: KubernetesDriver) -> None:
    _deployed(driver, kube)
    kube.put_object({"kind": "Deployment", "apiVersion": "apps/v1",
                     "metadata": {"name": "hand-made", "namespace": NS, "labels": {"team": "x"}}})
    assert driver.existing_apps(NS) == {APP.k8s_name}


def test_cluster_info(kube: KubeStandin, driver: KubernetesDriver) -> None:
    info = driver.cluster_info()
    assert info == {"server": kube.url, "version": "1.31", "source": "kubeconfig"}


def test_every_request_carries_the_kubeconfig_token(kube: KubeStandin, driver: KubernetesDriver) -> None:
    _deployed(driver, kube)
    driver.observe(APP)
    assert kube.requests and {r.authorization for r in kube.requests} == {"Bearer standin-token"}


def test_no_kubeconfig_anywhere_is_cluster_not_configured(tmp_path, monkeypatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("HOME", str(empty))
    monkeypatch.setenv("KUBECONFIG", str(empty / "missing-config"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    driver = KubernetesDriver()   # constructing is fine
    with pytest.raises(ClusterNotConfigured):
        driver.observe(APP)
    with pytest.raises(ClusterNotConfigured):
        driver.cluster_info()


def test_home_kube_config_is_used_when_kubeconfig_is_unset(kube: KubeStandin, tmp_path, monkeypatch) -> None:
    home = tmp_path / "home2"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text(kube.kubeconfig_path.read_text())
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBECONFIG")
    assert KubernetesDriver().cluster_info()["server"] == kube.url


def test_server_down_is_cluster_unavailable(kube: KubeStandin, driver: KubernetesDriver) -> None:
    driver.ensure_project(PROJECT)
    kube.stop()
    with pytest.raises(ClusterUnavailable) as raised:
        driver.deploy(PROJECT, APP)
    assert not isinstance(raised.value, ClusterNotConfigured)
    assert driver.last_calls[-1].status is None


def test_a_server_that_does_not_answer_in_time_is_cluster_unavailable(kube: KubeStandin) -> None:
    driver = KubernetesDriver(timeout=0.3)
    kube.slow("GET", r"/deployments$", 1.5)
    with pytest.raises(ClusterUnavailable):
        driver.existing_apps(NS)


def test_an_unreadable_kubeconfig_is_cluster_not_configured(kube: KubeStandin) -> None:
    kube.kubeconfig_path.write_text("clusters: [this is not a kubeconfig")
    with pytest.raises(ClusterNotConfigured):
        KubernetesDriver().cluster_info()


def test_server_errors_are_cluster_unavailable(kube: KubeStandin, driver: KubernetesDriver) -> None:
    kube.fail("GET", r"/deployments$", 503)
    with pytest.raises(ClusterUnavailable) as raised:
        driver.existing_apps(NS)
    assert raised.value.status == 503


def test_from_config_uses_defaults_until_the_kubernetes_section_exists(kube: KubeStandin, config) -> None:
    driver = KubernetesDriver.from_config(config)
    assert driver.settings.ingress_class in ("traefik", config.section("kubernetes").get("ingress_class"))
    custom = KubernetesDriver.from_config(config.with_overrides({"kubernetes.ingress_class": "contour",
                                                                 "kubernetes.tls_secret": "tls-x"}))
    ingress = custom.render_app(APP)[2]
    assert ingress["spec"]["ingressClassName"] == "contour"
    assert ingress["spec"]["tls"][0]["secretName"] == "tls-x"
