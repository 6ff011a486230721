"""The API keys page: the signed-in user's live keys (prefix, created, last used), creating one (its secret
is on the page the creating post answers with, and nowhere else, ever again), revoking one."""
from __future__ import annotations

from minicloud.errors import ApiError, ValidationFailed
from minicloud.handlers.pages.account_notices import done, done_message, refused
from minicloud.handlers.pages.common import in_utc, render
from minicloud.handlers.pages.confirm import confirm_first

MAX_NAME = 64  # the API's rule (handlers/api/api_keys.py)


def _page(ctx, status=200, values=None, errors=None, message=None, created=None):
    keys = ctx.services.api_keys.list_for(ctx.principal)["items"]
    for column in ("created_at", "last_used_at"):
        in_utc(keys, column)
    return render(ctx, "account/api_keys.html", status=status, keys=keys, values=values or {}, errors=errors or {},
                  message=message, created=created, done=None if created else done_message(ctx))


def index(ctx):
    return _page(ctx)


def create(ctx):
    name = ctx.request.form.get("name", "").strip()
    try:
        if not name:
            raise ValidationFailed({"name": "account.name_required"}, key="account.api_key_name_required")
        if len(name) > MAX_NAME:
            raise ValidationFailed({"name": ("account.name_too_long", {"max": MAX_NAME})},
                                   key="account.api_key_name_long")
        key = ctx.services.api_keys.create(ctx.principal, name)
    except ApiError as exc:
        status, message, fields = refused(ctx, exc)
        return _page(ctx, status, {"name": name}, fields, message)
    ctx.audit_target = str(key["id"])
    return _page(ctx, 201, created=key)


def revoke(ctx, key_id):
    """Revoke one of the user's keys: it stops authenticating at once."""
    name = next((k["name"] for k in ctx.services.api_keys.list_for(ctx.principal)["items"] if k["id"] == key_id), "")
    if asked := confirm_first(ctx, "api_key", name, action="revoke", cancel_url=ctx.url_for("pages.api_keys")):
        return asked
    ctx.audit_target = str(key_id)
    ctx.services.api_keys.revoke(ctx.principal, key_id)
    return done(ctx, ctx.url_for("pages.api_keys"), "api_key_revoked", name)
