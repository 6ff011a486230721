"""The container driver contract (drivers/containers/base.py), held against every implementation.

The same clauses run against the Kubernetes driver, through a real kubeconfig and the official
client, talking to the HTTP-level API stand-in (tests/kube_standin.py; no API server can run on
these machines), and against the in-memory stand-in the apps tests use (tests/container_standin.py),
so the stand-in cannot disagree with the driver.

Which implementation exercises which part is the ``IMPLEMENTATIONS`` list: both exercise every
part. What the HTTP stand-in is not (no controllers: no pods or ready replicas appear by themselves,
no cascading delete) is arranged by each ``Cluster`` below, never assumed.
"""
from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field, replace
from typing import Protocol

import pytest

from container_standin import StandinCluster
from kube_standin import SAMPLE_APP, SAMPLE_NS, SAMPLE_PROJECT
from minicloud.drivers.containers.base import (AppSpec, ClusterNotConfigured, ClusterUnavailable, ContainerDriver,
                                               KubernetesError, NotFound)
from minicloud.drivers.containers.kubernetes import KubernetesDriver

NS, PROJECT, APP = SAMPLE_NS, SAMPLE_PROJECT, SAMPLE_APP
APP_ID = "minicloud.io/app-id"
PROJECT_KINDS = ["Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy"]
APP_KINDS = ["Deployment", "Service", "Ingress"]


@dataclass(frozen=True)
class Implementation:
    """One implementation of the contract and the parts it does not exercise (part -> reason)."""

    name: str
    gaps: dict[str, str] = field(default_factory=dict)


IMPLEMENTATIONS = [Implementation("kubernetes"), Implementation("standin")]


class Cluster(Protocol):
    """A driver plus what a test needs to arrange and inspect around it."""

    driver: ContainerDriver

    def put_foreign(self, kind: str, name: str) -> None:
        """An object of ``kind`` and ``name`` in NS that minicloud did not make (no labels of ours)."""

    def exists(self, kind: str, name: str) -> bool:
        """Whether the cluster holds that object (in NS, or cluster-wide for a Namespace)."""

    def add_pod(self, app: AppSpec, pod: str, created: str, log: list[str]) -> None:
        """A pod of the app (a cluster's controller would make it) that has logged ``log``."""

    def failing_ingress(self, status: int) -> contextlib.AbstractContextManager:
        """Inside: creating the app's Ingress is refused with ``status``."""

    def unavailable(self) -> ContainerDriver:
        """A driver whose API server does not answer."""

    def not_configured(self) -> ContainerDriver:
        """A driver with no cluster configured."""


class HttpCluster:
    def __init__(self, kube, monkeypatch, tmp_path) -> None:
        self.kube, self.monkeypatch, self.tmp_path = kube, monkeypatch, tmp_path
        self.driver = KubernetesDriver()

    def put_foreign(self, kind: str, name: str) -> None:
        self.kube.put_object({"kind": kind, "metadata": {"name": name, "namespace": NS, "labels": {"team": "x"}}})

    def exists(self, kind: str, name: str) -> bool:
        return self.kube.object(kind, name, None if kind == "Namespace" else NS) is not None

    def add_pod(self, app: AppSpec, pod: str, created: str, log: list[str]) -> None:
        self.kube.put_object({"kind": "Pod", "metadata": {"name": pod, "namespace": app.namespace,
                                                          "creationTimestamp": created,
                                                          "labels": {APP_ID: app.app_id}}})
        self.kube.set_log(app.namespace, pod, "".join(f"{line}\n" for line in log))

    @contextlib.contextmanager
    def failing_ingress(self, status: int):
        self.kube.fail("POST", r"/ingresses$", status)
        yield

    def unavailable(self) -> ContainerDriver:
        self.kube.stop()
        return self.driver

    def not_configured(self) -> ContainerDriver:
        self.monkeypatch.setenv("KUBECONFIG", str(self.tmp_path / "no-such-kubeconfig"))
        self.monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        return KubernetesDriver()


