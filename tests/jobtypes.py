"""Job types used only by the tests (loaded through jobs.modules / MINICLOUD_JOBS_MODULES=jobtypes).

Each run writes rows into ``test_job_executions`` so a test can see exactly who ran what, and how often.
"""
import time

import psycopg

from minicloud.jobs.registry import PermanentJobError, job_type, periodic

TABLE_SQL = ("CREATE TABLE IF NOT EXISTS test_job_executions ("
             " id bigserial PRIMARY KEY, job_id uuid NOT NULL, worker text NOT NULL, phase text NOT NULL,"
             " at timestamptz NOT NULL DEFAULT now())")


def _note(context, job, phase):
    with psycopg.connect(context.config.database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO test_job_executions (job_id, worker, phase) VALUES (%s, %s, %s)",
                     (job["id"], context.worker, phase))


@job_type("test.record")
def record(job, context):
    _note(context, job, "start")
    time.sleep(job["payload"].get("sleep", 0))
    _note(context, job, "end")
    return {"slept": job["payload"].get("sleep", 0)}


@job_type("test.flaky")
def flaky(job, context):
    """Fails until its ``succeed_on`` attempt."""
    _note(context, job, "start")
    if job["attempts"] < job["payload"]["succeed_on"]:
        raise RuntimeError(f"transient failure on attempt {job['attempts']}")
    return {"attempt": job["attempts"]}


@job_type("test.permanent")
def permanent(job, context):
    raise PermanentJobError("the image does not exist")


PERIODIC_RUNS = []  # (worker, started, ended) per run, time.monotonic() seconds


@periodic("test.tick", "jobs.poll_seconds")
def tick(context):
    """Records each run; sleeps a little so a concurrent worker would overlap."""
    started = time.monotonic()
    time.sleep(0.2)
    PERIODIC_RUNS.append((context.worker, started, time.monotonic()))


@job_type("test.unstorable")
def unstorable(job, context):
    """Succeeds with a result the queue cannot store as JSON (a bug a job type may have)."""
    return {"when": object()}
