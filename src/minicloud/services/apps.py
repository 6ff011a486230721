"""Apps (UC-03): container images deployed to Kubernetes with an automatic URL.

CONTRACT (the pages and API handlers rely on these signatures):

    create(project_id, body) -> app dict                     # body: {name, image, port, replicas?, env?, size?}
                                                             # status "PENDING"; a job deploys it
    list(project_id) -> {"summary": {"total": n, "running": n}, "items": [app dict]}
    get(project_id, app_id) -> app dict + {"events": [{"type","reason","message","at"}], "manifests": [dict]}
    redeploy(project_id, app_id, image=None) -> app dict     # a rollout (patch), job
    scale(project_id, app_id, replicas) -> app dict          # within the quota, job
    logs(project_id, app_id, tail=100) -> {"lines": [str]}
    delete(project_id, app_id) -> app dict                   # status "DELETING"; a job removes every object
    sizes() -> {"small": {"cpu": "250m", "memory": "256Mi"}, ...}    # the deploy form's choices
    cluster() -> {"configured": bool, "server": str | None, "message": (key, params) | None}  # never raises

    app dict: {"id", "name", "k8s_name", "url", "host", "image", "port", "replicas", "ready_replicas",
               "size", "env", "status", "message", "created_at", "updated_at"}
    status: "PENDING" | "RUNNING" | "IMAGE_NOT_FOUND" | "INSUFFICIENT_RESOURCES" | "CRASHING" |
            "STOPPED" | "MISSING" (removed behind the platform's back) | "DEPLOYING" | "DELETING" | "FAILED"
    message: (catalog key, params) of the sentence a person reads for that status (see locales apps.json),
             or None; the web layer puts it in the reader's language

No cluster configured → every apps call raises ServiceUnavailable("apps.no_cluster") whose
message says how to connect one (KUBECONFIG, ~/.kube/config, or running in a pod).
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime, timezone

import psycopg
import psycopg.errors
from psycopg.types.json import Json, Jsonb

from minicloud.config import Config
from minicloud.db.pool import Database
from minicloud.db.sql import update_row
from minicloud.drivers.containers.base import (AppSpec, ClusterNotConfigured, ClusterUnavailable, ContainerDriver,
                                               KubernetesError, ProjectSpec)
from minicloud.errors import Conflict, Forbidden, Keyed, NotFoundError, ServiceUnavailable, ValidationFailed
from minicloud.db import queue
from minicloud.services import app_names
from minicloud.services.app_rules import is_int, env_problem, mebibytes, millicores, valid_image
from minicloud.services.app_status import event_rows, interpret
from minicloud.services.pagination import MAX_LIMIT, Keyset

log = logging.getLogger("minicloud.services.apps")

STATUSES = ("PENDING", "RUNNING", "IMAGE_NOT_FOUND", "INSUFFICIENT_RESOURCES", "CRASHING", "STOPPED", "MISSING",
            "DEPLOYING", "DELETING", "FAILED")
CLUSTER_CHECK_SECONDS = 30.0
CRASH_LOG_LINES = 20
_COLUMNS = ("id, project_id, name, k8s_name, namespace, host, image, port, replicas, ready_replicas, size, cpu,"
            " memory, env, status, message_key, details, manifests, events, created_at, updated_at, observed_at")
_ORDER = Keyset((("created_at", "time", "created_at"), ("id", "uuid", "id")), descending=True)


class AppQuotaExceeded(Forbidden):
    code = "quota_exceeded"


class Apps:
    """Apps of projects; see the module docstring for the CONTRACT."""

    def __init__(self, db: Database, config: Config, driver: ContainerDriver, quotas):
        self.db = db
        self.config = config
        self.driver = driver
        self.quotas = quotas
        self._cluster_seen: tuple[float, object, dict] | None = None
        self._lock = threading.Lock()
        self._said_no_cluster = False

    # -- settings ---------------------------------------------------------------------------------
    def setting(self, key: str, default=None):
        return self.config.section("kubernetes").get(key, default)

    def sizes(self) -> dict[str, dict[str, str]]:
        """{"small": {"cpu": "250m", "memory": "256Mi"}, ...} from ``kubernetes.sizes`` ("cpu/memory")."""
        raw = self.setting("sizes") or {"small": "250m/256Mi", "medium": "500m/512Mi", "large": "1/1Gi"}
        if isinstance(raw, str):  # from MINICLOUD_KUBERNETES_SIZES="small=250m/256Mi,large=1/1Gi"
            raw = dict(part.split("=", 1) for part in raw.split(",") if "=" in part)
        out = {}
        for name, value in raw.items():
            cpu, _, memory = str(value).partition("/")
            out[name] = {"cpu": cpu.strip(), "memory": memory.strip()}
        return out

    @property
    def max_replicas(self) -> int:
        return int(self.setting("max_replicas", 10))

    @property
    def base_domain(self) -> str:
        return self.setting("base_domain", "apps.minicloud.test")

    # -- the cluster --------------------------------------------------------------------------------
    def cluster(self) -> dict:
        """{"configured", "server", "message"}; asks the driver at most every 30 s; never raises."""
        with self._lock:
            seen = self._cluster_seen  # (when, which driver, what it said): a swapped driver is asked afresh
            if seen and seen[1] is self.driver and time.monotonic() - seen[0] < CLUSTER_CHECK_SECONDS:
                state = seen[2]
            else:
                state = self._ask_cluster()
                self._cluster_seen = (time.monotonic(), self.driver, state)
        message = (state["key"], {"cause": state.get("cause", "")}) if state.get("key") else None
        return {"configured": state["configured"], "server": state.get("server"), "message": message}

    def _ask_cluster(self) -> dict:
        try:
            info = self.driver.cluster_info()
            return {"configured": True, "server": info.get("server")}
        except ClusterNotConfigured:
            return {"configured": False, "server": None, "key": "apps.no_cluster"}
        except Exception as exc:  # noqa: BLE001 - unreachable, refused, anything: configured but not answering
            return {"configured": True, "server": None, "key": "apps.cluster_unavailable", "cause": str(exc)[:200]}

    def _require_cluster(self) -> None:
        if not self.cluster()["configured"]:
            raise ServiceUnavailable("apps.no_cluster", code="no_cluster")

    def health(self) -> dict:
        info = self.driver.cluster_info()
        return {"server": info.get("server"), "version": info.get("version")}

    # -- reading ------------------------------------------------------------------------------------
    def _row(self, project_id, app_id, conn=None) -> dict:
        sql = f"SELECT {_COLUMNS} FROM apps WHERE id = %s AND project_id = %s"
        row = (conn.execute(sql, (app_id, project_id)).fetchone() if conn is not None
               else self.db.fetchone(sql, (app_id, project_id)))
        if row is None:
            raise NotFoundError("apps.not_found")
        return row

    def row(self, app_id) -> dict | None:
        return self.db.fetchone(f"SELECT {_COLUMNS} FROM apps WHERE id = %s", (app_id,))

    def url_of(self, host: str) -> str:
        return f"{'https' if self.setting('tls_secret') else 'http'}://{host}"

    def view(self, row: dict, detail: bool = False) -> dict:
        details = dict(row["details"] or {})
        message = (row["message_key"], {"cause": details.get("cause", "")}) if row["message_key"] else None
        out = {"id": row["id"], "name": row["name"], "k8s_name": row["k8s_name"], "namespace": row["namespace"],
               "url": self.url_of(row["host"]), "host": row["host"], "image": row["image"], "port": row["port"],
               "replicas": row["replicas"], "ready_replicas": row["ready_replicas"], "size": row["size"],
               "cpu": row["cpu"], "memory": row["memory"], "env": row["env"] or {}, "status": row["status"],
               "message": message, "details": details, "created_at": row["created_at"],
               "updated_at": row["updated_at"], "observed_at": row["observed_at"]}
        if detail:
            out["events"] = row["events"] or []
            out["manifests"] = row["manifests"] or []
        return out

    def list(self, project_id, *, limit: int = MAX_LIMIT, cursor: str | None = None) -> dict:
        """A page of the project's apps, newest first, beside the summary of all of them."""
        self._require_cluster()
        page = _ORDER.fetch(self.db, f"SELECT {_COLUMNS} FROM apps", ["project_id = %(project)s"],
                            {"project": project_id}, limit, cursor)
        counts = self.db.fetchone("SELECT count(*) AS total, count(*) FILTER (WHERE status = 'RUNNING') AS running"
                                  " FROM apps WHERE project_id = %s", (project_id,))
        return {"summary": {"total": counts["total"], "running": counts["running"]},
                "items": [self.view(r) for r in page["items"]], "next": page["next"]}

    def summary(self, project_id) -> dict:
        """The dashboard card (raises when no cluster is configured: the card says it cannot load)."""
        return self.list(project_id)["summary"]

    def get(self, project_id, app_id) -> dict:
        """The app with its events and manifests; observed afresh when no job is working on it."""
        self._require_cluster()
        row = self._row(project_id, app_id)
        if row["status"] not in ("DELETING", "FAILED") and not self._job_in_flight(app_id):
            row = self._refresh_quietly(row)
        return self.view(row, detail=True)

    def logs(self, project_id, app_id, tail: int = 100) -> dict:
        self._require_cluster()
        if not is_int(tail) or not 1 <= tail <= 1000:
            raise ValidationFailed({"tail": "apps.tail_rule"}, key="apps.tail_rule")
        row = self._row(project_id, app_id)
        try:
            lines = self.driver.logs(self.spec(row), tail)
        except KubernetesError as exc:
            if exc.status == 404:
                return {"lines": []}
            raise self._unavailable(exc) from None
        return {"lines": list(lines)}

    @staticmethod
    def _unavailable(exc: Exception) -> ServiceUnavailable:
        return ServiceUnavailable("apps.cluster_unavailable", code="cluster_unavailable", cause=str(exc)[:200])

    # -- validation ---------------------------------------------------------------------------------
    def _check_body(self, body: dict) -> dict:
        """The create body's fields, normalised; 422 naming every field that is wrong."""
        problems: dict[str, Keyed] = {}
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            problems["name"] = "apps.name_required"
        elif len(name) > 100:
            problems["name"] = "apps.name_too_long"
        if not valid_image(body.get("image")):
            problems["image"] = "apps.image_invalid"
        port = body.get("port")
        if not is_int(port) or not 1 <= port <= 65535:
            problems["port"] = "apps.port_invalid"
        replicas = body.get("replicas", 1)
        self._check_replicas(replicas, problems)
        size = body.get("size") or self.setting("default_size", "small")
        if size not in self.sizes():
            problems["size"] = ("apps.size_invalid", {"sizes": ", ".join(self.sizes())})
        env = body.get("env") or {}
        env_wrong = env_problem(env)
        if env_wrong:
            problems["env"] = env_wrong
        if problems:
            raise ValidationFailed(problems)
        return {"name": name.strip(), "image": body["image"], "port": port, "replicas": replicas, "size": size,
                "env": {k: str(v) for k, v in env.items()}}

    def _check_replicas(self, replicas, problems: dict) -> None:
        if not is_int(replicas) or not 0 <= replicas <= self.max_replicas:
            problems["replicas"] = ("apps.replicas_invalid", {"max": self.max_replicas})

    # -- quotas -------------------------------------------------------------------------------------
    def _check_room(self, conn, project_id, app_id, replicas: int, cpu: str, memory: str) -> None:
        """The project's apps (this one with ``replicas``) must fit its namespace quota (vcpus, ram_mib)."""
        limits = self.quotas.limits_in(conn, project_id)
        rows = conn.execute("SELECT replicas, cpu, memory FROM apps WHERE project_id = %s AND id <> %s",
                            (project_id, app_id)).fetchall()
        cpu_used = sum(r["replicas"] * millicores(r["cpu"]) for r in rows) + replicas * millicores(cpu)
        mem_used = sum(r["replicas"] * mebibytes(r["memory"]) for r in rows) + replicas * mebibytes(memory)
        if cpu_used > limits.get("vcpus", 0) * 1000 or mem_used > limits.get("ram_mib", 0):
            room = {"cpu": limits.get("vcpus", 0), "memory": limits.get("ram_mib", 0)}
            raise ValidationFailed({"replicas": ("apps.replicas_over_quota", room)}, key="apps.replicas_over_quota",
                                   **room)

    # -- writing ------------------------------------------------------------------------------------
    def create(self, project_id, body: dict) -> dict:
        """Validate, check the quota, insert the app PENDING with a unique host, enqueue ``app.deploy``."""
        self._require_cluster()
        wanted = self._check_body(body if isinstance(body, dict) else {})
        size = self.sizes()[wanted["size"]]
        app_id = uuid.uuid4()
        namespace = app_names.namespace_for(project_id)
        with self.db.connection() as conn:
            self.quotas.lock(conn, project_id)
            limit = self.quotas.limits_in(conn, project_id).get("apps", 0)
            used = conn.execute("SELECT count(*) AS n FROM apps WHERE project_id = %s", (project_id,)).fetchone()["n"]
            if used + 1 > limit:
                raise AppQuotaExceeded("apps.quota_exceeded", limit=limit, details={
                    "exceeded": ["apps"], "limits": {"apps": limit}, "usage": {"apps": used}})
            self._check_room(conn, project_id, app_id, wanted["replicas"], size["cpu"], size["memory"])
            self._insert(conn, project_id, app_id, namespace, wanted, size)
            self._enqueue(conn, project_id, app_id, "app.deploy")
            row = self._row(project_id, app_id, conn)
        return self.view(row)

    def _insert(self, conn, project_id, app_id, namespace: str, wanted: dict, size: dict) -> None:
        """Insert with the first free host (the unique index decides, also against racing creates)."""
        for host in app_names.host_candidates(wanted["name"], app_id, self.base_domain):
            try:
                with conn.transaction():
                    conn.execute(
                        "INSERT INTO apps (id, project_id, name, k8s_name, namespace, host, image, port, replicas,"
                        " size, cpu, memory, env, status, message_key)"
                        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'PENDING', 'apps.status.pending')",
                        (app_id, project_id, wanted["name"], app_names.k8s_name(wanted["name"], app_id), namespace,
                         host, wanted["image"], wanted["port"], wanted["replicas"], wanted["size"], size["cpu"],
                         size["memory"], Jsonb(wanted["env"])))
                return
            except psycopg.errors.UniqueViolation:
                continue
        raise Conflict("apps.host_taken", code="host_taken")

    def _job_in_flight(self, app_id, conn=None) -> bool:
        sql = "SELECT 1 FROM jobs WHERE target = %s AND kind LIKE 'app.%%' AND state IN ('queued', 'running') LIMIT 1"
        found = conn.execute(sql, (str(app_id),)).fetchone() if conn is not None else self.db.fetchone(sql, (str(app_id),))
        return found is not None

    def _enqueue(self, conn, project_id, app_id, kind: str, extra: dict | None = None) -> dict:
        return queue.enqueue(conn, kind, {"app_id": str(app_id), **(extra or {})}, project_id=project_id,
                             target=str(app_id), max_attempts=int(self.config.get("jobs.max_attempts")))

    def _writable(self, conn, project_id, app_id) -> dict:
        """The app, locked for this transaction; 409 while a job works on it or it is being deleted."""
        conn.execute("SELECT 1 FROM apps WHERE id = %s AND project_id = %s FOR UPDATE", (app_id, project_id))
        row = self._row(project_id, app_id, conn)
        if row["status"] == "DELETING" or self._job_in_flight(app_id, conn):
            raise Conflict("apps.busy", code="invalid_state", state=row["status"])
        return row

    def redeploy(self, project_id, app_id, image: str | None = None) -> dict:
        self._require_cluster()
        if image is not None and not valid_image(image):
            raise ValidationFailed({"image": "apps.image_invalid"})
        with self.db.connection() as conn:
            row = self._writable(conn, project_id, app_id)
            conn.execute("UPDATE apps SET image = %s, status = 'DEPLOYING', message_key = 'apps.status.deploying',"
                         " details = '{}', updated_at = now() WHERE id = %s", (image or row["image"], app_id))
            self._enqueue(conn, project_id, app_id, "app.redeploy")
            row = self._row(project_id, app_id, conn)
        return self.view(row)

    def scale(self, project_id, app_id, replicas) -> dict:
        self._require_cluster()
        problems: dict[str, Keyed] = {}
        self._check_replicas(replicas, problems)
        if problems:
            raise ValidationFailed(problems)
        with self.db.connection() as conn:
            self.quotas.lock(conn, project_id)
            row = self._writable(conn, project_id, app_id)
            self._check_room(conn, project_id, app_id, replicas, row["cpu"], row["memory"])
            conn.execute("UPDATE apps SET replicas = %s, status = 'DEPLOYING', message_key = 'apps.status.deploying',"
                         " details = '{}', updated_at = now() WHERE id = %s", (replicas, app_id))
            self._enqueue(conn, project_id, app_id, "app.scale")
            row = self._row(project_id, app_id, conn)
        return self.view(row)

    def delete(self, project_id, app_id) -> dict:
        self._require_cluster()
        with self.db.connection() as conn:
            self._writable(conn, project_id, app_id)
            conn.execute("UPDATE apps SET status = 'DELETING', message_key = 'apps.status.deleting', details = '{}',"
                         " updated_at = now() WHERE id = %s", (app_id,))
            self._enqueue(conn, project_id, app_id, "app.delete")
            row = self._row(project_id, app_id, conn)
        return self.view(row)

    # -- for the jobs ---------------------------------------------------------------------------------
    def project_spec(self, project_id) -> ProjectSpec:
        """The project's namespace with its quota: vcpus → limits.cpu, ram_mib → memory, apps × max replicas pods."""
        project = self.db.fetchone("SELECT id, name FROM projects WHERE id = %s", (project_id,))
        limits = self.quotas.limits(project_id)
        return ProjectSpec(namespace=app_names.namespace_for(project_id), project_id=str(project_id),
                           project_name=project["name"] if project else "", cpu_limit=str(limits.get("vcpus", 0)),
                           memory_limit=f"{limits.get('ram_mib', 0)}Mi",
                           max_pods=max(1, limits.get("apps", 0) * self.max_replicas))

    @staticmethod
    def spec(row: dict) -> AppSpec:
        return AppSpec(app_id=str(row["id"]), namespace=row["namespace"], k8s_name=row["k8s_name"], host=row["host"],
                       image=row["image"], port=row["port"], replicas=row["replicas"], cpu=row["cpu"],
                       memory=row["memory"], env=dict(row["env"] or {}))

    def _set(self, app_id, **fields) -> None:
        if not fields:
            return
        # manifests is a json column (keys kept in the order applied); the other documents are jsonb
        changes = {k: Json(v) if k == "manifests" else Jsonb(v) if k in ("details", "events", "env") else v
                   for k, v in fields.items()}
        update_row(self.db, "apps", app_id, {**changes, "updated_at": datetime.now(timezone.utc)}, "id")

    def fail(self, app_id, cause: str) -> None:
        self._set(app_id, status="FAILED", message_key="apps.status.failed", details={"cause": cause[:500]})

    def run_deploy(self, app_id) -> dict:
        """The ``app.deploy`` job: namespace (with quota, limits, policy), then the app; then observe it."""
        row = self.row(app_id)
        if row is None or row["status"] == "DELETING":
            return {"skipped": True}
        self._set(app_id, status="DEPLOYING", message_key="apps.status.deploying", details={})
        project = self.project_spec(row["project_id"])
        applied = self.driver.ensure_project(project) + self.driver.deploy(project, self.spec(row))
        self._set(app_id, manifests=applied)
        self.refresh(self.row(app_id))
        return {"applied": len(applied)}

    def run_redeploy(self, app_id) -> dict:
        """The ``app.redeploy`` job: a rollout patch; a Deployment removed behind our back is deployed again."""
        row = self.row(app_id)
        if row is None or row["status"] == "DELETING":
            return {"skipped": True}
        try:
            self.driver.redeploy(self.spec(row))
        except KubernetesError as exc:
            if exc.status != 404:
                raise
            return self.run_deploy(app_id)
        self._set(app_id, manifests=self.driver.render_project(self.project_spec(row["project_id"]))
                  + self.driver.render_app(self.spec(row)))
        self.refresh(self.row(app_id))
        return {"rolled_out": row["image"]}

    def run_scale(self, app_id) -> dict:
        row = self.row(app_id)
        if row is None or row["status"] == "DELETING":
            return {"skipped": True}
        try:
            self.driver.scale(self.spec(row), row["replicas"])
        except KubernetesError as exc:
            if exc.status != 404:
                raise
            return self.run_deploy(app_id)
        self.refresh(self.row(app_id))
        return {"replicas": row["replicas"]}

    def run_delete(self, app_id) -> dict:
        """The ``app.delete`` job: every object of the app, then its row."""
        row = self.row(app_id)
        if row is None:
            return {"deleted": True}
        self.driver.delete(self.spec(row))
        self.db.execute("DELETE FROM apps WHERE id = %s", (app_id,))
        return {"deleted": True}

    def delete_namespace(self, project_id) -> bool:
        """For a project being deleted, once its apps are gone: its namespace (with its quota, limits and
        policy). False, touching nothing, when no cluster is configured and the project has no app (it never
        had a namespace a cluster could hold). Raises the driver's errors. Repeat: safe."""
        if not self.cluster()["configured"] and not self.db.fetchone(
                "SELECT 1 FROM apps WHERE project_id = %s LIMIT 1", (project_id,)):
            return False
        self.driver.delete_project(app_names.namespace_for(project_id))
        return True

    # -- observing -----------------------------------------------------------------------------------
    def refresh(self, row: dict) -> dict:
        """Observe the app and store what it means (status, message, ready replicas, events)."""
        spec = self.spec(row)
        seen = self.driver.observe(spec)
        status, key, details = interpret(seen.deployment, seen.pods, seen.events, datetime.now(timezone.utc),
                                         float(self.setting("pending_timeout_seconds", 120)))
        if status == "CRASHING":
            try:
                details["log"] = list(self.driver.logs(spec, CRASH_LOG_LINES))
            except KubernetesError:
                details["log"] = []
        ready = int(((seen.deployment or {}).get("status") or {}).get("readyReplicas") or 0)
        self.db.execute("UPDATE apps SET status = %s, message_key = %s, details = %s, ready_replicas = %s,"
                        " events = %s, observed_at = now(), updated_at = CASE WHEN status = %s THEN updated_at"
                        " ELSE now() END WHERE id = %s AND status <> 'DELETING'",
                        (status, key, Jsonb(details), ready, Jsonb(event_rows(seen.events)), status, row["id"]))
        return self.row(row["id"]) or row

    def _refresh_quietly(self, row: dict) -> dict:
        try:
            return self.refresh(row)
        except KubernetesError:
            return row

    def refresh_all(self) -> int:
        """The periodic pass: every app no job is working on; nothing (logged once) without a cluster."""
        if not self.cluster()["configured"]:
            if not self._said_no_cluster:
                log.info("apps.refresh: no Kubernetes cluster is configured; nothing to observe")
                self._said_no_cluster = True
            return 0
        rows = self.db.fetchall(f"SELECT {_COLUMNS} FROM apps WHERE status NOT IN ('DELETING', 'FAILED')"
                                " ORDER BY observed_at NULLS FIRST")
        done = 0
        for row in rows:
            if self._job_in_flight(row["id"]):
                continue
            try:
                self.refresh(row)
                done += 1
            except ClusterUnavailable:
                break
            except KubernetesError as exc:
                log.warning("apps.refresh: %s: %s", row["id"], exc)
        return done
