"""``minicloud worker``: claims jobs from PostgreSQL and runs them, with retries and backoff.

Guarantees: a job is run by one worker at a time (claims use SKIP LOCKED and a
lease the running worker keeps extending); a job whose worker was killed is
claimed again once its lease runs out; a failing job is retried with
exponential backoff until ``max_attempts``, then ends ``failed`` with its error.

A worker runs up to ``jobs.concurrency`` jobs at once, each in a thread of its own
(never two jobs of one target: see ``minicloud.db.queue``), and claims as soon as a
job is queued (it LISTENs on the queue's channel; ``jobs.poll_seconds`` is the
fallback for delayed retries and missed notifications). Periodic tasks run in its
main loop, in one worker of the cluster at a time. On ``stop`` it claims nothing
more and lets the jobs it runs finish.
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
from minicloud.jobs.registry import PermanentJobError, load_modules, lookup, periodic_tasks
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
        self.wake = threading.Event()
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
            with conn.transaction():
                queue.fail(conn, job, self.name, job["last_error"] or "the worker running it stopped", None)
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
                queue.succeed(conn, job, self.name, result)
            log.info("job %s succeeded", job["id"])
        finally:
            done.set()
            heartbeat.join()

    def _execute(self, job: dict) -> Any:
        fn = lookup(job["kind"])
        if fn is None:
            raise PermanentJobError(f"unknown job type {job['kind']!r}")
        return metrics.timed_job(job["kind"], fn, job, JobContext(self.config, self.name, self.services))

    def _finish_failed(self, conn: psycopg.Connection, job: dict, error: str, retry: bool) -> None:
        retry_in = self.backoff(job["attempts"]) if retry and job["attempts"] < job["max_attempts"] else None
        with conn.transaction():
            state = queue.fail(conn, job, self.name, error, retry_in)
        log.info("job %s -> %s (%s)", job["id"], state, error)

    def _keep_lease(self, job: dict, done: threading.Event) -> None:
        with self._connect() as conn:
            while not done.wait(self.lease / 3):
                queue.extend_lease(conn, job["id"], self.name, self.lease)

    def trigger(self, name: str) -> None:
        """Run periodic task ``name`` at the next turn of the loop (e.g. after a libvirt event)."""
        self._due[name] = 0.0
        self.wake.set()

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
                fn(JobContext(self.config, self.name, self.services))
                ran.append(name)
            except Exception:  # noqa: BLE001 - a failed pass is logged; the next one tries again
                log.exception("periodic task %s failed", name)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
        return ran

    def run_forever(self) -> None:
        """Claim and run jobs (up to ``concurrency`` at once) and periodic tasks until ``stop`` is set;
        then wait for the running jobs to end."""
        log.info("worker %s running up to %d jobs at once (poll fallback %.1fs)", self.name, self.concurrency,
                 self.poll)
        listener = threading.Thread(target=self._listen, name=f"{self.name}-listen", daemon=True)
        listener.start()
        slots = threading.Semaphore(self.concurrency)
        conn = None
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"{self.name}-job") as pool:
            while not self.stop.is_set():
                try:
                    if conn is None or conn.closed:
                        conn = self._connect()
                    self.run_periodic(conn)
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
        except psycopg.Error as exc:  # its lease runs out and it is claimed again
            log.error("job %s: could not record its end (%s)", job["id"], exc)
        finally:
            slot.release()
            self.wake.set()  # a slot is free, and a job queued behind this one's target may run

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
