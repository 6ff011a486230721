"""An in-memory container driver for the apps service tests (the contract of drivers/containers/base.py,
which tests/contract/test_container_contract.py holds it to, beside the real driver).

It keeps the objects "applied" per (kind, namespace, name), rendered by the real templates, records
every call, and lets a test decide what the cluster reports about an app (``pods`` / ``events`` /
ready replicas / ``log_lines``: lines scripted there are the newest pod's), remove objects behind the
platform's back, or be unconfigured / unreachable.
"""
from __future__ import annotations

from datetime import datetime, timezone

from minicloud.drivers.containers.base import (AppObservation, AppSpec, ClusterNotConfigured, ClusterUnavailable,
                                               KubernetesError, NotFound, ProjectSpec)
from minicloud.drivers.containers.manifests import ManifestRenderer, ManifestSettings

APP_ID = "minicloud.io/app-id"


class StandinCluster:
    def __init__(self, configured: bool = True):
        self.configured = configured
        self.reachable = True
        self.objects: dict[tuple[str, str, str], dict] = {}
        self.calls: list[tuple] = []
        self.pods: dict[str, list[dict]] = {}        # k8s_name -> Pods the cluster reports
        self.events: dict[str, list[dict]] = {}
        self.ready: dict[str, int] = {}              # k8s_name -> ready replicas (default: all desired)
        self.log_lines: dict[str, list[str]] = {}
        self.fail_deploy: KubernetesError | None = None
        self.renderer = ManifestRenderer(ManifestSettings())

    def _check(self) -> None:
        if not self.configured:
            raise ClusterNotConfigured("no kubeconfig")
        if not self.reachable:
            raise ClusterUnavailable("connection refused")

    def render_project(self, project: ProjectSpec) -> list[dict]:
        return self.renderer.render_project(project)  # the real templates: rendering is not the cluster

    def render_app(self, app: AppSpec) -> list[dict]:
        return self.renderer.render_app(app)

    def _store(self, manifests: list[dict]) -> None:
        for m in manifests:
            self.objects[(m["kind"], m["metadata"].get("namespace", ""), m["metadata"]["name"])] = m

    def ensure_project(self, project: ProjectSpec) -> list[dict]:
        self._check()
        self.calls.append(("ensure_project", project.namespace))
        manifests = self.render_project(project)
        self._store(manifests)
        return manifests

    def deploy(self, project: ProjectSpec, app: AppSpec) -> list[dict]:
        self._check()
        self.calls.append(("deploy", app.k8s_name, app.image, app.replicas))
        if self.fail_deploy:
            raise self.fail_deploy
        manifests = self.render_app(app)
        self._store(manifests)
        return manifests

    def deployment(self, app: AppSpec) -> dict | None:
        return self.objects.get(("Deployment", app.namespace, app.k8s_name))

    def _existing(self, app: AppSpec) -> dict:
        deployment = self.deployment(app)
        if deployment is None:
            raise NotFound("deployments.apps not found", status=404, reason="NotFound")
        return deployment

    def redeploy(self, app: AppSpec) -> dict:
        self._check()
        self.calls.append(("redeploy", app.k8s_name, app.image))
        deployment = self._existing(app)
        rendered = self.render_app(app)[0]
        template = deployment["spec"]["template"]
        template["spec"]["containers"] = rendered["spec"]["template"]["spec"]["containers"]
        template.setdefault("metadata", {}).setdefault("annotations", {})["kubectl.kubernetes.io/restartedAt"] = \
            datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        deployment["spec"]["replicas"] = app.replicas
        return deployment

    def scale(self, app: AppSpec, replicas: int) -> None:
        self._check()
        self.calls.append(("scale", app.k8s_name, replicas))
        self._existing(app)["spec"]["replicas"] = replicas

    def delete(self, app: AppSpec) -> None:
        self._check()
        self.calls.append(("delete", app.k8s_name))
        for kind in ("Ingress", "Service", "Deployment"):  # an object of that name that is not this app's stays
            key = (kind, app.namespace, app.k8s_name)
            if (self.objects.get(key, {}).get("metadata", {}).get("labels") or {}).get(APP_ID) == app.app_id:
                del self.objects[key]

    def delete_project(self, namespace: str) -> None:
        self._check()
        self.calls.append(("delete_project", namespace))
        for key in [k for k in self.objects if k[1] == namespace or k == ("Namespace", "", namespace)]:
            del self.objects[key]

    def remove_behind_back(self, k8s_name: str) -> None:
        for key in [k for k in self.objects if k[2] == k8s_name]:
            del self.objects[key]

    def observe(self, app: AppSpec) -> AppObservation:
        self._check()
        deployment = self.deployment(app)
        if deployment is not None:
            desired = deployment["spec"]["replicas"]
            deployment = {**deployment, "status": {"replicas": desired,
                                                   "readyReplicas": self.ready.get(app.k8s_name, desired)}}
        return AppObservation(deployment, self.pods.get(app.k8s_name, []), self.events.get(app.k8s_name, []),
                              ("Service", app.namespace, app.k8s_name) in self.objects,
                              ("Ingress", app.namespace, app.k8s_name) in self.objects)

    def logs(self, app: AppSpec, tail: int) -> list[str]:
        self._check()
        self.calls.append(("logs", app.k8s_name, tail))
        return self.log_lines.get(app.k8s_name, [])[-tail:]

    def existing_apps(self, namespace: str) -> set[str]:
        self._check()
        return {name for (kind, ns, name), obj in self.objects.items() if kind == "Deployment" and ns == namespace
                and (obj["metadata"].get("labels") or {}).get("app.kubernetes.io/managed-by") == "minicloud"}

    def cluster_info(self) -> dict:
        self._check()
        return {"server": "https://standin.invalid:6443", "version": "1.31", "source": "kubeconfig"}
