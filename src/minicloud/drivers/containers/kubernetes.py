"""ContainerDriver on a real Kubernetes API server, through the official ``kubernetes`` client.

Connection (looked up lazily, on the first call, so constructing the driver contacts nothing):
``KUBECONFIG``, then ``~/.kube/config``, then the in-cluster service account. The driver keeps its
own ``ApiClient``; the client's global default configuration is never touched.

Requests are made with the client's ``ApiClient`` (authentication, TLS, kubeconfig handling) on the
same REST paths ``kubectl`` uses, with raw JSON bodies: the manifests rendered from
``configs/k8s/*.yaml.j2`` are sent exactly as the "underneath" panel shows them. Patches are JSON
merge patches (lists such as ``env`` are replaced, so a removed variable really disappears). Every
request is recorded in ``last_calls`` (per thread, reset by each public method).
"""
from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from minicloud.config import ConfigError
from minicloud.drivers.calls import RecordedCall
from minicloud.drivers.calls import public as _public
from minicloud.drivers.containers.base import (AppObservation, AppSpec, ClusterNotConfigured,
                                               ClusterUnavailable, KubernetesError, NotFound, ProjectSpec)
from minicloud.drivers.containers.manifests import TEMPLATE_DIR, ManifestRenderer, ManifestSettings

MANAGED_BY = "app.kubernetes.io/managed-by"
APP_ID = "minicloud.io/app-id"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
MERGE_PATCH = "application/merge-patch+json"
COLLECTIONS = {
    "Namespace": "/api/v1/namespaces",
    "ResourceQuota": "/api/v1/namespaces/{ns}/resourcequotas",
    "LimitRange": "/api/v1/namespaces/{ns}/limitranges",
    "NetworkPolicy": "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies",
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
    "Service": "/api/v1/namespaces/{ns}/services",
    "Ingress": "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
    "Pod": "/api/v1/namespaces/{ns}/pods",
    "Event": "/api/v1/namespaces/{ns}/events",
}
IN_CLUSTER_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
RECENT_EVENTS = 20


# One request to the API server, as the "underneath" panel shows it.
KubeCall = RecordedCall


def _object_path(manifest: dict) -> str:
    collection = COLLECTIONS[manifest["kind"]].format(ns=manifest["metadata"].get("namespace", ""))
    return f"{collection}/{manifest['metadata']['name']}"


def _collection_path(manifest: dict) -> str:
    return COLLECTIONS[manifest["kind"]].format(ns=manifest["metadata"].get("namespace", ""))