class InMemoryCluster:
    def __init__(self) -> None:
        self.driver = StandinCluster()

    def put_foreign(self, kind: str, name: str) -> None:
        self.driver.objects[(kind, NS, name)] = {"kind": kind, "metadata": {"name": name, "namespace": NS,
                                                                            "labels": {"team": "x"}}}

    def exists(self, kind: str, name: str) -> bool:
        return (kind, "" if kind == "Namespace" else NS, name) in self.driver.objects

    def add_pod(self, app: AppSpec, pod: str, created: str, log: list[str]) -> None:
        self.driver.pods.setdefault(app.k8s_name, []).append(
            {"kind": "Pod", "metadata": {"name": pod, "namespace": app.namespace, "creationTimestamp": created,
                                         "labels": {APP_ID: app.app_id}}})
        self.driver.log_lines[app.k8s_name] = log  # the stand-in's lines are the newest pod's

    @contextlib.contextmanager
    def failing_ingress(self, status: int):
        error = ClusterUnavailable if status >= 500 else KubernetesError
        self.driver.fail_deploy = error(f"scripted failure ({status})", status=status)
        try:
            yield
        finally:
            self.driver.fail_deploy = None

    def unavailable(self) -> ContainerDriver:
        self.driver.reachable = False
        return self.driver

    def not_configured(self) -> ContainerDriver:
        return StandinCluster(configured=False)


@pytest.fixture(params=[impl.name for impl in IMPLEMENTATIONS])
def cluster(request, tmp_path, monkeypatch) -> Cluster:
    if request.param == "kubernetes":
        return HttpCluster(request.getfixturevalue("kube"), monkeypatch, tmp_path)
    return InMemoryCluster()


def image_of(deployment: dict) -> str:
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def deployed(cluster: Cluster, app: AppSpec = APP) -> ContainerDriver:
    cluster.driver.ensure_project(PROJECT)
    cluster.driver.deploy(PROJECT, app)
    return cluster.driver


# ---- rendering ------------------------------------------------------------------------------------

def test_both_implementations_render_the_same_manifests(kube):
    assert StandinCluster().render_project(PROJECT) == KubernetesDriver().render_project(PROJECT)
    assert StandinCluster().render_app(APP) == KubernetesDriver().render_app(APP)


def test_rendering_contacts_nothing(cluster):
    driver = cluster.unavailable()
    assert [m["kind"] for m in driver.render_project(PROJECT)] == PROJECT_KINDS
    app = driver.render_app(APP)
    assert [m["kind"] for m in app] == APP_KINDS
    assert all(m["metadata"]["labels"][APP_ID] == APP.app_id and m["metadata"]["name"] == APP.k8s_name for m in app)


# ---- changing ------------------------------------------------------------------------------------

def test_ensure_project_makes_the_namespace_and_its_policies_and_again_is_safe(cluster):
    driver = cluster.driver
    assert driver.ensure_project(PROJECT) == driver.render_project(PROJECT)
    assert all(cluster.exists(m["kind"], m["metadata"]["name"]) for m in driver.render_project(PROJECT))
    assert driver.ensure_project(PROJECT) == driver.render_project(PROJECT)


def test_deploy_makes_the_apps_objects_and_again_applies_changes(cluster):
    driver = cluster.driver
    driver.ensure_project(PROJECT)
    assert driver.deploy(PROJECT, APP) == driver.render_app(APP)
    seen = driver.observe(APP)
    assert seen.deployment["spec"]["replicas"] == 2 and image_of(seen.deployment) == "nginx:1.27"
    assert seen.service_exists and seen.ingress_exists
    newer = replace(APP, image="nginx:1.28")
    assert driver.deploy(PROJECT, newer) == driver.render_app(newer)
    assert image_of(driver.observe(APP).deployment) == "nginx:1.28"
    assert driver.existing_apps(NS) == {APP.k8s_name}


@pytest.mark.parametrize("status, unavailable", [(500, True), (422, False)])
def test_a_failed_deploy_leaves_nothing_it_created_and_keeps_what_was_there(cluster, status, unavailable):
    driver = cluster.driver
    driver.ensure_project(PROJECT)
    with cluster.failing_ingress(status), pytest.raises(KubernetesError) as raised:
        driver.deploy(PROJECT, APP)
    assert raised.value.status == status and isinstance(raised.value, ClusterUnavailable) == unavailable
    seen = driver.observe(APP)
    assert seen.deployment is None and not seen.service_exists and not seen.ingress_exists
    driver.deploy(PROJECT, APP)
    with cluster.failing_ingress(status), pytest.raises(KubernetesError):
        driver.deploy(PROJECT, replace(APP, image="nginx:1.28"))
    seen = driver.observe(APP)
    assert seen.deployment is not None and seen.service_exists and seen.ingress_exists  # existed before: kept


