"""Switching the acting project from the console header (remembered in a cookie), and deleting a project."""
from __future__ import annotations

import uuid

from minicloud.errors import BadRequest
from minicloud.handlers.pages.common import YEAR, safe_next
from minicloud.handlers.pages.confirm import confirm_first
from minicloud.web.flash import flash
from minicloud.web.session import PROJECT_COOKIE


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
