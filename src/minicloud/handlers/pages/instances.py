"""The "미니 PC" console pages (UC-02): list with live states, the rental form, the detail page with actions."""
from __future__ import annotations

import uuid

from minicloud.errors import ApiError, BadRequest, ValidationFailed
from minicloud.handlers.api.instances import shown
from minicloud.handlers.pages import instance_live
from minicloud.handlers.pages.account_notices import done, done_message, refused
from minicloud.handlers.pages.common import render, safe_next
from minicloud.handlers.pages.confirm import confirm_first
from minicloud.services.instances import ACTIONS, STATES
from minicloud.web.flash import flash
from minicloud.web.messages import field_messages

# States in which the work goes on in the background: the pages refresh themselves meanwhile.
TRANSITIONAL = ("pending", "building", "stopping", "starting", "rebooting", "resizing", "deleting")
FORM_FIELDS = ("name", "template_id", "image_id", "keypair_id", "user_data")


def _room(ctx) -> dict:
    """What the project may still rent: limit minus usage per compute resource."""
    quotas = ctx.services.quotas.show(ctx.project.id)
    return {k: quotas["limits"][k] - quotas["usage"][k] for k in quotas["usage"] if k in quotas["limits"]}


def _fits(template: dict, room: dict) -> bool:
    need = {"instances": 1, "vcpus": template["vcpus"], "ram_mib": template["ram_mib"],
            "disk_gib": template["disk_gib"]}
    return all(room.get(k, n) >= n for k, n in need.items())


def index(ctx):
    state = ctx.request.args.get("state") or None
    listing = ctx.services.instances.list(ctx.project, limit=50, cursor=ctx.request.args.get("cursor"),
                                          state=state if state in STATES else None)
    instances = [shown(ctx, item) for item in listing["items"]]
    busy = any(item["state"] in TRANSITIONAL for item in instances)
    return render(ctx, "instances/list.html", instances=instances, next_cursor=listing["next"], busy=busy,
                  quotas=ctx.services.quotas.show(ctx.project.id), state=state)


def _form(ctx, status=200, values=None, errors=None, message=None):
    room = _room(ctx)
    networks = _networks(ctx)
    images = [i for i in ctx.services.images.list(ctx.principal)["items"] if i["enabled"]]
    templates = [dict(t, fits=_fits(t, room))
                 for t in ctx.services.templates.list(ctx.principal)["items"] if t["enabled"]]
    return render(ctx, "instances/new.html", status=status, values=values or {}, errors=errors or {},
                  message=message, templates=templates, room=room,
                  quotas=ctx.services.quotas.show(ctx.project.id),
                  images=images, default_image=_default_image(ctx, images),
                  keypairs=ctx.services.keypairs.list(ctx.project.id)["items"], networks=networks,
                  has_default_vpc=any(vpc["is_default"] for vpc in networks))


def _default_image(ctx, images: list[dict]) -> dict | None:
    """The image a rental gets when none is chosen (the configured default, else the first by name)."""
    name = ctx.config.get("compute.default_image")
    return next((i for i in images if i["name"] == name), images[0] if images else None)


def _networks(ctx) -> list[dict]:
    """The project's VPCs, each with its subnets and security groups, for the form's subnet picker."""
    services, project_id = ctx.services, ctx.project.id
    vpcs = services.vpcs.list(project_id)["items"]
    for vpc in vpcs:
        vpc["subnets"] = services.subnets.list(project_id, vpc["id"])["items"]
        vpc["groups"] = services.security_groups.list(project_id, vpc_id=vpc["id"])["items"]
    return [vpc for vpc in vpcs if vpc["subnets"]]


def _ids(values: list[str], field: str) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(value) for value in values]
    except ValueError:
        raise ValidationFailed({field: "error.bad_request"}, key="error.bad_request") from None


def new(ctx):
    """The rental form; ``?keypair_id=`` (back from the key pairs page) chooses that key pair."""
    chosen = ctx.request.args.get("keypair_id", "")[:36]
    return _form(ctx, values={"keypair_id": chosen} if chosen else None)


