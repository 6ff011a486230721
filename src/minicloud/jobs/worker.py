"""``minicloud worker``: claims jobs from PostgreSQL and runs them, with retries and backoff.

Guarantees: a job is run by one worker at a time (claims use SKIP LOCKED and a
lease the running worker keeps extending); a job whose worker was killed is
claimed again once its lease runs out; a failing job is retried with
exponential backoff until ``max_attempts``, then ends ``failed`` with its error.

A worker runs up to ``jobs.concurrency`` jobs at once, each in a thread of its own
(never two jobs of one target: see ``minicloud.db.queue``), and claims as soon as a
job is queued (it LISTENs on the queue's channel; ``jobs.poll_seconds`` is the
fallback for delayed retries and missed notifications). Periodic tasks run in a
thread of their own (a slow pass never holds up a claim), in one worker of the cluster
at a time. On ``stop`` it claims nothing more and lets the jobs it runs finish.

Database trouble: the heartbeat that extends a running job's lease retries until the
database answers again; a run that lost its lease anyway (the outage outlasted it and
the job was claimed again) runs to its end, and its outcome is logged and dropped (the
queue only lets the attempt that holds the job end it). A job whose last attempt never
ended is given up, and its kind's ``abandoned`` hook settles its resource.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from minicloud import metrics
from minicloud.config import Config
from minicloud.db import queue
from minicloud.jobs.registry import UNAVAILABLE, PermanentJobError, load_modules, lookup, periodic_tasks
from minicloud.services import Services

log = logging.getLogger("minicloud.worker")


@dataclass
class JobContext:
    """What a job function may use: settings, the services, and the worker running it."""

    config: Config
    worker: str
    services: Services


class Worker:
    def __init__(self, config: Config, services: Services, name: str | None = None):
        self.config = config
        self.services = services
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.lease = float(config.get("jobs.lease_seconds"))
        self.poll = float(config.get("jobs.poll_seconds"))
        self.base = float(config.get("jobs.backoff_base_seconds"))
        self.cap = float(config.get("jobs.backoff_max_seconds"))
        self.concurrency = max(1, int(config.get("jobs.concurrency")))
        self.stop = threading.Event()
        self.wake = threading.Event()  # a job may be claimable
        self._tick = threading.Event()  # a periodic task was triggered, or the worker stops
        load_modules(config.get("jobs.modules"))
        self._due: dict[str, float] = {name: 0.0 for name in periodic_tasks()}

    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(self.config.database_url, autocommit=True, row_factory=dict_row)

    def backoff(self, attempts: int) -> float:
        return min(self.cap, self.base * 2 ** max(0, attempts - 1))

    def run_once(self, conn: psycopg.Connection) -> bool:
        """Claim and run one job, here and now; False when none was ready."""
        job = queue.claim(conn, self.name, self.lease)
        if job is None:
            return False
        self._carry_out(conn, job)
        return True

    def _carry_out(self, conn: psycopg.Connection, job: dict) -> None:
        """Run a claimed job (its lease kept alive meanwhile) and record how it ended through ``conn``."""
        log.info("job %s (%s) attempt %d started", job["id"], job["kind"], job["attempts"])
        if job["attempts"] > job["max_attempts"]:
            self._abandon(conn, job)
            return
        done = threading.Event()
        heartbeat = threading.Thread(target=self._keep_lease, args=(job, done), daemon=True)
        heartbeat.start()
        try:
            result = self._execute(job)
        except PermanentJobError as exc:
            self._finish_failed(conn, job, str(exc), retry=False)
        except Exception as exc:  # noqa: BLE001 - any failure of a job is recorded on the job
            log.warning("job %s failed: %s\n%s", job["id"], exc, traceback.format_exc())
            self._finish_failed(conn, job, f"{type(exc).__name__}: {exc}", retry=True)
        else:
            with conn.transaction():
                recorded = queue.succeed(conn, job, self.name, result)
            if recorded:
                log.info("job %s succeeded", job["id"])
            else:
                log.warning("job %s attempt %d succeeded after it lost its lease: its result is dropped",
                            job["id"], job["attempts"])
        finally:
            done.set()
            heartbeat.join()

    def _context(self) -> JobContext:
        return JobContext(self.config, self.name, self.services)

    def _execute(self, job: dict) -> Any:
        kind = lookup(job["kind"])
        if kind is None:
            raise PermanentJobError(f"unknown job type {job['kind']!r}")
        return metrics.timed_job(job["kind"], kind.run, job, self._context())

    def _abandon(self, conn: psycopg.Connection, job: dict) -> None:
        """The job's last attempt never ended (its worker died): it fails for good, and its kind's
        ``abandoned`` hook settles the resource it was moving. When that hook meets an unavailable backend,
        the job is requeued with backoff, to be abandoned again."""
        error = job["last_error"] or "the worker running it stopped"
        kind = lookup(job["kind"])
        retry_in = None
        try:
            if kind is not None and kind.abandoned is not None:
                kind.abandoned(job, self._context(), error)
        except UNAVAILABLE as exc:
            retry_in = self.backoff(job["attempts"])
            log.warning("job %s: could not settle its resource (%s); trying again in %.1fs", job["id"], exc, retry_in)
        with conn.transaction():
            state = queue.fail(conn, job, self.name, error, retry_in)
        log.info("job %s abandoned after %d attempts -> %s", job["id"], job["max_attempts"], state)

    def _finish_failed(self, conn: psycopg.Connection, job: dict, error: str, retry: bool) -> None:
        retry_in = self.backoff(job["attempts"]) if retry and job["attempts"] < job["max_attempts"] else None
        with conn.transaction():
            state = queue.fail(conn, job, self.name, error, retry_in)
        if state is None:
            log.warning("job %s attempt %d failed after it lost its lease: its error is dropped (%s)",
                        job["id"], job["attempts"], error)
        else:
            log.info("job %s -> %s (%s)", job["id"], state, error)

    def _keep_lease(self, job: dict, done: threading.Event) -> None:
        """Extend the job's lease every third of it until ``done``; a database that does not answer is
        tried again at the next turn (the lease lasts until the outage has outlasted it)."""
        conn = None
        try:
            while not done.wait(self.lease / 3):
                try:
                    if conn is None or conn.closed:
                        conn = self._connect()
                    if not queue.extend_lease(conn, job, self.name, self.lease):
                        # The job was claimed again (or ended): this run goes on, for a thread cannot be
                        # stopped safely from outside (a driver call cut short leaves its work half done);
                        # the queue drops its outcome. Both runs may touch the target meanwhile.
                        log.warning("job %s attempt %d lost its lease: it was claimed again while it still runs",
                                    job["id"], job["attempts"])
                        return
                except psycopg.Error as exc:
                    log.error("job %s: could not extend its lease (%s); trying again in %.1fs",
                              job["id"], exc, self.lease / 3)
                    if conn is not None:
                        conn.close()
                    conn = None
        finally:
            if conn is not None:
                conn.close()

    def trigger(self, name: str) -> None:
        """Run periodic task ``name`` at once (e.g. after a libvirt event)."""
        self._due[name] = 0.0
        self._tick.set()

    def run_periodic(self, conn: psycopg.Connection) -> list[str]:
        """Run every periodic task that is due and not running in another worker; returns their names."""
        ran = []
        for name, (fn, interval_setting) in periodic_tasks().items():
            now = time.monotonic()
            if self._due.get(name, 0.0) > now:
                continue
            self._due[name] = now + float(self.config.get(interval_setting))
            key = conn.execute("SELECT hashtext(%s) AS k", (f"periodic:{name}",)).fetchone()["k"]
            if not conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (key,)).fetchone()["ok"]:
                continue
            try:
                fn(self._context())
                ran.append(name)
            except Exception:  # noqa: BLE001 - a failed pass is logged; the next one tries again
                log.exception("periodic task %s failed", name)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
        return ran

    def _run_periodic_tasks(self) -> None:
        """The periodic thread: each task when it is due (or triggered), until ``stop``."""
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = self._connect()
                self._tick.clear()
                self.run_periodic(conn)
                next_due = min(self._due.values(), default=time.monotonic() + self.poll)
                self._tick.wait(min(self.poll, max(0.0, next_due - time.monotonic())))
            except psycopg.Error as exc:
                log.error("periodic tasks: database unreachable (%s); retrying", exc)
                if conn is not None:
                    conn.close()
                conn = None
                self.stop.wait(self.poll * 5)
        if conn is not None:
            conn.close()

    def run_forever(self) -> None:
        """Claim and run jobs (up to ``concurrency`` at once) and periodic tasks until ``stop`` is set;
        then wait for the running jobs (and the periodic pass under way) to end."""
        log.info("worker %s running up to %d jobs at once (poll fallback %.1fs)", self.name, self.concurrency,
                 self.poll)
        listener = threading.Thread(target=self._listen, name=f"{self.name}-listen", daemon=True)
        listener.start()
        periodic = threading.Thread(target=self._run_periodic_tasks, name=f"{self.name}-periodic", daemon=True)
        periodic.start()
        slots = threading.Semaphore(self.concurrency)
        conn = None
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"{self.name}-job") as pool:
            while not self.stop.is_set():
                try:
                    if conn is None or conn.closed:
                        conn = self._connect()
                    while not self.stop.is_set() and slots.acquire(blocking=False):
                        job = self._claim_or_release(conn, slots)
                        if job is None:
                            break
                        pool.submit(self._run_in_thread, job, slots)
                    self.wake.wait(self.poll)
                    self.wake.clear()
                except psycopg.OperationalError as exc:
                    log.error("database unreachable (%s); retrying", exc)
                    conn = None
                    self.stop.wait(self.poll * 5)
            log.info("worker %s stopping: waiting for its running jobs", self.name)
            self._tick.set()
        periodic.join()
        listener.join()
        if conn is not None:
            conn.close()

    def _claim_or_release(self, conn: psycopg.Connection, slot: threading.Semaphore) -> dict | None:
        """A job claimed for the slot just taken; the slot is given back when there is none (or on error)."""
        try:
            job = queue.claim(conn, self.name, self.lease)
        except BaseException:
            slot.release()
            raise
        if job is None:
            slot.release()
        return job

    def _run_in_thread(self, job: dict, slot: threading.Semaphore) -> None:
        try:
            with self._connect() as conn:
                self._carry_out(conn, job)
        except psycopg.OperationalError as exc:  # its lease runs out and it is claimed again
            log.error("job %s: could not record its end (%s)", job["id"], exc)
        except Exception as exc:  # noqa: BLE001 - a bug, or a result that cannot be stored: fail it, to be retried
            log.exception("job %s: its end could not be recorded", job["id"])
            self._fail_unrecorded(job, f"{type(exc).__name__}: {exc}")
        finally:
            slot.release()
            self.wake.set()  # a slot is free, and a job queued behind this one's target may run

    def _fail_unrecorded(self, job: dict, error: str) -> None:
        """Record ``error`` as the attempt's failure (retried with backoff until the last attempt), on a
        connection of its own: the job's may be what broke."""
        try:
            with self._connect() as conn:
                self._finish_failed(conn, job, error, retry=True)
        except psycopg.Error as exc:  # its lease runs out and it is claimed again
            log.error("job %s: could not record its failure either (%s)", job["id"], exc)

    def _listen(self) -> None:
        """Set ``wake`` whenever a job is queued (or ends), until ``stop``; reconnects after an outage."""
        while not self.stop.is_set():
            try:
                with self._connect() as conn:
                    queue.listen(conn)
                    self.wake.set()  # whatever was queued while this was not listening
                    while not self.stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self.wake.set()
            except psycopg.OperationalError as exc:
                log.error("cannot listen for queued jobs (%s); retrying", exc)
                self.stop.wait(self.poll * 5)
