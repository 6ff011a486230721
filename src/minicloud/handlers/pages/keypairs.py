"""The key pairs page: the project's SSH public keys, importing one, generating a pair (the private key is
offered once, as a download, on the page the generating post answers with), deleting one.

``?next=/mini-pcs/new`` (the rental form's "add a key" link) sends an imported key back to the rental
form with the new key chosen; the generated pair's page links back there the same way.
"""
from __future__ import annotations

import re

from werkzeug.wrappers import Response

from minicloud.errors import ApiError, BadRequest, ValidationFailed
from minicloud.handlers.pages.account_notices import done, done_message, refused
from minicloud.handlers.pages.confirm import confirm_first
from minicloud.handlers.pages.common import SECURITY_HEADERS, in_utc, render, safe_next

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")  # the API's rule (handlers/api/keypairs.py)
PRIVATE_KEY = re.compile(r"-----BEGIN OPENSSH PRIVATE KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END OPENSSH PRIVATE KEY-----"
                         r"\r?\n?")
MAX_PUBLIC_KEY = 16384


def _next(ctx) -> str | None:
    value = ctx.request.values.get("next", "")
    return safe_next(value, "") or None


def _page(ctx, status=200, values=None, errors=None, message=None, form=None):
    keypairs = in_utc(ctx.services.keypairs.list(ctx.project.id)["items"], "created_at")
    return render(ctx, "account/keypairs.html", status=status, keypairs=keypairs, values=values or {},
                  errors=errors or {}, message=message, form=form, done=done_message(ctx), next_path=_next(ctx))


def index(ctx):
    return _page(ctx)


def _checked_name(name: str) -> str:
    if not name:
        raise ValidationFailed({"name": "account.name_required"}, key="account.keypair_name_required")
    if not NAME.fullmatch(name):
        raise ValidationFailed({"name": "account.keypair_name_rule"}, key="account.keypair_name_rule")
    return name


def create(ctx):
    """Import the pasted public key; back to the list (or to the rental form, with this key chosen)."""
    form = ctx.request.form
    values = {"name": form.get("name", "").strip(), "public_key": form.get("public_key", "").strip()}
    try:
        name = _checked_name(values["name"])
        if not values["public_key"]:
            raise ValidationFailed({"public_key": "account.public_key_required"}, key="account.public_key_required")
        if len(values["public_key"]) > MAX_PUBLIC_KEY:
            raise ValidationFailed({"public_key": "keypair.invalid_key"}, key="keypair.invalid_key")
        keypair = ctx.services.keypairs.create(ctx.project.id, name, values["public_key"])
    except ApiError as exc:
        status, message, fields = refused(ctx, exc)
        return _page(ctx, status, values, fields, message, form="import")
    ctx.audit_target = str(keypair["id"])
    if _next(ctx):
        return ctx.redirect(_with_keypair(_next(ctx), keypair["id"]))
    return done(ctx, ctx.url_for("pages.keypairs"), "keypair_imported", keypair["name"])


def _with_keypair(path: str, keypair_id) -> str:
    return path + ("&" if "?" in path else "?") + f"keypair_id={keypair_id}"


def generate(ctx):
    """Generate an ed25519 pair: this answer is the only time its private key exists outside the browser."""
    values = {"generate_name": ctx.request.form.get("name", "").strip()}
    try:
        keypair = ctx.services.keypairs.create(ctx.project.id, _checked_name(values["generate_name"]), None)
    except ApiError as exc:
        status, message, fields = refused(ctx, exc)
        return _page(ctx, status, values, {"generate_" + k: v for k, v in fields.items()}, message, form="generate")
    ctx.audit_target = str(keypair["id"])
    back = _with_keypair(_next(ctx), keypair["id"]) if _next(ctx) else None
    return render(ctx, "account/keypair_generated.html", status=201, keypair=keypair, back=back)


def download(ctx):
    """The generated private key as a file (``Content-Disposition: attachment``): the key comes from the page
    the generating post answered with; nothing is stored, so nothing can be fetched again later."""
    form = ctx.request.form
    name, private_key = form.get("name", ""), form.get("private_key", "")
    if not NAME.fullmatch(name) or len(private_key) > 8192 or not PRIVATE_KEY.fullmatch(private_key):
        raise BadRequest("error.bad_request")
    response = Response(private_key.replace("\r\n", "\n"), mimetype="application/x-pem-file")
    response.headers.update(SECURITY_HEADERS)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.pem"'
    return response


def delete(ctx, keypair_id):
    """Delete one key pair (mini PCs that have it keep the key they booted with)."""
    keypair = ctx.services.keypairs.get(ctx.project.id, keypair_id)
    if asked := confirm_first(ctx, "keypair", keypair["name"], cancel_url=ctx.url_for("pages.keypairs")):
        return asked
    ctx.audit_target = str(keypair_id)
    ctx.services.keypairs.delete(ctx.project.id, keypair_id)
    return done(ctx, ctx.url_for("pages.keypairs"), "keypair_deleted", keypair["name"])
