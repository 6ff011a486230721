"""Built-in housekeeping jobs."""
from __future__ import annotations

from minicloud.jobs.registry import job_type
from minicloud.jobs.worker import JobContext


@job_type("maintenance.prune")
def prune(job: dict, context: JobContext) -> dict:
    """Forget revocations of expired tokens, login failures older than a day and sign-in addresses not
    used for auth.login_known_address_days."""
    tokens = context.services.sessions.prune()
    failures, addresses = context.services.accounts.throttle.prune()
    return {"revoked_tokens_pruned": tokens, "login_failures_pruned": failures,
            "known_addresses_pruned": addresses}
