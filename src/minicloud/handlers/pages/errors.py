"""Error pages for the console (the API answers with the JSON envelope instead)."""
from __future__ import annotations

from urllib.parse import quote

from minicloud.errors import ApiError


def error_page(ctx, error: ApiError):
    """401 sends the browser to the login page; anything else shows the message and the request id."""
    if error.status == 401 and ctx.request.method in ("GET", "HEAD"):
        return ctx.redirect("/login?next=" + quote(ctx.request.full_path.rstrip("?"), safe="/"))
    response = ctx.render("error.html", status=error.status, error=error, message=error.message(ctx.lang))
    for name, value in error.headers.items():
        response.headers[name] = value
    return response
