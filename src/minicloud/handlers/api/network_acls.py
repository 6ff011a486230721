"""/api/v1 network ACLs of the acting project's VPCs, their numbered entries, and a subnet's ACL."""
from __future__ import annotations

from minicloud.services.network_rules import ACTIONS, DIRECTIONS, MAX_ACL_NUMBER, MIN_ACL_NUMBER, PROTOCOLS
from minicloud.web.listing import list_query, page_args
from minicloud.web.schemas import BOOLEAN, COUNT, STRING, TIME, UUID, array, nullable, obj, page_of

NAME = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"^[A-Za-z0-9][A-Za-z0-9 ._@-]*$"}
PORT = {"type": "integer", "minimum": 0, "maximum": 65535}
LIST_QUERY = list_query()
CREATE_BODY = {"type": "object", "required": ["name"], "additionalProperties": False, "properties": {"name": NAME}}
ENTRY_BODY = {
    "type": "object",
    "required": ["number", "direction", "action", "protocol", "cidr"],
    "additionalProperties": False,
    "properties": {
        "number": {"type": "integer", "minimum": MIN_ACL_NUMBER, "maximum": MAX_ACL_NUMBER,
                   "description": "Evaluated in ascending order; the first match decides"},
        "direction": {"type": "string", "enum": list(DIRECTIONS),
                      "description": "ingress: entering the subnet; egress: leaving it"},
        "action": {"type": "string", "enum": list(ACTIONS)},
        "protocol": {"type": "string", "enum": list(PROTOCOLS)},
        "port_min": {**PORT, "description": "tcp/udp only; leave both ports out for every port"},
        "port_max": PORT,
        "cidr": {"type": "string", "minLength": 9, "maxLength": 18, "description": "The other side's IPv4 block"},
    },
}
ASSOCIATE_BODY = {"type": "object", "required": ["network_acl_id"], "additionalProperties": False,
                  "properties": {"network_acl_id": {"type": "string", "format": "uuid"}}}
_REF = obj({"id": UUID, "name": STRING})
ENTRY = obj({"id": UUID, "network_acl_id": UUID, "number": COUNT,
             "direction": {"type": "string", "enum": list(DIRECTIONS)},
             "action": {"type": "string", "enum": list(ACTIONS)},
             "protocol": {"type": "string", "enum": list(PROTOCOLS)}, "port_min": nullable(COUNT),
             "port_max": nullable(COUNT), "cidr": STRING, "created_at": TIME})
ACL = obj({"id": UUID, "project_id": UUID, "vpc_id": UUID, "name": STRING, "is_default": BOOLEAN,
           "entries": array(ENTRY, description="Without a match the final * entry denies"),
           "subnets": array(_REF, description="The subnets it filters"), "created_at": TIME})
ACL_PAGE = page_of(ACL)
ASSOCIATION = obj({"subnet_id": UUID, "network_acl_id": UUID, "network_acl_name": STRING})


def list_acls(ctx, vpc_id):
    return ctx.respond(ctx.services.network_acls.list(ctx.project.id, vpc_id, **page_args(ctx)))


def create(ctx, vpc_id):
    acl = ctx.services.network_acls.create(ctx.project.id, vpc_id, ctx.body()["name"])
    ctx.audit_target = str(acl["id"])
    return ctx.respond(acl, 201)


def get(ctx, acl_id):
    return ctx.respond(ctx.services.network_acls.get(ctx.project.id, acl_id))


def delete(ctx, acl_id):
    ctx.services.network_acls.delete(ctx.project.id, acl_id)
    return ctx.respond(None, 204)


def add_entry(ctx, acl_id):
    entry = ctx.services.network_acls.add_entry(ctx.project.id, acl_id, ctx.body())
    ctx.audit_target = str(acl_id)
    return ctx.respond(entry, 201)


def delete_entry(ctx, acl_id, entry_id):
    ctx.services.network_acls.delete_entry(ctx.project.id, acl_id, entry_id)
    ctx.audit_target = str(acl_id)
    return ctx.respond(None, 204)


def associate(ctx, subnet_id):
    association = ctx.services.network_acls.associate(ctx.project.id, subnet_id, ctx.body()["network_acl_id"])
    ctx.audit_target = str(subnet_id)
    return ctx.respond(association)
