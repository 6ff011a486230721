"""How many jobs, mini PCs and apps are in each state, platform-wide (the gauges of GET /metrics).

Every known state is counted, zeros included, so a series never vanishes while its state is empty.
"""
from __future__ import annotations

from minicloud.db.pool import Database
from minicloud.services.apps import STATUSES as APP_STATES
from minicloud.services.instances import STATES as INSTANCE_STATES

OPEN_JOB_STATES = ("queued", "running")  # the queue's depth; succeeded and failed jobs are history

_QUERIES = {
    "jobs": "SELECT state, count(*) AS n FROM jobs WHERE state IN ('queued', 'running') GROUP BY state",
    "instances": "SELECT state, count(*) AS n FROM instances WHERE state <> 'deleted' GROUP BY state",
    "apps": "SELECT status AS state, count(*) AS n FROM apps GROUP BY status",
}
_KNOWN = {
    "jobs": OPEN_JOB_STATES,
    "instances": tuple(state for state in INSTANCE_STATES if state != "deleted"),
    "apps": APP_STATES,
}


class ResourceCounts:
    def __init__(self, db: Database):
        self.db = db

    def by_state(self) -> dict[str, dict[str, int]]:
        """``{"jobs": {"queued": 2, "running": 0}, "instances": {...}, "apps": {...}}`` in one transaction."""
        counts = {}
        with self.db.connection() as conn:
            for resource, sql in _QUERIES.items():
                found = {row["state"]: row["n"] for row in conn.execute(sql).fetchall()}
                counts[resource] = {state: 0 for state in _KNOWN[resource]} | found
        return counts
