"""/api/v1/quotas: the acting project's limits and what its mini PCs and buckets use; global administrators change limits."""
from __future__ import annotations

from minicloud.services.quotas import COMPUTE, STORAGE
from minicloud.web.schemas import COUNT, UUID, obj

UPDATE_BODY = {
    "type": "object",
    "required": ["project_id", "limits"],
    "additionalProperties": False,
    "properties": {
        "project_id": {"type": "string", "format": "uuid"},
        "limits": {"type": "object", "description": "resource -> new limit (instances, vcpus, ram_mib, disk_gib, …)"},
    },
}

RESOURCES = (*COMPUTE, *STORAGE, "apps")
_FIGURES = obj({name: COUNT for name in RESOURCES})
QUOTAS = obj({"project_id": UUID, "limits": {**_FIGURES, "description": "resource -> limit"},
              "usage": {**_FIGURES, "description": "resource -> what the project uses now"}})


def show(ctx):
    return ctx.respond(ctx.services.quotas.show(ctx.project.id))


def update(ctx):
    body = ctx.body()
    return ctx.respond(ctx.services.quotas.set_limits(body["project_id"], body["limits"]))
