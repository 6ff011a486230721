"""The worker under trouble (issue 9): a database connection cut under the lease heartbeat, a run
that lost its lease, a job whose end cannot be stored, a periodic task that hangs."""
import logging
import threading
import time

import jobtypes  # noqa: F401 - registers the test job types
import test_jobs
from test_jobs import connect, executions, job_row, running

from minicloud.db import queue
from minicloud.jobs import registry
from minicloud.jobs.worker import Worker
from waiting import wait_for

jobs_db, job_config = test_jobs.jobs_db, test_jobs.job_config  # the same fixtures
HEARTBEAT = "UPDATE jobs SET locked_until%"


def in_thread(fn, *args) -> threading.Thread:
    thread = threading.Thread(target=fn, args=args, daemon=True)
    thread.start()
    return thread


def run_once(worker, url):
    with connect(url) as conn:
        worker.run_once(conn)


def cut_heartbeats(url) -> int:
    """Terminate the connections that extend leases (as a PostgreSQL restart would); how many there were."""
    with connect(url) as conn:
        return len(conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                " WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE %s",
                                (HEARTBEAT,)).fetchall())


def test_a_cut_heartbeat_connection_reconnects_and_no_other_worker_takes_the_job(services, job_config, jobs_db):
    job = services.operations.submit("test.record", {"sleep": 6})
    config = job_config.with_overrides({"jobs.lease_seconds": 3.0})  # extended every second
    runner = in_thread(run_once, Worker(config, services, name="w1"), jobs_db)
    wait_for(lambda: cut_heartbeats(jobs_db) > 0, timeout=10, what="the heartbeat to extend the lease, then be cut")
    rival = Worker(config, services, name="w2")
    with connect(jobs_db) as conn:
        while runner.is_alive():  # another worker keeps trying to claim for the whole run
            rival.run_once(conn)
            time.sleep(0.1)
    runner.join()
    assert [(e["worker"], e["phase"]) for e in executions(jobs_db)] == [("w1", "start"), ("w1", "end")]
    row = job_row(jobs_db, job["id"])
    assert row["state"] == "succeeded" and row["attempts"] == 1


def test_a_run_that_lost_its_lease_cannot_end_the_attempt_that_followed(services, job_config, jobs_db, caplog):
    job = services.operations.submit("test.record", {"sleep": 1.5}, target="pc-1")
    behind = services.operations.submit("test.record", {"sleep": 0}, target="pc-1")
    caplog.set_level(logging.INFO, logger="minicloud.worker")
    runner = in_thread(run_once, Worker(job_config, services, name="w1"), jobs_db)
    wait_for(lambda: executions(jobs_db, job["id"]), what="the job to start")
    with connect(jobs_db) as conn:  # its lease lapses (an outage outlasted it) and the same worker claims it again
        conn.execute("UPDATE jobs SET locked_until = now() - interval '1 second' WHERE id = %s", (job["id"],))
        again = queue.claim(conn, "w1", 60)
    assert again["id"] == job["id"] and again["attempts"] == 2
    runner.join()
    row = job_row(jobs_db, job["id"])
    assert (row["state"], row["attempts"], row["locked_by"]) == ("running", 2, "w1")  # the second attempt holds it
    with connect(jobs_db) as conn:
        assert queue.claim(conn, "w2", 60) is None  # pc-1 is still busy: the job behind it waits
        runs = conn.execute("SELECT attempt, outcome FROM job_runs WHERE job_id = %s ORDER BY attempt",
                            (job["id"],)).fetchall()
    assert job_row(jobs_db, behind["id"])["state"] == "queued"
    assert [(r["attempt"], r["outcome"]) for r in runs] == [(1, "lost"), (2, None)]
    said = caplog.text
    assert "lost its lease: it was claimed again while it still runs" in said
    assert "succeeded after it lost its lease: its result is dropped" in said


def test_a_stale_attempt_can_neither_extend_nor_fail_the_job(services, job_config, jobs_db):
    services.operations.submit("test.record", {}, target="pc-1")
    with connect(jobs_db) as conn:
        first = queue.claim(conn, "w1", 60)
        conn.execute("UPDATE jobs SET locked_until = now() - interval '1 second' WHERE id = %s", (first["id"],))
        second = queue.claim(conn, "w1", 60)
        assert queue.extend_lease(conn, first, "w1", 60) is False
        assert queue.fail(conn, first, "w1", "stale", None) is None
        assert queue.extend_lease(conn, second, "w1", 60) is True
    row = job_row(jobs_db, first["id"])
    assert (row["state"], row["attempts"], row["last_error"]) == ("running", 2, None)


def test_a_result_that_cannot_be_stored_fails_the_job_with_the_reason(services, job_config, jobs_db, caplog):
    job = services.operations.submit("test.unstorable", {}, max_attempts=1)
    worker = Worker(job_config.with_overrides({"jobs.lease_seconds": 60.0}), services, name="w1")
    with running(worker):
        wait_for(lambda: job_row(jobs_db, job["id"])["state"] == "failed", timeout=10,
                 what="the job to fail well before its lease runs out")
    assert "not JSON serializable" in job_row(jobs_db, job["id"])["last_error"]
    assert f"job {job['id']}: its end could not be recorded" in caplog.text


def test_a_hanging_periodic_task_does_not_hold_up_claims(services, job_config, jobs_db, monkeypatch):
    released = threading.Event()
    entered = threading.Event()

    def hang(context):
        entered.set()
        released.wait(30)  # an unreachable host, say

    monkeypatch.setitem(registry._PERIODIC, "test.hang", (hang, "jobs.poll_seconds"))
    worker = Worker(job_config, services, name="w1")
    try:
        with running(worker):
            assert entered.wait(10), "the periodic task never ran"
            job = services.operations.submit("test.record", {"sleep": 0})
            wait_for(lambda: job_row(jobs_db, job["id"])["state"] == "succeeded", timeout=5,
                     what="the job to run while the periodic task hangs")
            released.set()
    finally:
        released.set()
