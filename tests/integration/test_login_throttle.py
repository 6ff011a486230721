"""Login throttling cannot be turned against other users (issue 8, point 3; the rules are in
services/login_throttle.py and the README). Addresses are set per request, as a NAT or a proxy would."""
from __future__ import annotations

import psycopg
import pytest

RIGHT, WRONG = "correct-horse", "wrong-password"


def login(client, username, password, address):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password},
                       environ_overrides={"REMOTE_ADDR": address})


def failures(database_url) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM login_failures").fetchone()[0]


def fail_from_elsewhere(database_url, username: str, count: int) -> None:
    """``count`` failures for ``username`` just now, each from an address of its own."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO login_failures (username, address)"
                     " SELECT %s, '192.0.2.' || n FROM generate_series(1, %s) AS n", (username, count))


def age_failures(database_url, seconds: int) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE login_failures SET failed_at = failed_at - make_interval(secs => %s)", (seconds,))


@pytest.fixture
def accounts(auth):
    for name in ("alice", "bob", "admin"):
        assert auth.signup(name, RIGHT).status_code == 201


def test_wrong_passwords_for_one_account_never_refuse_another_accounts_right_one(client, accounts, config):
    limit = config.get("auth.login_max_failures")
    for _ in range(limit):
        assert login(client, "bob", WRONG, "10.0.0.1").status_code == 401
    refused = login(client, "bob", RIGHT, "10.0.0.1")
    assert refused.status_code == 429 and refused.json["error"]["code"] == "rate_limited"
    # a classmate behind the same NAT, and bob himself from another address, sign in
    assert login(client, "alice", RIGHT, "10.0.0.1").status_code == 200
    assert login(client, "bob", RIGHT, "10.0.0.2").status_code == 200


def test_nobody_can_keep_admin_out_from_another_address(client, accounts, config, database_url):
    for _ in range(30):
        assert login(client, "admin", WRONG, "203.0.113.66").status_code in (401, 429)
    assert failures(database_url) == config.get("auth.login_max_failures")  # a refused attempt is no failure
    assert login(client, "admin", RIGHT, "192.0.2.10").status_code == 200
    assert login(client, "admin", RIGHT, "203.0.113.66").status_code == 429  # only the attacker's address waits


def test_failures_from_many_addresses_slow_the_account_not_its_owners_address(client, accounts, config,
                                                                              database_url):
    assert login(client, "bob", RIGHT, "10.0.0.1").status_code == 200  # bob's own address
    threshold = config.get("auth.login_account_slowdown_after")
    for n in range(threshold):
        assert login(client, "bob", WRONG, f"198.51.100.{n + 1}").status_code == 401
    paced = login(client, "bob", RIGHT, "198.51.100.200")  # a new address: one attempt per pause
    assert paced.status_code == 429 and paced.headers["Retry-After"] == "1"
    assert login(client, "bob", RIGHT, "10.0.0.1").status_code == 200  # the owner's address is not paced
    assert login(client, "alice", RIGHT, "198.51.100.200").status_code == 200  # nor other accounts
    for extra, pause in ((1, 2), (1, 4), (1, 8), (3, 60)):  # the pause doubles, up to the longest
        fail_from_elsewhere(database_url, "bob", extra)
        paced = login(client, "bob", RIGHT, "198.51.100.201")
        assert paced.status_code == 429 and int(paced.headers["Retry-After"]) == pause
    assert paced.json["error"]["message"] == "Too many failed sign-in attempts. Try again in 60 seconds."
    assert login(client, "bob", RIGHT, "10.0.0.1").status_code == 200


def test_spraying_many_accounts_meets_a_per_address_budget_that_slows_the_address(auth, app, client, accounts,
                                                                                   database_url):
    app.services.accounts.throttle = type(app.services.accounts.throttle)(
        app.services.db, app.config.with_overrides({"auth.login_address_budget": 20}))
    for n in range(20):
        assert login(client, f"student{n}", WRONG, "203.0.113.9").status_code == 401
    paced = login(client, "alice", RIGHT, "203.0.113.9")
    assert paced.status_code == 429 and paced.headers["Retry-After"] == "1"
    # the accounts themselves are not locked: from another address they sign in
    assert login(client, "alice", RIGHT, "192.0.2.1").status_code == 200
    age_failures(database_url, 2)
    assert login(client, "alice", RIGHT, "203.0.113.9").status_code == 200  # after the pause


def test_a_class_behind_one_nat_never_reaches_the_address_budget(auth, client):
    """40 students, each mistyping twice at the start of a lab, then signing in."""
    students = [f"student{n:02}" for n in range(40)]
    for name in students:
        assert auth.signup(name, RIGHT).status_code == 201
    for name in students:
        for _ in range(2):
            assert login(client, name, WRONG, "172.16.0.1").status_code == 401
        assert login(client, name, RIGHT, "172.16.0.1").status_code == 200


def test_retry_after_is_the_real_time_left(client, accounts, config, database_url):
    limit, window = config.get("auth.login_max_failures"), config.get("auth.login_window_seconds")
    for _ in range(limit):
        assert login(client, "bob", WRONG, "10.0.0.5").status_code == 401
    age_failures(database_url, window - 100)  # the oldest leaves the window in 100 s
    left = int(login(client, "bob", RIGHT, "10.0.0.5").headers["Retry-After"])
    assert 95 <= left <= 100
    age_failures(database_url, 101)
    assert login(client, "bob", RIGHT, "10.0.0.5").status_code == 200


def test_success_forgets_only_its_own_addresses_failures(client, accounts, database_url):
    for address in ("10.0.0.1", "10.0.0.2"):
        assert login(client, "bob", WRONG, address).status_code == 401
    assert login(client, "bob", RIGHT, "10.0.0.1").status_code == 200
    with psycopg.connect(database_url) as conn:
        left = conn.execute("SELECT address FROM login_failures").fetchall()
    assert left == [("10.0.0.2",)]


def test_prune_forgets_old_failures_and_unused_addresses(client, accounts, services, database_url):
    assert login(client, "bob", RIGHT, "10.0.0.1").status_code == 200
    assert login(client, "bob", WRONG, "10.0.0.9").status_code == 401
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE login_failures SET failed_at = now() - interval '2 days'")
        conn.execute("UPDATE login_known_addresses SET last_success_at = now() - interval '31 days'")
    assert services.accounts.throttle.prune() == (1, 1)
