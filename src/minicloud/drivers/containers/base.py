"""The container driver contract: a project's namespace and its apps on Kubernetes.

A driver renders the manifests from ``configs/k8s/*.yaml.j2`` (files students can read) and
applies them with the official ``kubernetes`` client. Each method's docstring below says what
holds afterwards, what it raises and whether a repeat is safe;
``tests/contract/test_container_contract.py`` holds the Kubernetes driver (through the HTTP
stand-in of the API server) and the in-memory stand-in under ``tests/`` to it.

Repeats: every method converges (a retried job ends where the first would have); the rendering
methods contact nothing and never raise the errors below.

Errors, all ``KubernetesError`` (with ``status`` and ``reason``):
- ``ClusterNotConfigured`` when no cluster is configured (no KUBECONFIG, no ~/.kube/config, not
  in a pod) — the API answers 503 saying how to connect one;
- ``ClusterUnavailable`` when the API server cannot be reached or answers 5xx (→ 503);
- ``NotFound`` (status 404) when the object the call changes does not exist (redeploy and scale
  of an app whose Deployment is gone);
- ``KubernetesError`` for anything else the cluster refused (403 forbidden, 422 invalid, 409 …).

Names: everything an app owns carries the labels ``app.kubernetes.io/managed-by: minicloud``,
``minicloud.io/app-id: <app uuid>`` and is named ``AppSpec.k8s_name`` in the namespace
``ProjectSpec.namespace`` (``mc-<project hex[:12]>``-style; the service decides).

Constructing a driver contacts nothing; the connection is looked up on the first call. The
Kubernetes driver also records the requests of the last public call in ``last_calls`` (per thread:
method, path, status, ms) for the "underneath" panel.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class KubernetesError(Exception):
    """The cluster refused the request (``status`` is the HTTP status, ``reason`` Kubernetes' reason)."""

    def __init__(self, message: str, status: int | None = None, reason: str = ""):
        super().__init__(message)
        self.status = status
        self.reason = reason


class NotFound(KubernetesError):
    """The object the request named does not exist (HTTP 404)."""


class ClusterUnavailable(KubernetesError):
    """The API server cannot be reached, or answered 5xx."""


class ClusterNotConfigured(ClusterUnavailable):
    """No cluster is configured: no KUBECONFIG, no ~/.kube/config, no in-cluster service account."""


@dataclass(frozen=True)
class ProjectSpec:
    """A project's namespace with its ResourceQuota and LimitRange (from the project's quota)."""

    namespace: str
    project_id: str
    project_name: str
    cpu_limit: str            # e.g. "4" (ResourceQuota limits.cpu)
    memory_limit: str         # e.g. "8Gi"
    max_pods: int


@dataclass(frozen=True)
class AppSpec:
    """One app: a Deployment, its ClusterIP Service and an Ingress for ``host``."""

    app_id: str
    namespace: str
    k8s_name: str             # RFC 1123 label, unique in the namespace
    host: str                 # "{sanitized}.{base domain}", unique across the platform
    image: str
    port: int
    replicas: int
    cpu: str                  # per-container request/limit from the size, e.g. "250m"
    memory: str               # e.g. "256Mi"
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class AppObservation:
    """What the cluster says about one app right now (raw Kubernetes JSON dicts)."""

    deployment: dict | None
    pods: list[dict]
    events: list[dict]
    service_exists: bool
    ingress_exists: bool


class ContainerDriver(Protocol):
    """A project's namespace and its apps. Every method except ``render_*`` may raise
    ClusterNotConfigured and ClusterUnavailable; nothing changed when they are raised before the
    first request (for ``deploy`` see its own rollback)."""

    def render_project(self, project: ProjectSpec) -> list[dict]:
        """The manifests of a project's namespace: Namespace, ResourceQuota, LimitRange, NetworkPolicy
        (apply order). Contacts nothing, raises nothing about the cluster. Repeat: same result."""

    def render_app(self, app: AppSpec) -> list[dict]:
        """The manifests of an app: Deployment, Service, Ingress (apply order), each labelled with
        ``minicloud.io/app-id``. Contacts nothing, raises nothing about the cluster. Repeat: same result."""

    def ensure_project(self, project: ProjectSpec) -> list[dict]:
        """Afterwards the namespace and its quota, limits and network policy exist as rendered
        (created, or patched when they differ). Returns the manifests applied (``render_project``'s).
        Raises KubernetesError for a refusal. Repeat: safe (only what differs is patched)."""

    def deploy(self, project: ProjectSpec, app: AppSpec) -> list[dict]:
        """Afterwards the app's Deployment, Service and Ingress exist as rendered, created in that
        order (an existing one is patched); ``observe`` sees them. Returns the manifests applied
        (``render_app``'s). If a step fails, the objects THIS call created are deleted again and the
        error (KubernetesError, ClusterUnavailable for 5xx) is raised; objects that existed before stay.
        Repeat: safe (patches what differs)."""

    def redeploy(self, app: AppSpec) -> dict:
        """Afterwards the Deployment has the app's image, env (removed variables gone) and replicas and
        a fresh restart annotation (``kubectl.kubernetes.io/restartedAt`` in its pod template), so the
        same image rolls out again: a patch, never delete and create. Returns the Deployment.
        Raises NotFound (404) when the Deployment is gone. Repeat: safe (one more rollout)."""

    def scale(self, app: AppSpec, replicas: int) -> None:
        """Afterwards the Deployment asks for ``replicas`` pods (a patch of its scale).
        Raises NotFound (404) when the Deployment is gone. Repeat: safe."""

    def delete(self, app: AppSpec) -> None:
        """Afterwards none of the app's objects exist (Ingress, Service, Deployment; Kubernetes removes
        the pods in the background). An object of the app's name that is not this app's (no
        ``minicloud.io/app-id`` label with its id) is left alone. Raises KubernetesError for a
        refusal. Repeat: safe (missing is fine)."""

    def delete_project(self, namespace: str) -> None:
        """Afterwards the project's namespace is gone or going (Kubernetes removes what it still holds in the
        background). Raises KubernetesError for a refusal. Repeat: safe (missing is fine)."""

    def observe(self, app: AppSpec) -> AppObservation:
        """The app's Deployment (None when gone), its Pods (label ``minicloud.io/app-id``) and the
        recent Events about the Deployment, its ReplicaSets and Pods, oldest first; whether its
        Service and Ingress exist. Reads only. Repeat: safe."""

    def logs(self, app: AppSpec, tail: int) -> list[str]:
        """The last ``tail`` log lines of the app's newest Pod ([] when it has none yet, or its
        container has not started). Reads only. Repeat: safe."""

    def existing_apps(self, namespace: str) -> set[str]:
        """The k8s names of the Deployments labelled as minicloud's (``app.kubernetes.io/managed-by:
        minicloud``) in the namespace; others are left out. Reads only. Repeat: safe."""

    def cluster_info(self) -> dict:
        """{"server": API server URL, "version": "1.31", "source": "kubeconfig|in-cluster"}; raises
        ClusterNotConfigured / ClusterUnavailable. Reads only. Repeat: safe."""
