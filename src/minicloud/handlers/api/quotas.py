"""/api/v1/quotas: the acting project's limits and what its mini PCs and buckets use; global administrators change limits."""
from __future__ import annotations

UPDATE_BODY = {
    "type": "object",
    "required": ["project_id", "limits"],
    "additionalProperties": False,
    "properties": {
        "project_id": {"type": "string", "format": "uuid"},
        "limits": {"type": "object", "description": "resource -> new limit (instances, vcpus, ram_mib, disk_gib, …)"},
    },
}


def show(ctx):
    return ctx.respond(ctx.services.quotas.show(ctx.project.id))


def update(ctx):
    body = ctx.body()
    return ctx.respond(ctx.services.quotas.set_limits(body["project_id"], body["limits"], ctx.lang))
