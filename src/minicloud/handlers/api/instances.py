"""/api/v1/instances: mini PCs of the acting project — create, list, show, rename, start/stop/reboot/resize, delete.

Slow work runs in jobs: those calls answer 202 with the instance in its
transitional state, ``operation_id`` naming the job, and a ``Location``.
"""
from __future__ import annotations

from minicloud.errors import ValidationFailed
from minicloud.services.instances import ACTIONS, NAME_PATTERN, STATES
from minicloud.web.listing import list_query
from minicloud.web.messages import text
from minicloud.web.schemas import COUNT, STRING, TIME, UUID, array, extended, located, nullable, obj, page_of, sparse
from minicloud.web.validation import validate

_NAME = {"type": "string", "minLength": 1, "maxLength": 63, "pattern": NAME_PATTERN,
         "x-required-message": "instance.name_required", "x-message": "instance.name_rule",
         "description": "Letters, digits and hyphens; it becomes the guest's hostname (lowercased)"}
_GROUP_IDS = {"type": "array", "minItems": 1, "items": {"type": "string", "format": "uuid"},
              "description": "1 to 5 groups of the subnet's VPC (default: the VPC's default group)"}
CREATE_BODY = {
    "type": "object",
    "required": ["name", "template_id"],
    "additionalProperties": False,
    "properties": {
        "name": _NAME,
        "template_id": {"type": "string", "format": "uuid"},
        "image_id": {"type": "string", "format": "uuid", "description": "Default: the configured default image"},
        "keypair_id": {"type": "string", "format": "uuid"},
        "password": {"type": "string", "minLength": 8, "maxLength": 128,
                     "description": "For the default user; stored only as a SHA-512 crypt hash"},
        "user_data": {"type": "string", "maxLength": 65536, "description": "Your own cloud-config or script"},
        "subnet_id": {"type": "string", "format": "uuid",
                      "description": "Default: the default subnet of the project's default VPC (made on first use)"},
        "security_group_ids": _GROUP_IDS,
    },
}
SECURITY_GROUPS_BODY = {"type": "object", "required": ["security_group_ids"], "additionalProperties": False,
                        "properties": {"security_group_ids": _GROUP_IDS}}
RENAME_BODY = {"type": "object", "required": ["name"], "additionalProperties": False, "properties": {"name": _NAME}}
RESIZE_BODY = {"type": "object", "required": ["template_id"], "additionalProperties": False,
               "properties": {"template_id": {"type": "string", "format": "uuid"}}}
LIST_QUERY = list_query(state={"type": "string", "enum": [s for s in STATES if s != "deleted"]})

_REF = obj({"id": UUID, "name": STRING})
INSTANCE = obj({
    "id": UUID, "project_id": UUID, "name": STRING,
    "hostname": {"type": "string", "description": "The guest's hostname: the name in lower case"},
    "state": {"type": "string", "enum": [s for s in STATES if s != "deleted"]},
    "status_reason": nullable({"type": "string", "description": "Why it is in error, in the caller's language"}),
    "template": _REF, "image": _REF, "keypair": nullable(_REF),
    "host": nullable({**_REF, "description": "null until a job has placed it"}),
    "vcpus": COUNT, "ram_mib": COUNT, "disk_gib": COUNT, "gpus": COUNT, "addresses": array(STRING),
    "subnet_id": nullable(UUID), "vpc_id": nullable(UUID),
    "private_ip": nullable({"type": "string", "description": "Its static address in the subnet (IPAM, by DHCP)"}),
    "public_ip": nullable({"type": "string", "description": "The public IP associated with it (1:1 NAT)"}),
    "security_groups": array(_REF),
    "connect": obj({"addresses": array(STRING),
                    "ssh": nullable({"type": "string", "description": "The SSH command to connect with"})}),
    "allowed_actions": array({"type": "string", "enum": list(ACTIONS)}),
    "created_at": TIME, "updated_at": TIME,
})
INSTANCE_DETAIL = extended(INSTANCE, {
    "domain_name": {"type": "string", "description": "The libvirt domain"},
    "nic": sparse({"mode": {"type": "string", "enum": ["user", "network"]}, "network": STRING, "mac": STRING,
                   "ssh_port": COUNT}, description="{} until a job has placed it"),
    "artefacts": sparse({"domain_xml": STRING, "meta_data": STRING, "user_data": STRING, "network_config": STRING,
                         "calls": array(STRING)},
                        description="What the driver rendered and did (passwords masked); {} until it is built"),
})
INSTANCE_PAGE = page_of(INSTANCE)
ACCEPTED = located(extended(INSTANCE, {"operation_id": {**UUID, "description": "GET /api/v1/operations/{id}"}}))
CONSOLE_OUTPUT = obj({"output": STRING})


