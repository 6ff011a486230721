"""The psycopg 3 connection pool every service borrows connections from."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from minicloud.errors import ServiceUnavailable


class DatabaseUnavailable(ServiceUnavailable):
    """PostgreSQL could not be reached (the web layer answers 503)."""

    def __init__(self, cause: str = ""):
        super().__init__("error.database_unavailable", code="database_unavailable")
        self.cause = cause


class Database:
    """A lazily opened pool: safe to create before gunicorn forks its workers."""

    def __init__(self, url: str, min_size: int = 1, max_size: int = 8, timeout: float = 5.0):
        self.url = url
        self._min, self._max, self._timeout = min_size, max_size, timeout
        self._pool: ConnectionPool | None = None

    def _get_pool(self) -> ConnectionPool:
        if self._pool is None:
            self._pool = ConnectionPool(
                self.url,
                min_size=self._min,
                max_size=self._max,
                timeout=self._timeout,
                kwargs={"row_factory": dict_row, "autocommit": False},
                open=True,
                name="minicloud",
            )
        return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection inside a transaction committed on success, rolled back on error."""
        try:
            cm = self._get_pool().connection()
            conn = cm.__enter__()
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise DatabaseUnavailable(str(exc)) from exc
        try:
            yield conn
        except BaseException as exc:
            cm.__exit__(type(exc), exc, exc.__traceback__)
            if isinstance(exc, psycopg.OperationalError):
                raise DatabaseUnavailable(str(exc)) from exc
            raise
        else:
            cm.__exit__(None, None, None)

    def fetchone(self, sql: str, params: object = None) -> dict | None:
        with self.connection() as conn:
            return conn.execute(sql, params).fetchone()

    def fetchall(self, sql: str, params: object = None) -> list[dict]:
        with self.connection() as conn:
            return conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params: object = None) -> int:
        with self.connection() as conn:
            return conn.execute(sql, params).rowcount

    def ping(self) -> None:
        """Raises DatabaseUnavailable unless a round trip to PostgreSQL succeeds."""
        self.fetchone("SELECT 1 AS ok")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
