"""A project's members on its settings page: add someone by username with a role, change a member's role,
remove a member. The project's admins only, and the owner stays admin (the service's rules; a refusal is
said on the project's page, the form's values kept)."""
from __future__ import annotations

import uuid

from minicloud.errors import ApiError, BadRequest, ValidationFailed
from minicloud.handlers.pages.account_notices import done, refused
from minicloud.handlers.pages.confirm import confirm_first
from minicloud.handlers.pages.projects import project_page
from minicloud.services.projects import ROLES

_ABOUT_THE_USERNAME = ("account.username_required", "project.user_not_found", "project.already_member")


def _role(ctx) -> str:
    role = ctx.request.form.get("role", "")
    if role not in ROLES:
        raise BadRequest("error.bad_request")  # the form only offers the roles
    return role


def _back(ctx, project_id, code: str, name: str):
    return done(ctx, ctx.url_for("pages.project", project_id=project_id), code, name)


def _refused(ctx, project_id, exc: ApiError, values: dict, form: str):
    """The project's page again saying why; a 403 (not its admin) or a vanished project is the error page."""
    if exc.status == 403 or exc.key == "project.not_found":
        raise exc
    status, message, fields = refused(ctx, exc)
    return project_page(ctx, project_id, status, values, fields, message, form=form)


def _username(ctx, project_id, user_id: uuid.UUID) -> str:
    members = ctx.services.projects.members(ctx.principal, project_id)["items"]
    return next((m["username"] for m in members if m["user_id"] == user_id), "")


def add(ctx, project_id):
    values = {"username": ctx.request.form.get("username", "").strip(), "role": ctx.request.form.get("role", "")}
    ctx.audit_target = str(project_id)
    ctx.audit_project_id = project_id
    role = _role(ctx)
    try:
        if not values["username"]:
            raise ValidationFailed({"username": "account.username_required"}, key="account.username_required")
        member = ctx.services.projects.add_member(ctx.principal, project_id, values["username"][:64], role)
    except ApiError as exc:
        if exc.key not in _ABOUT_THE_USERNAME:
            return _refused(ctx, project_id, exc, values, "add_member")
        message = exc.message(ctx.lang)  # said by the username field as well
        return project_page(ctx, project_id, exc.status, values, {"username": message}, message, form="add_member")
    return _back(ctx, project_id, "member_added", member["username"])


def change_role(ctx, project_id, user_id):
    ctx.audit_target = str(user_id)
    ctx.audit_project_id = project_id
    role = _role(ctx)
    try:
        ctx.services.projects.change_role(ctx.principal, project_id, user_id, role)
    except ApiError as exc:
        return _refused(ctx, project_id, exc, {"member": str(user_id), "role": role}, "members")
    return _back(ctx, project_id, "member_role_changed", _username(ctx, project_id, user_id))


def remove(ctx, project_id, user_id):
    """Remove one member (not the owner): they lose the project at once."""
    ctx.audit_target = str(user_id)
    ctx.audit_project_id = project_id
    name = _username(ctx, project_id, user_id)
    if asked := confirm_first(ctx, "member", name, action="remove",
                              cancel_url=ctx.url_for("pages.project", project_id=project_id)):
        return asked
    try:
        ctx.services.projects.remove_member(ctx.principal, project_id, user_id)
    except ApiError as exc:
        return _refused(ctx, project_id, exc, {"member": str(user_id)}, "members")
    return _back(ctx, project_id, "member_removed", name)
