"""Switching the acting project from the console header (remembered in a cookie)."""
from __future__ import annotations

import uuid

from minicloud.errors import BadRequest
from minicloud.handlers.pages.common import YEAR, safe_next
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
    return ctx.redirect(safe_next(ctx.request.form.get("next"), "/dashboard"))
