"""Storage re-sync: copy each bucket's object count and bytes from Swift into the database.

Uploads and deletes through minicloud refresh their bucket at once; this pass repairs
drift from anything else (a refresh missed while Swift was down, objects written to
Swift directly). Every ``storage.sync_seconds``.
"""
from __future__ import annotations

from minicloud.jobs.registry import periodic
from minicloud.jobs.worker import JobContext


@periodic("storage.sync", "storage.sync_seconds")
def sync_buckets(context: JobContext) -> int:
    """One pass; returns how many buckets were refreshed (stops early while Swift is unreachable)."""
    return context.services.storage.sync()