def _is_subset(wanted: Any, actual: Any) -> bool:
    """True when everything in ``wanted`` is already in ``actual`` (then no patch is needed)."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(_is_subset(v, actual.get(k)) for k, v in wanted.items())
    if isinstance(wanted, list):
        return (isinstance(actual, list) and len(wanted) == len(actual)
                and all(_is_subset(w, a) for w, a in zip(wanted, actual)))
    return wanted == actual or str(wanted) == str(actual)


def _setting(config: Any, key: str, default: Any) -> Any:
    try:
        value = config.get(f"kubernetes.{key}")
    except ConfigError:  # the [kubernetes] section or the key is absent: use the default
        return default
    return default if value is None else value


class KubernetesDriver:
    """ContainerDriver on the Kubernetes API; safe to share between threads."""

    def __init__(self, settings: ManifestSettings | None = None, template_dir: Path | str = TEMPLATE_DIR,
                 timeout: float = 10.0):
        self.settings = settings or ManifestSettings()
        self.renderer = ManifestRenderer(self.settings, template_dir)
        self.timeout = timeout
        self._api: k8s_client.ApiClient | None = None
        self._source = ""
        self._connect_lock = threading.Lock()
        self._local = threading.local()

    @classmethod
    def from_config(cls, config: Any) -> "KubernetesDriver":
        """A driver from the ``[kubernetes]`` settings (defaults for any that are absent)."""
        defaults = ManifestSettings()
        settings = ManifestSettings(**{name: str(_setting(config, name, getattr(defaults, name)))
                                       for name in ("base_domain", "ingress_class", "tls_secret",
                                                    "image_pull_policy", "ingress_namespace")})
        root = getattr(config, "root", None)
        template_dir = Path(root) / "configs" / "k8s" if root else TEMPLATE_DIR
        return cls(settings, template_dir, timeout=float(_setting(config, "timeout_seconds", 10.0)))

    @property
    def last_calls(self) -> list[KubeCall]:
        """The API requests made by the last public method this thread called."""
        return list(getattr(self._local, "calls", []))

    # ---- rendering ------------------------------------------------------------------------------

    def render_project(self, project: ProjectSpec) -> list[dict]:
        """Namespace, ResourceQuota, LimitRange, NetworkPolicy, rendered; contacts nothing."""
        return self.renderer.render_project(project)

    def render_app(self, app: AppSpec) -> list[dict]:
        """Deployment, Service, Ingress, rendered in apply order; contacts nothing."""
        return self.renderer.render_app(app)

    # ---- the contract ---------------------------------------------------------------------------

    @_public
    def ensure_project(self, project: ProjectSpec) -> list[dict]:
        """Afterwards the namespace, its quota, limits and network policy exist as rendered (each
        created, or patched when it differs). Returns the manifests applied."""
        manifests = self.render_project(project)
        for manifest in manifests:
            self._apply(manifest)
        return manifests

    @_public
    def deploy(self, project: ProjectSpec, app: AppSpec) -> list[dict]:
        """Afterwards Deployment, Service and Ingress exist as rendered, created in that order (an
        existing one is patched). If a step fails, the objects this call created are deleted again
        (newest first) and the error is raised. Returns the manifests applied."""
        manifests = self.render_app(app)
        created: list[dict] = []
        try:
            for manifest in manifests:
                if self._apply(manifest):
                    created.append(manifest)
        except Exception:
            for manifest in reversed(created):
                try:
                    self._delete(_object_path(manifest))
                except KubernetesError:
                    pass  # best effort: the original error is the one to report
            raise
        return manifests

    @_public
    def redeploy(self, app: AppSpec) -> dict:
        """Afterwards the Deployment has the app's image, env and replicas and a fresh
        ``restartedAt`` annotation, so Kubernetes rolls out new pods even for the same image (one
        PATCH, never delete and create). Returns the patched Deployment; NotFound (404) when
        the Deployment is gone."""
        deployment = self.render_app(app)[0]
        restarted_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        patch = {
            "metadata": {"labels": deployment["metadata"]["labels"]},
            "spec": {
                "replicas": deployment["spec"]["replicas"],
                "template": {
                    "metadata": {"annotations": {RESTARTED_AT: restarted_at}},
                    "spec": {"containers": deployment["spec"]["template"]["spec"]["containers"]},
                },
            },
        }
        return self._call("PATCH", _object_path(deployment), body=patch, content_type=MERGE_PATCH)

    @_public
    def scale(self, app: AppSpec, replicas: int) -> None:
        """Afterwards the Deployment asks for ``replicas`` pods (a PATCH of its scale
        subresource). NotFound (404) when the Deployment is gone."""
        path = f"{COLLECTIONS['Deployment'].format(ns=app.namespace)}/{app.k8s_name}/scale"
        self._call("PATCH", path, body={"spec": {"replicas": int(replicas)}}, content_type=MERGE_PATCH)

    @_public
    def delete(self, app: AppSpec) -> None:
        """Afterwards none of the app's Ingress, Service, Deployment exist (already missing is fine);
        the Deployment's pods are removed by Kubernetes in the background. Each object is read first:
        one of the app's name that is not this app's (its ``minicloud.io/app-id`` label differs) is
        left alone, and the delete names the uid it read as a precondition, so an object replaced
        meanwhile is not deleted either (409)."""
        for kind in ("Ingress", "Service", "Deployment"):
            path = f"{COLLECTIONS[kind].format(ns=app.namespace)}/{app.k8s_name}"
            current = self._read(path)
            if current is not None and (current["metadata"].get("labels") or {}).get(APP_ID) == app.app_id:
                self._delete(path, uid=current["metadata"].get("uid"))

    @_public
    def delete_project(self, namespace: str) -> None:
        """Afterwards the namespace is gone or terminating (Kubernetes deletes what it holds in the
        background); already missing is fine."""
        self._delete(f"{COLLECTIONS['Namespace']}/{namespace}")

    @_public
    def observe(self, app: AppSpec) -> AppObservation:
        """The app's Deployment (None when gone), its Pods (label ``minicloud.io/app-id``) and the
        recent Events about the Deployment, its ReplicaSets and Pods (oldest first)."""
        ns = app.namespace
        deployment = self._read(f"{COLLECTIONS['Deployment'].format(ns=ns)}/{app.k8s_name}")
        pods = self._pods(app)
        events = self._list(COLLECTIONS["Event"].format(ns=ns))
        pod_names = {pod["metadata"]["name"] for pod in pods}
        own = [event for event in events if self._is_about(event, app.k8s_name, pod_names)]
        own.sort(key=_event_time)
        return AppObservation(
            deployment=deployment, pods=pods, events=own[-RECENT_EVENTS:],
            service_exists=self._read(f"{COLLECTIONS['Service'].format(ns=ns)}/{app.k8s_name}") is not None,
            ingress_exists=self._read(f"{COLLECTIONS['Ingress'].format(ns=ns)}/{app.k8s_name}") is not None,
        )

    @_public
    def logs(self, app: AppSpec, tail: int) -> list[str]:
        """The last ``tail`` lines of the newest Pod's log ([] when there is no Pod, or its container
        has not started yet)."""
        pods = self._pods(app)
        if not pods:
            return []
        newest = max(pods, key=lambda pod: pod["metadata"].get("creationTimestamp") or "")
        path = f"{COLLECTIONS['Pod'].format(ns=app.namespace)}/{newest['metadata']['name']}/log"
        try:
            text = self._call("GET", path, query={"container": "app", "tailLines": str(int(tail))}, raw=True)
        except KubernetesError as error:
            if error.status in (400, 404):  # container waiting to start, or the pod just went away
                return []
            raise
        return text.splitlines()

    @_public
    def existing_apps(self, namespace: str) -> set[str]:
        """The names of the Deployments labelled ``managed-by: minicloud`` in the namespace."""
        items = self._list(COLLECTIONS["Deployment"].format(ns=namespace), f"{MANAGED_BY}=minicloud")
        return {item["metadata"]["name"] for item in items
                if (item["metadata"].get("labels") or {}).get(MANAGED_BY) == "minicloud"}

    @_public
    def cluster_info(self) -> dict:
        """{"server", "version" ("1.31"), "source" ("kubeconfig"|"in-cluster")}; raises
        ClusterNotConfigured / ClusterUnavailable."""
        version = self._call("GET", "/version")
        minor = "".join(ch for ch in str(version.get("minor", "")) if ch.isdigit())
        return {"server": self._client().configuration.host, "version": f"{version.get('major')}.{minor}",
                "source": self._source}

    # ---- helpers --------------------------------------------------------------------------------

    def _apply(self, manifest: dict) -> bool:
        """Create the object, or patch it when it exists and differs. True when this call created it."""
        try:
            self._call("POST", _collection_path(manifest), body=manifest)
            return True
        except KubernetesError as error:
            if error.status != 409:
                raise
        current = self._read(_object_path(manifest))
        if current is None or not _is_subset({k: manifest[k] for k in manifest if k != "status"}, current):
            self._call("PATCH", _object_path(manifest), body=manifest, content_type=MERGE_PATCH)
        return False

    def _delete(self, path: str, uid: str | None = None) -> None:
        """Delete one object (propagation Background; only while its uid is ``uid`` when given);
        already missing is fine."""
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if uid:
            options["preconditions"] = {"uid": uid}
        try:
            self._call("DELETE", path, body=options)
        except KubernetesError as error:
            if error.status != 404:
                raise

    def _read(self, path: str) -> dict | None:
        try:
            return self._call("GET", path)
        except KubernetesError as error:
            if error.status == 404:
                return None
            raise

    def _list(self, path: str, label_selector: str = "") -> list[dict]:
        query = {"labelSelector": label_selector} if label_selector else None
        return list(self._call("GET", path, query=query).get("items") or [])

    def _pods(self, app: AppSpec) -> list[dict]:
        pods = self._list(COLLECTIONS["Pod"].format(ns=app.namespace), f"{APP_ID}={app.app_id}")
        return [pod for pod in pods if (pod["metadata"].get("labels") or {}).get(APP_ID) == app.app_id]

    @staticmethod
    def _is_about(event: dict, name: str, pod_names: set[str]) -> bool:
        involved = event.get("involvedObject") or {}
        kind, obj = involved.get("kind"), involved.get("name") or ""
        if kind == "Deployment":
            return obj == name
        if kind == "ReplicaSet":
            return obj.startswith(name + "-") and "-" not in obj[len(name) + 1:]
        if kind == "Pod":
            return obj in pod_names or (obj.startswith(name + "-") and obj[len(name) + 1:].count("-") == 1)
        return False

    def _client(self) -> k8s_client.ApiClient:
        """The driver's own ApiClient, configured on first use (KUBECONFIG, ~/.kube/config, in-cluster)
        and kept for the driver's lifetime (a changed kubeconfig is read after a restart)."""
        with self._connect_lock:
            if self._api is None:
                configuration = k8s_client.Configuration()
                try:
                    self._source = self._load_configuration(configuration)
                except (k8s_config.ConfigException, yaml.YAMLError, OSError, ValueError) as error:
                    raise ClusterNotConfigured(f"the cluster configuration cannot be used: {error}") from error
                configuration.retries = 0
                self._api = k8s_client.ApiClient(configuration)
            return self._api

    @staticmethod
    def _load_configuration(configuration: k8s_client.Configuration) -> str:
        paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p and Path(p).is_file()]
        if paths:
            k8s_config.load_kube_config(config_file=os.pathsep.join(paths), client_configuration=configuration,
                                        persist_config=False)
            return "kubeconfig"
        home_config = Path.home() / ".kube" / "config"
        if home_config.is_file():
            k8s_config.load_kube_config(config_file=str(home_config), client_configuration=configuration,
                                        persist_config=False)
            return "kubeconfig"
        if os.environ.get("KUBERNETES_SERVICE_HOST") and IN_CLUSTER_TOKEN.is_file():
            k8s_config.load_incluster_config(client_configuration=configuration)
            return "in-cluster"
        raise ClusterNotConfigured("no cluster configured: set KUBECONFIG, create ~/.kube/config, "
                                   "or run minicloud inside the cluster")

    def _call(self, method: str, path: str, body: Any = None, query: dict | None = None,
              content_type: str = "application/json", raw: bool = False) -> Any:
        """One request; JSON (or text when ``raw``) back. Recorded in ``last_calls``; errors mapped to
        ClusterUnavailable (no answer, 5xx) and KubernetesError (any other refusal)."""
        api = self._client()
        headers = {"Accept": "text/plain" if raw else "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        _, url, headers, serialized_body, _ = api.param_serialize(
            method=method, resource_path=path, query_params=list((query or {}).items()),
            header_params=headers, body=body, auth_settings=["BearerToken"])
        shown = url[len(api.configuration.host):]
        started = time.perf_counter()
        status: int | None = None
        try:
            response = api.call_api(method, url, header_params=headers, body=serialized_body,
                                    _request_timeout=(min(5.0, self.timeout), self.timeout))
            status = response.status
            data = response.read()
        except ApiException as error:
            status = error.status or None
            raise self._error(error.status, error.reason or "", error.body) from error
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise ClusterUnavailable(f"Kubernetes API unreachable: {error}") from error
        finally:
            self._record(method, shown, status, started)
        if not 200 <= status <= 299:
            raise self._error(status, response.reason or "", data)
        text = data.decode("utf-8", errors="replace") if data else ""
        if raw:
            return text
        return json.loads(text) if text else {}

    def _record(self, method: str, path: str, status: int | None, started: float) -> None:
        calls = getattr(self._local, "calls", None)
        if calls is None:
            calls = self._local.calls = []
        calls.append(KubeCall(method, path, status, (time.perf_counter() - started) * 1000))

    @staticmethod
    def _error(status: int | None, reason: str, body: Any) -> KubernetesError:
        message, k8s_reason = reason, reason
        try:
            payload = json.loads(body) if body else {}
            message = payload.get("message") or message
            k8s_reason = payload.get("reason") or k8s_reason
        except (ValueError, TypeError, AttributeError):
            pass
        if not status:
            return ClusterUnavailable(f"Kubernetes API unreachable: {message}")
        if status >= 500:
            return ClusterUnavailable(f"Kubernetes API error {status}: {message}", status, k8s_reason)
        if status == 404:
            return NotFound(f"Kubernetes refused the request ({status}): {message}", status, k8s_reason)
        return KubernetesError(f"Kubernetes refused the request ({status}): {message}", status, k8s_reason)


def _event_time(event: dict) -> str:
    return (event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
            or (event.get("metadata") or {}).get("creationTimestamp") or "")
