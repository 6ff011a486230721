"""Helpers shared by the console pages: safe redirects, the acting project, page rendering."""
from __future__ import annotations

from datetime import datetime, timezone

from werkzeug.exceptions import HTTPException

from minicloud.web.flash import take as take_flash
from minicloud.web.session import remembered_project

# Pages only load files from this site; scripts and styles come from /static/ only.
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; object-src 'none'; "
                                "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
YEAR = 365 * 24 * 3600


def safe_next(value: str | None, default: str = "/dashboard") -> str:
    """``value`` when it is a path on this site ("/x", not "//host" or "/\\host"), else ``default``."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return default
    return value


def current_path(ctx) -> str:
    """Where ``next=`` links lead back to: this page, or for a form post the page of the same path (else /)."""
    request = ctx.request
    if request.method in ("GET", "HEAD"):
        return request.full_path.rstrip("?")
    try:
        ctx.app.router.match("GET", request.path)
    except HTTPException:
        return "/"
    return request.path


def in_utc(rows: list[dict], column: str = "at") -> list[dict]:
    """The rows with ``column`` (an aware datetime from PostgreSQL) turned to UTC, as the pages say."""
    for row in rows:
        value = row.get(column)
        if isinstance(value, datetime) and value.tzinfo is not None:
            row[column] = value.astimezone(timezone.utc)
    return rows


def as_utc(value) -> datetime | None:
    """A moment (datetime, or ISO-8601 text as services pass Swift's and Kubernetes' times) as an aware
    UTC datetime; a naive one counts as UTC; None when it is neither or cannot be read."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    return None


def acting_project(ctx):
    """The project the page acts in: the route's, else the remembered one, else the personal one."""
    if ctx.project is not None or ctx.principal is None:
        return ctx.project
    return remembered_project(ctx) or ctx.principal.personal_project


def render(ctx, template: str, status: int = 200, **variables):
    """``ctx.render`` plus the layout's variables and the security headers every page carries."""
    variables.setdefault("here", current_path(ctx))
    variables.setdefault("acting", acting_project(ctx))
    variables.setdefault("flash", take_flash(ctx))  # what the last form did (web/flash.py), shown once
    response = ctx.render(template, status=status, **variables)
    response.headers.update(SECURITY_HEADERS)
    return response