def create(ctx):
    form = ctx.request.form
    values = {name: form.get(name, "").strip() for name in FORM_FIELDS}
    body = {k: v for k, v in values.items() if v}
    if form.get("password"):
        body["password"] = form["password"]
    values["subnet_id"] = form.get("subnet_id", "").strip()
    values["security_group_ids"] = [v for v in form.getlist("security_group_ids") if v]
    if not values["template_id"]:
        return _form(ctx, 422, values, {"template_id": ctx.t("instance.template_required")})
    try:
        if values["subnet_id"]:
            body["subnet_id"] = _ids([values["subnet_id"]], "subnet_id")[0]
        if values["security_group_ids"]:
            body["security_group_ids"] = _ids(values["security_group_ids"], "security_group_ids")
        created = ctx.services.instances.create(ctx.principal, ctx.project, body)
    except ValidationFailed as exc:
        return _form(ctx, exc.status, values, field_messages(ctx.t, exc.fields))
    except ApiError as exc:
        return _form(ctx, exc.status, values, message=exc.message(ctx.lang))
    ctx.audit_target = str(created["id"])
    flash(ctx, "look_console.flash.instance_created", name=created["name"])
    return ctx.redirect(ctx.url_for("pages.instance", instance_id=created["id"]))


def _detail(ctx, instance_id, status=200, rename=None):
    instance = shown(ctx, ctx.services.instances.get(ctx.project, instance_id))
    templates = [t for t in ctx.services.templates.list(ctx.principal)["items"] if t["enabled"]]
    response = render(ctx, "instances/detail.html", status=status, instance=instance, templates=templates,
                      busy=instance["state"] in TRANSITIONAL and rename is None, rename=rename or {},
                      done=done_message(ctx),
                      console=ctx.services.instances.console_log(ctx.project, instance_id),
                      ssh_state=instance_live.ssh_state(instance), ssh_ways=instance_live.ssh_ways(ctx, instance),
                      operation=instance_live.operation(ctx, instance))
    response.headers["Content-Security-Policy"] = instance_live.TERMINAL_CSP
    return response


def detail(ctx, instance_id):
    return _detail(ctx, instance_id)


def rename(ctx, instance_id):
    """The rename form on the detail page; a refused name comes back there with the message and what was typed."""
    name = ctx.request.form.get("name", "").strip()
    ctx.audit_target = str(instance_id)
    try:
        renamed = ctx.services.instances.rename(ctx.project, instance_id, name)
    except ApiError as exc:
        if exc.status == 404:
            raise
        status, message, fields = refused(ctx, exc)
        return _detail(ctx, instance_id, status, {"name": name, "message": message, "error": fields.get("name")})
    return done(ctx, ctx.url_for("pages.instance", instance_id=instance_id), "instance_renamed", renamed["name"])


def act(ctx, instance_id):
    """One of the actions (start, stop, reboot, resize, delete) from the detail page's or the list's buttons
    (``next``: the page to go back to); a delete asks first."""
    form = ctx.request.form
    action = form.get("action", "")
    ctx.audit_target = str(instance_id)
    if action not in ACTIONS:
        raise BadRequest("error.bad_request")
    detail_url = ctx.url_for("pages.instance", instance_id=instance_id)
    name = ctx.services.instances.get(ctx.project, instance_id)["name"]
    if action == "delete" and (asked := confirm_first(ctx, "instance", name, cancel_url=safe_next(form.get("next"), detail_url))):
        return asked
    if action == "resize":
        try:
            template_id = uuid.UUID(form.get("template_id", ""))
        except ValueError:
            raise BadRequest("error.bad_request") from None
        ctx.services.instances.resize(ctx.principal, ctx.project, instance_id, template_id)
    else:
        ctx.services.instances.act(ctx.principal, ctx.project, instance_id, action)
    flash(ctx, f"look_console.flash.instance_{action}", name=name)
    if action == "delete":
        return ctx.redirect(ctx.url_for("pages.instances"))  # from the list or its (now gone) page
    return ctx.redirect(safe_next(form.get("next"), detail_url))


def console_input(ctx, instance_id):
    """A line typed in the page's console box, sent with Enter; the page shows the answer."""
    line = ctx.request.form.get("input", "")[:4096]
    ctx.services.instances.console_send(ctx.project, instance_id, line + "\r")
    return ctx.redirect(ctx.url_for("pages.instance", instance_id=instance_id) + "#console")
