"""Built-in housekeeping jobs."""
from __future__ import annotations

from minicloud.jobs.registry import job_type


@job_type("maintenance.prune")
def prune(job: dict, context) -> dict:
    """Forget revocations of expired tokens and login failures older than a day."""
    db = context.services.db
    tokens = context.services.sessions.prune()
    failures = db.execute("DELETE FROM login_failures WHERE failed_at < now() - interval '1 day'")
    return {"revoked_tokens_pruned": tokens, "login_failures_pruned": failures}
