"""/api/v1/vpcs/{id}/internet-gateway: a VPC's one way out, with an address from the public pool."""
from __future__ import annotations

from minicloud.web.schemas import STRING, TIME, UUID, obj

GATEWAY = obj({"id": UUID, "vpc_id": UUID, "address": STRING, "created_at": TIME})


def attach(ctx, vpc_id):
    gateway = ctx.services.vpcs.attach_gateway(ctx.project.id, vpc_id)
    ctx.audit_target = str(gateway["id"])
    return ctx.respond(gateway, 201)


def detach(ctx, vpc_id):
    ctx.services.vpcs.detach_gateway(ctx.project.id, vpc_id)
    return ctx.respond(None, 204)
