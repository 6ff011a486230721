"""The platform bench/scale.py measures: rows inserted straight into PostgreSQL, domains defined on libvirt's
test hypervisor.

The probe — the bench user's personal project and the reconciled host — holds the same things at
every size, so what changes between sizes is only the rest of the platform:

- the probe project: ``PROBE_INSTANCES`` mini PCs, ``PROBE_APPS`` apps, ``PROBE_BUCKETS`` buckets,
  ``PROBE_AUDIT`` audit entries of its user, and a finished job per resource;
- the rest: ``projects`` other projects (one owner each), over which the remaining mini PCs, apps
  and buckets of the size are spread round-robin, ten audit entries and one finished job per resource;
- hosts: "local" (``test:///default``, enabled, the one a reconciler pass visits) runs the probe's mini
  PCs and the first others, ``LOCAL_INSTANCES`` in all; every further ``LOCAL_INSTANCES`` mini PCs run on
  a host of their own, registered disabled, so that a pass at every size visits the same one host;
- libvirt: ``domains`` domains on ``test:///default``: one per mini PC of "local" (running or shut off as
  its row says) and the rest other software's (not named ``mc-``), plus a disk volume per mini PC in
  minicloud's pool.

Every statement is parameterized; ``setup`` and then ``grow`` (rows up to a size) run on one
connection, which holds the temporary numbering of the projects.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import libvirt

PROBE_INSTANCES, PROBE_APPS, PROBE_BUCKETS, PROBE_AUDIT = 60, 20, 20, 200
LOCAL_INSTANCES = 100
AUDIT_PER_RESOURCE = 10

_OWNERS = """
WITH u AS (
    INSERT INTO users (username, display_name, password_hash)
    SELECT 'owner' || lpad(n::text, 4, '0'), 'Owner ' || n, 'not-a-password-hash'
    FROM generate_series(1, %(projects)s::int) n RETURNING id, username
), p AS (
    INSERT INTO projects (name, personal, owner_id) SELECT username, true, id FROM u RETURNING id, owner_id
)
INSERT INTO memberships (project_id, user_id, role) SELECT id, owner_id, 'admin' FROM p
"""
# Numbered projects: the probe is number 0, the others 1..projects in creation order.
_PROJECTS = """
CREATE TEMP TABLE IF NOT EXISTS bench_projects AS
SELECT row_number() OVER (ORDER BY p.created_at, p.id) - 1 AS n, p.id, p.owner_id, u.username
FROM projects p JOIN users u ON u.id = p.owner_id WHERE p.personal
"""
# Resource number k (1-based over the whole platform) belongs to the probe for k <= probe, else to
# project 1 + (k - probe - 1) % projects. Its age: older numbers were created earlier.
_OWNER_OF = ("(SELECT id FROM bench_projects WHERE n = CASE WHEN k <= %(probe)s THEN 0"
             " ELSE 1 + (k - %(probe)s - 1) %% %(projects)s END)")
_INSTANCES = f"""
INSERT INTO instances (project_id, name, hostname, template_id, image_id, host_id, state, vcpus, ram_mib,
                       disk_gib, domain_name, nic, addresses, created_at, updated_at)
SELECT {_OWNER_OF}, 'pc' || k, 'pc' || k, %(template)s, %(image)s,
       (SELECT id FROM hosts WHERE name = CASE WHEN k <= %(local)s THEN 'local'
                                              ELSE 'rack' || lpad(((k - 1) / %(local)s)::text, 3, '0') END),
       CASE WHEN k %% 4 = 0 THEN 'stopped' ELSE 'running' END, 1, 512, 10,
       'mc-' || md5('instance' || k)::uuid, '{{"mode": "user"}}', '[]',
       now() - make_interval(secs => 1000000 - k), now()
FROM generate_series(%(first)s::int, %(last)s::int) k
"""
_APPS = f"""
INSERT INTO apps (project_id, name, k8s_name, namespace, host, image, port, replicas, ready_replicas, size, cpu,
                  memory, status, created_at, updated_at)
SELECT {_OWNER_OF}, 'app' || k, 'app' || k, 'mc-ns-' || k, 'app' || k || '.apps.example.test',
       'ghcr.io/example/web:1.2.3', 8080, 1, 1, 'small', '250m', '256Mi', 'RUNNING',
       now() - make_interval(secs => 1000000 - k), now()
FROM generate_series(%(first)s::int, %(last)s::int) k
"""
_BUCKETS = f"""
INSERT INTO buckets (project_id, name, account, object_count, bytes_used, created_at)
SELECT {_OWNER_OF}, 'bucket-' || k, 'AUTH_bench' || k, k %% 100, (k %% 100) * 4096,
       now() - make_interval(secs => 1000000 - k)
