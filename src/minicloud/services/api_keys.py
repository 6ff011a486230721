"""API keys: long random secrets shown once, stored only as a SHA-256 hash, usable as Bearer tokens."""
from __future__ import annotations

import secrets
import uuid

from minicloud.db.pool import Database
from minicloud.errors import NotFoundError
from minicloud.services.pagination import MAX_LIMIT, Keyset
from minicloud.services.principal import Principal
from minicloud.services.sessions import API_KEY_PREFIX, hash_api_key

_COLUMNS = "id, name, prefix, created_at, last_used_at, revoked_at"
_ORDER = Keyset((("created_at", "time", "created_at"), ("id", "uuid", "id")))


class ApiKeys:
    def __init__(self, db: Database):
        self.db = db

    def create(self, principal: Principal, name: str) -> dict:
        """A new key; the returned ``key`` field is the only time the secret exists outside the caller."""
        key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        row = self.db.fetchone(
            f"INSERT INTO api_keys (user_id, name, prefix, key_hash) VALUES (%s, %s, %s, %s) RETURNING {_COLUMNS}",
            (principal.user_id, name, key[:12], hash_api_key(key)),
        )
        row["key"] = key
        return row

    def list_for(self, principal: Principal, *, limit: int = MAX_LIMIT, cursor: str | None = None) -> dict:
        """A page of the caller's live keys (without secrets), oldest first."""
        return _ORDER.fetch(self.db, f"SELECT {_COLUMNS} FROM api_keys",
                            ["user_id = %(user)s", "revoked_at IS NULL"], {"user": principal.user_id}, limit, cursor)

    def revoke(self, principal: Principal, key_id: uuid.UUID) -> None:
        """The key no longer authenticates; NotFound if it is not the caller's live key."""
        if not self.db.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE id = %s AND user_id = %s AND revoked_at IS NULL",
            (key_id, principal.user_id),
        ):
            raise NotFoundError("api_key.not_found")
