"""The projects pages: my projects with my role and the create form; one project's settings (rename, its
members — members.py — and the way to delete it, after its plan of what goes with it); switching the
acting project from the console header (remembered in a cookie)."""
from __future__ import annotations

import uuid

from minicloud.errors import ApiError, BadRequest, Conflict, ValidationFailed
from minicloud.handlers.pages.account_notices import done, done_message, refused
from minicloud.handlers.pages.common import YEAR, in_utc, render, safe_next
from minicloud.handlers.pages.confirm import confirm_first
from minicloud.handlers.pages.quota_bars import quota_rows
from minicloud.services.projects import ROLES
from minicloud.web.flash import flash
from minicloud.web.session import PROJECT_COOKIE

MAX_NAME, MAX_DESCRIPTION = 64, 500  # the API's rules (handlers/api/projects.py)


def switch(ctx):
    try:
        project_id = uuid.UUID(ctx.request.form.get("project_id", ""))
    except ValueError:
        raise BadRequest("error.bad_request") from None
    project = ctx.services.projects.resolve(ctx.principal, project_id)  # 404 unless the caller may act in it
    ctx.audit_target = str(project.id)
    ctx.audit_project_id = project.id
    ctx.set_cookie(PROJECT_COOKIE, str(project.id), max_age=YEAR, httponly=True, samesite="Lax",
                   secure=bool(ctx.config.get("server.secure_cookies")), path="/")
    flash(ctx, "look_console.flash.project_switched", kind="info", name=project.name)
    return ctx.redirect(safe_next(ctx.request.form.get("next"), "/dashboard"))


def _values(ctx) -> dict:
    form = ctx.request.form
    return {"name": form.get("name", "").strip(), "description": form.get("description", "").strip()}


def _check(values: dict) -> None:
    """The name and description as the API takes them, each refusal by its field."""
    bad = {}
    if not values["name"]:
        bad["name"] = "account.name_required"
    elif len(values["name"]) > MAX_NAME:
        bad["name"] = ("account.name_too_long", {"max": MAX_NAME})
    if len(values["description"]) > MAX_DESCRIPTION:
        bad["description"] = ("account.name_too_long", {"max": MAX_DESCRIPTION})
    if bad:
        raise ValidationFailed(bad, key="account.form_has_errors")


# ---- my projects ----------------------------------------------------------------------------------

def _list_page(ctx, status=200, values=None, errors=None, message=None):
    projects = in_utc(ctx.services.projects.list_for(ctx.principal)["items"], "created_at")
    return render(ctx, "account/projects.html", status=status, projects=projects, values=values or {},
                  errors=errors or {}, message=message, done=done_message(ctx))


def index(ctx):
    return _list_page(ctx)


def create(ctx):
    values = _values(ctx)
    try:
        _check(values)
        project = ctx.services.projects.create(ctx.principal, values["name"], values["description"])
    except ApiError as exc:
        status, message, fields = refused(ctx, exc)
        return _list_page(ctx, status, values, fields, message)
    ctx.audit_target = str(project["id"])
    ctx.audit_project_id = project["id"]
    return done(ctx, ctx.url_for("pages.project", project_id=project["id"]), "project_created", project["name"])


# ---- one project ----------------------------------------------------------------------------------

def project_page(ctx, project_id, status=200, values=None, errors=None, message=None, form=None):
    """The project's settings page; a refused form (rename here, members in members.py) comes back to it."""
    project = ctx.services.projects.get(ctx.principal, project_id)
    in_utc(project["members"], "created_at")
    quotas = quota_rows(ctx, ctx.services.quotas.show(project["id"]))
    return render(ctx, "account/project.html", status=status, project=project, roles=ROLES, quotas=quotas,
                  is_admin=project["role"] == "admin", values=values or {}, errors=errors or {}, message=message,
                  form=form, done=done_message(ctx))


def detail(ctx, project_id):
    return project_page(ctx, project_id)


def rename(ctx, project_id):
    values = _values(ctx)
    try:
        _check(values)
        project = ctx.services.projects.update(ctx.principal, project_id, values["name"], values["description"])
    except ApiError as exc:
        if exc.status in (403, 404):
            raise
        status, message, fields = refused(ctx, exc)
        return project_page(ctx, project_id, status, values, fields, message, form="rename")
    ctx.audit_target = str(project_id)
    ctx.audit_project_id = project_id
    return done(ctx, ctx.url_for("pages.project", project_id=project_id), "project_renamed", project["name"])


def confirm_delete(ctx, project_id):
    """What deleting the project takes apart, in order, before the button that does it."""
    project = ctx.services.projects.get(ctx.principal, project_id)
    if project["personal"]:
        raise Conflict("project.personal_cannot_be_deleted", code="personal_project")
    plan = ctx.services.projects.delete_plan(ctx.principal, project_id)
    return render(ctx, "account/project_delete.html", project=project, plan=plan)


def delete(ctx, project_id):
    """Queue the project's delete (403 unless its admin, 409 for a personal project: the error page says so) and
    go back to the dashboard in the personal project, saying the job takes the project apart."""
    project = ctx.services.projects.resolve(ctx.principal, project_id)
    if not project.personal and (asked := confirm_first(  # a personal project: the service says why not
            ctx, "project", project.name, typed=True, cancel_url="/dashboard", detail=ctx.t("look_console.project_plan"))):
        return asked
    ctx.services.projects.request_delete(ctx.principal, project.id)
    ctx.audit_target = str(project.id)
    ctx.audit_project_id = project.id
    ctx.set_cookie(PROJECT_COOKIE, "", expires=0, path="/")  # the personal project is the acting one again
    return ctx.redirect(ctx.url_for("pages.dashboard", deleting=project.name))