def _named_body(ctx) -> dict:
    """The body checked against the route's schema; a bad name alone answers with the name's own message."""
    data = ctx.json()
    try:
        return validate(data, ctx.route.body, ctx.t)
    except ValidationFailed as exc:
        fields = exc.details["fields"]
        if list(fields) == ["name"] and isinstance(data, dict):
            key = "instance.name_required" if data.get("name") in (None, "") else "instance.name_rule"
            raise ValidationFailed(fields, key=key) from None
        raise


def shown(ctx, instance: dict) -> dict:
    """The service's instance as the caller reads it: why it is in error, in their language."""
    return {**instance, "status_reason": text(ctx.t, instance["status_reason"])}


def _accepted(ctx, instance):
    ctx.audit_target = str(instance["id"])
    location = ctx.url_for("instances.get", instance_id=instance["id"])
    return ctx.respond(shown(ctx, instance), 202, {"Location": location})


def create(ctx):
    return _accepted(ctx, ctx.services.instances.create(ctx.principal, ctx.project, _named_body(ctx)))


def list_instances(ctx):
    q = ctx.query()
    page = ctx.services.instances.list(ctx.project, limit=q["limit"], cursor=q.get("cursor"), state=q.get("state"))
    return ctx.respond({**page, "items": [shown(ctx, item) for item in page["items"]]})


def get(ctx, instance_id):
    return ctx.respond(shown(ctx, ctx.services.instances.get(ctx.project, instance_id)))


def rename(ctx, instance_id):
    body = _named_body(ctx)
    return ctx.respond(shown(ctx, ctx.services.instances.rename(ctx.project, instance_id, body["name"])))


def _action(name):
    def handler(ctx, instance_id):
        return _accepted(ctx, ctx.services.instances.act(ctx.principal, ctx.project, instance_id, name))

    handler.__name__ = name
    handler.__doc__ = f"POST /api/v1/instances/{{id}}/{name}"
    return handler


start = _action("start")
stop = _action("stop")
reboot = _action("reboot")


def resize(ctx, instance_id):
    body = ctx.body()
    resized = ctx.services.instances.resize(ctx.principal, ctx.project, instance_id, body["template_id"])
    return _accepted(ctx, resized)


def delete(ctx, instance_id):
    return _accepted(ctx, ctx.services.instances.act(ctx.principal, ctx.project, instance_id, "delete"))


CONSOLE_BODY = {"type": "object", "required": ["input"], "additionalProperties": False,
                "properties": {"input": {"type": "string", "minLength": 1, "maxLength": 4096,
                                         "description": "Typed on the serial console as is (end it with \\r for Enter)"}}}
CONSOLE_QUERY = {"type": "object", "properties": {
    "max_bytes": {"type": "integer", "minimum": 1, "maximum": 1048576, "default": 65536}}}


def console(ctx, instance_id):
    """The tail of the serial console output."""
    query = ctx.query()
    output = ctx.services.instances.console_log(ctx.project, instance_id, query["max_bytes"])
    return ctx.respond({"output": output})


def console_input(ctx, instance_id):
    ctx.services.instances.console_send(ctx.project, instance_id, ctx.body()["input"])
    return ctx.respond(None, 204)


def set_security_groups(ctx, instance_id):
    """PUT /api/v1/instances/{id}/security-groups: takes effect on a running guest, without a restart."""
    groups = ctx.body()["security_group_ids"]
    return ctx.respond(shown(ctx, ctx.services.instances.set_security_groups(ctx.project, instance_id, groups)))
