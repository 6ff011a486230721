"""A share link's result, carried from the POST that made it to the page the browser is sent to
(post/redirect/get): a short-lived HttpOnly cookie holding the link, signed with a key of its own (derived
from the server's secret), read by the object browser when its URL names the object (``?shared=key``).
The link itself never goes into a URL, a log line or the browser's history."""
from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime, timezone

import jwt

from minicloud.web.session import cookie

COOKIE = "mc_shared"
LIFETIME = 600  # seconds the result can be shown after the link was made
_AUDIENCE = "minicloud:share-result"


def _key(ctx) -> bytes:
    return hmac.new(ctx.config.jwt_secret().encode(), b"share-result", hashlib.sha256).digest()


def remember(ctx, bucket: str, key: str, url: str, expires_at: datetime) -> None:
    """Keep the link for the next page of this browser."""
    claims = {"aud": _AUDIENCE, "exp": int(time.time()) + LIFETIME, "b": bucket, "k": key, "u": url,
              "x": int(expires_at.timestamp())}
    ctx.set_cookie(COOKIE, jwt.encode(claims, _key(ctx), algorithm="HS256"), max_age=LIFETIME, httponly=True,
                   samesite="Strict", secure=bool(ctx.config.get("server.secure_cookies")), path="/storage/")


def recall(ctx, bucket: str, key: str) -> dict | None:
    """{"name", "url", "expires_at"} of the link made for ``bucket``/``key`` in this browser, else None."""
    token = cookie(ctx.request, COOKIE)
    if not token:
        return None
    try:
        claims = jwt.decode(token, _key(ctx), algorithms=["HS256"], audience=_AUDIENCE)
    except jwt.PyJWTError:
        return None
    if claims.get("b") != bucket or claims.get("k") != key:
        return None
    return {"name": key, "url": claims["u"], "expires_at": datetime.fromtimestamp(claims["x"], timezone.utc)}
