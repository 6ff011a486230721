"""An in-memory container driver for the apps service tests (the contract of drivers/containers/base.py).

It keeps the objects "applied" per (kind, namespace, name), records every call, and lets a test
decide what the cluster reports about an app (``pods`` / ``events`` / ready replicas), remove
objects behind the platform's back, or be unconfigured / unreachable.
"""
from __future__ import annotations

from minicloud.drivers.containers.base import (AppObservation, AppSpec, ClusterNotConfigured, ClusterUnavailable,
                                               KubernetesError, ProjectSpec)


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

    def _check(self) -> None:
        if not self.configured:
            raise ClusterNotConfigured("no kubeconfig")
        if not self.reachable:
            raise ClusterUnavailable("connection refused")

    def render_project(self, project: ProjectSpec) -> list[dict]:
        meta = {"name": project.namespace, "labels": {"app.kubernetes.io/managed-by": "minicloud"}}
        return [{"apiVersion": "v1", "kind": "Namespace", "metadata": meta},
                {"apiVersion": "v1", "kind": "ResourceQuota",
                 "metadata": {"name": "minicloud-quota", "namespace": project.namespace},
                 "spec": {"hard": {"limits.cpu": project.cpu_limit, "limits.memory": project.memory_limit,
                                   "pods": str(project.max_pods)}}}]

    def render_app(self, app: AppSpec) -> list[dict]:
        meta = {"name": app.k8s_name, "namespace": app.namespace, "labels": {"minicloud.io/app-id": app.app_id}}
        container = {"name": "app", "image": app.image, "ports": [{"containerPort": app.port}],
                     "env": [{"name": k, "value": v} for k, v in app.env.items()],
                     "resources": {"limits": {"cpu": app.cpu, "memory": app.memory}}}
        return [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
                 "spec": {"replicas": app.replicas, "template": {"spec": {"containers": [container]}}}},
                {"apiVersion": "v1", "kind": "Service", "metadata": meta},
                {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta,
                 "spec": {"rules": [{"host": app.host}]}}]

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

    def redeploy(self, app: AppSpec) -> dict:
        self._check()
        self.calls.append(("redeploy", app.k8s_name, app.image))
        deployment = self.deployment(app)
        if deployment is None:
            raise KubernetesError("deployments.apps not found", status=404, reason="NotFound")
        deployment["spec"]["template"]["spec"]["containers"][0]["image"] = app.image
        deployment["spec"]["replicas"] = app.replicas
        return deployment

    def scale(self, app: AppSpec, replicas: int) -> None:
        self._check()
        self.calls.append(("scale", app.k8s_name, replicas))
        deployment = self.deployment(app)
        if deployment is None:
            raise KubernetesError("deployments.apps not found", status=404, reason="NotFound")
        deployment["spec"]["replicas"] = replicas

    def delete(self, app: AppSpec) -> None:
        self._check()
        self.calls.append(("delete", app.k8s_name))
        for kind in ("Ingress", "Service", "Deployment"):
            self.objects.pop((kind, app.namespace, app.k8s_name), None)

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
        return {name for kind, ns, name in self.objects if kind == "Deployment" and ns == namespace}

    def cluster_info(self) -> dict:
        self._check()
        return {"server": "https://standin.invalid:6443", "version": "1.31", "source": "kubeconfig"}
