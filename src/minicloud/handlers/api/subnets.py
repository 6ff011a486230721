"""/api/v1/vpcs/{id}/subnets and /api/v1/subnets/{id}: a VPC's subnets, their addresses and route table."""
from __future__ import annotations

from minicloud.handlers.api.vpcs import CIDR, NAME
from minicloud.web.schemas import BOOLEAN, COUNT, STRING, TIME, UUID, obj, page_of

CREATE_BODY = {"type": "object", "required": ["name", "cidr"], "additionalProperties": False,
               "properties": {"name": NAME, "cidr": {**CIDR, "description": "Inside the VPC's block, /16 to /28"}}}
ROUTE_TABLE_BODY = {"type": "object", "required": ["route_table_id"], "additionalProperties": False,
                    "properties": {"route_table_id": {"type": "string", "format": "uuid"}}}
SUBNET = obj({"id": UUID, "vpc_id": UUID, "name": STRING, "cidr": STRING, "is_default": BOOLEAN,
              "route_table_id": UUID, "network_acl_id": UUID,
              "public": {**BOOLEAN, "description": "Its route table sends 0.0.0.0/0 to the internet gateway"},
              "usable_ip_count": {**COUNT, "description": "The block's size less the five reserved addresses"},
              "used_ip_count": COUNT, "available_ip_count": COUNT, "created_at": TIME})
SUBNET_PAGE = page_of(SUBNET)


def list_subnets(ctx, vpc_id):
    return ctx.respond(ctx.services.subnets.list(ctx.project.id, vpc_id))


def create(ctx, vpc_id):
    body = ctx.body()
    subnet = ctx.services.subnets.create(ctx.project.id, vpc_id, body["name"], body["cidr"])
    ctx.audit_target = str(subnet["id"])
    return ctx.respond(subnet, 201, {"Location": ctx.url_for("subnets.get", subnet_id=subnet["id"])})


def get(ctx, subnet_id):
    return ctx.respond(ctx.services.subnets.get(ctx.project.id, subnet_id))


def delete(ctx, subnet_id):
    ctx.services.subnets.delete(ctx.project.id, subnet_id)
    return ctx.respond(None, 204)


def set_route_table(ctx, subnet_id):
    body = ctx.body()
    return ctx.respond(ctx.services.subnets.set_route_table(ctx.project.id, subnet_id, body["route_table_id"]))
