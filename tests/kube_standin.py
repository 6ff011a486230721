"""An HTTP-level Kubernetes API stand-in for tests (no API server can run on these machines).

A small threaded HTTP server on 127.0.0.1 that keeps objects in memory and answers the paths the
official ``kubernetes`` client uses: create (201, 409 when it exists), read (404), list (label
selectors of the ``k=v,k2=v2`` form honoured), JSON merge patch (strategic merge is treated as a
merge patch), delete (404; a ``preconditions.uid`` that differs is a 409), ``…/scale``, ``…/pods/{name}/log`` and ``/version``. Namespaces work
like any other object (kmock could not serve them, which is why this exists). It is not a
cluster: no controllers, no validation, no cascading delete.

Usage::

    with kube_standin(tmp_path) as kube:           # or the ``kube`` fixture (sets KUBECONFIG)
        kube.kubeconfig_path                       # a real kubeconfig file pointing here
        kube.fail("POST", r"/ingresses$", 500)     # script a failure (once; times=None for always)
        kube.slow("GET", r"/deployments$", 2.0)    # answer late (timeouts)
        kube.put_object(pod_dict); kube.set_log("mc-x", "web-1-abc", "line1\\nline2\\n")
        kube.requests                              # [Request(method, path, query, body, content_type, authorization)]
        kube.objects                               # {path of the object: dict}
"""
from __future__ import annotations

import contextlib
import copy
import json
import re
import socket
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from minicloud.drivers.containers.base import AppSpec, ProjectSpec

# A project and an app for the driver tests (tests/integration/test_kubernetes_driver.py, tests/contract/).
SAMPLE_NS = "mc-0123456789ab"
SAMPLE_PROJECT = ProjectSpec(namespace=SAMPLE_NS, project_id="0123456789ab4cde8f0123456789abcd", project_name="demo",
                             cpu_limit="4", memory_limit="8Gi", max_pods=20)
SAMPLE_APP = AppSpec(app_id="6f1c2a9e-8d3b-4c55-9a1e-2b7c0d4e5f60", namespace=SAMPLE_NS, k8s_name="web-6f1c2a",
                     host="web.apps.minicloud.test", image="nginx:1.27", port=8080, replicas=2, cpu="250m",
                     memory="256Mi", env={"GREETING": "hello: world"})
KINDS = {"namespaces": "Namespace", "resourcequotas": "ResourceQuota", "limitranges": "LimitRange",
         "networkpolicies": "NetworkPolicy", "deployments": "Deployment", "replicasets": "ReplicaSet",
         "services": "Service", "ingresses": "Ingress", "pods": "Pod", "events": "Event"}
PLURALS = {kind: plural for plural, kind in KINDS.items()}
GROUP_PATHS = {"v1": "/api/v1", "apps/v1": "/apis/apps/v1", "networking.k8s.io/v1": "/apis/networking.k8s.io/v1"}
_NAMESPACE_PATH = re.compile(r"^/api/v1/namespaces(?:/(?P<name>[^/]+))?$")
_OBJECT_PATH = re.compile(r"^(?P<group>/api/v1|/apis/[^/]+/[^/]+)/namespaces/(?P<ns>[^/]+)/(?P<resource>[^/]+)"
                          r"(?:/(?P<name>[^/]+)(?:/(?P<sub>[^/]+))?)?$")


