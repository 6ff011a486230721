"""The browser session: the access token in an HttpOnly, SameSite=Lax cookie."""
from __future__ import annotations

SESSION_COOKIE = "mc_session"
PROJECT_COOKIE = "mc_project"
LANG_COOKIE = "mc_lang"


def set_session_cookie(ctx, token: str, ttl: int) -> None:
    """The session cookie, and a CSRF cookie beside it for the console's scripts and forms."""
    ctx.csrf_token  # noqa: B018 - issues the CSRF cookie when the browser has none
    ctx.set_cookie(SESSION_COOKIE, token, max_age=ttl, httponly=True, samesite="Lax",
                   secure=bool(ctx.config.get("server.secure_cookies")), path="/")


def clear_session_cookie(ctx) -> None:
    ctx.set_cookie(SESSION_COOKIE, "", expires=0, httponly=True, samesite="Lax", path="/")
