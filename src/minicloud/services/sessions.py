"""Access tokens: HS256 JWTs and API keys turned into a Principal, revocation by jti."""
from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta, timezone

import jwt

from minicloud.config import Config
from minicloud.db.pool import Database
from minicloud.errors import Unauthorized
from minicloud.services.principal import Principal, projects_from_rows

ALGORITHM = "HS256"
API_KEY_PREFIX = "mck_"
REQUIRED_CLAIMS = frozenset({"sub", "jti", "exp", "iat"})  # exp and iat are checked by pyjwt when present

# The user's profile and every membership, their own personal project first (the
# default acting project); ``u`` is the users row.
_USER_AND_PROJECTS = """
       u.id, u.username, u.display_name, u.is_admin, u.email, u.birthdate, u.created_at,
       coalesce((SELECT json_agg(json_build_object('id', p.id, 'name', p.name, 'role', m.role,
                                                   'personal', p.personal)
                                 ORDER BY (p.personal AND p.owner_id = u.id) DESC, p.created_at)
                 FROM memberships m JOIN projects p ON p.id = m.project_id
                 WHERE m.user_id = u.id), '[]') AS projects
"""

# One round trip: the user, their projects, and whether this token was revoked.
_PRINCIPAL_SQL = f"""
SELECT {_USER_AND_PROJECTS},
       EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = %(jti)s) AS revoked
FROM users u
WHERE u.id = %(uid)s AND NOT u.disabled
"""

# One round trip: the key's owner and their projects, the key's last use recorded.
_API_KEY_SQL = f"""
WITH k AS (
    UPDATE api_keys SET last_used_at = now()
    WHERE key_hash = %(hash)s AND revoked_at IS NULL
    RETURNING user_id
)
SELECT {_USER_AND_PROJECTS}
FROM users u JOIN k ON k.user_id = u.id
WHERE NOT u.disabled
"""


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Sessions:
    def __init__(self, db: Database, config: Config):
        self.db = db
        self.config = config
        self.ttl = int(config.get("auth.token_ttl_seconds"))

    def issue(self, user_id: uuid.UUID) -> tuple[str, int]:
        """A signed access token for ``user_id`` and its lifetime in seconds."""
        now = datetime.now(timezone.utc)
        claims = {
            "sub": str(user_id),
            "jti": secrets.token_urlsafe(16),
            "iat": now,
            "exp": now + timedelta(seconds=self.ttl),
            "typ": "access",
        }
        return jwt.encode(claims, self.config.jwt_secret(), algorithm=ALGORITHM), self.ttl

    def authenticate(self, token: str, via: str = "token") -> Principal:
        """The principal behind a bearer JWT or API key; Unauthorized if it is not valid now."""
        if token.startswith(API_KEY_PREFIX):
            row = self.db.fetchone(_API_KEY_SQL, {"hash": hash_api_key(token)})
            if row is None:
                raise Unauthorized("error.invalid_token")
            return self._principal(row, "api_key", None, None)
        try:
            claims = jwt.decode(token, self.config.jwt_secret(), algorithms=[ALGORITHM])
            if not REQUIRED_CLAIMS <= claims.keys():  # as pyjwt's options={"require": …}, a third of the cost
                raise jwt.MissingRequiredClaimError(min(REQUIRED_CLAIMS - claims.keys()))
            user_id = uuid.UUID(claims["sub"])
        except jwt.ExpiredSignatureError:
            raise Unauthorized("error.token_expired") from None
        except (jwt.InvalidTokenError, ValueError):
            raise Unauthorized("error.invalid_token") from None
        row = self.db.fetchone(_PRINCIPAL_SQL, {"jti": claims["jti"], "uid": user_id})
        if row is None or row["revoked"]:
            raise Unauthorized("error.invalid_token")
        expires = datetime.fromtimestamp(claims["exp"], timezone.utc)
        return self._principal(row, via, claims["jti"], expires)

    @staticmethod
    def _principal(row: dict, via: str, jti: str | None, expires: datetime | None) -> Principal:
        return Principal(
            user_id=row["id"], username=row["username"], display_name=row["display_name"],
            is_admin=row["is_admin"], projects=projects_from_rows(row["projects"]),
            email=row["email"], birthdate=row["birthdate"], created_at=row["created_at"],
            via=via, jti=jti, expires_at=expires,
        )

    def revoke(self, principal: Principal) -> None:
        """The principal's token no longer authenticates (API keys are revoked through ApiKeys)."""
        if principal.jti is None:
            return
        self.db.execute(
            "INSERT INTO revoked_tokens (jti, user_id, expires_at) VALUES (%s, %s, %s)"
            " ON CONFLICT (jti) DO NOTHING",
            (principal.jti, principal.user_id, principal.expires_at),
        )

    def prune(self) -> int:
        """Forget revocations of tokens that have expired anyway; returns how many."""
        return self.db.execute("DELETE FROM revoked_tokens WHERE expires_at < now()")
