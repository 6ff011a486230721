"""The Networks console (issue 10): the VPC list with its create form, and the project's public IPs.

Every page works without JavaScript: each change is a form post answered by a redirect back to the
page with ``?done=<what>&name=<which>`` (said on the page in its language) or, when the service
refuses, by the same page again with the message (and the field's message next to the field).
The VPC page is in ``networks_vpc.py``, the rule editors in ``networks_rules.py``.
"""
from __future__ import annotations

import logging
import re
import uuid

from minicloud.errors import ApiError, BadRequest, ValidationFailed
from minicloud.handlers.pages.common import in_utc, render
from minicloud.handlers.pages.confirm import confirm_first
from minicloud.web.messages import field_messages

log = logging.getLogger("minicloud.pages.networks")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # the API's name patterns (handlers/api/vpcs.py,
RULE_SET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}")  # security_groups.py and network_acls.py)

# ?done=<code> → the message key saying what the last form did (the name comes in ?name=).
DONE = {code: f"networks_console.done.{code}" for code in (
    "vpc_created", "vpc_deleted", "vpc_delete_started", "subnet_created", "subnet_deleted", "ip_allocated",
    "ip_released", "ip_associated", "ip_disassociated", "gateway_attached", "gateway_detached", "route_added",
    "route_removed", "table_created", "table_deleted", "table_associated", "group_created", "group_deleted",
    "rule_added", "rule_deleted", "acl_created", "acl_deleted", "entry_added", "entry_deleted", "acl_associated")}


# ---- shared by the networks pages ---------------------------------------------------------------

def done_message(ctx) -> str | None:
    code = ctx.request.args.get("done")
    return ctx.t(DONE[code], name=ctx.request.args.get("name", "")) if code in DONE else None


def problem(ctx, exc: ApiError) -> tuple[int, str, dict]:
    """(status, message, {field: message}) for a refused form: said on the page it came from."""
    fields = field_messages(ctx.t, exc.fields) if isinstance(exc, ValidationFailed) else {}
    return exc.status, exc.message(ctx.lang), fields


def form_uuid(ctx, name: str, required: bool = True) -> uuid.UUID | None:
    """A form field holding an id; a malformed one is a 400 (the forms only offer real ids)."""
    value = ctx.request.form.get(name, "").strip()
    if not value and not required:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise BadRequest("error.bad_request") from None


def check_name(name: str, field: str = "name", pattern: re.Pattern = NAME) -> None:
    """A VPC, subnet, table, group or ACL name as the API takes it (the services trust their callers on this)."""
    if not pattern.fullmatch(name):
        raise ValidationFailed({field: "networks_console.name_invalid"}, key="networks_console.name_invalid")


def form_values(ctx, *names: str) -> dict:
    form = ctx.request.form
    return {name: form.get(name, "").strip() for name in names}


def back(ctx, endpoint: str, done: str, name="", anchor: str = "", **params) -> object:
    """A redirect to ``endpoint`` saying ``done``."""
    return ctx.redirect(ctx.url_for(endpoint, done=done, name=str(name), **params) + anchor)


def items(page) -> list[dict]:
    """The rows of a service's answer (a page ``{"items": [...]}`` or a plain list)."""
    return list(page["items"] if isinstance(page, dict) else page)


def project_instances(ctx) -> list[dict]:
    """The project's live mini PCs (first 200) with their network facts, for the pages' pickers and drawing."""
    listing = ctx.services.instances.list(ctx.project, limit=200)
    return [i for i in listing["items"] if i.get("state") != "deleted"]


# ---- the VPC list and public IPs ----------------------------------------------------------------

def _list_page(ctx, status=200, values=None, errors=None, message=None, ip_message=None):
    services, project_id = ctx.services, ctx.project.id
    vpcs = in_utc(items(services.vpcs.list(project_id)), "created_at")
    for vpc in vpcs:
        vpc["subnet_count"] = len(items(services.subnets.list(project_id, vpc["id"])))
    instances = project_instances(ctx)
    names = {i["id"]: i["name"] for i in instances}
    public_ips = in_utc(items(services.public_ips.list(project_id)), "created_at")
    for ip in public_ips:
        ip["instance_name"] = names.get(ip.get("instance_id"))
    holders = {ip.get("instance_id") for ip in public_ips}
    candidates = [i for i in instances if i.get("subnet_id") and i["id"] not in holders]
    return render(ctx, "networks/list.html", status=status, vpcs=vpcs, public_ips=public_ips,
                  candidates=candidates, values=values or {}, errors=errors or {}, message=message,
                  ip_message=ip_message, done=done_message(ctx))


def index(ctx):
    return _list_page(ctx)


def create_vpc(ctx):
    values = form_values(ctx, "name", "cidr")
    try:
        check_name(values["name"])
        created = ctx.services.vpcs.create(ctx.project.id, values["name"], values["cidr"])
    except ApiError as exc:
        status, message, errors = problem(ctx, exc)
        if exc.status == 409 and not errors:  # an overlap or a taken name: about the fields
            errors = {"cidr" if "cidr" in exc.code else "name": message}
        return _list_page(ctx, status, values, errors, message=None if errors else message)
    ctx.audit_target = str(created["id"])
    return back(ctx, "pages.vpc", "vpc_created", created["name"], vpc_id=created["id"])


def allocate_ip(ctx):
    try:
        ip = ctx.services.public_ips.create(ctx.project.id)
    except ApiError as exc:
        return _list_page(ctx, exc.status, ip_message=exc.message(ctx.lang))
    ctx.audit_target = str(ip["id"])
    return back(ctx, "pages.networks", "ip_allocated", ip["address"], anchor="#public-ips")


def public_ip_action(ctx, ip_id):
    """associate (with ``instance_id``), disassociate, release — the buttons of one public IP's row."""
    action = ctx.request.form.get("action", "")
    service = ctx.services.public_ips
    ctx.audit_target = str(ip_id)
    try:
        if action == "associate":
            ip = service.associate(ctx.project.id, ip_id, form_uuid(ctx, "instance_id"))
        elif action == "disassociate":
            ip = service.disassociate(ctx.project.id, ip_id)
        elif action == "release":
            ip = service.get(ctx.project.id, ip_id)
            if asked := confirm_first(ctx, "public_ip", ip["address"], action="release",
                                      cancel_url=ctx.url_for("pages.networks") + "#public-ips"):
                return asked
            service.delete(ctx.project.id, ip_id)
        else:
            raise BadRequest("error.bad_request")
    except ApiError as exc:
        if exc.status in (400, 404):
            raise
        return _list_page(ctx, exc.status, ip_message=exc.message(ctx.lang))
    done = {"associate": "ip_associated", "disassociate": "ip_disassociated", "release": "ip_released"}[action]
    return back(ctx, "pages.networks", done, ip["address"], anchor="#public-ips")
