"""The baseline for bench/api_overhead.py: a bare WSGI function doing the work of GET /api/v1/auth/me.

No router, no middleware, no request object: read the Bearer token, check it
(HS256, the same library and secret as minicloud), run minicloud's own
principal query (``_PRINCIPAL_SQL``) through a psycopg_pool pool sized like
minicloud's, and answer the JSON. What minicloud needs on top of this is its
overhead.

    DATABASE_URL=... MINICLOUD_AUTH_JWT_SECRET=... gunicorn bench.bare_app:application
"""
from __future__ import annotations

import json
import os

import jwt
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from minicloud.services.sessions import _PRINCIPAL_SQL

SECRET = os.environ["MINICLOUD_AUTH_JWT_SECRET"]
# Built in each gunicorn worker when it imports this module (no --preload), like minicloud's pool.
pool = ConnectionPool(os.environ["DATABASE_URL"], min_size=1, max_size=8, open=True, name="bare",
                      kwargs={"row_factory": dict_row, "autocommit": False})


def _answer(start_response, status: str, body: dict) -> list[bytes]:
    data = json.dumps(body, default=str, ensure_ascii=False, separators=(",", ":")).encode()
    start_response(status, [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data)))])
    return [data]


def application(environ, start_response):
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer":
        return _answer(start_response, "401 Unauthorized", {"error": {"code": "unauthorized"}})
    try:
        claims = jwt.decode(token.strip(), SECRET, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        return _answer(start_response, "401 Unauthorized", {"error": {"code": "invalid_token"}})
    with pool.connection() as conn:
        row = conn.execute(_PRINCIPAL_SQL, {"jti": claims["jti"], "uid": claims["sub"]}).fetchone()
    if row is None or row["revoked"]:
        return _answer(start_response, "401 Unauthorized", {"error": {"code": "invalid_token"}})
    user = {k: row[k] for k in ("id", "username", "display_name", "is_admin", "email", "birthdate", "created_at")}
    user["projects"] = row["projects"]
    return _answer(start_response, "200 OK", user)
