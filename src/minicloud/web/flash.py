"""Flash messages: the one line saying what the last form did, shown once on the page its redirect leads to.

A handler that acted calls ``flash(ctx, key, name=...)`` just before it answers with a redirect; the
message travels in a short-lived, signed, HttpOnly cookie as a catalog key with its parameters (never
as text, and never a secret: only names the user sees anyway), so the next page says it in *its*
language. ``take(ctx)`` reads it once and clears the cookie; ``handlers/pages/common.render`` hands it to
``templates/base.html``, which shows it with ``role="status"``.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json

COOKIE = "mc_flash"
MAX_AGE = 300  # a redirect is followed at once; a stale message is not worth keeping
KINDS = ("success", "info", "error")
MAX_PARAM = 200  # characters of one parameter (a name): keeps the cookie small


def _sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), f"flash:{payload}".encode(), hashlib.sha256).hexdigest()[:32]


def _secure(ctx) -> bool:
    return bool(ctx.config.get("server.secure_cookies"))


def flash(ctx, key: str, kind: str = "success", **params) -> None:
    """Say ``key`` (with ``params``) on the next page this browser renders."""
    if kind not in KINDS:
        raise ValueError(f"unknown flash kind {kind!r}")
    shown = {name: str(value)[:MAX_PARAM] for name, value in params.items()}
    raw = json.dumps({"k": key, "c": kind, "p": shown}, ensure_ascii=True, separators=(",", ":"))
    payload = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    ctx.set_cookie(COOKIE, f"{payload}.{_sign(ctx.config.jwt_secret(), payload)}", max_age=MAX_AGE,
                   httponly=True, samesite="Lax", secure=_secure(ctx), path="/")


def _read(secret: str, value: str) -> dict | None:
    payload, _, signature = value.partition(".")
    if not payload or not hmac.compare_digest(signature, _sign(secret, payload)):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("k"), str) or data.get("c") not in KINDS:
        return None
    params = data.get("p")
    return data if isinstance(params, dict) and all(isinstance(v, str) for v in params.values()) else None


def take(ctx) -> dict | None:
    """The pending message as ``{"kind", "text"}`` in the page's language (then forgotten), or None."""
    request = ctx.request
    value = request.cookies.get(COOKIE) if request.environ.get("HTTP_COOKIE") else None
    if not value:
        return None
    ctx.set_cookie(COOKIE, "", expires=0, httponly=True, samesite="Lax", secure=_secure(ctx), path="/")
    data = _read(ctx.config.jwt_secret(), value)
    if data is None:
        return None
    return {"kind": data["c"], "text": ctx.t(data["k"], **data["p"])}
