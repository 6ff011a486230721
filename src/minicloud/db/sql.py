"""Small SQL builders for statements whose column list depends on the request."""
from __future__ import annotations

from typing import Any

from psycopg import sql

from minicloud.db.pool import Database


def update_row(db: Database, table: str, row_id: Any, changes: dict[str, Any], returning: str) -> dict | None:
    """``UPDATE table SET <changes> WHERE id = row_id RETURNING <returning>``; None when no such row.

    Column and table names are quoted as identifiers and values are parameters; ``changes`` must
    already be limited to the columns the caller allows, and ``returning`` is the caller's constant.
    """
    statement = sql.SQL("UPDATE {table} SET {sets} WHERE id = %(id)s RETURNING {returning}").format(
        table=sql.Identifier(table),
        sets=sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in changes),
        returning=sql.SQL(returning),
    )
    return db.fetchone(statement, {**changes, "id": row_id})
