"""Mini PCs (instances): validation, quotas, the state machine, and the jobs that carry the work out.

The state machine (ARCHITECTURE.md)::

    pending -> building -> running
    running -> stopping -> stopped      stopped -> starting -> running
    running -> rebooting -> running     stopped -> resizing -> stopped
    (any live state) -> deleting -> deleted
    any step may end in error (status_reason says why)

An instance in ``error`` may be started (the driver starts the domain if it
exists; otherwise it ends in error again) or deleted. Every action moves the
state with ``UPDATE … WHERE state = ANY(allowed)`` and enqueues its job in the
same transaction, so two racing requests cannot both act; an action the state
does not allow is a 409 naming the allowed ones.

This module is the one owner of an instance's row (and its GPU assignments): the
jobs finish a transition by calling ``place``, ``built``, ``stopped`` … and the
reconciler by calling ``follow_domain``; none of them writes SQL of its own
(tests/unit/test_state_owners.py holds that). Errors and ``status_reason`` are
catalog keys with parameters, put in the caller's language by the web layer.
"""
from __future__ import annotations

import re
import time
import uuid
import warnings
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Iterator

import psycopg
import psycopg.errors
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from minicloud.config import Config
from minicloud.db.pool import Database
from minicloud.drivers.compute.base import DOMAIN_PREFIX, ComputeError, GpuDevice, HostUnavailable, InstanceSpec
from minicloud.errors import Conflict, NotFoundError, ServiceUnavailable, ValidationFailed
from minicloud.db import queue
from minicloud.services.console_text import mask_text
from minicloud.services.hosts import Placement
from minicloud.services.pagination import MAX_LIMIT, Keyset
from minicloud.services.principal import Principal, ProjectRef

if TYPE_CHECKING:
    from minicloud.services import Services

STATES = ("pending", "building", "running", "stopping", "stopped", "starting", "rebooting", "resizing",
          "deleting", "deleted", "error")
LIVE_STATES = tuple(s for s in STATES if s not in ("deleting", "deleted"))
# action -> (states it is allowed in, the transitional state it moves to, the job that finishes it)
ACTIONS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "start": (("stopped", "error"), "starting", "instance.start"),
    "stop": (("running",), "stopping", "instance.stop"),
    "reboot": (("running",), "rebooting", "instance.reboot"),
    "resize": (("stopped",), "resizing", "instance.resize"),
    "delete": (LIVE_STATES, "deleting", "instance.delete"),
}
NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
NAME_PATTERN = NAME.pattern
_COLUMNS = ("i.id, i.project_id, i.name, i.hostname, i.template_id, i.image_id, i.keypair_id, i.host_id, i.state,"
            " i.status_key, i.status_reason, i.vcpus, i.ram_mib, i.disk_gib, i.gpus, i.domain_name, i.nic,"
            " i.addresses, i.artefacts, i.created_at, i.updated_at,"
            " t.name AS template_name, im.name AS image_name, im.default_user, k.name AS keypair_name,"
            " h.name AS host_name, i.subnet_id, host(i.private_ip) AS private_ip, s.vpc_id,"
            " host(p.address) AS public_ip")
_ORDER = Keyset((("i.created_at", "time", "created_at"), ("i.id", "uuid", "id")), descending=True)
_FROM = (" FROM instances i JOIN templates t ON t.id = i.template_id JOIN images im ON im.id = i.image_id"
         " LEFT JOIN keypairs k ON k.id = i.keypair_id LEFT JOIN hosts h ON h.id = i.host_id"
         " LEFT JOIN subnets s ON s.id = i.subnet_id LEFT JOIN public_ips p ON p.instance_id = i.id")
# ANSI/VT100 control sequences a serial console carries (ESC[6n, colours ...) and lone NULs.
_TERMINAL_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x00")
_SECRET_LINE = re.compile(r"^(\s*-?\s*(?:hashed_passwd|passwd|password|plain_text_passwd)\s*:\s*).*$",
                          re.IGNORECASE | re.MULTILINE)


def allowed_actions(state: str) -> list[str]:
    return [name for name, (states, _, _) in ACTIONS.items() if state in states]


