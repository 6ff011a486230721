"""Queue operations on the ``jobs`` table.

A job is ``queued`` until a worker claims it (``running``, with a lease that the
worker keeps extending); it ends ``succeeded`` or ``failed``. A running job whose
lease ran out (its worker died) is claimable again. Claims use
``FOR UPDATE SKIP LOCKED`` so two workers never take the same job. A claim is one attempt
(``attempts`` counts them): extending the lease and ending the job name the attempt too, so a run
that lost its lease (the job was claimed again, maybe by the same worker) cannot end, or free the
target of, the attempt that followed it.

A job's ``target`` (the instance, app… it acts on) is its resource: jobs of one target run
one at a time (a claim skips a job whose target has a running job; claims take
turns under one transaction-scoped advisory lock, so two claims never both see the target
free). Enqueuing, and ending a job that has a target, notify ``CHANNEL`` when the
transaction commits, so a listening worker claims at once instead of at its next poll.
"""
from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

CHANNEL = "minicloud_jobs"
_CLAIM_LOCK = "minicloud:jobs:claim"
_CLAIM = """
UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = %(worker)s,
       locked_until = now() + make_interval(secs => %(lease)s),
       started_at = coalesce(started_at, now()), updated_at = now()
WHERE id = (
    SELECT candidate.id FROM jobs candidate
    WHERE ((candidate.state = 'queued' AND candidate.run_after <= now())
           OR (candidate.state = 'running' AND candidate.locked_until < now()))
      AND (candidate.target IS NULL OR NOT EXISTS (
          SELECT 1 FROM jobs busy
          WHERE busy.target = candidate.target AND busy.state = 'running' AND busy.id <> candidate.id))
    ORDER BY candidate.run_after, candidate.created_at
    FOR UPDATE SKIP LOCKED
    LIMIT 1
)
RETURNING *
"""


def enqueue(conn: psycopg.Connection, kind: str, payload: dict[str, Any] | None = None, *,
            project_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None,
            target: str | None = None, max_attempts: int = 5, delay_seconds: float = 0) -> dict:
    """Inside the caller's transaction, so the job exists exactly when the intent it carries out does
    (and workers hear of it when that transaction commits). ``target``: what the job acts on; jobs of
    one target never run at the same time."""
    job = conn.execute(
        "INSERT INTO jobs (kind, payload, project_id, user_id, target, max_attempts, run_after)"
        " VALUES (%s, %s, %s, %s, %s, %s, now() + make_interval(secs => %s)) RETURNING *",
        (kind, Jsonb(payload or {}), project_id, user_id, target, max_attempts, delay_seconds),
    ).fetchone()
    if delay_seconds <= 0:
        notify(conn)
    return job


def notify(conn: psycopg.Connection) -> None:
    """Tell listening workers (on commit of the caller's transaction) that a job may be claimable."""
    conn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))


def listen(conn: psycopg.Connection) -> None:
    """Subscribe ``conn`` (autocommit) to the queue's notifications; read them with ``conn.notifies()``."""
    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))


def claim(conn: psycopg.Connection, worker: str, lease_seconds: float) -> dict | None:
    """The next runnable job whose target has no running job, now leased to ``worker`` (a run row is
    opened), or None."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (_CLAIM_LOCK,))
        job = conn.execute(_CLAIM, {"worker": worker, "lease": lease_seconds}).fetchone()
        if job:
            conn.execute("INSERT INTO job_runs (job_id, attempt, worker) VALUES (%s, %s, %s)",
                         (job["id"], job["attempts"], worker))
    return job


_THIS_ATTEMPT = "id = %(id)s AND attempts = %(attempt)s AND locked_by = %(worker)s AND state = 'running'"


def _this_attempt(job: dict, worker: str) -> dict:
    return {"id": job["id"], "attempt": job["attempts"], "worker": worker}


def extend_lease(conn: psycopg.Connection, job: dict, worker: str, lease_seconds: float) -> bool:
    """The claimed attempt's lease runs ``lease_seconds`` from now; False when it is no longer the job's
    current attempt held by ``worker`` (its lease ran out and the job was claimed again, or it ended)."""
    return conn.execute(
        "UPDATE jobs SET locked_until = now() + make_interval(secs => %(lease)s), updated_at = now()"
        f" WHERE {_THIS_ATTEMPT}",
        {**_this_attempt(job, worker), "lease": lease_seconds},
    ).rowcount == 1


def _close_run(conn: psycopg.Connection, job: dict, outcome: str, error: str | None) -> None:
    conn.execute(
        "UPDATE job_runs SET finished_at = now(), outcome = %s, error = %s"
        " WHERE job_id = %s AND attempt = %s AND finished_at IS NULL",
        (outcome, error, job["id"], job["attempts"]),
    )
    if job["target"] is not None and outcome != "lost":  # a job queued behind this one on its target may run now
        notify(conn)


def succeed(conn: psycopg.Connection, job: dict, worker: str, result: Any) -> bool:
    """Mark the claimed attempt done. False when it lost its lease (the job was claimed again): then only
    its run is closed (outcome ``lost``) and the attempt that now holds the job is left alone."""
    done = conn.execute(
        "UPDATE jobs SET state = 'succeeded', result = %(result)s, locked_by = NULL, locked_until = NULL,"
        f" finished_at = now(), updated_at = now() WHERE {_THIS_ATTEMPT}",
        {**_this_attempt(job, worker), "result": Jsonb(result)},
    ).rowcount == 1
    _close_run(conn, job, "succeeded" if done else "lost", None)
    return done


def fail(conn: psycopg.Connection, job: dict, worker: str, error: str, retry_in: float | None) -> str | None:
    """Record the claimed attempt's error; requeue after ``retry_in`` seconds, or fail for good when None.
    Returns the new state, or None when the attempt lost its lease (as for ``succeed``)."""
    state = "queued" if retry_in is not None else "failed"
    recorded = conn.execute(
        "UPDATE jobs SET state = %(state)s, last_error = %(error)s, locked_by = NULL, locked_until = NULL,"
        " run_after = now() + make_interval(secs => %(retry_in)s),"
        " finished_at = CASE WHEN %(state)s = 'failed' THEN now() END, updated_at = now()"
        f" WHERE {_THIS_ATTEMPT}",
        {**_this_attempt(job, worker), "state": state, "error": error, "retry_in": retry_in or 0},
    ).rowcount == 1
    _close_run(conn, job, ("retry" if retry_in is not None else "failed") if recorded else "lost", error)
    return state if recorded else None


def record_progress(conn: psycopg.Connection, job: dict, worker: str, result: Any) -> bool:
    """While the claimed attempt runs: its ``result`` so far (a long job's steps done), shown by its operation.
    False when the attempt no longer holds the job."""
    return conn.execute(
        f"UPDATE jobs SET result = %(result)s, updated_at = now() WHERE {_THIS_ATTEMPT}",
        {**_this_attempt(job, worker), "result": Jsonb(result)},
    ).rowcount == 1
