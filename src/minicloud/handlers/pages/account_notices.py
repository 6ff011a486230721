"""Shared by the account pages (key pairs, API keys, projects, members): what the last form did, said on the
page it redirected to (``?done=<code>&name=<which>``, post/redirect/get), and a refused form's messages."""
from __future__ import annotations

from urllib.parse import urlencode

from minicloud.errors import ApiError, ValidationFailed
from minicloud.web.messages import field_messages

# ?done=<code> → the message key saying what the last form did (the name comes in ?name=).
DONE = {code: f"account.done.{code}" for code in (
    "keypair_imported", "keypair_deleted", "api_key_revoked", "project_created", "project_renamed",
    "member_added", "member_role_changed", "member_removed", "instance_renamed")}


def done_message(ctx) -> str | None:
    code = ctx.request.args.get("done")
    return ctx.t(DONE[code], name=ctx.request.args.get("name", "")[:80]) if code in DONE else None


def done(ctx, location: str, code: str, name: object = "") -> object:
    """The 303 back to ``location`` saying ``code`` happened to ``name``."""
    joiner = "&" if "?" in location else "?"
    return ctx.redirect(location + joiner + urlencode({"done": code, "name": str(name)}))


def refused(ctx, exc: ApiError) -> tuple[int, str, dict]:
    """(status, message, {field: message}) of a refused form, in the page's language."""
    fields = field_messages(ctx.t, exc.fields) if isinstance(exc, ValidationFailed) else {}
    return exc.status, exc.message(ctx.lang), fields