def hash_password(password: str) -> str:
    """A crypt(3) SHA-512 hash (``$6$…``), what cloud-init's ``passwd`` takes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))


def mask_secrets(text: str) -> str:
    return _SECRET_LINE.sub(lambda m: m.group(1) + "********", text or "")


def check_name(name: str | None) -> str:
    """The guest hostname for ``name`` (lowercased RFC 1123 label); 422 when missing or not one."""
    if name is None or not str(name).strip():
        raise ValidationFailed({"name": "instance.name_required"}, key="instance.name_required")
    if not isinstance(name, str) or not NAME.match(name):
        raise ValidationFailed({"name": "instance.name_rule"}, key="instance.name_rule")
    return name.lower()


class Instances:
    def __init__(self, db: Database, config: Config, services: Services):
        self.db = db
        self.config = config
        self.services = services

    # -- reading ---------------------------------------------------------------------------------
    def _row(self, conn: psycopg.Connection, instance_id: uuid.UUID, project_id: uuid.UUID | None = None
             ) -> dict | None:
        sql = f"SELECT {_COLUMNS}{_FROM} WHERE i.id = %s AND i.state <> 'deleted'"
        params: list = [instance_id]
        if project_id is not None:
            sql += " AND i.project_id = %s"
            params.append(project_id)
        return conn.execute(sql, params).fetchone()

    def _owned(self, project: ProjectRef, instance_id: uuid.UUID) -> dict:
        """The project's live instance, or 404 (another project's instance is "not found" too)."""
        with self.db.connection() as conn:
            row = self._row(conn, instance_id, project.id)
        if row is None:
            raise NotFoundError("instance.not_found")
        return row

    def row(self, instance_id: uuid.UUID | str, include_deleted: bool = False) -> dict | None:
        """The instance row with its template, image, key pair and host names (for jobs)."""
        where = "" if include_deleted else " AND i.state <> 'deleted'"
        return self.db.fetchone(f"SELECT {_COLUMNS}, i.password_hash, i.user_data{_FROM} WHERE i.id = %s{where}",
                                (instance_id,))

    def view(self, row: dict, detail: bool = False, groups: list[dict] | None = None) -> dict:
        """What the API shows of an instance (never the password hash or the user-data); ``status_reason``
        is why it is in error as (catalog key, {"cause": ...}), for the web layer to put in words.
        ``groups`` are its security groups when the caller read them already (a list reads them at once)."""
        if groups is None:
            groups = self.services.security_groups.of_instances([row["id"]]).get(row["id"], [])
        reason = row["status_reason"]
        if row["status_key"]:
            reason = (row["status_key"], {"cause": row["status_reason"] or ""})
        out = {
            "id": row["id"], "project_id": row["project_id"], "name": row["name"], "hostname": row["hostname"],
            "state": row["state"], "status_reason": reason,
            "template": {"id": row["template_id"], "name": row["template_name"]},
            "image": {"id": row["image_id"], "name": row["image_name"]},
            "keypair": {"id": row["keypair_id"], "name": row["keypair_name"]} if row["keypair_id"] else None,
            "host": {"id": row["host_id"], "name": row["host_name"]} if row["host_id"] else None,
            "vcpus": row["vcpus"], "ram_mib": row["ram_mib"], "disk_gib": row["disk_gib"], "gpus": row["gpus"],
            "addresses": row["addresses"] or [],
            "subnet_id": row["subnet_id"], "vpc_id": row["vpc_id"], "private_ip": row["private_ip"],
            "public_ip": row["public_ip"], "security_groups": groups,
            "connect": self.services.networking.connection_info(row, row["default_user"]),
            "allowed_actions": allowed_actions(row["state"]),
            "created_at": row["created_at"], "updated_at": row["updated_at"],
        }
        if detail:
            artefacts = dict(row["artefacts"] or {})
            for key in ("user_data", "meta_data", "network_config"):
                if key in artefacts:
                    artefacts[key] = mask_secrets(artefacts[key])
            out["domain_name"] = row["domain_name"]
            out["nic"] = row["nic"]
            out["artefacts"] = artefacts
        return out

    def get(self, project: ProjectRef, instance_id: uuid.UUID) -> dict:
        row = self._owned(project, instance_id)
        if row["state"] == "running" and row["host_id"] and not row["addresses"] \
                and (row["nic"] or {}).get("mode") == "network":
            row["addresses"] = self._refresh_addresses(row)
        return self.view(row, detail=True)

    def _refresh_addresses(self, row: dict) -> list[str]:
        """A guest on a libvirt network gets its address by DHCP after boot: ask the host once more."""
        try:
            host = self.services.hosts.get(row["host_id"])
            addresses = list(self.services.hosts.driver_for(host).addresses(row["domain_name"]))
        except Exception:  # noqa: BLE001 - the page shows "no address yet" rather than an error
            return []
        if addresses:
            self.db.execute("UPDATE instances SET addresses = %s WHERE id = %s", (Jsonb(addresses), row["id"]))
        return addresses

    def console_send(self, project: ProjectRef, instance_id: uuid.UUID, text: str) -> None:
        """Type ``text`` on a running mini PC's serial console (409 unless it is running)."""
        row = self._owned(project, instance_id)
        if row["state"] != "running" or row["host_id"] is None:
            raise Conflict("instance.console_not_running", code="invalid_state", state=row["state"])
        host = self.services.hosts.get(row["host_id"])
        try:
            self.services.hosts.driver_for(host).console_send(row["domain_name"], text)
        except HostUnavailable as exc:
            raise ServiceUnavailable("instance.host_unavailable", cause=str(exc)) from None
        except ComputeError as exc:
            raise Conflict("instance.console_failed", code="console_failed", cause=str(exc)) from None

    def console_log(self, project: ProjectRef, instance_id: uuid.UUID, max_bytes: int = 65536) -> str:
        """The tail of the guest's serial console as text to read: terminal control sequences (cursor
        queries, colours) removed; "" before it is placed, or when its host does not answer."""
        row = self._owned(project, instance_id)
        if row["host_id"] is None:
            return ""
        try:
            host = self.services.hosts.get(row["host_id"])
            return mask_text(_TERMINAL_CONTROL.sub("", self.services.hosts.driver_for(host).console_log(
                row["domain_name"], max_bytes)))
        except ComputeError:
            return ""

    def console_reader(self, project: ProjectRef, instance_id: uuid.UUID) -> Callable[[int | None], tuple[bytes, int]]:
        """``read(offset)``: the raw bytes of the project's mini PC's console log from ``offset`` on (None: its
        tail) and the next offset (see ComputeDriver.console_read); (b"", offset) until it is placed. 404 for
        another project's; ``read`` raises ServiceUnavailable when the log cannot be read. Unmasked: callers
        show it through services.console_text. Once the mini PC is placed, reading takes no database
        connection (a stream calls it several times a second for minutes)."""
        row = self._owned(project, instance_id)
        hosts, domain = self.services.hosts, row["domain_name"]
        driver: list = []
        asked = [0.0]

        def read(offset: int | None) -> tuple[bytes, int]:
            if not driver:
                host_id = row["host_id"]
                if host_id is None and time.monotonic() - asked[0] >= 2:  # not placed yet: ask now and then
                    asked[0] = time.monotonic()
                    found = self.db.fetchone("SELECT host_id FROM instances WHERE id = %s", (instance_id,))
                    host_id = found["host_id"] if found else None
                if host_id is None:
                    return b"", offset or 0
                driver.append(hosts.driver_for(hosts.get(host_id)))
            try:
                return driver[0].console_read(domain, offset)
            except ComputeError as exc:
                raise ServiceUnavailable("instance.host_unavailable", cause=str(exc)) from None

        return read

    def list(self, project: ProjectRef, *, limit: int = MAX_LIMIT, cursor: str | None = None,
             state: str | None = None) -> dict:
        """A page of the project's instances, newest first (``?state=`` filters; deleted ones are not listed)."""
        where, params = ["i.project_id = %(project)s", "i.state <> 'deleted'"], {"project": project.id}
        if state:
            where.append("i.state = %(state)s")
            params["state"] = state
        result = _ORDER.fetch(self.db, f"SELECT {_COLUMNS}{_FROM}", where, params, limit, cursor)
        groups = self.services.security_groups.of_instances([r["id"] for r in result["items"]])
        result["items"] = [self.view(r, groups=groups.get(r["id"], [])) for r in result["items"]]
        return result

    def counts(self, project_id: uuid.UUID) -> dict[str, int]:
        rows = self.db.fetchall("SELECT state, count(*) AS n FROM instances WHERE project_id = %s"
                                " AND state <> 'deleted' GROUP BY state", (project_id,))
        counts = {s: 0 for s in STATES if s != "deleted"}
        counts.update({r["state"]: r["n"] for r in rows})
        counts["total"] = sum(r["n"] for r in rows)
        return counts

    # -- creating --------------------------------------------------------------------------------
    def create(self, principal: Principal, project: ProjectRef, body: dict) -> dict:
        """Validate, check the quota, insert the instance ``pending`` and enqueue ``instance.create`` — atomically."""
        hostname = check_name(body.get("name"))
        password = body.get("password")
        password_hash = hash_password(password) if password else None
        instance_id = uuid.uuid4()
        try:
            with self.db.connection() as conn:
                template = self.services.templates.get(body["template_id"], conn)
                if template is None or not template["enabled"]:
                    raise ValidationFailed({"template_id": "instance.template_unavailable"},
                                           key="instance.template_unavailable")
                if body.get("image_id"):
                    image = self.services.images.get(body["image_id"], conn)
                else:
                    image = self.services.images.default(conn)
                if image is None or not image["enabled"]:
                    raise ValidationFailed({"image_id": "instance.image_unavailable"}, key="instance.image_unavailable")
                if template["disk_gib"] < image["min_disk_gib"]:
                    raise ValidationFailed({"template_id": ("instance.disk_too_small", {"min": image["min_disk_gib"]})},
                                           key="instance.disk_too_small", min=image["min_disk_gib"])
                keypair_id = None
                if body.get("keypair_id"):
                    try:
                        keypair_id = self.services.keypairs.get(project.id, body["keypair_id"], conn)["id"]
                    except NotFoundError:
                        raise ValidationFailed({"keypair_id": "keypair.not_found"}, key="keypair.not_found") from None
                self.services.quotas.reserve(conn, project.id, {
                    "instances": 1, "vcpus": template["vcpus"], "ram_mib": template["ram_mib"],
                    "disk_gib": template["disk_gib"]})
                subnet_id, private_ip, groups = self._network_place(conn, project, body)
                conn.execute(
                    "INSERT INTO instances (id, project_id, name, hostname, template_id, image_id, keypair_id, state,"
                    " vcpus, ram_mib, disk_gib, gpus, domain_name, password_hash, user_data, created_by,"
                    " subnet_id, private_ip)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, 'pending', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (instance_id, project.id, body["name"], hostname, template["id"], image["id"], keypair_id,
                     template["vcpus"], template["ram_mib"], template["disk_gib"], template["gpus"],
                     f"{DOMAIN_PREFIX}{instance_id}", password_hash, body.get("user_data"), principal.user_id,
                     subnet_id, private_ip))
                if subnet_id is not None:
                    self.services.security_groups.set_for_instance(conn, instance_id, groups)
                row, job = self._enqueue(conn, principal, project, instance_id, "instance.create")
        except psycopg.errors.UniqueViolation:
            raise Conflict("instance.name_taken", code="name_taken", name=body["name"]) from None
        return self._accepted(row, job)

    def _network_place(self, conn: psycopg.Connection, project: ProjectRef, body: dict) -> tuple:
        """In the creating transaction: (subnet id, private IP, security group ids) of the new NIC — the
        given subnet (422 naming ``subnet_id`` when not the project's) or the project's default VPC's, made
        on first use; the given groups of that VPC or its default group; the subnet's lowest free address."""
        subnet_id, group_ids = body.get("subnet_id"), body.get("security_group_ids")
        if subnet_id is None:
            subnet_id = self.services.vpcs.ensure_default(conn, project.id)["subnet_id"]
        try:
            subnet = self.services.subnets.get(project.id, subnet_id, conn)
        except NotFoundError as exc:
            raise ValidationFailed({"subnet_id": exc.key}, key=exc.key) from None
        groups = self.services.security_groups.resolve_for_instance(conn, project.id, subnet["vpc_id"], group_ids)
        return subnet["id"], self.services.subnets.allocate_ip(conn, subnet["id"]), groups

    def set_security_groups(self, project: ProjectRef, instance_id: uuid.UUID, group_ids: list) -> dict:
        """The instance's groups become ``group_ids`` (1–5 of its VPC's), on a running guest too: only the
        database changes and the host is asked to apply (no restart). 409 for a mini PC without a subnet."""
        with self.db.connection() as conn:
            current = conn.execute("SELECT subnet_id FROM instances WHERE id = %s AND project_id = %s"
                                   " AND state NOT IN ('deleting', 'deleted') FOR UPDATE",
                                   (instance_id, project.id)).fetchone()
            if current is None:
                raise NotFoundError("instance.not_found")
            if current["subnet_id"] is None:
                raise Conflict("networks.instance_without_subnet", code="no_subnet")
            row = self._row(conn, instance_id, project.id)
            groups = self.services.security_groups.resolve_for_instance(conn, project.id, row["vpc_id"], group_ids)
            self.services.security_groups.set_for_instance(conn, instance_id, groups)
            conn.execute("UPDATE instances SET updated_at = now() WHERE id = %s", (instance_id,))
            row = self._row(conn, instance_id, project.id)
            shown = self.services.security_groups.of_instances([instance_id], conn)[instance_id]
        return self.view(row, detail=True, groups=shown)

    def rename(self, project: ProjectRef, instance_id: uuid.UUID, name: str) -> dict:
        check_name(name)
        try:
            with self.db.connection() as conn:
                done = conn.execute("UPDATE instances SET name = %s, updated_at = now()"
                                    " WHERE id = %s AND project_id = %s AND state <> 'deleted'",
                                    (name, instance_id, project.id)).rowcount
                row = self._row(conn, instance_id, project.id)
        except psycopg.errors.UniqueViolation:
            raise Conflict("instance.name_taken", code="name_taken", name=name) from None
        if not done or row is None:
            raise NotFoundError("instance.not_found")
        return self.view(row, detail=True)

    # -- actions ---------------------------------------------------------------------------------
    def _transition(self, conn: psycopg.Connection, project: ProjectRef, instance_id: uuid.UUID, action: str
                    ) -> dict:
        """Inside the caller's transaction: move to the action's transitional state, or 404 / 409."""
        allowed, to_state, _ = ACTIONS[action]
        moved = conn.execute(
            "UPDATE instances SET state = %s, status_key = NULL, status_reason = NULL, updated_at = now()"
            " WHERE id = %s AND project_id = %s AND state = ANY(%s) RETURNING id",
            (to_state, instance_id, project.id, list(allowed))).fetchone()
        if moved is None:
            current = conn.execute("SELECT state FROM instances WHERE id = %s AND project_id = %s"
                                   " AND state <> 'deleted'", (instance_id, project.id)).fetchone()
            if current is None:
                raise NotFoundError("instance.not_found")
            can = allowed_actions(current["state"])
            raise Conflict("instance.invalid_state", code="invalid_state",
                           details={"state": current["state"], "action": action, "allowed": can},
                           action=action, state=current["state"], allowed=", ".join(can) or "-")
        return moved

    def act(self, principal: Principal, project: ProjectRef, instance_id: uuid.UUID, action: str,
            payload: dict | None = None) -> dict:
        """start | stop | reboot | delete: the transitional state now, the job enqueued with it."""
        with self.db.connection() as conn:
            self._transition(conn, project, instance_id, action)
            row, job = self._enqueue(conn, principal, project, instance_id, ACTIONS[action][2], payload)
        return self._accepted(row, job)

    def resize(self, principal: Principal, project: ProjectRef, instance_id: uuid.UUID,
               template_id: uuid.UUID) -> dict:
        """Stopped only: the new template's vCPUs and RAM, the growth checked against the quota atomically.

        The disk keeps its size (the driver contract resizes CPUs and memory); a GPU count cannot change.
        """
        with self.db.connection() as conn:
            current = self._row(conn, instance_id, project.id)
            if current is None:
                raise NotFoundError("instance.not_found")
            template = self.services.templates.get(template_id, conn)
            if template is None or not template["enabled"]:
                raise ValidationFailed({"template_id": "instance.template_unavailable"},
                                       key="instance.template_unavailable")
            if template["gpus"] != current["gpus"]:
                raise ValidationFailed({"template_id": "instance.resize_gpus"}, key="instance.resize_gpus")
            self._transition(conn, project, instance_id, "resize")
            before = conn.execute("SELECT vcpus, ram_mib, template_id FROM instances WHERE id = %s",
                                  (instance_id,)).fetchone()
            self.services.quotas.reserve(conn, project.id, {
                "vcpus": template["vcpus"] - before["vcpus"], "ram_mib": template["ram_mib"] - before["ram_mib"]})
            conn.execute("UPDATE instances SET vcpus = %s, ram_mib = %s, template_id = %s WHERE id = %s",
                         (template["vcpus"], template["ram_mib"], template["id"], instance_id))
            row, job = self._enqueue(conn, principal, project, instance_id, "instance.resize", {
                "previous": {"vcpus": before["vcpus"], "ram_mib": before["ram_mib"],
                             "template_id": str(before["template_id"])}})
        return self._accepted(row, job)

    def _enqueue(self, conn: psycopg.Connection, principal: Principal, project: ProjectRef,
                 instance_id: uuid.UUID, kind: str, extra: dict | None = None) -> tuple[dict, dict]:
        """In the caller's transaction: the job that carries out ``kind``, and the instance row as it now is."""
        job = queue.enqueue(conn, kind, {"instance_id": str(instance_id), **(extra or {})},
                            project_id=project.id, user_id=principal.user_id, target=str(instance_id),
                            max_attempts=int(self.config.get("jobs.max_attempts")))
        return self._row(conn, instance_id), job

    def _accepted(self, row: dict, job: dict) -> dict:
        """The 202 answer: the instance in its transitional state, with the operation that moves it on."""
        out = self.view(row)
        out["operation_id"] = job["id"]
        return out

    # -- the jobs' and the reconciler's transitions -----------------------------------------------
    @contextmanager
    def lock(self, instance_id: uuid.UUID | str) -> Iterator[None]:
        """One job at a time per instance (a session advisory lock on a connection of its own)."""
        with psycopg.connect(self.config.database_url, autocommit=True, row_factory=dict_row) as conn:
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (f"minicloud:instance:{instance_id}",))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))",
                             (f"minicloud:instance:{instance_id}",))

    def _move(self, instance_id: uuid.UUID | str, from_states: tuple[str, ...], to_state: str, *,
              unchanged_since: datetime | None = None, **fields) -> bool:
        """``state = to_state`` (plus ``fields``) when the state is one of ``from_states`` (and, given
        ``unchanged_since``, the row's ``updated_at`` is still that); False otherwise."""
        sets = ["state = %(to)s", "updated_at = now()"]
        params = {"id": instance_id, "from": list(from_states), "to": to_state, "seen": unchanged_since}
        for name, value in fields.items():
            sets.append(f"{name} = %({name})s")
            params[name] = Jsonb(value) if isinstance(value, (dict, list)) else value
        unchanged = " AND updated_at = %(seen)s" if unchanged_since is not None else ""
        return self.db.execute(f"UPDATE instances SET {', '.join(sets)} WHERE id = %(id)s"
                               f" AND state = ANY(%(from)s){unchanged}", params) == 1

    def place(self, instance: dict) -> Placement:
        """pending -> building on the host placement chooses now, with its GPUs assigned and its NIC planned,
        in one transaction under the placement lock (a delete asked for meanwhile keeps the instance unplaced;
        its job frees the GPUs). Raises ``NoRoom``, ``NoFreePort``, or ``HostUnavailable`` when no host
        answers; nothing is recorded then."""
        infos = self.services.hosts.infos()
        with self.db.connection() as conn:
            placement = self.services.hosts.choose(conn, instance, infos)
            host = placement.host
            for gpu in placement.gpus:
                conn.execute("INSERT INTO gpu_assignments (host_id, address, instance_id) VALUES (%s, %s, %s)",
                             (host["id"], gpu.address, instance["id"]))
            nic = self.services.networking.plan_nic(conn, instance, host)
            conn.execute("UPDATE instances SET host_id = %s, nic = %s, state = 'building', updated_at = now()"
                         " WHERE id = %s AND state IN ('pending', 'building')",
                         (host["id"], Jsonb(self.services.networking.as_json(nic)), instance["id"]))
        return placement

    def building(self, instance_id: uuid.UUID | str) -> bool:
        """pending -> building for an instance placed before (a create job run again)."""
        return self._move(instance_id, ("pending",), "building")

    def built(self, instance_id: uuid.UUID | str, artefacts: dict, addresses: list[str]) -> bool:
        """building -> running, with what the driver rendered and the guest's addresses."""
        return self._move(instance_id, ("building",), "running", artefacts=artefacts, addresses=addresses,
                          status_key=None, status_reason=None)

    def started(self, instance_id: uuid.UUID | str) -> bool:
        """starting -> running (an instance started from ``error`` forgets why it was there)."""
        return self._move(instance_id, ("starting",), "running", status_key=None, status_reason=None)

    def stopped(self, instance_id: uuid.UUID | str) -> bool:
        return self._move(instance_id, ("stopping",), "stopped")

    def rebooted(self, instance_id: uuid.UUID | str) -> bool:
        return self._move(instance_id, ("rebooting",), "running")

    def resized(self, instance_id: uuid.UUID | str, artefacts: dict) -> bool:
        """resizing -> stopped, with the domain XML the driver redefined."""
        return self._move(instance_id, ("resizing",), "stopped", artefacts=artefacts)

    def undo_resize(self, instance_id: uuid.UUID | str, previous: dict) -> None:
        """Give the growth a failed resize reserved back: the vCPUs, RAM and template it had before."""
        self.db.execute("UPDATE instances SET vcpus = %s, ram_mib = %s, template_id = %s WHERE id = %s",
                        (previous["vcpus"], previous["ram_mib"], previous["template_id"], instance_id))

    def deleted(self, instance_id: uuid.UUID | str) -> None:
        """deleting -> deleted, its GPUs free again (its domain and volumes are gone); its NIC leaves its
        subnet and groups (the address is free again; the row keeps ``private_ip`` as history)."""
        with self.db.connection() as conn:
            conn.execute("DELETE FROM gpu_assignments WHERE instance_id = %s", (instance_id,))
            gone = conn.execute("SELECT subnet_id FROM instances WHERE id = %s AND state = 'deleting' FOR UPDATE",
                                (instance_id,)).fetchone()
            conn.execute("UPDATE instances SET state = 'deleted', subnet_id = NULL, updated_at = now()"
                         " WHERE id = %s AND state = 'deleting'", (instance_id,))
            if gone is not None and gone["subnet_id"] is not None:
                self.services.security_groups.set_for_instance(conn, instance_id, [])

    def fail(self, instance_id: uuid.UUID | str, key: str, cause: str,
             from_states: tuple[str, ...] = LIVE_STATES) -> None:
        """-> error, with a catalog key and the cause a person can read, when the state is one of ``from_states``
        (a job passes the states it works on, so a failing create does not undo a delete asked for meanwhile)."""
        self.db.execute("UPDATE instances SET state = 'error', status_key = %s, status_reason = %s, updated_at = now()"
                        " WHERE id = %s AND state = ANY(%s)", (key, cause[:1000], instance_id, list(from_states)))

    def live_on(self, host_id: uuid.UUID) -> list[dict]:
        """id, domain_name, state and updated_at of every instance placed on the host and not deleted."""
        return self.db.fetchall("SELECT id, domain_name, state, updated_at FROM instances WHERE host_id = %s"
                                " AND state <> 'deleted'", (host_id,))

    def domain_names(self, among: Iterable[str]) -> set[str]:
        """Which of the domain names ``among`` an instance not deleted owns, on any host (an index lookup
        per name; no query for no names)."""
        names = sorted(set(among))
        if not names:
            return set()
        rows = self.db.fetchall("SELECT domain_name FROM instances WHERE state <> 'deleted'"
                                " AND domain_name = ANY(%s)", (names,))
        return {r["domain_name"] for r in rows}

    def follow_domain(self, seen: dict, to_state: str, key: str | None) -> bool:
        """The reconciler: the instance ``seen`` (a ``live_on`` row, read before the domains were listed)
        -> ``to_state`` (``key`` says why, e.g. "instance.domain_missing"), unless anything moved it since
        that row was read (its ``updated_at`` changed): a job or request that acted after the listing
        wins over what the listing showed. True when it moved."""
        return self._move(seen["id"], (seen["state"],), to_state, unchanged_since=seen["updated_at"],
                          status_key=key, status_reason=None)

    def gpus_of(self, instance_id: uuid.UUID | str) -> list[str]:
        return [r["address"] for r in self.db.fetchall(
            "SELECT address FROM gpu_assignments WHERE instance_id = %s ORDER BY address", (instance_id,))]

    def spec(self, instance: dict, gpus: tuple[GpuDevice, ...]) -> InstanceSpec:
        image = self.services.images.get(instance["image_id"])
        keys: tuple[str, ...] = ()
        if instance["keypair_id"]:
            found = self.db.fetchone("SELECT public_key FROM keypairs WHERE id = %s", (instance["keypair_id"],))
            keys = (found["public_key"],) if found else ()
        return InstanceSpec(
            domain_name=instance["domain_name"], instance_id=str(instance["id"]), hostname=instance["hostname"],
            vcpus=instance["vcpus"], ram_mib=instance["ram_mib"], disk_gib=instance["disk_gib"],
            image=self.services.images.spec(image), nic=self.services.networking.from_json(instance["nic"]),
            ssh_keys=keys, password_hash=instance["password_hash"], user_data=instance["user_data"], gpus=gpus)
