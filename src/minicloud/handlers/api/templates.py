"""/api/v1/templates: the mini PC specs (everyone reads; administrators create, change and disable)."""
from __future__ import annotations

from minicloud.web.listing import list_query, page_args
from minicloud.web.schemas import BOOLEAN, COUNT, STRING, TIME, UUID, located, obj, page_of

LIST_QUERY = list_query()

_SPEC = {
    "name": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]*$"},
    "vcpus": {"type": "integer", "minimum": 1, "maximum": 256},
    "ram_mib": {"type": "integer", "minimum": 64, "maximum": 4194304},
    "disk_gib": {"type": "integer", "minimum": 1, "maximum": 65536},
    "gpus": {"type": "integer", "minimum": 0, "maximum": 16},
    "enabled": {"type": "boolean"},
    "description": {"type": "string", "maxLength": 500},
}
CREATE_BODY = {
    "type": "object",
    "required": ["name", "vcpus", "ram_mib", "disk_gib"],
    "additionalProperties": False,
    "properties": {**_SPEC, "gpus": {**_SPEC["gpus"], "default": 0}, "enabled": {"type": "boolean", "default": True},
                   "description": {**_SPEC["description"], "default": ""}},
}
UPDATE_BODY = {"type": "object", "additionalProperties": False, "properties": _SPEC}

TEMPLATE = obj({"id": UUID, "name": STRING, "vcpus": COUNT, "ram_mib": COUNT, "disk_gib": COUNT, "gpus": COUNT,
                "enabled": BOOLEAN, "description": STRING, "created_at": TIME})
TEMPLATE_PAGE = page_of(TEMPLATE)
CREATED = located(TEMPLATE)


def list_templates(ctx):
    return ctx.respond(ctx.services.templates.list(ctx.principal, **page_args(ctx)))


def create(ctx):
    template = ctx.services.templates.create(ctx.body())
    ctx.audit_target = str(template["id"])
    return ctx.respond(template, 201, {"Location": ctx.url_for("templates.update", template_id=template["id"])})


def update(ctx, template_id):
    return ctx.respond(ctx.services.templates.update(template_id, ctx.body()))
