"""Opaque list cursors: ``?limit=`` (default 50, max 500) and ``?cursor=``, answered with ``next``."""
from __future__ import annotations

import base64
import json

from minicloud.errors import BadRequest

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def encode_cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> object:
    if not cursor:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, json.JSONDecodeError):
        raise BadRequest("error.bad_cursor", code="bad_cursor") from None


def page(rows: list[dict], limit: int, key) -> dict:
    """``{"items", "next"}`` from ``limit + 1`` fetched rows; ``next`` is the cursor after the last item."""
    items = rows[:limit]
    return {"items": items, "next": encode_cursor(key(items[-1])) if len(rows) > limit else None}
