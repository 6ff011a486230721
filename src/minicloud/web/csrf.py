"""CSRF protection for the browser: a signed double-submit token.

The ``mc_csrf`` cookie holds ``nonce.signature``; every form carries the same
value in ``csrf_token`` (or a script sends it as ``X-CSRF-Token``). A request
whose token is missing, unsigned or different from the cookie is refused (403).

The cookie is HttpOnly: no script reads it. A page gives its own scripts the token in
``<meta name="csrf-token">`` (see templates/base.html), so only a page the console itself
rendered, on its own origin, holds it.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

COOKIE = "mc_csrf"
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def _sign(secret: str, nonce: str) -> str:
    return hmac.new(secret.encode(), f"csrf:{nonce}".encode(), hashlib.sha256).hexdigest()[:32]


def new_token(secret: str) -> str:
    nonce = secrets.token_urlsafe(18)
    return f"{nonce}.{_sign(secret, nonce)}"


def is_valid(secret: str, cookie: str | None, submitted: str | None) -> bool:
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
        return False
    nonce, _, signature = cookie.partition(".")
    return bool(nonce) and hmac.compare_digest(signature, _sign(secret, nonce))
