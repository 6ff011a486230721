"""Error pages for the console (the API answers with the JSON envelope instead)."""
from __future__ import annotations

import logging
from html import escape
from urllib.parse import quote

from werkzeug.wrappers import Response

from minicloud.errors import ApiError
from minicloud.handlers.pages.common import render
from minicloud.web.session import SESSION_COOKIE

log = logging.getLogger("minicloud.pages")


def _who(ctx) -> None:
    """On a page that failed before sign-in was checked (an unknown path), still show who is signed in."""
    cookie = ctx.request.cookies.get(SESSION_COOKIE)
    if ctx.principal is None and cookie:
        try:
            ctx.principal = ctx.services.sessions.authenticate(cookie, "cookie")
        except Exception:  # noqa: BLE001 - an error page must render whatever else is broken
            pass


def error_page(ctx, error: ApiError):
    """401 sends the browser to the login page; anything else shows the message (and, for 5xx, the request id)."""
    if error.status == 401 and ctx.request.method in ("GET", "HEAD"):
        return ctx.redirect("/login?next=" + quote(ctx.request.full_path.rstrip("?"), safe="/"))
    message = error.message(ctx.lang)
    try:
        if ctx.route is None:
            _who(ctx)
        title = ctx.t(f"error.title.{error.status}")
        if title == f"error.title.{error.status}":
            title = ctx.t("error.page_title", status=error.status)
        response = render(ctx, "error.html", status=error.status, error=error, message=message, title=title)
    except Exception:  # noqa: BLE001 - e.g. the database is down while drawing the header
        log.exception("request %s: the error page could not be rendered", ctx.request_id)
        body = f'<!doctype html><meta charset="utf-8"><title>{error.status}</title><p>{escape(message)}</p>'
        if error.status >= 500:
            body += f"<p>{escape(ctx.t('error.request_id_label'))} <code>{escape(ctx.request_id)}</code></p>"
        response = Response(body, status=error.status, content_type="text/html; charset=utf-8")
    for name, value in error.headers.items():
        response.headers[name] = value
    return response
