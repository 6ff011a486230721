"""The host's network as the database says it should be, and the one way a change reaches the host.

Every service that changes something the host enforces (a subnet, a security-group rule or
membership, an ACL entry, a route, a gateway, a public IP, an instance's NIC) calls
``request_apply(conn)`` in its own transaction: one ``network.apply`` job is queued (never a second
one while one waits), and the worker applies the whole desired state when it runs. Applying the
whole state each time keeps one code path for a change, the reconciler and a host restart.
"""
from __future__ import annotations

import psycopg

from minicloud.config import Config
from minicloud.db import queue
from minicloud.db.pool import Database

APPLY_JOB = "network.apply"
APPLY_TARGET = "network:host"  # one apply at a time: jobs of one target never run together


class NetworkState:
    def __init__(self, db: Database, config: Config):
        self.db = db
        self.config = config

    def request_apply(self, conn: psycopg.Connection) -> None:
        """In the caller's transaction: make sure a ``network.apply`` job is waiting (at most one queued)."""
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (APPLY_TARGET,))
        waiting = conn.execute("SELECT 1 FROM jobs WHERE kind = %s AND state = 'queued' LIMIT 1",
                               (APPLY_JOB,)).fetchone()
        if waiting is None:
            queue.enqueue(conn, APPLY_JOB, {}, target=APPLY_TARGET,
                          max_attempts=int(self.config.get("jobs.max_attempts")))
