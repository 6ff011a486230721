"""/api/v1/vpcs/{id}/route-tables and /api/v1/route-tables/{id}: route tables and their routes."""
from __future__ import annotations

from minicloud.handlers.api.vpcs import NAME
from minicloud.web.schemas import BOOLEAN, STRING, TIME, UUID, array, nullable, obj, page_of

CREATE_BODY = {"type": "object", "required": ["name"], "additionalProperties": False, "properties": {"name": NAME}}
ROUTE_BODY = {"type": "object", "required": ["destination", "target"], "additionalProperties": False,
              "properties": {"destination": {"type": "string", "maxLength": 43, "description": "e.g. 0.0.0.0/0"},
                             "target": {"type": "string", "enum": ["internet_gateway", "local"],
                                        "description": "internet_gateway: the VPC's gateway (local is the VPC's own)"}}}
ROUTE = obj({"id": UUID, "destination": STRING, "target": {"type": "string", "enum": ["local", "internet_gateway"]},
             "internet_gateway_id": nullable(UUID)})
ROUTE_TABLE = obj({"id": UUID, "vpc_id": UUID, "name": STRING, "is_main": BOOLEAN, "routes": array(ROUTE),
                   "subnet_ids": array(UUID), "created_at": TIME})
ROUTE_TABLE_PAGE = page_of(ROUTE_TABLE)


def list_tables(ctx, vpc_id):
    return ctx.respond(ctx.services.vpcs.list_route_tables(ctx.project.id, vpc_id))


def create(ctx, vpc_id):
    table = ctx.services.vpcs.create_route_table(ctx.project.id, vpc_id, ctx.body()["name"])
    ctx.audit_target = str(table["id"])
    return ctx.respond(table, 201, {"Location": ctx.url_for("route_tables.get", route_table_id=table["id"])})


def get(ctx, route_table_id):
    return ctx.respond(ctx.services.vpcs.get_route_table(ctx.project.id, route_table_id))


def delete(ctx, route_table_id):
    ctx.services.vpcs.delete_route_table(ctx.project.id, route_table_id)
    return ctx.respond(None, 204)


def add_route(ctx, route_table_id):
    body = ctx.body()
    table = ctx.services.vpcs.add_route(ctx.project.id, route_table_id, body["destination"], body["target"])
    return ctx.respond(table, 201)


def delete_route(ctx, route_table_id, route_id):
    ctx.services.vpcs.delete_route(ctx.project.id, route_table_id, route_id)
    return ctx.respond(None, 204)