@dataclass
class Request:
    """One request the client sent."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    content_type: str
    authorization: str = ""


@dataclass
class _Failure:
    method: str
    pattern: re.Pattern
    status: int
    times: int | None


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _status(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure" if code >= 400 else "Success",
            "message": message, "reason": reason, "code": code}


_REASONS = {404: "NotFound", 409: "AlreadyExists", 422: "Invalid", 500: "InternalError", 503: "ServiceUnavailable",
            403: "Forbidden", 400: "BadRequest"}


class _QuietServer(ThreadingHTTPServer):
    """A client that gave up (the timeout tests) is expected: no traceback on stderr for it."""

    def handle_error(self, request, client_address):
        import sys
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, TimeoutError)):
            super().handle_error(request, client_address)


class KubeStandin:
    """The server and its state; see the module docstring."""

    def __init__(self, directory: Path | str, version: tuple[str, str] = ("1", "31")):
        self.directory = Path(directory)
        self.version = version
        self.objects: dict[str, dict] = {}
        self.logs: dict[tuple[str, str], str] = {}
        self.requests: list[Request] = []
        self._failures: list[_Failure] = []
        self._stopped = False
        self._delays: list[tuple[str, re.Pattern, float]] = []
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.kubeconfig_path = self.directory / "kubeconfig"
        self.kubeconfig_path.write_text(self._kubeconfig())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    # ---- scripting ------------------------------------------------------------------------------

    def fail(self, method: str, path_regex: str, status: int, times: int | None = 1) -> None:
        """Answer the next ``times`` requests (None: all) matching method and path with ``status``."""
        with self._lock:
            self._failures.append(_Failure(method.upper(), re.compile(path_regex), status, times))

    def slow(self, method: str, path_regex: str, seconds: float) -> None:
        """Wait ``seconds`` before answering requests matching method and path (to provoke timeouts)."""
        with self._lock:
            self._delays.append((method.upper(), re.compile(path_regex), seconds))

    def put_object(self, manifest: dict) -> dict:
        """Store an object as if the cluster had it (Pods, Events, ReplicaSets…); returns it."""
        obj = self._stamp(copy.deepcopy(manifest))
        with self._lock:
            self.objects[self.path_of(obj)] = obj
        return obj

    def set_log(self, namespace: str, pod: str, text: str) -> None:
        self.logs[(namespace, pod)] = text

    def object(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        return self.objects.get(self.path_of({"kind": kind, "apiVersion": _api_version(kind),
                                              "metadata": {"name": name, "namespace": namespace}}))

    def calls(self) -> list[tuple[str, str]]:
        """(method, path) of every request so far."""
        return [(r.method, r.path) for r in self.requests]

    def clear_requests(self) -> None:
        self.requests.clear()

    def stop(self) -> None:
        """Stop serving (connections are refused afterwards); safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        for connection in list(self._connections):   # kept-alive client connections end too
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join(timeout=5)

    @staticmethod
    def path_of(obj: dict) -> str:
        kind = obj["kind"]
        name = obj["metadata"]["name"]
        if kind == "Namespace":
            return f"/api/v1/namespaces/{name}"
        group = GROUP_PATHS[obj.get("apiVersion") or _api_version(kind)]
        return f"{group}/namespaces/{obj['metadata']['namespace']}/{PLURALS[kind]}/{name}"

    # ---- serving --------------------------------------------------------------------------------

    def _kubeconfig(self) -> str:
        return json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "standin",
            "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": "standin-token"}}],
            "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "tester"}}],
        })

    def _stamp(self, obj: dict) -> dict:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        meta["resourceVersion"] = str(len(self.requests) + 1)
        return obj

    def _handler_class(self) -> type:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                standin._connections.add(self.connection)

            def finish(self) -> None:
                standin._connections.discard(self.connection)
                super().finish()

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                request = Request(self.command, parts.path, query, body, self.headers.get("Content-Type", ""),
                                  self.headers.get("Authorization", ""))
                status, payload = standin._answer(request)
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if isinstance(payload, str) else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

        return Handler

    def _scripted_failure(self, request: Request) -> int | None:
        for failure in self._failures:
            if failure.method == request.method and failure.pattern.search(request.path):
                if failure.times is not None:
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                return failure.status
        return None

    def _answer(self, request: Request) -> tuple[int, Any]:
        for method, pattern, seconds in list(self._delays):
            if method == request.method and pattern.search(request.path):
                time.sleep(seconds)
        with self._lock:
            self.requests.append(request)
            failed = self._scripted_failure(request)
            if failed is not None:
                return failed, _status(failed, _REASONS.get(failed, "Unknown"), "scripted failure")
            if request.path == "/version":
                major, minor = self.version
                return 200, {"major": major, "minor": minor, "gitVersion": f"v{major}.{minor}.0+k3s1"}
            match = _NAMESPACE_PATH.match(request.path)
            if match:
                return self._resource(request, "/api/v1/namespaces", "namespaces", None, match["name"], None)
            match = _OBJECT_PATH.match(request.path)
            if not match:
                return 404, _status(404, "NotFound", "the server could not find the requested resource")
            collection = f"{match['group']}/namespaces/{match['ns']}/{match['resource']}"
            return self._resource(request, collection, match["resource"], match["ns"], match["name"], match["sub"])

    def _resource(self, request: Request, collection: str, resource: str, namespace: str | None,
                  name: str | None, sub: str | None) -> tuple[int, Any]:
        kind = KINDS.get(resource, resource)
        if name is None:
            if request.method == "POST":
                return self._create(collection, namespace, request.body or {})
            if request.method == "GET":
                return 200, self._list(collection, kind, request.query.get("labelSelector", ""))
            return 405, _status(405, "MethodNotAllowed", "method not allowed")
        path = f"{collection}/{name}"
        current = self.objects.get(path)
        if current is None:
            return 404, _status(404, "NotFound", f'{resource} "{name}" not found')
        if sub == "log":
            lines = self.logs.get((namespace, name), "").splitlines(keepends=True)
            tail = request.query.get("tailLines")
            return 200, "".join(lines[-int(tail):] if tail else lines)
        if sub == "scale":
            if request.method == "PATCH":
                replicas = ((request.body or {}).get("spec") or {}).get("replicas")
                if replicas is not None:
                    current.setdefault("spec", {})["replicas"] = replicas
            return 200, {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": current["metadata"],
                         "spec": {"replicas": current.get("spec", {}).get("replicas", 1)}}
        if request.method == "GET":
            return 200, current
        if request.method == "PATCH":
            patched = merge_patch(current, request.body or {})
            self.objects[path] = self._stamp(patched)
            return 200, patched
        if request.method == "DELETE":
            wanted_uid = ((request.body or {}).get("preconditions") or {}).get("uid")
            if wanted_uid and wanted_uid != current["metadata"].get("uid"):
                return 409, _status(409, "Conflict", f"Precondition failed: UID in precondition: {wanted_uid}, "
                                                     f"UID in object meta: {current['metadata'].get('uid')}")
            del self.objects[path]
            return 200, _status(200, "", "deleted") | {"details": {"name": name, "kind": resource}}
        return 405, _status(405, "MethodNotAllowed", "method not allowed")

    def _create(self, collection: str, namespace: str | None, body: dict) -> tuple[int, Any]:
        name = (body.get("metadata") or {}).get("name")
        if not name:
            return 422, _status(422, "Invalid", "metadata.name: Required value")
        path = f"{collection}/{name}"
        if path in self.objects:
            return 409, _status(409, "AlreadyExists", f'"{name}" already exists')
        obj = copy.deepcopy(body)
        if namespace:
            obj["metadata"]["namespace"] = namespace
        self.objects[path] = self._stamp(obj)
        return 201, obj

    def _list(self, collection: str, kind: str, selector: str) -> dict:
        wanted = dict(part.split("=", 1) for part in selector.split(",") if "=" in part)
        items = [obj for path, obj in self.objects.items()
                 if path.rsplit("/", 1)[0] == collection
                 and all((obj["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())]
        return {"kind": f"{kind}List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}


def _api_version(kind: str) -> str:
    if kind in ("Deployment", "ReplicaSet"):
        return "apps/v1"
    if kind in ("Ingress", "NetworkPolicy"):
        return "networking.k8s.io/v1"
    return "v1"


@contextlib.contextmanager
def kube_standin(directory: Path | str | None = None) -> Iterator[KubeStandin]:
    """A running stand-in (its kubeconfig in ``directory`` or a temporary one); stopped afterwards."""
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = stack.enter_context(tempfile.TemporaryDirectory())
        standin = KubeStandin(directory)
        stack.callback(standin.stop)
        yield standin


@pytest.fixture
def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KubeStandin]:
    """A stand-in with ``KUBECONFIG`` pointing at it (HOME moved away so ~/.kube is never read)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    with kube_standin(tmp_path) as standin:
        monkeypatch.setenv("KUBECONFIG", str(standin.kubeconfig_path))
        yield standin
