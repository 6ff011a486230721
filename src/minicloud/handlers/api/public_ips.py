"""/api/v1/public-ips: addresses of the public pool held by the project, each on at most one mini PC."""
from __future__ import annotations

from minicloud.web.listing import list_query, page_args
from minicloud.web.schemas import STRING, TIME, UUID, nullable, obj, page_of

LIST_QUERY = list_query()
ASSOCIATE_BODY = {"type": "object", "required": ["instance_id"], "additionalProperties": False,
                  "properties": {"instance_id": {"type": "string", "format": "uuid"}}}
PUBLIC_IP = obj({"id": UUID, "project_id": UUID, "address": STRING,
                 "instance": nullable(obj({"id": UUID, "name": STRING})), "created_at": TIME})
PUBLIC_IP_PAGE = page_of(PUBLIC_IP)


def list_ips(ctx):
    return ctx.respond(ctx.services.public_ips.list(ctx.project.id, **page_args(ctx)))


def create(ctx):
    address = ctx.services.public_ips.create(ctx.project.id)
    ctx.audit_target = str(address["id"])
    return ctx.respond(address, 201, {"Location": ctx.url_for("public_ips.get", public_ip_id=address["id"])})


def get(ctx, public_ip_id):
    return ctx.respond(ctx.services.public_ips.get(ctx.project.id, public_ip_id))


def delete(ctx, public_ip_id):
    ctx.services.public_ips.delete(ctx.project.id, public_ip_id)
    return ctx.respond(None, 204)


def associate(ctx, public_ip_id):
    body = ctx.body()
    return ctx.respond(ctx.services.public_ips.associate(ctx.project.id, public_ip_id, body["instance_id"]))


def disassociate(ctx, public_ip_id):
    return ctx.respond(ctx.services.public_ips.disassociate(ctx.project.id, public_ip_id))
