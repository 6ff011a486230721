"""/api/v1/security-groups: the acting project's security groups and their allow rules."""
from __future__ import annotations

from minicloud.services.network_rules import DIRECTIONS, PROTOCOLS
from minicloud.web.listing import list_query, page_args
from minicloud.web.schemas import BOOLEAN, COUNT, STRING, TIME, UUID, array, nullable, obj, page_of

NAME = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"^[A-Za-z0-9][A-Za-z0-9 ._@-]*$"}
PORT = {"type": "integer", "minimum": 0, "maximum": 65535}
LIST_QUERY = list_query(vpc_id={"type": "string", "format": "uuid", "description": "Only the groups of this VPC"})
CREATE_BODY = {
    "type": "object",
    "required": ["name", "vpc_id"],
    "additionalProperties": False,
    "properties": {"name": NAME, "vpc_id": {"type": "string", "format": "uuid"},
                   "description": {"type": "string", "maxLength": 255}},
}
RULE_BODY = {
    "type": "object",
    "required": ["direction", "protocol"],
    "additionalProperties": False,
    "properties": {
        "direction": {"type": "string", "enum": list(DIRECTIONS)},
        "protocol": {"type": "string", "enum": list(PROTOCOLS)},
        "port_min": {**PORT, "description": "tcp/udp only; leave both ports out for every port"},
        "port_max": PORT,
        "cidr": {"type": "string", "maxLength": 18,
                 "description": "The other side's IPv4 block (0.0.0.0/0 = anywhere); or give source_group_id"},
        "source_group_id": {"type": "string", "format": "uuid",
                            "description": "The other side is any member of this group (same VPC)"},
        "description": {"type": "string", "maxLength": 255},
    },
}
RULE = obj({"id": UUID, "security_group_id": UUID, "direction": {"type": "string", "enum": list(DIRECTIONS)},
            "protocol": {"type": "string", "enum": list(PROTOCOLS)}, "port_min": nullable(COUNT),
            "port_max": nullable(COUNT), "cidr": nullable(STRING), "source_group_id": nullable(UUID),
            "description": STRING, "created_at": TIME})
GROUP = obj({"id": UUID, "project_id": UUID, "vpc_id": UUID, "name": STRING, "description": STRING,
             "is_default": BOOLEAN, "number": COUNT, "rules": array(RULE), "created_at": TIME})
GROUP_PAGE = page_of(GROUP)


def list_groups(ctx):
    query = ctx.query()
    return ctx.respond(ctx.services.security_groups.list(ctx.project.id, vpc_id=query.get("vpc_id"),
                                                         **page_args(ctx)))


def create(ctx):
    group = ctx.services.security_groups.create(ctx.project.id, ctx.body())
    ctx.audit_target = str(group["id"])
    return ctx.respond(group, 201)


def get(ctx, group_id):
    return ctx.respond(ctx.services.security_groups.get(ctx.project.id, group_id))


def delete(ctx, group_id):
    ctx.services.security_groups.delete(ctx.project.id, group_id)
    return ctx.respond(None, 204)


def add_rule(ctx, group_id):
    rule = ctx.services.security_groups.add_rule(ctx.project.id, group_id, ctx.body())
    ctx.audit_target = str(group_id)
    return ctx.respond(rule, 201)


def delete_rule(ctx, group_id, rule_id):
    ctx.services.security_groups.delete_rule(ctx.project.id, group_id, rule_id)
    ctx.audit_target = str(group_id)
    return ctx.respond(None, 204)
