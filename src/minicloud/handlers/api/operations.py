"""/api/v1/operations/{id}: the progress of a slow operation (a job)."""
from __future__ import annotations


def get(ctx, operation_id):
    return ctx.respond(ctx.services.operations.get(ctx.principal, operation_id))
