"""GET /metrics: Prometheus's format, who may read it, what it counts, and the sum over processes.

The in-process tests read the metrics of this process (no PROMETHEUS_MULTIPROC_DIR here), so they
compare a scrape before and after what they do. The last test serves minicloud with two gunicorn
workers and a job worker writing to one multiprocess directory, as ``make run`` does.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import jobtypes
import psycopg
import pytest
from compute_fixtures import compute_overrides
from conftest import free_port
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from serving import serve_app
from waiting import wait_for
from werkzeug.test import Client

from minicloud import config as config_module
from minicloud.app import make_app
from minicloud.db.pool import DatabaseUnavailable
from minicloud.drivers.compute.libvirt import LibvirtDriver
from minicloud.drivers.containers.base import ClusterUnavailable
from minicloud.drivers.containers.kubernetes import KubernetesDriver
from minicloud.jobs.reconciler import reconcile
from minicloud.jobs.worker import JobContext, Worker

TESTS = Path(__file__).resolve().parents[1]
# An address of the documentation range: only what the app is told the caller's address is; no packet goes there.
ELSEWHERE = {"REMOTE_ADDR": "192.0.2.10"}
LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}  # werkzeug's test client says no address unless told
REQUESTS = "minicloud_http_requests_total"
LATENCY = "minicloud_http_request_duration_seconds"


@pytest.fixture
def config(config):
    return compute_overrides(config)


def samples_of(text: str) -> dict[tuple[str, frozenset], float]:
    """{(sample name, its labels): value} of an exposition."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def scrape(user, **kwargs) -> dict[tuple[str, frozenset], float]:
    response = user.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain" and response.headers["Cache-Control"] == "no-store"
    return samples_of(response.get_data(as_text=True))