def test_redeploy_rolls_out_the_new_image_env_and_replicas(cluster):
    driver = deployed(cluster)
    new = replace(APP, image="nginx:1.28", env={}, replicas=3)
    returned = driver.redeploy(new)
    for deployment in (returned, driver.observe(APP).deployment):
        assert image_of(deployment) == "nginx:1.28" and deployment["spec"]["replicas"] == 3
        assert not deployment["spec"]["template"]["spec"]["containers"][0].get("env")
        stamp = deployment["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp)
    driver.redeploy(new)  # again: one more rollout of the same
    assert driver.observe(APP).deployment["spec"]["replicas"] == 3


def test_scale_sets_the_replicas_and_again_is_safe(cluster):
    driver = deployed(cluster)
    driver.scale(APP, 0)
    assert driver.observe(APP).deployment["spec"]["replicas"] == 0
    driver.scale(APP, 0)
    assert driver.observe(APP).deployment["spec"]["replicas"] == 0


def test_redeploy_and_scale_of_an_app_that_is_gone_are_not_found(cluster):
    cluster.driver.ensure_project(PROJECT)
    for change in (lambda: cluster.driver.redeploy(APP), lambda: cluster.driver.scale(APP, 1)):
        with pytest.raises(NotFound) as raised:
            change()
        assert raised.value.status == 404 and not isinstance(raised.value, ClusterUnavailable)


def test_delete_removes_the_apps_objects_and_again_is_safe(cluster):
    driver = deployed(cluster)
    driver.delete(APP)
    seen = driver.observe(APP)
    assert seen.deployment is None and not seen.service_exists and not seen.ingress_exists
    assert driver.existing_apps(NS) == set()
    driver.delete(APP)  # already gone: fine
    driver.delete(replace(APP, k8s_name="never-deployed"))


def test_delete_leaves_objects_of_the_apps_name_that_are_not_the_apps(cluster):
    driver = cluster.driver
    driver.ensure_project(PROJECT)
    for kind in APP_KINDS:
        cluster.put_foreign(kind, APP.k8s_name)
    driver.delete(APP)
    assert all(cluster.exists(kind, APP.k8s_name) for kind in APP_KINDS)
    assert driver.existing_apps(NS) == set()  # a Deployment minicloud did not make is no app


def test_delete_project_removes_the_namespace_and_again_is_safe(cluster):
    driver = deployed(cluster)
    driver.delete(APP)
    driver.delete_project(NS)
    assert not cluster.exists("Namespace", NS)  # what it held goes with it (a cluster's namespace controller)
    driver.delete_project(NS)  # already gone: fine
    driver.delete_project("mc-never-made")


# ---- reading ----------------------------------------------------------------------------------------

def test_observe_an_app_that_was_never_deployed(cluster):
    cluster.driver.ensure_project(PROJECT)
    seen = cluster.driver.observe(APP)
    assert seen.deployment is None and seen.pods == [] and isinstance(seen.events, list)
    assert not seen.service_exists and not seen.ingress_exists


def test_logs_are_the_newest_pods_tail_and_empty_without_pods(cluster):
    driver = deployed(cluster)
    assert driver.logs(APP, 5) == []
    cluster.add_pod(APP, f"{APP.k8s_name}-aaa-old11", "2026-01-01T00:00:00Z", ["old"])
    cluster.add_pod(APP, f"{APP.k8s_name}-bbb-new22", "2026-01-01T00:05:00Z", [f"line {i}" for i in range(10)])
    assert driver.logs(APP, 3) == ["line 7", "line 8", "line 9"]
    assert sorted(p["metadata"]["name"] for p in driver.observe(APP).pods) == [
        f"{APP.k8s_name}-aaa-old11", f"{APP.k8s_name}-bbb-new22"]


def test_cluster_info_names_server_version_and_source(cluster):
    info = cluster.driver.cluster_info()
    assert set(info) == {"server", "version", "source"}
    assert re.fullmatch(r"\d+\.\d+", info["version"]) and info["source"] in ("kubeconfig", "in-cluster")


# ---- no cluster ------------------------------------------------------------------------------------

def calls(driver: ContainerDriver) -> list:
    return [lambda: driver.ensure_project(PROJECT), lambda: driver.deploy(PROJECT, APP),
            lambda: driver.redeploy(APP), lambda: driver.scale(APP, 1), lambda: driver.delete(APP),
            lambda: driver.delete_project(NS), lambda: driver.observe(APP), lambda: driver.logs(APP, 5), lambda: driver.existing_apps(NS),
            driver.cluster_info]


def test_every_call_to_a_cluster_that_does_not_answer_is_cluster_unavailable(cluster):
    cluster.driver.ensure_project(PROJECT)
    for call in calls(cluster.unavailable()):
        with pytest.raises(ClusterUnavailable) as raised:
            call()
        assert not isinstance(raised.value, ClusterNotConfigured)


def test_every_call_without_a_configured_cluster_is_cluster_not_configured(cluster):
    for call in calls(cluster.not_configured()):
        with pytest.raises(ClusterNotConfigured):
            call()
