"""/api/v1/operations/{id}: the progress of a slow operation (a job)."""
from __future__ import annotations

from minicloud.web.schemas import COUNT, STRING, TIME, UUID, nullable, obj

OPERATION = obj({
    "id": UUID, "kind": {"type": "string", "description": "The job, e.g. instance.create"},
    "state": {"type": "string", "enum": ["queued", "running", "succeeded", "failed"]},
    "target": nullable(STRING), "attempts": COUNT, "max_attempts": COUNT, "last_error": nullable(STRING),
    "result": {"description": "What the job returned (any JSON); null until it has succeeded"},
    "project_id": nullable(UUID), "created_at": TIME, "started_at": nullable(TIME), "finished_at": nullable(TIME),
    "updated_at": TIME,
})


def get(ctx, operation_id):
    return ctx.respond(ctx.services.operations.get(ctx.principal, operation_id))
