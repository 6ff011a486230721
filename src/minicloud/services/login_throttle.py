"""Login throttling that an attacker cannot turn against other users.

Failed logins are remembered for ``auth.login_window_seconds``. Three rules, checked before the
password is compared (so a refused attempt costs no bcrypt and is not itself a failure):

1. **One account from one address** — after ``login_max_failures`` failures of a username from an
   address, that address waits for that username (429) until the oldest of them leaves the window.
   Nobody else is touched: a classmate behind the same NAT signs in, and the owner signs in from
   another address.
2. **One account from many addresses** — after ``login_account_slowdown_after`` failures of a
   username from all addresses together, an address that never signed in as that user (in
   ``login_known_address_days``) gets one attempt at a time, each after a pause that doubles with
   every further failure, up to ``login_max_delay_seconds``. Addresses the owner signed in from are
   not paced. One address alone never gets there (its own limit of rule 1 comes first).
3. **One address trying many accounts** (password spraying) — after ``login_address_budget``
   failures from an address, all usernames together, that address is paced the same way. Accounts
   are never locked by it.

``Retry-After`` is the real time left, in whole seconds (at least 1).
"""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import timedelta

from minicloud.config import Config
from minicloud.db.pool import Database
from minicloud.errors import TooManyRequests

_STATE = """
WITH f AS (
    SELECT lower(username) = %(u)s AS same_user, address = %(a)s AS same_address, failed_at
    FROM login_failures
    WHERE failed_at > now() - make_interval(secs => %(window)s) AND (lower(username) = %(u)s OR address = %(a)s)
)
SELECT now() AS now,
       coalesce((SELECT array_agg(failed_at ORDER BY failed_at) FROM f WHERE same_user AND same_address),
                '{}') AS pair,
       (SELECT count(*) FROM f WHERE same_user) AS account_failures,
       (SELECT max(failed_at) FROM f WHERE same_user) AS account_last,
       (SELECT count(*) FROM f WHERE same_address) AS address_failures,
       (SELECT max(failed_at) FROM f WHERE same_address) AS address_last,
       EXISTS (SELECT 1 FROM login_known_addresses k JOIN users u ON u.id = k.user_id
               WHERE lower(u.username) = %(u)s AND k.address = %(a)s
                 AND k.last_success_at > now() - make_interval(days => %(known_days)s)) AS known
"""


@dataclass(frozen=True)
class Rules:
    window: int
    per_account: int
    account_slowdown_after: int
    address_budget: int
    max_delay: int
    known_days: int

    @classmethod
    def from_config(cls, config: Config) -> "Rules":
        get = lambda key: int(config.get(f"auth.{key}"))  # noqa: E731
        return cls(get("login_window_seconds"), get("login_max_failures"), get("login_account_slowdown_after"),
                   get("login_address_budget"), get("login_max_delay_seconds"), get("login_known_address_days"))

    def pause(self, failures: int, threshold: int) -> float:
        """The pause pacing asks for after ``failures`` (>= ``threshold``): 1 s, doubling, capped."""
        return float(min(self.max_delay, 2 ** min(failures - threshold, 16)))


class LoginThrottle:
    def __init__(self, db: Database, config: Config):
        self.db = db
        self.rules = Rules.from_config(config)

    def check(self, username: str, address: str) -> None:
        """Raise TooManyRequests (with Retry-After) when a rule above makes this attempt wait."""
        rules = self.rules
        state = self.db.fetchone(_STATE, {"u": username, "a": address, "window": rules.window,
                                          "known_days": rules.known_days})
        now, waits = state["now"], []
        pair = state["pair"]
        if len(pair) >= rules.per_account:  # rule 1: until enough of them leave the window
            waits.append(pair[len(pair) - rules.per_account] + timedelta(seconds=rules.window))
        if state["account_failures"] >= rules.account_slowdown_after and not state["known"]:  # rule 2
            pause = rules.pause(state["account_failures"], rules.account_slowdown_after)
            waits.append(state["account_last"] + timedelta(seconds=pause))
        if state["address_failures"] >= rules.address_budget:  # rule 3
            pause = rules.pause(state["address_failures"], rules.address_budget)
            waits.append(state["address_last"] + timedelta(seconds=pause))
        until = max(waits, default=now)
        if until > now:
            seconds = max(1, math.ceil((until - now).total_seconds()))
            raise TooManyRequests("error.too_many_logins", headers={"Retry-After": str(seconds)}, seconds=seconds)

    def failed(self, username: str, address: str) -> None:
        self.db.execute("INSERT INTO login_failures (username, address) VALUES (%s, %s)", (username, address))

    def succeeded(self, user_id: uuid.UUID, username: str, address: str) -> None:
        """Forget this address's failures for this username (not other addresses'), and know the address."""
        with self.db.connection() as conn:
            conn.execute("DELETE FROM login_failures WHERE lower(username) = %s AND address = %s", (username, address))
            conn.execute("INSERT INTO login_known_addresses (user_id, address) VALUES (%s, %s)"
                         " ON CONFLICT (user_id, address) DO UPDATE SET last_success_at = now()", (user_id, address))

    def prune(self) -> tuple[int, int]:
        """Forget failures older than a day and addresses not used for ``known_days``: (failures, addresses)."""
        failures = self.db.execute("DELETE FROM login_failures WHERE failed_at < now() - interval '1 day'")
        known = self.db.execute("DELETE FROM login_known_addresses"
                                " WHERE last_success_at < now() - make_interval(days => %s)", (self.rules.known_days,))
        return failures, known
