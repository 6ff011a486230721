"""Accounts (UC-01): sign-up, the username check, password login with a failure limit."""
from __future__ import annotations

import re
import uuid
from datetime import date

import bcrypt
import psycopg.errors

from minicloud.config import Config
from minicloud.db.pool import Database
from minicloud.errors import Conflict, TooManyRequests, Unauthorized, ValidationFailed
from minicloud.i18n import translate
from minicloud.services.projects import Projects

USERNAME = re.compile(r"^[a-z0-9_-]{3,32}$")
PASSWORD_MIN = 8
PASSWORD_MAX_BYTES = 72  # bcrypt reads no further


def normalize_username(raw: str) -> str:
    return (raw or "").strip().lower()


class Accounts:
    def __init__(self, db: Database, config: Config, projects: Projects):
        self.db = db
        self.config = config
        self.projects = projects
        self.cost = int(config.get("auth.bcrypt_cost"))
        # Compared against when the username does not exist, so both paths take as long.
        self._dummy_hash = bcrypt.hashpw(b"minicloud-dummy", bcrypt.gensalt(self.cost))

    # -- sign-up ---------------------------------------------------------
    def check_signup(self, username: str, password: str, lang: str) -> dict[str, str]:
        """Field -> message for every rule the username and password break (empty when fine)."""
        problems: dict[str, str] = {}
        if not USERNAME.match(username):
            problems["username"] = translate(lang, "account.username_rule")
        if len(password) < PASSWORD_MIN:
            problems["password"] = translate(lang, "account.password_rule", min=PASSWORD_MIN)
        elif len(password.encode()) > PASSWORD_MAX_BYTES:
            problems["password"] = translate(lang, "account.password_too_long", max=PASSWORD_MAX_BYTES)
        return problems

    def username_available(self, username: str) -> bool:
        username = normalize_username(username)
        if not USERNAME.match(username):
            return False
        row = self.db.fetchone("SELECT 1 AS taken FROM users WHERE lower(username) = %s", (username,))
        return row is None

    def signup(self, username: str, password: str, display_name: str, email: str | None,
               birthdate: date | None, lang: str, is_admin: bool = False) -> dict:
        """A new user with a personal project (admin role in it); Conflict if the name is taken."""
        username = normalize_username(username)
        problems = self.check_signup(username, password, lang)
        if problems:
            raise ValidationFailed(problems)
        password_hash = bcrypt.hashpw(password.encode(), bcrypt.gensalt(self.cost)).decode()
        try:
            with self.db.connection() as conn:
                user = conn.execute(
                    "INSERT INTO users (username, display_name, email, birthdate, password_hash, is_admin)"
                    " VALUES (%s, %s, %s, %s, %s, %s)"
                    " RETURNING id, username, display_name, email, birthdate, is_admin, created_at",
                    (username, display_name, email, birthdate, password_hash, is_admin),
                ).fetchone()
                project = self.projects.create_in(conn, user["id"], username, personal=True)
        except psycopg.errors.UniqueViolation:
            raise Conflict("account.username_taken", code="username_taken", username=username) from None
        user["projects"] = [project]
        return user

    def set_password(self, username: str, password: str, lang: str) -> None:
        problems = self.check_signup(normalize_username(username), password, lang)
        problems.pop("username", None)
        if problems:
            raise ValidationFailed(problems)
        password_hash = bcrypt.hashpw(password.encode(), bcrypt.gensalt(self.cost)).decode()
        self.db.execute("UPDATE users SET password_hash = %s WHERE lower(username) = %s",
                        (password_hash, normalize_username(username)))

    # -- login -------------------------------------------------------------
    def verify_login(self, username: str, password: str, address: str) -> uuid.UUID:
        """The user id when the password is right; Unauthorized, or TooManyRequests after repeated failures."""
        username = normalize_username(username)
        window = int(self.config.get("auth.login_window_seconds"))
        limit = int(self.config.get("auth.login_max_failures"))
        counts = self.db.fetchone(
            "SELECT count(*) FILTER (WHERE lower(username) = %(u)s) AS by_user,"
            "       count(*) FILTER (WHERE address = %(a)s) AS by_address"
            " FROM login_failures"
            " WHERE failed_at > now() - make_interval(secs => %(w)s)"
            "   AND (lower(username) = %(u)s OR address = %(a)s)",
            {"u": username, "a": address, "w": window},
        )
        if counts["by_user"] >= limit or counts["by_address"] >= limit:
            raise TooManyRequests("error.too_many_logins", headers={"Retry-After": str(window)},
                                  seconds=window)
        row = self.db.fetchone(
            "SELECT id, password_hash FROM users WHERE lower(username) = %s AND NOT disabled", (username,)
        )
        stored = row["password_hash"].encode() if row else self._dummy_hash
        ok = bcrypt.checkpw(password.encode()[:PASSWORD_MAX_BYTES], stored)
        if not (row and ok):
            self.db.execute("INSERT INTO login_failures (username, address) VALUES (%s, %s)",
                            (username, address))
            raise Unauthorized("error.bad_credentials", code="bad_credentials")
        self.db.execute("DELETE FROM login_failures WHERE lower(username) = %s", (username,))
        return row["id"]

    def me(self, user_id: uuid.UUID) -> dict | None:
        return self.db.fetchone(
            "SELECT id, username, display_name, email, birthdate, is_admin, created_at FROM users WHERE id = %s",
            (user_id,),
        )

    def list_users(self, limit: int = 200) -> list[dict]:
        return self.db.fetchall(
            "SELECT id, username, display_name, email, is_admin, disabled, created_at"
            " FROM users ORDER BY created_at LIMIT %s", (limit,),
        )

    def ensure_admin(self, username: str, password: str, lang: str = "en") -> tuple[dict, bool]:
        """The global administrator ``username`` (created, or promoted and given this password); (user, created)."""
        username = normalize_username(username)
        existing = self.db.fetchone("SELECT id FROM users WHERE lower(username) = %s", (username,))
        if existing:
            self.set_password(username, password, lang)
            self.db.execute("UPDATE users SET is_admin = true, disabled = false WHERE id = %s", (existing["id"],))
            return self.me(existing["id"]), False
        return self.signup(username, password, "Administrator", None, None, lang, is_admin=True), True
