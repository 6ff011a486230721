"""The administration page (global administrators): every account with the projects it owns and may own
(editable), and each host with the orphans found on it."""
from __future__ import annotations

from minicloud.errors import ApiError
from minicloud.handlers.pages.common import render


def admin(ctx, status: int = 200, error: str | None = None):
    saved = ctx.request.args.get("saved")
    limit = ctx.request.args.get("limit")
    return render(ctx, "admin.html", status=status, users=ctx.services.accounts.list_users()["items"],
                  hosts=ctx.services.hosts.reports(), error=error, cluster=ctx.services.apps.cluster(),
                  saved=ctx.t("admin.limit_saved", username=saved, limit=limit) if saved and limit else None)


def set_user_quotas(ctx, user_id):
    """POST /admin/users/{id}/quotas: ``projects``, the projects the user may own."""
    ctx.audit_target = str(user_id)
    raw = ctx.request.form.get("projects", "").strip()
    if not raw.isdigit():
        return admin(ctx, 422, ctx.t("admin.limit_rule"))
    try:
        shown = ctx.services.user_quotas.set_limits(user_id, {"projects": int(raw)})
    except ApiError as exc:
        if exc.status == 404:
            raise
        return admin(ctx, exc.status, exc.message(ctx.lang))
    username = ctx.services.accounts.me(user_id)["username"]
    return ctx.redirect(ctx.url_for("pages.admin", saved=username, limit=shown["limits"]["projects"]))
