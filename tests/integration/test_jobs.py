"""The durable job queue: claims, retries with backoff, failures, crash recovery, operations API;
jobs side by side in one worker, one at a time per target, woken by NOTIFY."""
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import jobtypes  # noqa: F401 - registers the test job types
import psycopg
import pytest
from psycopg.rows import dict_row

from minicloud.jobs.worker import Worker
from waiting import wait_for

TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture
def jobs_db(clean_db):
    with psycopg.connect(clean_db, autocommit=True) as conn:
        conn.execute(jobtypes.TABLE_SQL)
        conn.execute("TRUNCATE test_job_executions")
    return clean_db


@pytest.fixture
def job_config(config):
    return config.with_overrides({"jobs.backoff_base_seconds": 0.2, "jobs.lease_seconds": 2.0,
                                  "jobs.poll_seconds": 0.05, "jobs.modules": "jobtypes"})


def connect(url):
    return psycopg.connect(url, autocommit=True, row_factory=dict_row)


def job_row(url, job_id):
    with connect(url) as conn:
        return conn.execute("SELECT * FROM jobs WHERE id = %s", (job_id,)).fetchone()


def executions(url, job_id=None):
    with connect(url) as conn:
        if job_id is None:
            return conn.execute("SELECT * FROM test_job_executions ORDER BY id").fetchall()
        return conn.execute("SELECT * FROM test_job_executions WHERE job_id = %s ORDER BY id", (job_id,)).fetchall()


def test_a_job_runs_and_its_operation_is_visible_to_its_project(auth, services, job_config, jobs_db):
    alice, bob = auth.user("alice"), auth.user("bob")
    project = alice.personal_project
    job = services.operations.submit("test.record", {"sleep": 0}, project_id=project, target="thing")
    response = alice.get(f"/api/v1/operations/{job['id']}")
    assert response.status_code == 200 and response.json["state"] == "queued"
    worker = Worker(job_config, services, name="w1")
    with connect(jobs_db) as conn:
        assert worker.run_once(conn) is True
        assert worker.run_once(conn) is False
    done = alice.get(f"/api/v1/operations/{job['id']}").json
    assert done["state"] == "succeeded" and done["result"] == {"slept": 0} and done["attempts"] == 1
    assert bob.get(f"/api/v1/operations/{job['id']}").status_code == 404


def test_failures_are_retried_with_backoff_then_succeed(services, job_config, jobs_db):
    job = services.operations.submit("test.flaky", {"succeed_on": 3})
    worker = Worker(job_config, services, name="w1")
    with connect(jobs_db) as conn:
        worker.run_once(conn)
        first = job_row(jobs_db, job["id"])
        assert first["state"] == "queued" and "transient failure on attempt 1" in first["last_error"]
        assert worker.run_once(conn) is False  # not before its backoff has passed
        while job_row(jobs_db, job["id"])["state"] != "succeeded":
            if worker.run_once(conn):
                continue
            time.sleep(0.05)
    starts = [e["at"] for e in executions(jobs_db, job["id"])]
    gaps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:])]
    assert len(starts) == 3
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4  # base, then doubled
    assert job_row(jobs_db, job["id"])["result"] == {"attempt": 3}


def test_a_job_that_keeps_failing_ends_failed_with_its_error(services, job_config, jobs_db):
    job = services.operations.submit("test.flaky", {"succeed_on": 99}, max_attempts=2)
    worker = Worker(job_config.with_overrides({"jobs.backoff_base_seconds": 0.0}), services, name="w1")
    with connect(jobs_db) as conn:
        while worker.run_once(conn):
            pass
    row = job_row(jobs_db, job["id"])
    assert row["state"] == "failed" and row["attempts"] == 2
    assert row["last_error"] == "RuntimeError: transient failure on attempt 2"
    with connect(jobs_db) as conn:
        runs = conn.execute("SELECT outcome FROM job_runs WHERE job_id = %s ORDER BY attempt", (job["id"],)).fetchall()
    assert [r["outcome"] for r in runs] == ["retry", "failed"]


def test_permanent_errors_and_unknown_kinds_fail_at_once(services, job_config, jobs_db):
    permanent = services.operations.submit("test.permanent", {})
    unknown = services.operations.submit("no.such.kind", {})
    worker = Worker(job_config, services, name="w1")
    with connect(jobs_db) as conn:
        while worker.run_once(conn):
            pass
    assert job_row(jobs_db, permanent["id"])["last_error"] == "the image does not exist"
    assert job_row(jobs_db, unknown["id"])["state"] == "failed"
    assert job_row(jobs_db, permanent["id"])["attempts"] == 1


