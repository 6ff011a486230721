"""/api/v1/vpcs: the acting project's VPCs — create, list, show, rename, delete (or take apart with cascade=true)."""
from __future__ import annotations

from minicloud.web.listing import list_query, page_args
from minicloud.web.schemas import BOOLEAN, COUNT, STRING, TIME, UUID, array, located, nullable, obj, page_of

NAME = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]*$"}
CIDR = {"type": "string", "maxLength": 43, "description": "An IPv4 block in network-address form, e.g. 10.0.0.0/16"}
LIST_QUERY = list_query()
CREATE_BODY = {"type": "object", "required": ["name", "cidr"], "additionalProperties": False,
               "properties": {"name": NAME, "cidr": {**CIDR, "description": "Private (RFC 1918), /16 to /28"}}}
UPDATE_BODY = {"type": "object", "required": ["name"], "additionalProperties": False,
               "properties": {"name": NAME, "cidr": {**CIDR, "description": "Cannot change: another block is 422"}}}
DELETE_QUERY = {"type": "object", "properties": {
    "cascade": {"type": "string", "enum": ["true", "false"],
                "description": "true takes the VPC apart in a job (202); otherwise a VPC holding anything is a 409"}}}

VPC = obj({"id": UUID, "project_id": UUID, "name": STRING, "cidr": STRING, "is_default": BOOLEAN,
           "main_route_table_id": UUID, "default_network_acl_id": UUID, "default_security_group_id": UUID,
           "internet_gateway": nullable(obj({"id": UUID, "address": STRING})), "created_at": TIME, "updated_at": TIME})
VPC_PAGE = page_of(VPC)
ACCEPTED = located(obj({"vpc_id": UUID, "operation_id": {**UUID, "description": "GET /api/v1/operations/{id}"}}))
_ITEM = obj({"id": UUID, "name": STRING})
PLAN = obj({"vpc_id": UUID, "steps": array(obj({
    "order": COUNT, "kind": {"type": "string", "enum": ["instances", "public_ips", "subnets", "route_tables",
                                                         "internet_gateway", "security_groups", "network_acls",
                                                         "vpc"]},
    "action": {"type": "string", "enum": ["delete", "disassociate"]}, "items": array(_ITEM)}))})


def list_vpcs(ctx):
    return ctx.respond(ctx.services.vpcs.list(ctx.project.id, **page_args(ctx)))


def create(ctx):
    body = ctx.body()
    vpc = ctx.services.vpcs.create(ctx.project.id, body["name"], body["cidr"])
    ctx.audit_target = str(vpc["id"])
    return ctx.respond(vpc, 201, {"Location": ctx.url_for("vpcs.get", vpc_id=vpc["id"])})


def get(ctx, vpc_id):
    return ctx.respond(ctx.services.vpcs.get(ctx.project.id, vpc_id))


def update(ctx, vpc_id):
    body = ctx.body()
    return ctx.respond(ctx.services.vpcs.rename(ctx.project.id, vpc_id, body["name"], body.get("cidr")))


def delete(ctx, vpc_id):
    if ctx.query().get("cascade") == "true":
        job = ctx.services.vpcs.delete_cascade(ctx.principal, ctx.project.id, vpc_id)
        return ctx.respond({"vpc_id": vpc_id, "operation_id": job["id"]}, 202,
                           {"Location": ctx.url_for("operations.get", operation_id=job["id"])})
    ctx.services.vpcs.delete(ctx.project.id, vpc_id)
    return ctx.respond(None, 204)


def delete_plan(ctx, vpc_id):
    return ctx.respond({"vpc_id": vpc_id, "steps": ctx.services.vpcs.delete_plan(ctx.project.id, vpc_id)})