def value(samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_requests_are_counted_by_route_endpoint_and_status_with_latency_buckets(auth, admin):
    alice = auth.user("alice")
    before = scrape(admin, environ_overrides=ELSEWHERE)
    for _ in range(3):
        assert alice.get("/api/v1/auth/me").status_code == 200
    assert alice.get(f"/api/v1/instances/{uuid.uuid4()}").status_code == 404
    assert alice.get("/no/such/page").status_code == 404
    after = scrape(admin, environ_overrides=ELSEWHERE)

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew(REQUESTS, endpoint="auth.me", status="200") == 3
    assert grew(REQUESTS, endpoint="instances.get", status="404") == 1  # the route's name, not its path
    assert grew(REQUESTS, endpoint="unmatched", status="404") == 1
    assert grew(REQUESTS, endpoint="metrics.scrape", status="200") == 1  # the first scrape
    assert grew(LATENCY + "_count", endpoint="auth.me") == 3
    assert grew(LATENCY + "_bucket", endpoint="auth.me", le="+Inf") == 3
    buckets = sorted((float(dict(labels)["le"]), count) for (name, labels), count in after.items()
                     if name == LATENCY + "_bucket" and dict(labels)["endpoint"] == "auth.me")
    assert len(buckets) > 5 and [count for _, count in buckets] == sorted(count for _, count in buckets)
    assert value(after, LATENCY + "_sum", endpoint="auth.me") > 0
    labels = {v for (name, labels), _ in after.items() if name.startswith("minicloud_http") for _, v in labels}
    assert not [v for v in labels if "/" in v]  # no raw path ever becomes a label


def test_queue_depth_instances_by_state_job_durations_and_reconcile_passes(auth, admin, compute, work, config,
                                                                           services):
    alice = auth.user("alice")
    before = scrape(admin)
    for name in ("a", "b"):
        created = alice.post("/api/v1/instances", json={"name": name, "template_id": compute["tid"]("nano")})
        assert created.status_code == 202
    queued = scrape(admin)
    assert value(queued, "minicloud_job_queue_depth", state="queued") == 3  # two builds, one coalesced network.apply
    assert value(queued, "minicloud_job_queue_depth", state="running") == 0
    assert value(queued, "minicloud_instances", state="pending") == 2
    instance_states = {dict(labels)["state"] for (name, labels) in queued if name == "minicloud_instances"}
    assert {"pending", "running", "stopped", "error"} <= instance_states and "deleted" not in instance_states
    assert value(queued, "minicloud_apps", state="RUNNING") == 0  # every state is there, zeros included

    assert work() == 3
    reconcile(JobContext(config, "test", services))
    done = scrape(admin)
    assert value(done, "minicloud_job_queue_depth", state="queued") == 0
    assert (value(done, "minicloud_instances", state="running"), value(done, "minicloud_instances", state="pending")) \
        == (2, 0)
    grown = {name: value(done, name, **labels) - value(before, name, **labels) for name, labels in [
        ("minicloud_job_duration_seconds_count", {"kind": "instance.create"}),
        ("minicloud_job_failures_total", {"kind": "instance.create"}),
        ("minicloud_reconcile_pass_duration_seconds_count", {}),
    ]}
    assert grown == {"minicloud_job_duration_seconds_count": 2, "minicloud_job_failures_total": 0,
                     "minicloud_reconcile_pass_duration_seconds_count": 1}


def test_a_job_that_raises_is_counted_as_a_failure_of_its_kind(admin, config, services, clean_db):
    with psycopg.connect(clean_db, autocommit=True) as conn:
        conn.execute(jobtypes.TABLE_SQL)
    worker = Worker(config.with_overrides({"jobs.modules": "jobtypes"}), services, name="w")
    before = scrape(admin)
    job = services.operations.submit("test.flaky", {"succeed_on": 2})
    with psycopg.connect(clean_db, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        while worker.run_once(conn):
            pass
        assert conn.execute("SELECT state FROM jobs WHERE id = %s", (job["id"],)).fetchone()["state"] == "succeeded"
    after = scrape(admin)
    assert value(after, "minicloud_job_failures_total", kind="test.flaky") \
        - value(before, "minicloud_job_failures_total", kind="test.flaky") == 1
    assert value(after, "minicloud_job_duration_seconds_count", kind="test.flaky") \
        - value(before, "minicloud_job_duration_seconds_count", kind="test.flaky") == 2  # both attempts


def test_calls_to_libvirt_and_kubernetes_are_timed_by_backend_and_method(admin, kube, config):
    call = "minicloud_backend_call_duration_seconds_count"
    before = scrape(admin)
    assert LibvirtDriver("test:///default").list_domains() == {}  # its domain "test" is not one of ours
    cluster = KubernetesDriver.from_config(config)  # after ``kube``: it reads the stand-in's KUBECONFIG
    cluster.cluster_info()
    kube.fail("GET", r"/version$", 500)
    with pytest.raises(ClusterUnavailable):
        cluster.cluster_info()  # a failed call took time too
    after = scrape(admin)
    assert value(after, call, backend="libvirt", operation="list_domains") \
        - value(before, call, backend="libvirt", operation="list_domains") == 1
    assert value(after, call, backend="kubernetes", operation="cluster_info") \
        - value(before, call, backend="kubernetes", operation="cluster_info") == 2


def test_only_a_global_admin_or_an_allowed_address_may_read(auth, admin, client):
    alice = auth.user("alice")
    for refused in (alice.get("/metrics", environ_overrides=ELSEWHERE),
                    client.get("/metrics", environ_overrides=ELSEWHERE),
                    client.get("/metrics", headers={"Authorization": "Bearer not-a-token"},
                               environ_overrides=ELSEWHERE)):
        assert refused.status_code == 403 and refused.mimetype == "application/json"
        assert refused.json["error"]["code"] == "metrics_forbidden"
        assert "metrics.allow" in refused.json["error"]["message"]
    korean = alice.get("/metrics", headers={"Accept-Language": "ko"}, environ_overrides=ELSEWHERE)
    assert korean.status_code == 403 and "관리자" in korean.json["error"]["message"]
    assert "minicloud_http_requests_total" in admin.get("/metrics", environ_overrides=ELSEWHERE).get_data(as_text=True)
    key = admin.post("/api/v1/api-keys", json={"name": "prometheus"}).json["key"]  # what a remote scraper holds
    assert client.get("/metrics", headers={"Authorization": f"Bearer {key}"}, environ_overrides=ELSEWHERE) \
        .status_code == 200
    # loopback, by default: Prometheus on the same machine needs no token (nor does a user there)
    for address in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        assert client.get("/metrics", environ_overrides={"REMOTE_ADDR": address}).status_code == 200, address
    assert alice.get("/metrics", environ_overrides=LOOPBACK).status_code == 200
    assert client.get("/metrics").status_code == 403  # no address at all (a Unix socket): not loopback


def test_the_operator_chooses_the_addresses(config, services, auth, admin):
    app = make_app(config.with_overrides({"metrics.allow": ["192.0.2.0/28"]}), services)
    anyone = Client(app)
    assert anyone.get("/metrics", environ_overrides=ELSEWHERE).status_code == 200
    assert anyone.get("/metrics", environ_overrides=LOOPBACK).status_code == 403  # loopback is no longer listed
    assert anyone.get("/metrics", headers=admin.headers(), environ_overrides=LOOPBACK).status_code == 200


def test_allow_is_read_from_the_environment_and_a_bad_entry_stops_the_start():
    loaded = config_module.load(environ={"MINICLOUD_METRICS_ALLOW": "10.1.2.3, 2001:db8::/32"})
    assert [str(n) for n in loaded.networks("metrics.allow")] == ["10.1.2.3/32", "2001:db8::/32"]
    with pytest.raises(config_module.ConfigError, match="metrics.allow"):
        config_module.load(environ={"MINICLOUD_METRICS_ALLOW": "127.0.0.1,localhost"})


def test_openmetrics_is_served_when_the_scraper_asks_for_it(admin):
    response = admin.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.status_code == 200 and response.mimetype == "application/openmetrics-text"
    assert response.get_data(as_text=True).endswith("# EOF\n")


# ---- several processes: gunicorn's workers and the job worker, summed ---------------------------

def http_requests_by_process(directory: Path, endpoint: str) -> dict[int, float]:
    """What each process wrote to the multiprocess directory: {pid: requests to ``endpoint``}."""
    counts = {}
    for path in directory.glob("counter_*.db"):
        pid = int(path.stem.rpartition("_")[2])
        counts[pid] = sum(sample.value for family in MultiProcessCollector.merge([str(path)])
                          for sample in family.samples
                          if sample.name == REQUESTS and sample.labels["endpoint"] == endpoint)
    return {pid: count for pid, count in counts.items() if count}


def get_in_parallel(url: str, times: int, threads: int = 6) -> None:
    def fetch(n):
        for _ in range(n):
            with urllib.request.urlopen(url, timeout=10) as response:
                assert response.status == 200

    workers = [threading.Thread(target=fetch, args=(times // threads,)) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()


def http_scrape(base_url: str) -> dict[tuple[str, frozenset], float]:
    with urllib.request.urlopen(base_url + "/metrics", timeout=10) as response:  # from loopback, no token
        assert response.status == 200
        return samples_of(response.read().decode())


def test_a_scrape_sums_every_gunicorn_worker_and_the_job_worker(database_url, clean_db, services, tmp_path):
    directory = tmp_path / "metrics"
    directory.mkdir()
    env = dict(os.environ, DATABASE_URL=clean_db, PROMETHEUS_MULTIPROC_DIR=str(directory),
               MINICLOUD_AUTH_JWT_SECRET="metrics-secret-" + "m" * 40, MINICLOUD_JOBS_MODULES="jobtypes",
               MINICLOUD_JOBS_POLL_SECONDS="0.05", KUBECONFIG=str(tmp_path / "no-kubeconfig"),
               MINICLOUD_STORAGE_AUTH_URL=f"http://127.0.0.1:{free_port()}/auth/v1.0",  # nothing listens
               PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    with psycopg.connect(clean_db, autocommit=True) as conn:
        conn.execute(jobtypes.TABLE_SQL)
    with serve_app(env, tmp_path, workers=2) as served:
        url = served.base_url + "/api/v1/openapi.json"
        # The kernel may hand every connection to one worker: so keep one worker busy with a request
        # whose headers have not ended yet, let the other serve 24, then finish the held one.
        address = urllib.parse.urlsplit(served.base_url)
        with socket.create_connection((address.hostname, address.port), timeout=10) as held:
            held.sendall(f"GET /api/v1/openapi.json HTTP/1.1\r\nHost: {address.netloc}\r\n".encode())
            time.sleep(0.5)  # a worker has accepted it and waits for the rest of the headers
            get_in_parallel(url, 24)
            held.sendall(b"Connection: close\r\n\r\n")
            answer = b""
            while chunk := held.recv(65536):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        sent = 25
        by_process = http_requests_by_process(directory, "openapi.document")
        assert len(by_process) == 2 and sum(by_process.values()) == sent, by_process
        assert value(http_scrape(served.base_url), REQUESTS, endpoint="openapi.document", status="200") == sent

        job = services.operations.submit("test.record", {"sleep": 0})
        worker = subprocess.Popen([sys.executable, "-m", "minicloud.cli", "worker", "--name", "metrics-worker"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: services.db.fetchone("SELECT state FROM jobs WHERE id = %s",
                                                  (job["id"],))["state"] == "succeeded", what="the job")
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=20)
        scraped = http_scrape(served.base_url)
        assert value(scraped, "minicloud_job_duration_seconds_count", kind="test.record") == 1  # the worker's
        assert value(scraped, "minicloud_reconcile_pass_duration_seconds_count") >= 1  # its periodic pass
        assert value(scraped, "minicloud_job_queue_depth", state="queued") == 0


def test_a_scrape_during_a_database_outage_still_serves_the_counters(admin, client, services, monkeypatch):
    assert value(scrape(admin), "minicloud_database_up") == 1
    assert client.get("/api/v1/auth/me", headers=admin.headers()).status_code == 200

    def unreachable():
        raise DatabaseUnavailable("connection refused")
    monkeypatch.setattr(services.resource_counts, "by_state", unreachable)
    during = scrape(client, environ_overrides=LOOPBACK)  # Prometheus beside the server, no token
    assert value(during, "minicloud_database_up") == 0
    assert value(during, REQUESTS, endpoint="auth.me", status="200") >= 1  # the counters are still there
    assert not [name for name, _ in during if name.startswith("minicloud_instances")]  # no stale counts


def test_refusals_of_the_scrape_are_the_json_envelope_even_when_the_database_is_down(client, services,
                                                                                     monkeypatch):
    def unreachable(token, via="token"):
        raise DatabaseUnavailable("connection refused")
    monkeypatch.setattr(services.sessions, "authenticate", unreachable)
    answer = client.get("/metrics", headers={"Authorization": "Bearer mc_somekey"}, environ_overrides=ELSEWHERE)
    assert answer.status_code == 503 and answer.mimetype == "application/json"
    assert answer.json["error"]["code"] == "database_unavailable"