FROM generate_series(%(first)s::int, %(last)s::int) k
"""
_JOBS = f"""
INSERT INTO jobs (kind, state, project_id, target, attempts, created_at, finished_at, updated_at)
SELECT %(kind)s, 'succeeded', {_OWNER_OF}, 'bench-' || k, 1, now() - make_interval(secs => 1000000 - k), now(), now()
FROM generate_series(%(first)s::int, %(last)s::int) k
"""
# Audit entry number a belongs to resource 1 + (a - 1) / per_resource, acted on by its project's owner.
_AUDIT = """
INSERT INTO audit_log (at, user_id, username, project_id, action, method, path, target, result, status,
                       request_id, address)
SELECT now() - make_interval(secs => 1000000 - a), p.owner_id, p.username, p.id, 'instances.create', 'POST',
       '/api/v1/instances', 'pc' || a, CASE WHEN a %% 20 = 0 THEN 'failure' ELSE 'success' END,
       CASE WHEN a %% 20 = 0 THEN 409 ELSE 202 END, md5('audit' || a), '127.0.0.1'
FROM generate_series(%(first)s::int, %(last)s::int) a
JOIN bench_projects p ON p.n = CASE WHEN a <= %(probe)s THEN 0
                                    ELSE 1 + ((a - %(probe)s - 1) / %(per)s) %% %(projects)s END
"""


@dataclass
class Rows:
    """What has been inserted so far: ``size`` resources of each kind, the probe's included."""

    projects: int
    template_id: Any
    image_id: Any
    size: int = 0


def setup(conn, rows: Rows, largest: int) -> None:
    """Owners and their projects, the numbering of projects, and the disabled hosts ``largest`` needs."""
    conn.execute(_OWNERS, {"projects": rows.projects})
    conn.execute(_PROJECTS)
    conn.execute("INSERT INTO hosts (name, uri, enabled) SELECT 'rack' || lpad(n::text, 3, '0'),"
                 " 'test:///rack' || n, false FROM generate_series(1, %(n)s::int) n",
                 {"n": (largest - 1) // LOCAL_INSTANCES})


def grow(conn, rows: Rows, size: int) -> None:
    """Insert resources ``rows.size + 1 .. size`` of every kind, their jobs and audit entries."""
    first, last = rows.size + 1, size
    common = {"first": first, "last": last, "projects": rows.projects}
    conn.execute(_INSTANCES, {**common, "probe": PROBE_INSTANCES, "local": LOCAL_INSTANCES,
                              "template": rows.template_id, "image": rows.image_id})
    conn.execute(_APPS, {**common, "probe": PROBE_APPS})
    conn.execute(_BUCKETS, {**common, "probe": PROBE_BUCKETS})
    for kind, probe in (("instance.create", PROBE_INSTANCES), ("app.deploy", PROBE_APPS)):
        conn.execute(_JOBS, {**common, "kind": kind, "probe": probe})
    conn.execute(_AUDIT, {"first": (first - 1) * AUDIT_PER_RESOURCE + 1, "last": last * AUDIT_PER_RESOURCE,
                          "probe": PROBE_AUDIT, "per": AUDIT_PER_RESOURCE, "projects": rows.projects})
    rows.size = size


def define_domains(conn_uri: str, database, domains: int, pool_name: str, pool_path: str) -> libvirt.virConnect:
    """The host's domains and volumes (see the module docstring); returns the connection, which must
    stay open for the test hypervisor to keep them."""
    rows = database.fetchall("SELECT i.domain_name, i.state FROM instances i JOIN hosts h ON h.id = i.host_id"
                             " WHERE h.name = 'local' ORDER BY i.domain_name")
    conn = libvirt.open(conn_uri)
    xml = "<domain type='test'><name>{}</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>"
    pool = conn.storagePoolDefineXML(f"<pool type='dir'><name>{pool_name}</name>"
                                     f"<target><path>{pool_path}</path></target></pool>", 0)
    pool.create(0)
    names = [(row["domain_name"], row["state"]) for row in rows]
    names += [(f"other-{n:04}", "running") for n in range(domains - len(names))]
    for name, state in names:
        domain = conn.defineXML(xml.format(name))
        if state == "running":
            domain.create()
    for name, _ in names[:len(rows)]:
        pool.createXML(f"<volume><name>{name}-disk.qcow2</name><capacity unit='MiB'>1</capacity></volume>", 0)
    return conn
