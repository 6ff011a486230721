"""The query parameters every list takes: ``limit`` (default 50, 1–500; 422 outside) and ``cursor``."""
from __future__ import annotations

from minicloud.services.pagination import DEFAULT_LIMIT, MAX_LIMIT

LIMIT = {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT,
         "description": f"Items per page (1–{MAX_LIMIT})"}
CURSOR = {"type": "string", "minLength": 1, "maxLength": 2048, "pattern": "^[A-Za-z0-9_-]+$",
          "description": "The `next` of the previous page (URL-safe base64); leave it out for the first page"}


def list_query(**filters: dict) -> dict:
    """The query schema of a list: ``limit`` and ``cursor``, then the list's own ``filters``."""
    return {"type": "object", "properties": {"limit": LIMIT, "cursor": CURSOR, **filters}}


def page_args(ctx) -> dict:
    """``{"limit", "cursor"}`` of the request, checked against the route's query schema."""
    query = ctx.query()
    return {"limit": query["limit"], "cursor": query.get("cursor")}