def start_worker(database_url, name, **env):
    environment = dict(os.environ, DATABASE_URL=database_url, MINICLOUD_JOBS_MODULES="jobtypes",
                       MINICLOUD_JOBS_POLL_SECONDS="0.05", MINICLOUD_JOBS_LEASE_SECONDS="2",
                       MINICLOUD_JOBS_BACKOFF_BASE_SECONDS="0.1",
                       PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]), **env)
    return subprocess.Popen([sys.executable, "-m", "minicloud.cli", "worker", "--name", name], env=environment,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process, sig=signal.SIGTERM):
    if process.poll() is None:
        process.send_signal(sig)
    process.wait(timeout=20)


def test_two_workers_never_run_one_job_twice(services, jobs_db):
    ids = [services.operations.submit("test.record", {"sleep": 0.02})["id"] for _ in range(60)]
    workers = [start_worker(jobs_db, "a"), start_worker(jobs_db, "b")]
    try:
        wait_for(lambda: all(job_row(jobs_db, i)["state"] == "succeeded" for i in ids), timeout=60)
    finally:
        for w in workers:
            stop(w)
    rows = executions(jobs_db)
    starts = [r["job_id"] for r in rows if r["phase"] == "start"]
    assert sorted(map(str, starts)) == sorted(map(str, ids))  # every job exactly once
    assert {r["worker"] for r in rows} == {"a", "b"}  # both took part
    assert [w.returncode for w in workers] == [0, 0]  # SIGTERM stops them cleanly


def test_a_job_survives_its_worker_being_killed(services, jobs_db):
    job = services.operations.submit("test.record", {"sleep": 3})
    first = start_worker(jobs_db, "doomed")
    try:
        wait_for(lambda: executions(jobs_db, job["id"]))  # it started on the first worker
        assert job_row(jobs_db, job["id"])["locked_by"] == "doomed"
    finally:
        stop(first, signal.SIGKILL)
    second = start_worker(jobs_db, "rescuer")
    try:
        wait_for(lambda: job_row(jobs_db, job["id"])["state"] == "succeeded", timeout=30)
    finally:
        stop(second)
    phases = [(e["worker"], e["phase"]) for e in executions(jobs_db, job["id"])]
    assert phases == [("doomed", "start"), ("rescuer", "start"), ("rescuer", "end")]
    row = job_row(jobs_db, job["id"])
    assert row["attempts"] == 2 and row["locked_by"] is None


