"""Every list pages the same way: ``?limit=`` (default 50, at most 500) and ``?cursor=``, answered with
``{"items": [...], "next": cursor | null}``.

A cursor is opaque to clients: the sort key of the last item of a page, as a JSON list in URL-safe
base64. ``Keyset`` turns it back into a ``WHERE (a, b) > (…)`` condition on the list's ORDER BY
columns (keyset pagination: a page costs the same wherever it is, and nothing is skipped or repeated
when rows are added meanwhile). A cursor that does not decode to the list's own key — bad base64,
not JSON, or JSON of another shape — is a 400 ``bad_cursor`` naming the ``cursor`` field.
"""
from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from minicloud.errors import BadRequest

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

# kind -> (how a cursor value is read back, the SQL cast of its parameter)
_KINDS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "time": (lambda v: datetime.fromisoformat(v) if isinstance(v, str) else _bad(), "timestamptz"),
    "uuid": (lambda v: uuid.UUID(v) if isinstance(v, str) else _bad(), "uuid"),
    "int": (lambda v: v if isinstance(v, int) and not isinstance(v, bool) else _bad(), "bigint"),
    "bool": (lambda v: v if isinstance(v, bool) else _bad(), "boolean"),
    "text": (lambda v: v if isinstance(v, str) and "\x00" not in v else _bad(), "text"),
}


def _bad():
    raise ValueError("not a value of this kind")


def bad_cursor() -> BadRequest:
    return BadRequest("error.bad_cursor", code="bad_cursor", details={"field": "cursor"})


def encode_cursor(values: list | tuple) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, uuid.UUID) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain, ensure_ascii=False).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, kinds: tuple[str, ...]) -> tuple | None:
    """The key a cursor holds, one value per kind (``time``, ``uuid``, ``int``, ``bool``, ``text``);
    None for no cursor; 400 ``bad_cursor`` for anything else."""
    if not cursor:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError("not this list's key")
        return tuple(_KINDS[kind][0](value) for kind, value in zip(kinds, values))
    except (ValueError, TypeError, UnicodeDecodeError):  # binascii.Error and JSONDecodeError are ValueErrors
        raise bad_cursor() from None


@dataclass(frozen=True)
class Keyset:
    """A list's sort key: ``columns`` are (SQL expression, kind, the row's value: a column name or a
    function of the row), all in one direction. The last column must make the key unique (an id)."""

    columns: tuple[tuple[str, str, str | Callable[[dict], Any]], ...]
    descending: bool = False

    @property
    def order_by(self) -> str:
        direction = " DESC" if self.descending else ""
        return "ORDER BY " + ", ".join(sql + direction for sql, _, _ in self.columns)

    def after(self, cursor: str | None, params: dict) -> str | None:
        """The condition selecting rows after ``cursor`` (its values added to ``params``), or None."""
        values = decode_cursor(cursor, tuple(kind for _, kind, _ in self.columns))
        if values is None:
            return None
        placeholders = []
        for i, ((_, kind, _), value) in enumerate(zip(self.columns, values)):
            params[f"cursor_{i}"] = value
            placeholders.append(f"%(cursor_{i})s::{_KINDS[kind][1]}")
        left = ", ".join(sql for sql, _, _ in self.columns)
        return f"({left}) {'<' if self.descending else '>'} ({', '.join(placeholders)})"

    def page(self, rows: list[dict], limit: int) -> dict:
        """``{"items", "next"}`` from ``limit + 1`` fetched rows."""
        items = rows[:limit]
        more = len(rows) > limit
        if not more:
            return {"items": items, "next": None}
        last = items[-1]
        return {"items": items,
                "next": encode_cursor([value(last) if callable(value) else last[value] for _, _, value in self.columns])}

    def fetch(self, db, select: str, where: list[str], params: dict, limit: int, cursor: str | None) -> dict:
        """One page of ``select`` (everything before WHERE) filtered by ``where``, in this key's order."""
        after = self.after(cursor, params)
        conditions = where + ([after] if after else [])
        params["page_limit"] = limit + 1
        sql = (select + (" WHERE " + " AND ".join(conditions) if conditions else "")
               + f" {self.order_by} LIMIT %(page_limit)s")
        return self.page(db.fetchall(sql, params), limit)
