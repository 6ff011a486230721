"""The browser session: the access token in an HttpOnly, SameSite=Lax cookie, and the chosen project."""
from __future__ import annotations

import uuid

from minicloud.errors import ApiError

SESSION_COOKIE = "mc_session"
PROJECT_COOKIE = "mc_project"
LANG_COOKIE = "mc_lang"


def cookie(request, name: str) -> str | None:
    """The value of the cookie ``name``, or None; a request without a Cookie header (an API client's)
    is answered without parsing anything."""
    if not request.environ.get("HTTP_COOKIE"):
        return None
    return request.cookies.get(name)


def set_session_cookie(ctx, token: str, ttl: int) -> None:
    """The session cookie, and the (HttpOnly) CSRF cookie beside it for the console's forms."""
    ctx.csrf_token  # noqa: B018 - issues the CSRF cookie when the browser has none
    ctx.set_cookie(SESSION_COOKIE, token, max_age=ttl, httponly=True, samesite="Lax",
                   secure=bool(ctx.config.get("server.secure_cookies")), path="/")


def clear_session_cookie(ctx) -> None:
    ctx.set_cookie(SESSION_COOKIE, "", expires=0, httponly=True, samesite="Lax", path="/")


def remembered_project(ctx):
    """The project chosen in the console (its cookie), while the user may still act in it; else None."""
    remembered = cookie(ctx.request, PROJECT_COOKIE)
    if not remembered or ctx.principal is None:
        return None
    try:
        return ctx.services.projects.resolve(ctx.principal, uuid.UUID(remembered))
    except (ValueError, ApiError):
        return None
