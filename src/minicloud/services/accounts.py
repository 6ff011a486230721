"""Accounts (UC-01): sign-up, the username check, password login (throttled: ``login_throttle.py``)."""
from __future__ import annotations

import re
import uuid
from datetime import date

import bcrypt
import psycopg.errors

from minicloud.config import Config
from minicloud.db.pool import Database
from minicloud.errors import Conflict, Keyed, Unauthorized, ValidationFailed
from minicloud.services.login_throttle import LoginThrottle
from minicloud.services.pagination import MAX_LIMIT, Keyset
from minicloud.services.projects import Projects

USERNAME = re.compile(r"^[a-z0-9_-]{3,32}$")
PASSWORD_MIN = 8
PASSWORD_MAX_BYTES = 72  # bcrypt reads no further
_USER_ORDER = Keyset((("u.created_at", "time", "created_at"), ("u.id", "uuid", "id")))
_USERS = ("SELECT u.id, u.username, u.display_name, u.email, u.is_admin, u.disabled, u.created_at,"
          " (SELECT count(*) FROM projects p WHERE p.owner_id = u.id) AS projects_owned,"
          " coalesce((SELECT q.\"limit\" FROM user_quotas q WHERE q.user_id = u.id AND q.resource = 'projects'),"
          " %(default_projects)s) AS projects_limit FROM users u")


def normalize_username(raw: str) -> str:
    return (raw or "").strip().lower()


class Accounts:
    def __init__(self, db: Database, config: Config, projects: Projects):
        self.db = db
        self.config = config
        self.projects = projects
        self.cost = int(config.get("auth.bcrypt_cost"))
        self.throttle = LoginThrottle(db, config)
        # Compared against when the username does not exist, so both paths take as long.
        self._dummy_hash = bcrypt.hashpw(b"minicloud-dummy", bcrypt.gensalt(self.cost))

    # -- sign-up ---------------------------------------------------------
    def check_signup(self, username: str, password: str) -> dict[str, Keyed]:
        """Field -> message key (with its parameters) for every rule the username and password break
        (empty when fine)."""
        problems: dict[str, Keyed] = {}
        if not USERNAME.match(username):
            problems["username"] = "account.username_rule"
        if len(password) < PASSWORD_MIN:
            problems["password"] = ("account.password_rule", {"min": PASSWORD_MIN})
        elif len(password.encode()) > PASSWORD_MAX_BYTES:
            problems["password"] = ("account.password_too_long", {"max": PASSWORD_MAX_BYTES})
        return problems

    def username_available(self, username: str) -> bool:
        username = normalize_username(username)
        if not USERNAME.match(username):
            return False
        row = self.db.fetchone("SELECT 1 AS taken FROM users WHERE lower(username) = %s", (username,))
        return row is None

    def signup(self, username: str, password: str, display_name: str, email: str | None,
               birthdate: date | None, is_admin: bool = False) -> dict:
        """A new user with a personal project (admin role in it); Conflict if the name is taken."""
        username = normalize_username(username)
        problems = self.check_signup(username, password)
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

    def set_password(self, username: str, password: str) -> None:
        problems = self.check_signup(normalize_username(username), password)
        problems.pop("username", None)
        if problems:
            raise ValidationFailed(problems)
        password_hash = bcrypt.hashpw(password.encode(), bcrypt.gensalt(self.cost)).decode()
        self.db.execute("UPDATE users SET password_hash = %s WHERE lower(username) = %s",
                        (password_hash, normalize_username(username)))

    # -- login -------------------------------------------------------------
    def verify_login(self, username: str, password: str, address: str) -> uuid.UUID:
        """The user id when the password is right; Unauthorized, or TooManyRequests while the throttle
        makes this attempt wait (checked before the password is compared)."""
        username = normalize_username(username)
        self.throttle.check(username, address)
        row = self.db.fetchone(
            "SELECT id, password_hash FROM users WHERE lower(username) = %s AND NOT disabled", (username,)
        )
        stored = row["password_hash"].encode() if row else self._dummy_hash
        ok = bcrypt.checkpw(password.encode()[:PASSWORD_MAX_BYTES], stored)
        if not (row and ok):
            self.throttle.failed(username, address)
            raise Unauthorized("error.bad_credentials", code="bad_credentials")
        self.throttle.succeeded(row["id"], username, address)
        return row["id"]

    def login_audit_project(self, username: str) -> uuid.UUID | None:
        """Where a sign-in attempt under ``username`` is audited: that person's personal project, so its
        owner sees their own logins and the failed attempts on their account; None for an unknown name
        (recorded project-less, visible to global administrators)."""
        row = self.db.fetchone(
            "SELECT p.id FROM projects p JOIN users u ON u.id = p.owner_id"
            " WHERE lower(u.username) = %s AND p.personal", (normalize_username(username),))
        return row["id"] if row else None

    def me(self, user_id: uuid.UUID) -> dict | None:
        return self.db.fetchone(
            "SELECT id, username, display_name, email, birthdate, is_admin, created_at FROM users WHERE id = %s",
            (user_id,),
        )

    def list_users(self, *, limit: int = MAX_LIMIT, cursor: str | None = None) -> dict:
        """A page of every account, oldest first, with how many projects each owns and may own."""
        params = {"default_projects": int(self.config.get("quotas.projects_per_user"))}
        return _USER_ORDER.fetch(self.db, _USERS, [], params, limit, cursor)

    def ensure_admin(self, username: str, password: str) -> tuple[dict, bool]:
        """The global administrator ``username`` (created, or promoted and given this password); (user, created)."""
        username = normalize_username(username)
        existing = self.db.fetchone("SELECT id FROM users WHERE lower(username) = %s", (username,))
        if existing:
            self.set_password(username, password)
            self.db.execute("UPDATE users SET is_admin = true, disabled = false WHERE id = %s", (existing["id"],))
            return self.me(existing["id"]), False
        return self.signup(username, password, "Administrator", None, None, is_admin=True), True