def test_periodic_tasks_run_when_due_and_in_one_worker_at_a_time(services, job_config, jobs_db):
    jobtypes.PERIODIC_RUNS.clear()
    config = job_config.with_overrides({"jobs.poll_seconds": 30.0})
    first, second = Worker(config, services, name="p1"), Worker(config, services, name="p2")
    results = {}

    def run(worker):
        with connect(jobs_db) as conn:
            results[worker.name] = worker.run_periodic(conn)

    threads = [threading.Thread(target=run, args=(w,)) for w in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(jobtypes.PERIODIC_RUNS) == 1  # the lock held
    with connect(jobs_db) as conn:
        assert "test.tick" not in first.run_periodic(conn)  # not due again for 30 s
        first.trigger("test.tick")
        assert "test.tick" in first.run_periodic(conn)  # a trigger makes it due at once


# --------------------------------------------------------------------------- side by side

@contextmanager
def running(*workers):
    """``run_forever`` of each worker in a thread; stopped (and its jobs let finish) on exit."""
    threads = [threading.Thread(target=w.run_forever, name=w.name, daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for worker in workers:
            worker.stop.set()
            worker.wake.set()
        for thread in threads:
            thread.join(timeout=30)
        assert not any(t.is_alive() for t in threads), "a worker did not stop"


def run_spans(url):
    """job id -> (start, end) of its (single) run, from the executions the test job types wrote."""
    spans = {}
    for row in executions(url):
        spans.setdefault(row["job_id"], {})[row["phase"]] = row["at"]
    return {job_id: (s["start"], s["end"]) for job_id, s in spans.items()}


def most_at_once(spans):
    """The largest number of runs in progress at the same moment."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    now = peak = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        now += step
        peak = max(peak, now)
    return peak


def all_succeeded(url, ids):
    with connect(url) as conn:
        rows = conn.execute("SELECT state FROM jobs WHERE id = ANY(%s)", (ids,)).fetchall()
    return len(rows) == len(ids) and all(r["state"] == "succeeded" for r in rows)


def test_one_worker_runs_up_to_concurrency_jobs_at_once(services, job_config, jobs_db):
    ids = [services.operations.submit("test.record", {"sleep": 1.0})["id"] for _ in range(7)]
    worker = Worker(job_config.with_overrides({"jobs.concurrency": 3}), services, name="w1")
    with running(worker):
        wait_for(lambda: all_succeeded(jobs_db, ids), timeout=60, what="every job to succeed")
    spans = run_spans(jobs_db)
    assert sorted(map(str, spans)) == sorted(map(str, ids))  # each ran once
    assert most_at_once(spans.values()) == 3  # three side by side, never a fourth


def test_jobs_of_one_target_never_overlap_and_run_in_order(services, job_config, jobs_db):
    same = [services.operations.submit("test.record", {"sleep": 0.4}, target="pc-1")["id"] for _ in range(4)]
    other = [services.operations.submit("test.record", {"sleep": 0.4}, target="pc-2")["id"] for _ in range(2)]
    config = job_config.with_overrides({"jobs.concurrency": 4})
    with running(Worker(config, services, name="w1"), Worker(config, services, name="w2")):
        wait_for(lambda: all_succeeded(jobs_db, same + other), timeout=60, what="every job to succeed")
    spans = run_spans(jobs_db)
    one_target = [spans[i] for i in same]
    assert most_at_once(one_target) == 1
    assert one_target == sorted(one_target)  # in the order they were asked for
    assert most_at_once(spans.values()) >= 2  # other targets' jobs ran beside them


def test_a_queued_job_is_claimed_at_once_not_at_the_next_poll(services, job_config, jobs_db):
    worker = Worker(job_config.with_overrides({"jobs.poll_seconds": 30.0}), services, name="w1")
    with running(worker):
        wait_for(lambda: listening(jobs_db), what="the worker to listen")
        time.sleep(1.0)  # it has claimed nothing and sleeps until its next poll, 30 s away
        job = services.operations.submit("test.record", {"sleep": 0})
        wait_for(lambda: job_row(jobs_db, job["id"])["state"] == "succeeded", timeout=5,
                 what="the job to run well before the poll interval", interval=0.05)
    with connect(jobs_db) as conn:
        waited = conn.execute("SELECT extract(epoch FROM started_at - created_at) AS s FROM jobs WHERE id = %s",
                              (job["id"],)).fetchone()["s"]
    assert waited < 5


def listening(url):
    with connect(url) as conn:
        return conn.execute("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()"
                            " AND query LIKE 'LISTEN %%'").fetchone()["n"] > 0


def test_periodic_tasks_stay_one_at_a_time_while_jobs_run_side_by_side(services, job_config, jobs_db):
    jobtypes.PERIODIC_RUNS.clear()
    ids = [services.operations.submit("test.record", {"sleep": 0.3})["id"] for _ in range(8)]
    config = job_config.with_overrides({"jobs.concurrency": 4, "jobs.poll_seconds": 0.1})
    with running(Worker(config, services, name="p1"), Worker(config, services, name="p2")):
        wait_for(lambda: all_succeeded(jobs_db, ids), timeout=60, what="every job to succeed")
        time.sleep(1.0)  # a few more passes of the tick
    runs = [(start, end) for _, start, end in jobtypes.PERIODIC_RUNS]
    assert len(runs) >= 3 and most_at_once(runs) == 1  # due every 0.1 s, yet never two at once
    assert most_at_once(run_spans(jobs_db).values()) >= 4


def test_a_stopped_worker_lets_its_running_jobs_finish(services, jobs_db):
    ids = [services.operations.submit("test.record", {"sleep": 2})["id"] for _ in range(2)]
    process = start_worker(jobs_db, "w1", MINICLOUD_JOBS_CONCURRENCY="4")
    try:
        wait_for(lambda: len(executions(jobs_db)) == 2, what="both jobs to start")
    finally:
        stop(process)
    assert process.returncode == 0
    for job_id in ids:
        row = job_row(jobs_db, job_id)
        assert row["state"] == "succeeded" and row["attempts"] == 1
