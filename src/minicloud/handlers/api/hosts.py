"""/api/v1/hosts: the hypervisor hosts mini PCs are placed on (administrators)."""
from __future__ import annotations

from minicloud.web.listing import list_query, page_args
from minicloud.web.schemas import BOOLEAN, COUNT, STRING, TIME, UUID, extended, located, obj, page_of

LIST_QUERY = list_query()

_URI = {"type": "string", "minLength": 1, "maxLength": 500, "pattern": r"^[a-z][a-z0-9+]*://.*$"}
_NAME = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]*$"}
CREATE_BODY = {
    "type": "object",
    "required": ["name", "uri"],
    "additionalProperties": False,
    "properties": {"name": _NAME, "uri": {**_URI, "description": "A libvirt URI, e.g. qemu+ssh://node2/system"},
                   "enabled": {"type": "boolean", "default": True}},
}
UPDATE_BODY = {"type": "object", "additionalProperties": False,
               "properties": {"name": _NAME, "uri": _URI, "enabled": {"type": "boolean"}}}

HOST = obj({"id": UUID, "name": STRING, "uri": STRING, "enabled": BOOLEAN, "created_at": TIME})
HOST_USE = extended(HOST, {"instances": COUNT, "vcpus_used": COUNT, "ram_mib_used": COUNT, "disk_gib_used": COUNT,
                           "gpus_used": COUNT})
HOST_PAGE = page_of(HOST_USE)
CREATED = located(HOST)


def list_hosts(ctx):
    return ctx.respond(ctx.services.hosts.list(**page_args(ctx)))


def create(ctx):
    body = ctx.body()
    host = ctx.services.hosts.create(body["name"], body["uri"], body["enabled"])
    ctx.audit_target = str(host["id"])
    return ctx.respond(host, 201, {"Location": ctx.url_for("hosts.update", host_id=host["id"])})


def update(ctx, host_id):
    return ctx.respond(ctx.services.hosts.update(host_id, ctx.body()))
