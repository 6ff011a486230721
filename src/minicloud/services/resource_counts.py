"""How many jobs, mini PCs and apps are in each state, platform-wide (the gauges of GET /metrics).

Every known state is counted, zeros included, so a series never vanishes while its state is empty.
"""
from __future__ import annotations

from minicloud.db.pool import Database
from minicloud.services.apps import STATUSES as APP_STATES
from minicloud.services.instances import STATES as INSTANCE_STATES

OPEN_JOB_STATES = ("queued", "running")  # the queue's depth; succeeded and failed jobs are history

# what is counted: (its states, zeros included, and the query counting each)
_COUNTED = {
    "jobs": (OPEN_JOB_STATES, "SELECT state, count(*) AS n FROM jobs WHERE state = ANY(%s) GROUP BY state"),
    "instances": (tuple(state for state in INSTANCE_STATES if state != "deleted"),
                  "SELECT state, count(*) AS n FROM instances WHERE state = ANY(%s) GROUP BY state"),
    "apps": (APP_STATES, "SELECT status AS state, count(*) AS n FROM apps WHERE status = ANY(%s) GROUP BY status"),
}


class ResourceCounts:
    def __init__(self, db: Database):
        self.db = db

    def by_state(self) -> dict[str, dict[str, int]]:
        """``{"jobs": {"queued": 2, "running": 0}, "instances": {...}, "apps": {...}}`` in one transaction."""
        counts = {}
        with self.db.connection() as conn:
            for resource, (states, sql) in _COUNTED.items():
                found = {row["state"]: row["n"] for row in conn.execute(sql, (list(states),)).fetchall()}
                counts[resource] = {state: 0 for state in states} | found
        return counts
